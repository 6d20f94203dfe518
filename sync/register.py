"""The asset register seen from the device: a small interface with one adapter per kind.

Adapters are chosen in configuration (``[register] adapter``), as TinyDB's storages are,
from the table in :mod:`sync.registers`; this module imports no adapter.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync.errors import RegisterError
from sync.asset import Asset
from sync.person import Person
from sync.sighting import Outgoing
from hal.resource import Resource

if TYPE_CHECKING:
    from sync.settings import RegisterSettings


class ItemStatus(str, enum.Enum):
    """What the register made of one sighting of a batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    """The register already had it (an earlier try was applied): done, like accepted."""
    REJECTED = "rejected"
    """Refused for good (the reason says why): it goes to the dead letters, not back."""
    CONFLICT = "conflict"
    """The register disagrees with what the device did (a door kiosk checked out an asset
    the register has meanwhile given to someone else, or archived): kept with both sides
    among the conflicts, never retried, never overwritten."""


@dataclass(frozen=True)
class ItemResult:
    """The register's answer for one sighting of a pushed batch."""

    sighting_id: str
    status: ItemStatus
    reason: str | None = None
    register_side: Mapping[str, Any] | None = None
    """For a conflict: what the register holds (holder, status, location...)."""


class Register(Resource, ABC):
    """Where the expected inventory comes from and where sightings and reports go."""

    @abstractmethod
    def expected_assets(self) -> list[Asset]:
        """The register's assets (the expected inventory).

        Raises:
            RegisterUnavailable: the register cannot be reached now.
            RegisterError: it refused (bad token, bad data).
        """

    @abstractmethod
    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Hand over a batch of sightings (and intake records); idempotent by
        ``sighting_id``.

        Returns one result per record, in order. Per-item refusals are results; an
        error means nothing of the batch is known to be done and it is sent again later.

        Raises:
            RegisterUnavailable: not reachable now (retry with backoff, honouring
                ``retry_after``).
            RegisterError: the batch as a whole was refused.
        """

    @abstractmethod
    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Hand over an audit report; returns where it went (paths or URLs)."""

    def check(self) -> None:
        """One cheap, read-only request that proves the register answers and takes the
        device's credentials (``doctor``, and the idle device at ``sync.interval``).

        Raises:
            RegisterUnavailable: the register cannot be reached now.
            RegisterRefused: it refused the token.
            RegisterError: it answered, but not as a register of this kind would.
        """

    def heartbeat(self, state: Mapping[str, Any]) -> None:
        """Tell the register how the device stands (queue depth, oldest queued age, dead
        letters, firmware version, last sync, mode and room: ``Heartbeat`` in
        ``sync/openapi.yaml``); by default nowhere: a register without a place for it.

        Raises:
            RegisterUnavailable: the register cannot be reached now.
            RegisterError: it refused the heartbeat.
        """

    def state_time(self) -> float | None:
        """When the state :meth:`expected_assets` gives was true (Unix time), when that is
        not the moment it was fetched; None: the register answers with its present state.

        A door kiosk counts its own movements since then over that state.
        """
        return None

    def record_conflicts(self, conflicts: Sequence[Mapping[str, Any]]) -> None:
        """Keep a copy of every conflict the device holds where an admin looks (the outbox
        folder); by default nowhere: the register itself answered them.

        Raises:
            RegisterError: the copy cannot be written.
        """

    def people(self) -> list[Person]:
        """The people who may take assets (a door kiosk's badges).

        Raises:
            RegisterUnavailable: the register cannot be reached now.
            RegisterError: it refused, or this register keeps no people.
        """
        raise RegisterError(f"the {type(self).__name__} keeps no people: a door kiosk"
                            " needs a register that does")


class OutboxReports:
    """For a register with no place for audit reports (Snipe-IT, Nautobot): reports and
    conflicts go to the outbox folder (``register.outbox``), made when first needed.

    Mixed into a :class:`Register` that has ``config`` and ``device_id``.
    """

    config: RegisterSettings
    device_id: str
    _outbox: Any = None

    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Write the report into the outbox folder.

        Returns:
            The paths of ``report-<session_id>.json`` and ``.csv``.

        Raises:
            RegisterError: the report or the folder cannot be written.
        """
        return [str(path) for path in self._folder().write_report(report)]

    def record_conflicts(self, conflicts: Sequence[Mapping[str, Any]]) -> None:
        """Write ``conflicts-<device>.json`` into the outbox folder, beside the reports."""
        self._folder().write_conflicts(conflicts)

    def _folder(self) -> Any:
        if self._outbox is None:
            from sync.outbox import FilesOutbox

            self._outbox = FilesOutbox(self.config.outbox, self.device_id)
        return self._outbox
