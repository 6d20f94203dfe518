"""What the register said, kept on the device for work while it is out of reach.

Every time the register answers, its assets are saved (atomically) in
``<queue.path>/inventory.json`` with the time they were fetched and where they came from
(the adapter with its URL or file, and the locations asked for), and a door kiosk's people
in ``<queue.path>/people.json``. When the register cannot be reached at start, or refuses
the device's token, the device works with the saved copy and the idle screen shows its
age. A copy saved from another register (the URL, adapter, file or locations changed) is
never used: the start stops and says where the copy came from. A copy saved before the
origin was recorded is used, with a warning in the log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from sync.asset import Asset
from sync.errors import QueueError, RegisterError, RegisterRefused, RegisterUnavailable
from sync.person import Person
from sync.register import Register
from sync.storage import fsync_directory, replace_file

log = logging.getLogger(__name__)

__all__ = ["InventoryCache", "PeopleCache", "SavedList", "describe_origin"]

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
        origin: where the list comes from (adapter, URL or file, locations): saved with
            it, and a saved copy from elsewhere is not used; None: not checked.

    Attributes:
        problem: why the last :meth:`fetch` gave the saved copy (the register out of
            reach, or refusing the token); None when it came fresh from the register.
    """

    def __init__(self, directory: Path, file_name: str, kind: type[Item], what: str, key: str,
                 ask: Callable[[Register], list[Item]], doing: str = "working",
                 origin: Mapping[str, Any] | None = None) -> None:
        self.path = Path(directory) / file_name
        self.origin = None if origin is None else dict(origin)
        self.problem: RegisterError | None = None
        self.doing = doing
        self.kind: type[Item] = kind
        self.what = what
        self.key = key
        self._ask: Callable[[Register], list[Item]] = ask
        self._fields = {f.name for f in dataclasses.fields(kind)}

    def fetch(self, register: Register, now: float, *,
              save: bool = True) -> tuple[list[Item], float | None]:
        """The register's list, saved for later; or the saved one when the register is out
        of reach or refuses the token (:attr:`problem` says which).

        Args:
            save: keep a fresh list as the saved copy (``doctor`` reads without writing).

        Returns:
            The items and, when they come from the saved copy, its age in seconds
            (None when fresh from the register).

        Raises:
            RegisterUnavailable: the register cannot be reached and no copy saved from it.
            RegisterRefused: it refused the token and no copy saved from it.
            RegisterError: it refused otherwise (that is not hidden by the saved copy).
        """
        try:
            items = self._ask(register)
        except (RegisterUnavailable, RegisterRefused) as exc:
            saved, why_not = self._saved()
            if saved is None:
                stop = RegisterRefused if isinstance(exc, RegisterRefused) else RegisterUnavailable
                raise stop(f"{exc}; and {why_not}") from None
            items, fetched_at = saved
            age = max(0.0, now - fetched_at)
            self.problem = exc
            if isinstance(exc, RegisterRefused):
                log.error("the register refused the token (%s): %s with the %s saved %.0f"
                          " minutes ago; everything stays queued until the token is mended",
                          exc, self.doing, self.what, age / 60)
            else:
                log.warning("register out of reach (%s): %s with the %s saved %.0f minutes"
                            " ago", exc, self.doing, self.what, age / 60)
            return items, age
        self.problem = None
        if save:
            self.save(items, now)
        return items, None

    def save(self, items: list[Item], fetched_at: float) -> None:
        """Keep ``items`` as the saved copy (a failure is logged, not raised)."""
        data: dict[str, Any] = {"fetched_at": fetched_at}
        if self.origin is not None:
            data["origin"] = self.origin
        data[self.key] = [dataclasses.asdict(i) for i in items]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"))
            fsync_directory(self.path.parent)
        except (OSError, QueueError) as exc:
            log.warning("%s: %s not saved for offline use: %s", self.path, self.what, exc)

    def load(self) -> tuple[list[Item], float] | None:
        """The saved items and when they were fetched, or None (none saved, unreadable, or
        saved from another register)."""
        return self._saved()[0]

    def _saved(self) -> tuple[tuple[list[Item], float] | None, str]:
        """The saved copy this register may use, or None and why not (for a message)."""
        none = f"no {self.what} is saved on the device yet"
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            fetched_at = float(data["fetched_at"])
            origin = data.get("origin")
            items = [self._item(item) for item in data[self.key]]
        except FileNotFoundError:
            return None, none
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("%s: saved %s unreadable, not used: %s", self.path, self.what, exc)
            return None, f"the {self.what} saved on the device is unreadable"
        if self.origin is not None and origin is None:
            log.warning("%s: the saved %s does not record where it came from (saved by an"
                        " earlier version): used as this register's", self.path, self.what)
        elif self.origin is not None and origin != self.origin:
            why = (f"the {self.what} saved on the device came from another register"
                   f" ({describe_origin(origin)}; now {describe_origin(self.origin)}):"
                   " not used")
            log.error("%s: %s", self.path, why)
            return None, why
        return (items, fetched_at), ""

    def _item(self, item: Any) -> Item:
        if not isinstance(item, dict) or not set(item) <= self._fields:
            raise ValueError(f"not a {self.kind.__name__} record")
        return self.kind(**item)


def describe_origin(origin: Any) -> str:
    """An origin as words for a message: ``http https://register.example, locations A, B``."""
    if not isinstance(origin, Mapping):
        return "unknown"
    where = " ".join(str(origin[k]) for k in ("adapter", "url", "manifest", "people")
                     if origin.get(k))
    locations = origin.get("locations") or []
    if locations:
        where += ", locations " + ", ".join(str(place) for place in locations)
    return where or "unknown"


class InventoryCache(SavedList[Asset]):
    """The saved expected inventory, ``<directory>/inventory.json``."""

    def __init__(self, directory: Path, origin: Mapping[str, Any] | None = None) -> None:
        super().__init__(directory, "inventory.json", Asset, "expected inventory", "assets",
                         lambda register: register.expected_assets(), "auditing", origin)


class PeopleCache(SavedList[Person]):
    """The saved people of a door kiosk, ``<directory>/people.json``."""

    def __init__(self, directory: Path, origin: Mapping[str, Any] | None = None) -> None:
        super().__init__(directory, "people.json", Person, "people list", "people",
                         lambda register: register.people(), "identifying people", origin)
