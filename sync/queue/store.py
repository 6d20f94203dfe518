"""``SightingQueue``: the segmented durable queue; the package docstring tells the design."""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from tinydb import TinyDB
from tinydb.table import Document

from sync.errors import QueueError
from sync.queue import segments as seg
from sync.queue.conflicts import (
    CONFLICT_TABLE,
    conflict_entry,
    open_conflicts,
    read_conflicts,
)
from sync.queue.folder import (
    DEAD_TABLE,
    LEGACY_FILE,
    OPERATION_LOCK,
    SEGMENTS_DIR,
    WRITER_LOCK,
    dead_entry,
    folder_status,
    legacy_docs,
    now_iso,
    open_dead_letters,
    open_lock_file,
    operation_lock,
    read_dead_letters,
    read_status,
    try_lock,
    write_note,
)
from sync.queue.kept import add_new_entries
from sync.queue.log_storage import AppendLogStorage
from sync.storage import (
    AtomicJSONStorage,
    fsync_directory,
    io_error,
    temp_path,
)

log = logging.getLogger("sync.queue")

DEFAULT_SEGMENT_SIZE = 250
DEFAULT_SEAL_AFTER = 60.0
DEFAULT_WRITER_WAIT = 5.0

Doc = tuple[int, dict[str, Any]]


class SightingStore(Protocol):
    """What callers need from a durable sighting queue, whatever its layout."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Queue ``record`` durably; a ``sighting_id`` already queued is a no-op."""
        ...

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the queued records, oldest first."""
        ...

    def acknowledge(self, sighting_ids: Iterable[str]) -> int:
        """Remove the given sightings durably; return how many were removed."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None:
        """Release the queue."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(eq=False)
class _Segment:
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


class SightingQueue:
    """The durable sighting queue: small TinyDB segment files in ``<directory>/sightings/``.

    See the package docstring for the layout, the sharing between threads and
    processes, and recovery. All methods are thread-safe.

    Args:
        directory: the queue directory (``queue.path``); created if missing.
        segment_size: records per segment before it is sealed and a new one opened.
        seal_after: seconds without an append after which the open segment is sealed
            (at the next append, ``pending`` or ``status``), so that a second process
            can take its records.
        shared: open beside the process that owns the queue (the device loop), for a
            one-shot sync: no ``append``; ``pending``, ``acknowledge``, ``dead_letter``,
            ``note_sync`` and ``status`` work on the sealed segments. When no process
            owns the queue, its open segment is sealed first, so everything is seen.
        writer_wait: seconds to wait for the writer lock before refusing (a shared
            process holds it for a moment while it seals).

    Raises:
        QueueError: the directory cannot be used (read-only, cannot be locked), or,
            unless ``shared``, another process owns the queue.
        ValueError: ``segment_size`` below 1 or negative ``seal_after``.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        seal_after: float = DEFAULT_SEAL_AFTER,
        shared: bool = False,
        writer_wait: float = DEFAULT_WRITER_WAIT,
    ) -> None:
        if segment_size < 1:
            raise ValueError(f"segment_size must be 1 or more, not {segment_size}")
        if seal_after < 0:
            raise ValueError(f"seal_after must be 0 or more, not {seal_after}")
        self._directory = Path(directory)
        self._folder = self._directory / SEGMENTS_DIR
        self._segment_size = segment_size
        self._seal_after = seal_after
        self._shared = shared
        # Lock order: _io (one operation of this process at a time on the shared
        # files), then the folder's flock, then _lock (the index and the open segment).
        self._io = threading.Lock()
        self._lock = threading.Lock()
        self._sealed: dict[int, _Segment] = {}
        # sighting_id -> number of the segment holding it. Plain ints keep this big dict
        # out of the cyclic garbage collector's walks, which would otherwise add
        # milliseconds to an append now and then with 50,000 queued.
        self._where: dict[str, int] = {}
        self._open: _Segment | None = None
        self._next_seq = 1
        self._next_number = 1
        self._last_append = time.monotonic()
        self._closed = False
        self._unflushed_deletes = False
        self._bytes_written = 0
        self._writer_fd: int | None = None
        with ExitStack() as stack:
            _make_directory(self._directory)
            _check_writable(self._directory)
            _make_directory(self._folder)
            _check_writable(self._folder)
            self._op_fd = open_lock_file(self._folder / OPERATION_LOCK)
            stack.callback(os.close, self._op_fd)
            stack.callback(self._release_writer)
            self._take_writer(writer_wait)
            with operation_lock(self._op_fd, self._folder / OPERATION_LOCK):
                try:
                    if self._writer_fd is not None:
                        self._recover()
                        if shared:
                            self._seal_open(force=True)
                            self._release_writer()
                    else:
                        self._refresh()
                except QueueError:
                    raise
                except OSError as exc:
                    raise io_error(self._folder, "cannot open the queue in", exc) from exc
            self._resources = stack.pop_all()

    # --- properties -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The folder of segment files (``<directory>/sightings``)."""
        return self._folder

    @property
    def directory(self) -> Path:
        """The queue directory given at opening."""
        return self._directory

    @property
    def shared(self) -> bool:
        """True when opened beside the owning process (no appends)."""
        return self._writer_fd is None

    # --- appending --------------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> None:
        """Queue ``record``; it is on disk and fsynced when this returns.

        Args:
            record: a JSON-able mapping with a string ``sighting_id``.

        Raises:
            ValueError: the record has no string ``sighting_id`` or is not JSON-able.
            QueueError: the disk is full or failing, or the queue is shared. The queue
                stays usable; the record is not confirmed, so append it again (harmless
                if it landed) or report it as not saved.
        """
        self._append([_normalised(record)])

    def append_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Queue several records with one write and one fsync of the open segment.

        All are durable when this returns; ids already queued (or repeated in
        ``records``) are skipped. When they do not fit in the open segment, they go
        together into a new one and the full one is sealed (still one file write).

        Returns:
            How many records were newly queued.

        Raises:
            ValueError: a record is not valid (nothing is written then).
            QueueError: as for ``append``; none of the records is confirmed.
        """
        return self._append([_normalised(record) for record in records])

    def _append(self, records: list[dict[str, Any]], *, new_segment: bool = False) -> int:
        with self._lock:
            self._check_usable()
            if self._writer_fd is None:
                raise QueueError(
                    f"the sighting queue in {self._directory} is open for sync only: the"
                    " process that owns it (the device loop) appends")
            fresh: list[dict[str, Any]] = []
            seen: set[str] = set()
            for record in records:
                sid = record["sighting_id"]
                if sid not in self._where and sid not in seen:
                    seen.add(sid)
                    fresh.append(record)
            if not fresh:
                # Already queued, maybe by a write that raised after its rename.
                if self._open is not None:
                    self._ensure_durable_open()
                return 0
            docs = [(self._next_seq + n, record) for n, record in enumerate(fresh)]
            if new_segment or self._open is None or self._must_roll(len(docs)):
                self._start_open(docs, self._next_seq + len(docs))
            else:
                self._insert(docs)
            self._next_seq += len(docs)
            self._last_append = time.monotonic()
            return len(docs)

    def _must_roll(self, adding: int) -> bool:
        assert self._open is not None
        held = len(self._open.members)
        if not held:
            return False
        quiet = time.monotonic() - self._last_append >= self._seal_after
        return quiet or held + adding > self._segment_size

    def _insert(self, docs: list[Doc]) -> None:
        """Add ``docs`` to the open segment: one line appended to its file, one fsync."""
        assert self._open is not None and self._open.db is not None
        table = self._open.db.table(seg.RECORDS, cache_size=0)
        try:
            table.insert_multiple([Document(record, doc_id=seq) for seq, record in docs])
        except QueueError:
            self._resync_open()
            raise
        for seq, record in docs:
            self._index(self._open, record["sighting_id"], seq)

    def _start_open(self, docs: list[Doc], next_seq: int) -> None:
        """Open a new segment holding ``docs`` and seal the previous one (``_lock`` held).

        The new file (with the numbering's high-water mark) is durable before the old
        one is renamed, so an open segment always exists to carry that mark.
        """
        number = self._next_number
        path = self._folder / seg.segment_name(seg.OPEN, number)
        db = TinyDB(path, storage=AppendLogStorage, flush_found=False,
                    immutable_documents=True)
        try:
            db.storage.write(seg.segment_tables(docs, next_seq))
        except BaseException:
            db.close()
            raise
        self._next_number = number + 1
        previous, self._open = self._open, _Segment(number, path, db=db)
        for seq, record in docs:
            self._index(self._open, record["sighting_id"], seq)
        if previous is not None:
            self._retire(previous)

    def _retire(self, previous: _Segment) -> None:
        """Seal the segment that was open (or delete it when it holds nothing)."""
        try:
            if previous.db is not None:
                # A write that failed may have left half a line: a sealed segment is whole.
                self._log_of(previous).ensure_durable()
        except QueueError as exc:
            log.warning("segment %s not sealed yet: %s", previous.path.name, exc)
            self._close_log(previous)
            if previous.members:
                self._sealed[previous.number] = previous
            return
        self._close_log(previous)
        try:
            if not previous.members:
                os.unlink(previous.path)
                return
            size = os.stat(previous.path).st_size
            pairs = [(seq, sid) for sid, seq in previous.members.items()]
            self._bytes_written += seg.write_ids(
                self._folder / seg.segment_name(seg.IDS, previous.number), size, pairs)
            sealed = self._folder / seg.segment_name(seg.SEALED, previous.number)
            os.rename(previous.path, sealed)
            previous.path = sealed
        except OSError as exc:
            # Its records are safe where they are; the next start seals it.
            log.warning("segment %s not sealed yet: %s", previous.path.name, exc)
        try:
            previous.stamp = seg.stamp_of(os.stat(previous.path))
        except OSError:
            previous.stamp = None
        if previous.members:
            self._sealed[previous.number] = previous

    def _seal_open(self, *, force: bool = False) -> None:
        """Seal the open segment if it holds records and is quiet (or ``force``)."""
        if self._open is None or not self._open.members or self._writer_fd is None:
            return
        if not force and time.monotonic() - self._last_append < self._seal_after:
            return
        try:
            self._start_open([], self._next_seq)
        except QueueError as exc:
            log.warning("open segment not sealed: %s", exc)

    def _close_log(self, segment: _Segment) -> None:
        """Close a segment's TinyDB and count what its storage wrote (``_lock`` held)."""
        if segment.db is not None:
            self._bytes_written += self._log_of(segment).bytes_written
            segment.db.close()
            segment.db = None

    @property
    def bytes_written(self) -> int:
        """Bytes this process has written into the queue's segment files since it opened it.

        Appended lines, compactions, sealed segments rewritten smaller and their id
        sidecars: what wears the SD card (the health textfile reports it).
        """
        with self._lock:
            current = 0 if self._open is None or self._open.db is None else (
                self._log_of(self._open).bytes_written)
            return self._bytes_written + current

    @staticmethod
    def _log_of(segment: _Segment) -> AppendLogStorage:
        assert segment.db is not None
        storage = segment.db.storage
        assert isinstance(storage, AppendLogStorage)
        return storage

    def _ensure_durable_open(self) -> None:
        assert self._open is not None
        try:
            self._log_of(self._open).ensure_durable()
        except QueueError:
            self._resync_open()
            raise

    def _resync_open(self) -> None:
        """Rebuild the open segment's index from its file after a write that failed."""
        assert self._open is not None and self._open.db is not None
        tables = self._open.db.storage.read() or {}
        docs = [(int(key), record) for key, record in (tables.get(seg.RECORDS) or {}).items()]
        docs.sort(key=lambda doc: doc[0])
        self._adopt(self._open, [(seq, record["sighting_id"]) for seq, record in docs])

    # --- reading ----------------------------------------------------------------------------

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the queued records, oldest first.

        Sealed segments are read from disk as needed, so a small ``limit`` reads only
        the oldest one or two. A shared queue returns only records of sealed segments.

        Args:
            limit: at most this many records; all of them when None.

        Raises:
            ValueError: ``limit`` is negative.
            QueueError: the queue is closed or cannot be read.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        with self._operation():
            return self._pending(limit)

    def _pending(self, limit: int | None) -> list[dict[str, Any]]:
        """``pending`` with the operation lock held."""
        self._refresh()
        with self._lock:
            self._seal_open()
            segments = [s for _, s in sorted(self._sealed.items()) if s.members]
            newest = self._open_records()
        found: list[dict[str, Any]] = []
        for segment in segments:
            if limit is not None and len(found) >= limit:
                break
            found += self._live_records(segment)
        if limit is None or len(found) < limit:
            found += copy.deepcopy(newest[: None if limit is None else limit - len(found)])
        return found if limit is None else found[:limit]

    def iter_pending(self) -> Iterator[dict[str, Any]]:
        """Yield copies of the queued records, oldest first, one segment in memory at a time.

        For a look at the whole queue (which sessions still have sightings queued)
        without holding 50,000 records at once, as ``pending()`` must. The segments
        are read one after the other, so a record removed meanwhile may still be
        yielded; no lock is held between two records, so the queue may be used inside
        the loop.

        Raises:
            QueueError: the queue is closed or cannot be read.
        """
        with self._operation():
            self._refresh()
            with self._lock:
                numbers = sorted(n for n, segment in self._sealed.items() if segment.members)
                newest = self._open_records()
        for number in numbers:
            with self._operation():
                segment = self._sealed.get(number)
                records = [] if segment is None else self._live_records(segment)
            yield from records
        for record in newest:
            yield copy.deepcopy(record)

    def _open_records(self) -> list[dict[str, Any]]:
        """The open segment's records, oldest first (``_lock`` held; not copies)."""
        if self._open is None or self._open.db is None:
            return []
        table = (self._open.db.storage.read() or {}).get(seg.RECORDS) or {}
        return [table[str(seq)] for seq in self._open.members.values()]

    def _live_records(self, segment: _Segment) -> list[dict[str, Any]]:
        """The records of a sealed segment still queued, oldest first (operation lock held)."""
        try:
            contents = seg.read_segment(segment.path)
        except FileNotFoundError:
            with self._lock:
                self._drop(segment)
            return []
        except seg.DamagedSegment as exc:
            replacement = self._replace_damaged(segment.number, exc)
            return [] if replacement is None else self._live_records(replacement)
        except OSError as exc:
            raise io_error(segment.path, "cannot read", exc) from exc
        if contents.stamp != segment.stamp:
            pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
            with self._lock:
                self._adopt(segment, pairs)
                segment.stamp = contents.stamp
        members = segment.members
        return [record for seq, record in contents.docs
                if members.get(record["sighting_id"]) == seq]

    def __len__(self) -> int:
        with self._operation():
            self._refresh()
            with self._lock:
                return len(self._where)

    def status(self) -> dict[str, Any]:
        """The queue at a glance; see :func:`sync.queue.read_status` for the keys.

        A shared queue reports what its files hold, the owner's open segment included.
        """
        with self._operation():
            if self._writer_fd is None:
                return read_status(self._directory)
            first = self._pending(1)
            with self._lock:
                queued = len(self._where)
                segments = len(self._sealed) + (self._open is not None)
        oldest = first[0].get("wall_time") if first else None
        return folder_status(self._directory, queued=queued, segments=segments,
                             oldest=oldest if isinstance(oldest, str) else None)

    # --- removing ---------------------------------------------------------------------------

    def acknowledge(self, sighting_ids: Iterable[str]) -> int:
        """Remove the given sightings durably, once the register has them.

        A sealed segment left with no record is deleted; one left with some is
        rewritten smaller, one at a time, so this never needs more free space than
        one segment (deletions go first and free some).

        Args:
            sighting_ids: ids to remove; ids not in the queue are ignored.

        Returns:
            How many records were removed.

        Raises:
            TypeError: a single string was passed instead of a collection of ids.
            QueueError: the disk is full or failing; the records may still be there
                and can be acknowledged again.
        """
        if isinstance(sighting_ids, str):
            raise TypeError("acknowledge takes a collection of sighting ids, not one string")
        wanted = set(sighting_ids)
        with self._operation():
            self._refresh()
            return self._remove(wanted)

    def dead_letter(self, items: Iterable[tuple[str, str]]) -> int:
        """Move sightings the register refused for good out of the queue, with the reason.

        Each goes to the dead-letter store (``dead-letters.json``) with ``reason`` and
        ``dead_lettered_at``, durably, before it leaves the queue. Ids not queued are
        ignored; an id already dead-lettered is not stored twice.

        Args:
            items: (sighting_id, reason) pairs.

        Returns:
            How many records left the queue.

        Raises:
            TypeError: an item is not a (sighting_id, reason) pair of strings.
            QueueError: the store or the queue cannot be written; what was not removed
                stays queued and can be dead-lettered again.
        """
        reasons: dict[str, str] = {}
        for item in items:
            if (not isinstance(item, tuple) or len(item) != 2
                    or not all(isinstance(part, str) for part in item)):
                raise TypeError(f"dead_letter takes (sighting_id, reason) pairs, not {item!r}")
            reasons.setdefault(item[0], item[1])
        if not reasons:
            return 0
        with self._operation():
            self._refresh()
            records = self._records_for(reasons)
            if not records:
                return 0
            at = now_iso()
            self._store_dead([dead_entry(record, reasons[record["sighting_id"]], at)
                              for record in records])
            return self._remove({record["sighting_id"] for record in records})

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters, oldest first: the record, ``reason`` and ``dead_lettered_at`` each.

        A field of the record named ``reason`` (a verdict's reason) is kept as
        ``sighting_reason``.
        """
        with self._operation():
            return read_dead_letters(self._folder)

    def conflict(self, items: Iterable[tuple[str, str, Mapping[str, Any] | None]]) -> int:
        """Move events the register disagreed with out of the queue, with both sides.

        Each goes to the conflict store (``conflicts.json``, see
        :mod:`sync.queue.conflicts`) with the reason, the register's side and the time,
        durably, before it leaves the queue. Ids not queued are ignored; an id already
        among the conflicts is not stored twice.

        Args:
            items: (sighting_id, reason, register_side) triples.

        Returns:
            How many records left the queue.

        Raises:
            TypeError: an item is not such a triple.
            QueueError: the store or the queue cannot be written; what was not removed
                stays queued and can be moved again.
        """
        found: dict[str, tuple[str, Mapping[str, Any] | None]] = {}
        for item in items:
            if (not isinstance(item, tuple) or len(item) != 3
                    or not isinstance(item[0], str) or not isinstance(item[1], str)
                    or not isinstance(item[2], (Mapping, type(None)))):
                raise TypeError("conflict takes (sighting_id, reason, register_side) triples,"
                                f" not {item!r}")
            found.setdefault(item[0], (item[1], item[2]))
        if not found:
            return 0
        with self._operation():
            self._refresh()
            records = self._records_for(found)
            if not records:
                return 0
            at = now_iso()
            entries = [conflict_entry(record, *found[record["sighting_id"]], at)
                       for record in records]
            add_new_entries(open_conflicts(self._folder), CONFLICT_TABLE, entries)
            return self._remove({record["sighting_id"] for record in records})

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts, oldest first (see :func:`sync.queue.conflicts.conflict_entry`)."""
        with self._operation():
            return read_conflicts(self._folder)

    def note_sync(self, ok: bool, at_iso: str, error: str | None = None) -> None:
        """Record a sync attempt durably, for the status and for other processes.

        Args:
            ok: the attempt succeeded (then it is also the last sync).
            at_iso: when, as an ISO time.
            error: why it failed, when it did.

        Raises:
            QueueError: the note cannot be written.
        """
        with self._operation():
            write_note(self._folder, ok, at_iso, error)

    def _remove(self, wanted: set[str]) -> int:
        """Remove ``wanted`` from every segment holding them (operation lock held)."""
        removed = 0
        with self._lock:
            here = [] if self._open is None else [
                sid for sid in wanted if self._where.get(sid) == self._open.number]
            if here:
                removed += self._remove_from_open(here)
            groups: dict[_Segment, list[str]] = {}
            for sid in wanted:
                holder = self._sealed.get(self._where.get(sid, 0))
                if holder is not None:
                    groups.setdefault(holder, []).append(sid)
            if not here and not groups and self._open is not None:
                # Nothing to remove: maybe an earlier removal raised after its rename.
                self._ensure_durable_open()
        emptied = [s for s, sids in groups.items() if len(sids) == len(s.members)]
        shrunk = [s for s in groups if s not in emptied]
        self._unflushed_deletes |= bool(emptied)
        try:
            for segment in emptied:
                removed += self._delete_sealed(segment)
            for segment in shrunk:
                removed += self._shrink_sealed(segment, groups[segment])
        finally:
            if self._unflushed_deletes:
                # Until this works, a deleted segment may come back after a power cut:
                # every later removal tries again.
                try:
                    fsync_directory(self._folder)
                except OSError as exc:
                    raise io_error(self._folder, "cannot flush", exc) from exc
                self._unflushed_deletes = False
        return removed

    def _remove_from_open(self, sids: list[str]) -> int:
        """Rewrite the open segment without ``sids`` (``_lock`` held), keeping the numbering."""
        assert self._open is not None and self._open.db is not None
        storage = self._open.db.storage
        tables = storage.read() or {}
        records = dict(tables.get(seg.RECORDS) or {})
        for sid in sids:
            records.pop(str(self._open.members[sid]), None)
        changed = {**tables, seg.RECORDS: records,
                   seg.META: {seg.META_DOC: {"next_seq": self._next_seq}}}
        try:
            storage.write(changed)
        except QueueError:
            self._resync_open()
            raise
        for sid in sids:
            self._unindex(self._open, sid)
        return len(sids)

    def _delete_sealed(self, segment: _Segment) -> int:
        count = len(segment.members)
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise io_error(segment.path, "cannot delete", exc) from exc
        _unlink_quietly(self._folder / seg.segment_name(seg.IDS, segment.number))
        with self._lock:
            self._drop(segment)
        return count

    def _shrink_sealed(self, segment: _Segment, sids: list[str]) -> int:
        try:
            contents = seg.read_segment(segment.path)
        except FileNotFoundError:
            with self._lock:
                self._drop(segment)
            return 0
        except seg.DamagedSegment as exc:
            replacement = self._replace_damaged(segment.number, exc)
            if replacement is None:
                return 0
            return self._remove({sid for sid in sids if sid in replacement.members})
        except OSError as exc:
            raise io_error(segment.path, "cannot read", exc) from exc
        seqs = {segment.members[sid] for sid in sids if sid in segment.members}
        with TinyDB(segment.path, storage=AtomicJSONStorage, tables=contents.tables,
                    flush_found=False) as db:
            db.table(seg.RECORDS, cache_size=0).remove(doc_ids=sorted(seqs))
        try:
            stamp = seg.stamp_of(os.stat(segment.path))
        except OSError:
            stamp = None
        written = 0
        if stamp is not None:
            left = [(seq, record["sighting_id"]) for seq, record in contents.docs
                    if seq not in seqs]
            written = stamp[1] + seg.write_ids(
                self._folder / seg.segment_name(seg.IDS, segment.number), stamp[1], left)
        with self._lock:
            self._bytes_written += written
            for sid in sids:
                self._unindex(segment, sid)
            segment.stamp = stamp
        return len(seqs)

    def _records_for(self, wanted: Mapping[str, object]) -> list[dict[str, Any]]:
        """Copies of the queued records among ``wanted``, oldest first (operation lock held)."""
        with self._lock:
            holders = [self._sealed[number] for number in
                       sorted({self._where[sid] for sid in wanted if sid in self._where})
                       if number in self._sealed]
            newest = [r for r in self._open_records() if r["sighting_id"] in wanted]
        found: list[dict[str, Any]] = []
        for segment in holders:
            found += [r for r in self._live_records(segment) if r["sighting_id"] in wanted]
        return found + copy.deepcopy(newest)

    def _store_dead(self, entries: list[dict[str, Any]]) -> None:
        add_new_entries(open_dead_letters(self._folder), DEAD_TABLE, entries)

    # --- the index --------------------------------------------------------------------------

    def _index(self, segment: _Segment, sid: str, seq: int) -> None:
        segment.members[sid] = seq
        self._where[sid] = segment.number

    def _unindex(self, segment: _Segment, sid: str) -> None:
        if segment.members.pop(sid, None) is not None and self._where.get(sid) == segment.number:
            del self._where[sid]

    def _adopt(self, segment: _Segment, pairs: list[tuple[int, str]]) -> None:
        """Make ``pairs`` (seq, sighting_id) the segment's members (``_lock`` held).

        An id another segment already holds stays with that one: it is never listed twice.
        """
        for sid in segment.members:
            if self._where.get(sid) == segment.number:
                del self._where[sid]
        segment.members = {}
        for seq, sid in pairs:
            self._next_seq = max(self._next_seq, seq + 1)
            holder = self._where.get(sid)
            if holder is None:
                self._index(segment, sid, seq)
            elif holder != segment.number:
                log.warning("sighting %s is in segments %d and %d: %d is used", sid,
                            holder, segment.number, holder)

    def _drop(self, segment: _Segment) -> None:
        """Forget a sealed segment whose file is gone (``_lock`` held)."""
        for sid in segment.members:
            if self._where.get(sid) == segment.number:
                del self._where[sid]
        segment.members = {}
        if self._sealed.get(segment.number) is segment:
            del self._sealed[segment.number]

    # --- the folder -------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Catch up with what another process changed in the sealed segments (op lock held)."""
        self._check_usable()
        if self._writer_fd is None:
            try:
                names = os.listdir(self._folder)
            except OSError as exc:
                raise io_error(self._folder, "cannot read", exc) from exc
            for name in names:
                parsed = seg.parse_name(name)
                if parsed and parsed[0] == seg.SEALED and parsed[1] not in self._sealed:
                    self._load_sealed(parsed[1])
        with self._lock:
            known = list(self._sealed.values())
        for segment in known:
            try:
                info = os.stat(segment.path)
            except FileNotFoundError:
                with self._lock:
                    self._drop(segment)
                continue
            except OSError as exc:
                raise io_error(segment.path, "cannot read", exc) from exc
            if seg.stamp_of(info) != segment.stamp:
                self._load_sealed(segment.number, segment)

    def _load_sealed(self, number: int, segment: _Segment | None = None) -> _Segment | None:
        """Read a sealed segment's ids (from its sidecar when current) into the index."""
        path = segment.path if segment else self._folder / seg.segment_name(seg.SEALED, number)
        sidecar = self._folder / seg.segment_name(seg.IDS, number)
        try:
            info = os.stat(path)
            pairs = seg.read_ids(sidecar, info.st_size)
            stamp = seg.stamp_of(info)
            next_seq = None
            if pairs is None:
                contents = seg.read_segment(path)
                pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
                stamp, next_seq = contents.stamp, contents.next_seq
                seg.write_ids(sidecar, stamp[1], pairs)
        except FileNotFoundError:
            if segment is not None:
                with self._lock:
                    self._drop(segment)
            return None
        except seg.DamagedSegment as exc:
            return self._replace_damaged(number, exc)
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        with self._lock:
            segment = segment or _Segment(number, path)
            self._adopt(segment, pairs)
            self._next_seq = max(self._next_seq, next_seq or 0)
            segment.stamp = stamp
            self._sealed[number] = segment
        return segment

    def _replace_damaged(self, number: int, exc: seg.DamagedSegment) -> _Segment | None:
        """Set a damaged sealed segment aside and keep what could be read of it, in its place."""
        path = exc.path
        try:
            moved = seg.set_aside(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise io_error(path, "cannot set aside the damaged file", error) from error
        with self._lock:
            stale = self._sealed.get(number)
            if stale is not None:
                self._drop(stale)
            docs = [(seq, r) for seq, r in exc.docs if r["sighting_id"] not in self._where]
        log.error("segment %s is damaged (%s): set aside as %s; %d record(s) read back",
                  path.name, exc.detail, moved.name, len(docs))
        _unlink_quietly(self._folder / seg.segment_name(seg.IDS, number))
        try:
            if docs:
                target = self._folder / seg.segment_name(seg.SEALED, number)
                top = max(seq for seq, _ in docs) + 1
                seg.write_segment(target, docs, max(top, exc.next_seq or 0))
            fsync_directory(self._folder)
        except OSError as error:
            raise io_error(path, "cannot keep what was read of", error) from error
        return self._load_sealed(number) if docs else None

    def _recover(self) -> None:
        """Bring the folder to a known state when the writer starts (op and writer locks held)."""
        try:
            names = sorted(os.listdir(self._folder))
        except OSError as exc:
            raise io_error(self._folder, "cannot read", exc) from exc
        for name in names:
            if name.endswith(seg.TEMP_SUFFIX):
                _unlink_quietly(self._folder / name)
                log.warning("removed %s, an unfinished write cut short", self._folder / name)
        sealed: list[int] = []
        opened: list[int] = []
        sidecars: list[int] = []
        for name in names:
            number = seg.number_in(name)
            if number is not None:
                self._next_number = max(self._next_number, number + 1)
            parsed = seg.parse_name(name)
            if parsed is not None:
                {seg.SEALED: sealed, seg.OPEN: opened, seg.IDS: sidecars}[parsed[0]].append(
                    parsed[1])
        for number in sorted(sealed):
            self._load_sealed(number)
        for number in sorted(opened)[:-1]:
            self._seal_found(number)
        if opened:
            self._open_found(max(opened))
        for number in sidecars:
            if number not in self._sealed:
                _unlink_quietly(self._folder / seg.segment_name(seg.IDS, number))
        self._migrate_legacy()
        self._reconcile_dead()
        try:
            fsync_directory(self._folder)
        except OSError as exc:
            raise io_error(self._folder, "cannot flush", exc) from exc

    def _seal_found(self, number: int) -> None:
        """Seal an open segment left behind by a crash during a seal."""
        path = self._folder / seg.segment_name(seg.OPEN, number)
        target = self._folder / seg.segment_name(seg.SEALED, number)
        try:
            contents = seg.read_segment(path)
        except seg.DamagedSegment as exc:
            os.rename(path, target)
            self._replace_damaged(number, seg.DamagedSegment(target, exc.detail, exc.docs,
                                                             exc.next_seq))
            return
        if contents.next_seq is not None:
            self._next_seq = max(self._next_seq, contents.next_seq)
        if not contents.docs:
            _unlink_quietly(path)
            return
        if contents.torn:
            # An append cut short: a sealed segment must be whole.
            log.warning("%s: %d byte(s) of an unconfirmed append cut short dropped",
                        path.name, contents.torn)
            seg.write_segment(path, contents.docs, max(
                contents.next_seq or 0, self._next_seq))
            contents = seg.read_segment(path)
        pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
        seg.write_ids(self._folder / seg.segment_name(seg.IDS, number), contents.stamp[1], pairs)
        os.rename(path, target)
        self._load_sealed(number)

    def _open_found(self, number: int) -> None:
        """Reopen the newest open segment; a damaged one is set aside and what it held kept."""
        path = self._folder / seg.segment_name(seg.OPEN, number)
        try:
            contents = seg.read_segment(path)
        except seg.DamagedSegment as exc:
            try:
                moved = seg.set_aside(path)
            except OSError as error:
                raise io_error(path, "cannot set aside the damaged file", error) from error
            docs = [(seq, r) for seq, r in exc.docs if r["sighting_id"] not in self._where]
            log.error("segment %s is damaged (%s): set aside as %s; %d record(s) read back",
                      path.name, exc.detail, moved.name, len(docs))
            for seq, _ in docs:
                self._next_seq = max(self._next_seq, seq + 1)
            self._next_seq = max(self._next_seq, exc.next_seq or 0)
            with self._lock:
                self._start_open(docs, self._next_seq)
            return
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        if contents.next_seq is not None:
            self._next_seq = max(self._next_seq, contents.next_seq)
        if contents.torn:
            log.warning("%s: %d byte(s) of an unconfirmed append cut short dropped",
                        path.name, contents.torn)
        # Flushed: an append whose fsync never returned may still be in the page cache only.
        db = TinyDB(path, storage=AppendLogStorage, immutable_documents=True)
        with self._lock:
            self._open = _Segment(number, path, db=db)
            self._adopt(self._open, [(seq, r["sighting_id"]) for seq, r in contents.docs])

    def _migrate_legacy(self) -> None:
        """Move the records of the single-file queue of earlier versions into segments."""
        path = self._directory / LEGACY_FILE
        if temp_path(path).exists():
            _unlink_quietly(temp_path(path))
            log.warning("removed %s, an unfinished write cut short", temp_path(path))
        if not path.exists():
            return
        damaged: seg.DamagedSegment | None = None
        try:
            docs = legacy_docs(path)
        except seg.DamagedSegment as exc:
            docs, damaged = exc.docs, exc
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        records = [record for _, record in docs]
        for start in range(0, len(records), self._segment_size):
            self._append(records[start : start + self._segment_size], new_segment=True)
        try:
            if damaged is not None:
                moved = seg.set_aside(path)
                log.error("%s is damaged (%s): set aside as %s; %d record(s) read back",
                          path, damaged.detail, moved.name, len(records))
            else:
                os.unlink(path)
            fsync_directory(self._directory)
        except OSError as exc:
            raise io_error(path, "cannot retire", exc) from exc
        log.info("%d queued sighting(s) moved from %s into segments", len(records), path)

    def _reconcile_dead(self) -> None:
        """Finish a dead-lettering (or conflict) cut short: what is stored leaves the queue."""
        dead = {entry.get("sighting_id") for entry in read_dead_letters(self._folder)}
        dead |= {entry.get("sighting_id") for entry in read_conflicts(self._folder)}
        with self._lock:
            both = {sid for sid in self._where if sid in dead}
        if both:
            self._remove(both)
            log.info("%d dead-lettered or conflicting sighting(s) removed from the queue",
                     len(both))

    # --- locks and closing ------------------------------------------------------------------

    def _take_writer(self, wait: float) -> None:
        path = self._folder / WRITER_LOCK
        fd = open_lock_file(path)
        try:
            taken = try_lock(fd, path, 0.0 if self._shared else wait)
        except BaseException:
            os.close(fd)
            raise
        if taken:
            self._writer_fd = fd
            return
        os.close(fd)
        if not self._shared:
            raise QueueError(
                f"the sighting queue in {self._directory} is already open (one process owns"
                " it: is the device loop running? A sync beside it opens the queue shared)")

    def _release_writer(self) -> None:
        with self._lock:
            if self._open is not None:
                self._close_log(self._open)
            self._open = None
            fd, self._writer_fd = self._writer_fd, None
        if fd is not None:
            os.close(fd)

    @contextmanager
    def _operation(self) -> Iterator[None]:
        with self._io:
            self._check_usable()
            with operation_lock(self._op_fd, self._folder / OPERATION_LOCK):
                yield

    def _check_usable(self) -> None:
        if self._closed:
            raise QueueError(f"the sighting queue in {self._directory} is closed")

    def close(self) -> None:
        """Release the queue; closing twice is harmless."""
        with self._io:
            if self._closed:
                return
            self._closed = True
            self._resources.close()
            with self._lock:
                self._where.clear()
                self._sealed.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _normalised(record: Mapping[str, Any]) -> dict[str, Any]:
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
    return json.loads(text)  # type: ignore[no-any-return]


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _make_directory(directory: Path) -> None:
    try:
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            # The new directory's own entry must survive a power cut too.
            fsync_directory(directory.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QueueError(f"cannot create the queue directory {directory}: {reason}") from exc


def _check_writable(directory: Path) -> None:
    """Refuse a queue directory no file can be created in (a read-only mount, permissions).

    Without this, the queue would open and every append, that is every scan, would fail.
    """
    if not os.access(directory, os.W_OK | os.X_OK):
        raise QueueError(
            f"the queue directory {directory} is read-only: no sighting could be saved in it"
        )
