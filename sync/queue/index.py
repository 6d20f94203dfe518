"""The queue's index: which sighting is in which segment, under which sequence number.

Only ids and numbers are held here, never records: with 50,000 sightings queued the
index is a few megabytes, and a start reads the sealed segments' id sidecars only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tinydb import TinyDB

from sync.queue import segments as seg

log = logging.getLogger("sync.queue")


@dataclass(eq=False)
class Segment:
    """One segment as the index knows it.

    Attributes:
        number: its number (order of segments = order of their records).
        path: its file.
        members: sighting_id -> seq of the records it holds for the queue, oldest first.
        stamp: (inode, size) of the file ``members`` was read from (sealed segments).
        db: the TinyDB database over the file, for the open segment only.
    """

    number: int
    path: Path
    members: dict[str, int] = field(default_factory=dict)
    stamp: seg.Stamp | None = None
    db: TinyDB | None = None


class SegmentIndex:
    """Where each queued sighting is: the sealed segments, the open one, and the numbering.

    ``lock`` guards all of it (and the open segment's file); every method expects it held.

    Attributes:
        folder: the folder of segment files.
        lock: the lock of the index and the open segment.
        sealed: segment number -> sealed segment, for those holding queued records.
        where: sighting_id -> number of the segment holding it. Plain ints keep this big
            dict out of the cyclic garbage collector's walks, which would otherwise add
            milliseconds to an append now and then with 50,000 queued.
        open: the open segment (the owner's only), or None.
        next_seq: the next record's sequence number.
        next_number: the next segment's number.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.sealed: dict[int, Segment] = {}
        self.where: dict[str, int] = {}
        self.open: Segment | None = None
        self.next_seq = 1
        self.next_number = 1

    def __len__(self) -> int:
        return len(self.where)

    def __contains__(self, sighting_id: object) -> bool:
        return sighting_id in self.where

    def holder(self, sighting_id: str) -> Segment | None:
        """The sealed segment holding ``sighting_id``, or None (open segment or not queued)."""
        return self.sealed.get(self.where.get(sighting_id, 0))

    def in_open(self, sighting_id: str) -> bool:
        """True when the open segment holds ``sighting_id``."""
        return self.open is not None and self.where.get(sighting_id) == self.open.number

    def index(self, segment: Segment, sid: str, seq: int) -> None:
        """Record that ``segment`` holds ``sid`` as record ``seq``."""
        segment.members[sid] = seq
        self.where[sid] = segment.number

    def unindex(self, segment: Segment, sid: str) -> None:
        """Forget that ``segment`` holds ``sid``."""
        if segment.members.pop(sid, None) is not None and self.where.get(sid) == segment.number:
            del self.where[sid]

    def adopt(self, segment: Segment, pairs: list[tuple[int, str]]) -> None:
        """Make ``pairs`` (seq, sighting_id) the segment's members.

        An id another segment already holds stays with that one: it is never listed twice.
        """
        for sid in segment.members:
            if self.where.get(sid) == segment.number:
                del self.where[sid]
        segment.members = {}
        for seq, sid in pairs:
            self.next_seq = max(self.next_seq, seq + 1)
            holder = self.where.get(sid)
            if holder is None:
                self.index(segment, sid, seq)
            elif holder != segment.number:
                log.warning("sighting %s is in segments %d and %d: %d is used", sid,
                            holder, segment.number, holder)

    def drop(self, segment: Segment) -> None:
        """Forget a sealed segment whose file is gone."""
        for sid in segment.members:
            if self.where.get(sid) == segment.number:
                del self.where[sid]
        segment.members = {}
        if self.sealed.get(segment.number) is segment:
            del self.sealed[segment.number]

    def clear(self) -> None:
        """Forget everything (the queue is closed)."""
        self.where.clear()
        self.sealed.clear()
