"""Taking sightings out of the queue: finding them, and removing them where they are.

Acknowledged, dead-lettered or conflicting sightings leave whichever segment holds them:
the open one is rewritten (one appended line), a sealed one is deleted when emptied or
rewritten smaller. Either process may do this, under the folder's operation lock.
Before anything leaves, the journals written with a deferred flush are flushed
(:func:`sync.journal.flush_deferred`): a record the queue lets go is durable in its
mode's journal.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sync.errors import QueueError
from sync.journal import flush_deferred
from sync.queue.index import Segment, SegmentIndex
from sync.queue.open_segment import OpenSegment
from sync.queue.sealed import SealedSegments
from sync.storage import fsync_directory, io_error


class Removal:
    """Finds and removes queued sightings; every method expects the operation lock.

    Args:
        index, open_segment, sealed: the queue's parts.
    """

    def __init__(self, index: SegmentIndex, open_segment: OpenSegment,
                 sealed: SealedSegments) -> None:
        self._index = index
        self._open = open_segment
        self._sealed = sealed
        self._unflushed_deletes = False

    def remove(self, wanted: set[str]) -> int:
        """Remove ``wanted`` from every segment holding them; return how many were removed.

        A sealed segment left with no record is deleted; one left with some is rewritten
        smaller, one at a time (deletions first: they free space).

        Raises:
            QueueError: the journals could not be flushed (nothing is removed), or the
                disk is full or failing.
        """
        flush_journals()
        removed = 0
        index = self._index
        with self._index.lock:
            here = [sid for sid in wanted if index.in_open(sid)]
            if here:
                removed += self._open.remove(here)
            groups: dict[Segment, list[str]] = {}
            for sid in wanted:
                holder = index.holder(sid)
                if holder is not None:
                    groups.setdefault(holder, []).append(sid)
            if not here and not groups and index.open is not None:
                # Nothing to remove: maybe an earlier removal raised after its rename.
                self._open.ensure_durable()
        emptied = [s for s, sids in groups.items() if len(sids) == len(s.members)]
        shrunk = [s for s in groups if s not in emptied]
        self._unflushed_deletes |= bool(emptied)
        try:
            for segment in emptied:
                removed += self._sealed.delete(segment)
            for segment in shrunk:
                removed += self._sealed.shrink(segment, groups[segment], self.remove)
        finally:
            if self._unflushed_deletes:
                # Until this works, a deleted segment may come back after a power cut:
                # every later removal tries again.
                try:
                    fsync_directory(self._index.folder)
                except OSError as exc:
                    raise io_error(self._index.folder, "cannot flush", exc) from exc
                self._unflushed_deletes = False
        return removed

    def records_for(self, wanted: Mapping[str, object]) -> list[dict[str, Any]]:
        """Copies of the queued records among ``wanted``, oldest first."""
        index = self._index
        with self._index.lock:
            holders = [index.sealed[number] for number in
                       sorted({index.where[sid] for sid in wanted if sid in index.where})
                       if number in index.sealed]
            newest = [r for r in self._open.records() if r["sighting_id"] in wanted]
        found: list[dict[str, Any]] = []
        for segment in holders:
            found += [r for r in self._sealed.live_records(segment)
                      if r["sighting_id"] in wanted]
        return found + copy.deepcopy(newest)


def flush_journals() -> None:
    """Flush the journals written with a deferred flush, before records leave the queue.

    Raises:
        QueueError: a journal could not be flushed.
    """
    try:
        flush_deferred()
    except OSError as exc:
        raise QueueError(f"cannot flush a journal before records leave the queue: "
                         f"{exc.strerror or exc}") from exc
