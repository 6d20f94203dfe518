"""How a badge finds a :class:`~sync.person.Person` at the door (:class:`PeopleIndex`).

People come from the register (Snipe-IT users, the ``files`` adapter's people CSV) and are
kept on the device for offline use. A person identifies at the door by:

- an RFID card on the card reader: its number, spelled as the register spells card
  numbers (see :mod:`firmware.cards`), matched against ``badge``;
- a printed badge ``BADGE:<id>``: matched against ``badge``, then ``employee_num``;
- their employee number typed or scanned alone: matched against ``employee_num``.

Comparisons ignore case and outer spaces; numbers also ignore leading zeros.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sync.person import Person, person_key

log = logging.getLogger(__name__)


class PeopleIndex:
    """Finds people by badge or employee number.

    A badge or number two people share names nobody: it is logged once here and
    refused at the door, as an ambiguous label is in an audit.
    """

    def __init__(self, people: Iterable[Person]) -> None:
        self.people = list(people)
        self._badge: dict[str, list[Person]] = {}
        self._number: dict[str, list[Person]] = {}
        for person in self.people:
            if person.badge.strip():
                self._badge.setdefault(person_key(person.badge), []).append(person)
            if person.employee_num.strip():
                self._number.setdefault(person_key(person.employee_num), []).append(person)
        self.shared = sorted(key for index in (self._badge, self._number)
                             for key, found in index.items() if len(found) > 1)
        for key in self.shared:
            log.warning("people: %r names more than one person; it will be refused", key)

    def by_badge(self, badge: str) -> Person | None:
        """The one person with this badge (or, failing that, employee number), else None."""
        key = person_key(badge)
        return _one(self._badge.get(key)) or (None if key in self._badge
                                              else _one(self._number.get(key)))

    def by_number(self, number: str) -> Person | None:
        """The one person with this employee number, else None."""
        return _one(self._number.get(person_key(number)))


def _one(found: list[Person] | None) -> Person | None:
    return found[0] if found and len(found) == 1 else None
