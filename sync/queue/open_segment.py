"""The open segment: the only file an append writes to, and its sealing.

Held by the process that owns the queue. An append is one line written and fsynced
into ``open-<N>.json`` (:class:`sync.queue.log_storage.AppendLogStorage`); a full or
quiet open segment is sealed by writing the next one first, then renaming it
``seg-<N>.json`` beside its id sidecar.

A sealed segment is where another process may acknowledge records, so it is renamed
only once the journals written with a deferred flush are flushed
(:mod:`sync.journal`). When some are not, a roll on the scan path does not flush them
(a scan waits for one flush only): the full segment is **parked** — kept under its
``open-`` name, no longer appended to, known to this process as sealed — and
:meth:`OpenSegment.seal_parked` renames it once they are (the queue does so, off the
scan path, at ``pending``, ``status`` and closing). A start seals a parked segment like
any older open segment.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from sync.errors import QueueError
from sync.journal import journals_unflushed
from sync.queue import segments as seg
from sync.queue.index import Segment, SegmentIndex
from sync.queue.log_storage import AppendLogStorage

log = logging.getLogger("sync.queue")

Doc = tuple[int, dict[str, Any]]


class OpenSegment:
    """Appends to, seals and rewrites the open segment; every method expects ``index.lock``.

    Args:
        index: the queue's index (its ``open`` is the segment written here).
        segment_size: records per segment before it is sealed.
        seal_after: seconds without an append after which it is sealed.
    """

    def __init__(self, index: SegmentIndex, segment_size: int, seal_after: float) -> None:
        self._index = index
        self._segment_size = segment_size
        self._seal_after = seal_after
        self._last_append = time.monotonic()
        self._bytes_written = 0
        self.parked: list[Segment] = []
        """Full segments waiting for the journals' flush before they are renamed sealed."""

    @property
    def bytes_written(self) -> int:
        """Bytes written into open segments (and sidecars of those sealed) by this process."""
        current = self._index.open
        if current is None or current.db is None:
            return self._bytes_written
        return self._bytes_written + _log_of(current).bytes_written

    def add(self, records: list[dict[str, Any]], *, new_segment: bool = False) -> int:
        """Queue the records whose ids are not queued yet; return how many were added."""
        index = self._index
        fresh: list[dict[str, Any]] = []
        seen: set[str] = set()
        for record in records:
            sid = record["sighting_id"]
            if sid not in index.where and sid not in seen:
                seen.add(sid)
                fresh.append(record)
        if not fresh:
            # Already queued, maybe by a write that raised after its rename.
            if index.open is not None:
                self.ensure_durable()
            return 0
        docs = [(index.next_seq + n, record) for n, record in enumerate(fresh)]
        if new_segment or index.open is None or self._must_roll(len(docs)):
            self.start(docs, index.next_seq + len(docs))
        else:
            self._insert(docs)
        index.next_seq += len(docs)
        self._last_append = time.monotonic()
        return len(docs)

    def _must_roll(self, adding: int) -> bool:
        assert self._index.open is not None
        held = len(self._index.open.members)
        if not held:
            return False
        quiet = time.monotonic() - self._last_append >= self._seal_after
        return quiet or held + adding > self._segment_size

    def _insert(self, docs: list[Doc]) -> None:
        """Add ``docs`` to the open segment: one line appended to its file, one fsync."""
        current = self._index.open
        assert current is not None and current.db is not None
        table = current.db.table(seg.RECORDS, cache_size=0)
        try:
            table.insert_multiple([Document(record, doc_id=seq) for seq, record in docs])
        except QueueError:
            self._resync()
            raise
        for seq, record in docs:
            self._index.index(current, record["sighting_id"], seq)

    def start(self, docs: list[Doc], next_seq: int) -> None:
        """Open a new segment holding ``docs`` and seal the previous one.

        The new file (with the numbering's high-water mark) is durable before the old
        one is renamed, so an open segment always exists to carry that mark.
        """
        index = self._index
        number = index.next_number
        path = index.folder / seg.segment_name(seg.OPEN, number)
        db = TinyDB(path, storage=AppendLogStorage, flush_found=False,
                    immutable_documents=True)
        try:
            db.storage.write(seg.segment_tables(docs, next_seq))
        except BaseException:
            db.close()
            raise
        index.next_number = number + 1
        previous, index.open = index.open, Segment(number, path, db=db)
        for seq, record in docs:
            index.index(index.open, record["sighting_id"], seq)
        if previous is not None:
            self._retire(previous)

    def reopen(self, number: int, path: Path, pairs: list[tuple[int, str]]) -> None:
        """Take up the open segment found at a start, holding ``pairs`` (seq, sighting_id)."""
        # Flushed: an append whose fsync never returned may still be in the page cache only.
        db = TinyDB(path, storage=AppendLogStorage, immutable_documents=True)
        self._index.open = Segment(number, path, db=db)
        self._index.adopt(self._index.open, pairs)

    def _retire(self, previous: Segment) -> None:
        """Seal the segment that was open (or delete it when it holds nothing).

        Parked instead (see the module docstring) while journals wait for their flush.
        """
        sealed = self._index.sealed
        try:
            if previous.db is not None:
                # A write that failed may have left half a line: a sealed segment is whole.
                _log_of(previous).ensure_durable()
        except QueueError as exc:
            log.warning("segment %s not sealed yet: %s", previous.path.name, exc)
            self._close_log(previous)
            if previous.members:
                sealed[previous.number] = previous
            return
        self._close_log(previous)
        if previous.members and journals_unflushed():
            self._park(previous)
            return
        self._rename_sealed(previous)

    def _park(self, previous: Segment) -> None:
        try:
            previous.stamp = seg.stamp_of(os.stat(previous.path))
        except OSError:
            previous.stamp = None
        self._index.sealed[previous.number] = previous
        self.parked.append(previous)

    def seal_parked(self, segments: list[Segment]) -> None:
        """Rename ``segments`` (parked before the journals were last flushed) sealed."""
        for segment in segments:
            if segment in self.parked:
                self.parked.remove(segment)
            if (self._index.sealed.get(segment.number) is segment and segment.members
                    and segment.path.name.startswith(f"{seg.OPEN}-")):
                self._rename_sealed(segment)

    def _rename_sealed(self, previous: Segment) -> None:
        """Write a closed segment's id sidecar and rename it ``seg-<N>.json``."""
        sealed = self._index.sealed
        folder = self._index.folder
        try:
            if not previous.members:
                os.unlink(previous.path)
                return
            size = os.stat(previous.path).st_size
            pairs = [(seq, sid) for sid, seq in previous.members.items()]
            self._bytes_written += seg.write_ids(
                folder / seg.segment_name(seg.IDS, previous.number), size, pairs)
            target = folder / seg.segment_name(seg.SEALED, previous.number)
            os.rename(previous.path, target)
            previous.path = target
        except OSError as exc:
            # Its records are safe where they are; the next start seals it.
            log.warning("segment %s not sealed yet: %s", previous.path.name, exc)
        try:
            previous.stamp = seg.stamp_of(os.stat(previous.path))
        except OSError:
            previous.stamp = None
        if previous.members:
            sealed[previous.number] = previous

    def seal(self, *, force: bool = False) -> None:
        """Seal the open segment if it holds records and is quiet (or ``force``)."""
        current = self._index.open
        if current is None or not current.members:
            return
        if not force and time.monotonic() - self._last_append < self._seal_after:
            return
        try:
            self.start([], self._index.next_seq)
        except QueueError as exc:
            log.warning("open segment not sealed: %s", exc)

    def records(self) -> list[dict[str, Any]]:
        """The open segment's records, oldest first (not copies)."""
        current = self._index.open
        if current is None or current.db is None:
            return []
        table = (current.db.storage.read() or {}).get(seg.RECORDS) or {}
        return [table[str(seq)] for seq in current.members.values()]

    def remove(self, sids: list[str]) -> int:
        """Rewrite the open segment without ``sids``, keeping the numbering."""
        current = self._index.open
        assert current is not None and current.db is not None
        storage = current.db.storage
        tables = storage.read() or {}
        records = dict(tables.get(seg.RECORDS) or {})
        for sid in sids:
            records.pop(str(current.members[sid]), None)
        changed = {**tables, seg.RECORDS: records,
                   seg.META: {seg.META_DOC: {"next_seq": self._index.next_seq}}}
        try:
            storage.write(changed)
        except QueueError:
            self._resync()
            raise
        for sid in sids:
            self._index.unindex(current, sid)
        return len(sids)

    def ensure_durable(self) -> None:
        """Finish a write of the open segment that raised (cut back, flushed)."""
        assert self._index.open is not None
        try:
            _log_of(self._index.open).ensure_durable()
        except QueueError:
            self._resync()
            raise

    def close(self) -> None:
        """Close the open segment's file and forget it (the writer lock is let go)."""
        if self._index.open is not None:
            self._close_log(self._index.open)
        self._index.open = None

    def _resync(self) -> None:
        """Rebuild the open segment's index from its file after a write that failed."""
        current = self._index.open
        assert current is not None and current.db is not None
        tables = current.db.storage.read() or {}
        docs = [(int(key), record) for key, record in (tables.get(seg.RECORDS) or {}).items()]
        docs.sort(key=lambda doc: doc[0])
        self._index.adopt(current, [(seq, record["sighting_id"]) for seq, record in docs])

    def _close_log(self, segment: Segment) -> None:
        """Close a segment's TinyDB and count what its storage wrote."""
        if segment.db is not None:
            self._bytes_written += _log_of(segment).bytes_written
            segment.db.close()
            segment.db = None


def _log_of(segment: Segment) -> AppendLogStorage:
    assert segment.db is not None
    storage = segment.db.storage
    assert isinstance(storage, AppendLogStorage)
    return storage


def normalised_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a private, JSON-clean copy of ``record``, or raise ValueError."""
    if not isinstance(record, Mapping):
        raise ValueError(f"a sighting record must be a mapping, not {type(record).__name__}")
    sighting_id = record.get("sighting_id")
    if not isinstance(sighting_id, str) or not sighting_id:
        raise ValueError("a sighting record needs a non-empty string 'sighting_id'")
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sighting {sighting_id} cannot be stored as JSON: {exc}") from exc
    copy: dict[str, Any] = json.loads(text)
    return copy
