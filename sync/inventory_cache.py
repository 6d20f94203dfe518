"""What the register said, kept on the device for work while it is out of reach.

Every time the register answers, its assets are saved (atomically) in
``<queue.path>/inventory.json`` with the time they were fetched, and a door kiosk's people
in ``<queue.path>/people.json``. When the register cannot be reached at start, the device
works with the saved copy and the idle screen shows its age.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from firmware.asset import Asset
from firmware.errors import QueueError, RegisterUnavailable
from firmware.people import Person
from sync.register import Register
from sync.storage import fsync_directory, replace_file

log = logging.getLogger(__name__)

__all__ = ["InventoryCache", "PeopleCache", "SavedList"]

Item = TypeVar("Item", Asset, Person)


class SavedList(Generic[Item]):
    """A list the register gave, saved in ``directory/<file_name>`` with its fetch time.

    Args:
        directory: the device's state folder (``queue.path``).
        file_name: the saved file's name.
        kind: the dataclass of the items (:class:`Asset`, :class:`Person`).
        what: how messages name the list (``expected inventory``).
        key: the list's key in the file (``assets``).
        ask: how the register is asked for it.
        doing: what the device does with the saved copy, for the log (``auditing``).
    """

    def __init__(self, directory: Path, file_name: str, kind: type[Item], what: str, key: str,
                 ask: Callable[[Register], list[Item]], doing: str = "working") -> None:
        self.path = Path(directory) / file_name
        self.doing = doing
        self.kind = kind
        self.what = what
        self.key = key
        self._ask = ask
        self._fields = {f.name for f in dataclasses.fields(kind)}

    def fetch(self, register: Register, now: float) -> tuple[list[Item], float | None]:
        """The register's list, saved for later; or the saved one when it is out of reach.

        Returns:
            The items and, when they come from the saved copy, its age in seconds
            (None when fresh from the register).

        Raises:
            RegisterUnavailable: the register cannot be reached and nothing is saved.
            RegisterError: the register refused (that is not hidden by the saved copy).
        """
        try:
            items = self._ask(register)
        except RegisterUnavailable as exc:
            saved = self.load()
            if saved is None:
                raise RegisterUnavailable(f"{exc}; and no {self.what} is saved on the"
                                          " device yet") from None
            items, fetched_at = saved
            log.warning("register out of reach (%s): %s with the %s saved %.0f minutes"
                        " ago", exc, self.doing, self.what, max(0.0, now - fetched_at) / 60)
            return items, max(0.0, now - fetched_at)
        self.save(items, now)
        return items, None

    def save(self, items: list[Item], fetched_at: float) -> None:
        """Keep ``items`` as the saved copy (a failure is logged, not raised)."""
        data = {"fetched_at": fetched_at, self.key: [dataclasses.asdict(i) for i in items]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"))
            fsync_directory(self.path.parent)
        except (OSError, QueueError) as exc:
            log.warning("%s: %s not saved for offline use: %s", self.path, self.what, exc)

    def load(self) -> tuple[list[Item], float] | None:
        """The saved items and when they were fetched, or None (none saved, or unreadable)."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            fetched_at = float(data["fetched_at"])
            items = [self._item(item) for item in data[self.key]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("%s: saved %s unreadable, not used: %s", self.path, self.what, exc)
            return None
        return items, fetched_at

    def _item(self, item: Any) -> Item:
        if not isinstance(item, dict) or not set(item) <= self._fields:
            raise ValueError(f"not a {self.kind.__name__} record")
        return self.kind(**item)


class InventoryCache(SavedList[Asset]):
    """The saved expected inventory, ``<directory>/inventory.json``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "inventory.json", Asset, "expected inventory", "assets",
                         lambda register: register.expected_assets(), "auditing")


class PeopleCache(SavedList[Person]):
    """The saved people of a door kiosk, ``<directory>/people.json``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "people.json", Person, "people list", "people",
                         lambda register: register.people(), "identifying people")
