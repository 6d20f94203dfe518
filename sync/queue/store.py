"""``SightingQueue``: the queue's front, over its parts; the package docstring tells the design.

The parts, one job each: :mod:`sync.queue.index` (which sighting is where),
:mod:`sync.queue.open_segment` (appending and sealing), :mod:`sync.queue.sealed` (the
sealed segments), :mod:`sync.queue.removal` (taking sightings out),
:mod:`sync.queue.recovery` (opening after a crash) and :mod:`sync.queue.ledger` (dead
letters, conflicts, the sync note). The front holds the
locks between threads and processes, and implements :class:`sync.queue.SightingStore`.

About 460 lines, over the house's 400, for one reason: most of it is the public
methods' documentation (what each promises about durability and errors); the work
itself is in the parts.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sync.errors import QueueError
from sync.queue.folder import (
    OPERATION_LOCK,
    SEGMENTS_DIR,
    check_writable,
    folder_status,
    make_directory,
    open_lock_file,
    operation_lock,
    read_status,
    take_writer_lock,
)
from sync.queue.index import SegmentIndex
from sync.queue.ledger import Ledger, conflict_sides, dead_letter_reasons
from sync.queue.open_segment import OpenSegment, normalised_record
from sync.queue.protocol import Side
from sync.queue.recovery import Recovery
from sync.queue.removal import Removal, flush_journals
from sync.queue.sealed import SealedSegments
from sync.storage import io_error

log = logging.getLogger("sync.queue")

DEFAULT_SEGMENT_SIZE = 250
DEFAULT_SEAL_AFTER = 60.0
DEFAULT_WRITER_WAIT = 5.0


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
        self._shared = shared
        # Lock order: _io (one operation of this process at a time on the shared
        # files), then the folder's flock, then the index's lock (the index and the
        # open segment).
        self._io = threading.Lock()
        self._index = SegmentIndex(self._folder)
        self._lock = self._index.lock
        self._writing = OpenSegment(self._index, segment_size, seal_after)
        self._segments = SealedSegments(self._index)
        self._ledger = Ledger(self._folder)
        self._removal = Removal(self._index, self._writing, self._segments)
        self._closed = False
        self._writer_fd: int | None = None
        with ExitStack() as stack:
            make_directory(self._directory)
            check_writable(self._directory)
            make_directory(self._folder)
            check_writable(self._folder)
            self._op_fd = open_lock_file(self._folder / OPERATION_LOCK)
            stack.callback(os.close, self._op_fd)
            stack.callback(self._release_writer)
            self._writer_fd = take_writer_lock(self._folder, writer_wait, shared=shared)
            with operation_lock(self._op_fd, self._folder / OPERATION_LOCK):
                try:
                    if self._writer_fd is not None:
                        Recovery(self._directory, self._index, self._writing, self._segments,
                                 self._ledger, segment_size, self._removal.remove).run()
                        if shared:
                            with self._lock:
                                self._writing.seal(force=True)
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

    @property
    def bytes_written(self) -> int:
        """Bytes this process has written into the queue's segment files since it opened it.

        Appended lines, compactions, sealed segments rewritten smaller and their id
        sidecars: what wears the SD card (the health textfile reports it).
        """
        with self._lock:
            return self._writing.bytes_written + self._segments.bytes_written

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
        self._append([normalised_record(record)])

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
        return self._append([normalised_record(record) for record in records])

    def _append(self, records: list[dict[str, Any]]) -> int:
        with self._lock:
            self._check_usable()
            if self._writer_fd is None:
                raise QueueError(
                    f"the sighting queue in {self._directory} is open for sync only: the"
                    " process that owns it (the device loop) appends")
            return self._writing.add(records)

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
            self._writing.seal()
        self._seal_parked()
        with self._lock:
            segments = [s for _, s in sorted(self._index.sealed.items()) if s.members]
            newest = self._writing.records()
        found: list[dict[str, Any]] = []
        for segment in segments:
            if limit is not None and len(found) >= limit:
                break
            found += self._segments.live_records(segment)
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
                numbers = sorted(n for n, s in self._index.sealed.items() if s.members)
                newest = self._writing.records()
        for number in numbers:
            with self._operation():
                segment = self._index.sealed.get(number)
                records = [] if segment is None else self._segments.live_records(segment)
            yield from records
        for record in newest:
            yield copy.deepcopy(record)

    def __len__(self) -> int:
        with self._operation():
            self._refresh()
            with self._lock:
                return len(self._index)

    def status(self) -> dict[str, Any]:
        """The queue at a glance; see :func:`sync.queue.read_status` for the keys.

        A shared queue reports what its files hold, the owner's open segment included.
        """
        with self._operation():
            if self._writer_fd is None:
                return read_status(self._directory)
            first = self._pending(1)
            with self._lock:
                queued = len(self._index)
                segments = len(self._index.sealed) + (self._index.open is not None)
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
            return self._removal.remove(wanted)

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
        reasons = dead_letter_reasons(items)
        if not reasons:
            return 0
        with self._operation():
            self._refresh()
            records = self._removal.records_for(reasons)
            if not records:
                return 0
            self._ledger.keep_dead(records, reasons)
            return self._removal.remove({record["sighting_id"] for record in records})

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters, oldest first: the record, ``reason`` and ``dead_lettered_at`` each.

        A field of the record named ``reason`` (a verdict's reason) is kept as
        ``sighting_reason``.
        """
        with self._operation():
            return self._ledger.dead_letters()

    def conflict(self, items: Iterable[tuple[str, str, Side]]) -> int:
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
        sides = conflict_sides(items)
        if not sides:
            return 0
        with self._operation():
            self._refresh()
            records = self._removal.records_for(sides)
            if not records:
                return 0
            self._ledger.keep_conflicts(records, sides)
            return self._removal.remove({record["sighting_id"] for record in records})

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts, oldest first (see :func:`sync.queue.conflicts.conflict_entry`)."""
        with self._operation():
            return self._ledger.conflicts()

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
            self._ledger.note_sync(ok, at_iso, error)

    def _refresh(self) -> None:
        """Catch up with what another process changed in the sealed segments (op lock held)."""
        self._check_usable()
        self._segments.refresh(discover=self._writer_fd is None)

    # --- locks and closing ------------------------------------------------------------------

    def _seal_parked(self) -> None:
        """Seal the segments parked until the journals are flushed (off the scan path)."""
        with self._lock:
            parked = list(self._writing.parked)
        if not parked:
            return
        try:
            # Outside the index lock: a scan does not wait for it. Only the segments
            # parked before it are sealed: one parked meanwhile may hold lines unflushed.
            flush_journals()
        except QueueError as exc:
            log.warning("full segment(s) not sealed yet: %s", exc)
            return
        with self._lock:
            self._writing.seal_parked(parked)

    def _release_writer(self) -> None:
        with self._lock:
            self._writing.close()
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
            if self._writer_fd is not None:
                try:
                    flush_journals()  # a clean stop leaves the journals durable
                    with operation_lock(self._op_fd, self._folder / OPERATION_LOCK):
                        self._seal_parked()
                except QueueError as exc:
                    log.warning("closing the queue: %s", exc)
            self._closed = True
            self._resources.close()
            with self._lock:
                self._index.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
