"""``Person``: someone who may take assets from a kiosk's room, as the register records them.

People come from the register (Snipe-IT users, the ``files`` adapter's people CSV) and are
kept on the device for offline use; :func:`person_key` is how a badge or an employee number
is compared (case and outer spaces ignored; numbers also ignore leading zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

PERSON_COLUMNS = ("badge", "employee_num", "name", "username", "id")
"""The columns of a people CSV (``register.people``); ``id`` is the register's user id."""


@dataclass(frozen=True)
class Person:
    """One person as the register records them."""

    badge: str = ""
    employee_num: str = ""
    name: str = ""
    username: str = ""
    id: int | None = None
    origin: str = ""
    """Where the record came from, for messages (``people.csv, line 3``)."""

    def label(self) -> str:
        """How screens and reports name the person: name, else username, else a number."""
        return self.name or self.username or self.employee_num or self.badge

    def to_record(self) -> dict[str, object]:
        """The person as a sighting carries them (no ``origin``)."""
        return {"id": self.id, "username": self.username, "employee_num": self.employee_num,
                "name": self.name, "badge": self.badge}


def person_key(text: str) -> str:
    """The comparison form of a badge or employee number."""
    key = " ".join(text.split()).casefold()
    if key.isdigit():
        key = key.lstrip("0") or "0"
    return key
