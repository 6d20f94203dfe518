"""``SightingStore``: what the rest of the device asks of the sighting queue.

Callers type against this protocol, not against :class:`sync.queue.SightingQueue`, so
that what they depend on is written in one place and stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

Side = Mapping[str, Any] | None
"""The register's side of a conflict (what it holds), or None when it said nothing."""


class SightingStore(Protocol):
    """What the rest of the device asks of the sighting queue, and nothing more.

    The scan path appends; the handheld audit and the door kiosk look through what
    is queued; the sync engine takes, acknowledges, dead-letters and sets aside
    conflicts, and notes its attempts; the device loop reports the status and the
    bytes written. :class:`SightingQueue` is the store; opening and closing it is the
    business of whoever makes it.
    """

    def append_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Queue records durably with one write; ids already queued are skipped."""
        ...

    def __len__(self) -> int:
        """How many sightings are queued."""
        ...

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the queued records, oldest first."""
        ...

    def iter_pending(self) -> Iterator[dict[str, Any]]:
        """Yield copies of the queued records, oldest first, a segment at a time."""
        ...

    def acknowledge(self, sighting_ids: Iterable[str]) -> int:
        """Remove the given sightings durably; return how many were removed."""
        ...

    def dead_letter(self, items: Iterable[tuple[str, str]]) -> int:
        """Move refused sightings out of the queue with their reason."""
        ...

    def conflict(self, items: Iterable[tuple[str, str, Side]]) -> int:
        """Move events the register disagreed with out of the queue, with both sides."""
        ...

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts kept, oldest first."""
        ...

    def note_sync(self, ok: bool, at_iso: str, error: str | None = None) -> None:
        """Record a sync attempt durably."""
        ...

    def status(self) -> dict[str, Any]:
        """The queue at a glance (see :func:`sync.queue.read_status`)."""
        ...

    @property
    def bytes_written(self) -> int:
        """Bytes this process has written into the queue's files."""
        ...
