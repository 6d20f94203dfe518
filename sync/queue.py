"""The durable on-device queue of sighting records, waiting for the register.

A sighting is appended here before any feedback is given, and stays until the
register (or its outbox folder) has it. ``append`` returns only once the record
would survive a power cut; appending the same ``sighting_id`` twice is harmless.

Callers depend on the ``SightingStore`` protocol, so the layout behind it (today
one TinyDB file) can change without them noticing.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, cast

from tinydb import TinyDB
from tinydb.table import Document

from firmware.errors import QueueError
from sync.storage import AtomicJSONStorage, damaged_file_error, fsync_directory

__all__ = ["QUEUE_FILE", "SightingQueue", "SightingStore"]

QUEUE_FILE = "sightings.json"
_RECORDS = "sightings"
_META = "meta"
_META_DOC = 1


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


@dataclass
class _State:
    """What the queue knows about its file, rebuilt from the file whenever in doubt."""

    # sighting_id -> (TinyDB doc_id, seq). The doc_id only locates the document:
    # TinyDB reuses ids after removals and restarts, so order comes from seq.
    index: dict[str, tuple[int, int]]
    next_seq: int
    # Highest seq ever assigned as recorded in the meta table; None when absent.
    recorded_seq: int | None


class SightingQueue:
    """The sighting queue: one TinyDB file, ``<directory>/sightings.json``.

    Each record is stored with its own sequence number, which gives the order and
    keeps increasing across restarts even after the queue was emptied. An append is
    one atomic, fsynced replace of the file (see ``AtomicJSONStorage``); an
    acknowledge is at most two (the numbering high-water mark, then the removal),
    and a crash between them loses nothing.

    One process and one thread own a queue: it is not thread-safe, and a second
    ``SightingQueue`` on the same directory (in this or another process) is
    refused while the first is open, because each keeps the file in memory and
    would overwrite the other's changes.

    Args:
        directory: where the queue lives; created if missing.

    Raises:
        QueueError: the directory cannot be used (it is read-only, or cannot be locked),
            is already open elsewhere, or the queue file is damaged (it is then left
            untouched).
    """

    def __init__(self, directory: str | Path) -> None:
        self._directory = Path(directory)
        self._path = self._directory / QUEUE_FILE
        self._state: _State | None = None
        self._closed = False
        with ExitStack() as stack:
            _make_directory(self._directory)
            _check_writable(self._directory)
            stack.enter_context(_exclusive(self._directory))
            db = stack.enter_context(TinyDB(self._path, storage=AtomicJSONStorage))
            self._storage = cast(AtomicJSONStorage, db.storage)
            self._records = db.table(_RECORDS, cache_size=0)
            self._meta = db.table(_META, cache_size=0)
            self._state = self._scan()
            self._resources = stack.pop_all()

    @property
    def path(self) -> Path:
        """The queue file."""
        return self._path

    def append(self, record: Mapping[str, Any]) -> None:
        """Queue ``record``; it is on disk and fsynced when this returns.

        Args:
            record: a JSON-able mapping with a string ``sighting_id``.

        Raises:
            ValueError: the record has no string ``sighting_id`` or is not JSON-able.
            QueueError: the disk is full or failing. The queue stays usable; the
                record is not confirmed, so append it again (harmless if it landed)
                or report it as not saved.
        """
        stored = _normalised(record)
        sighting_id = stored["sighting_id"]
        with self._changing() as state:
            if sighting_id in state.index:
                # Already queued, maybe by a write that raised after its rename.
                self._storage.ensure_durable()
                return
            seq = state.next_seq
            doc_id = self._records.insert({"seq": seq, "record": stored})
            state.index[sighting_id] = (doc_id, seq)
            state.next_seq = seq + 1

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the queued records, oldest first.

        Args:
            limit: at most this many records; all of them when None.

        Raises:
            ValueError: ``limit`` is negative.
            QueueError: the queue is closed or cannot be read.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        self._ready()
        docs = sorted(self._records.all(), key=lambda doc: doc["seq"])
        if limit is not None:
            docs = docs[:limit]
        return [copy.deepcopy(doc["record"]) for doc in docs]

    def acknowledge(self, sighting_ids: Iterable[str]) -> int:
        """Remove the given sightings durably, once the register has them.

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
        with self._changing() as state:
            found = [sid for sid in wanted if sid in state.index]
            if not found:
                self._storage.ensure_durable()
                return 0
            top = max(state.index[sid][1] for sid in found)
            if state.recorded_seq is None or top > state.recorded_seq:
                # Record the high-water mark before removing, so that an emptied
                # queue still resumes numbering above every seq ever handed out.
                self._record_seq(state, state.next_seq - 1)
            removed = self._records.remove(doc_ids=[state.index[sid][0] for sid in found])
            for sid in found:
                del state.index[sid]
            return len(removed)

    def __len__(self) -> int:
        return len(self._ready().index)

    def close(self) -> None:
        """Release the queue; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._state = None
        self._resources.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ready(self) -> _State:
        if self._closed:
            raise QueueError(f"the sighting queue {self._path} is closed")
        if self._state is None:
            self._state = self._scan()
        return self._state

    @contextmanager
    def _changing(self) -> Iterator[_State]:
        state = self._ready()
        done = False
        try:
            yield state
            done = True
        finally:
            if not done:
                # The write may have failed before or after the file was renamed:
                # rebuild from the storage, which re-reads the file if needed.
                self._state = None

    def _record_seq(self, state: _State, seq: int) -> None:
        if state.recorded_seq is None:
            self._meta.insert(Document({"last_seq": seq}, doc_id=_META_DOC))
        else:
            self._meta.update({"last_seq": seq}, doc_ids=[_META_DOC])
        state.recorded_seq = seq

    def _scan(self) -> _State:
        index: dict[str, tuple[int, int]] = {}
        top = 0
        for doc in self._records:
            record = doc.get("record")
            seq = doc.get("seq")
            sid = record.get("sighting_id") if isinstance(record, dict) else None
            if not isinstance(sid, str) or type(seq) is not int or sid in index:
                detail = f"entry {doc.doc_id} of {_RECORDS!r} is not a queued sighting"
                raise damaged_file_error(self._path, detail)
            index[sid] = (doc.doc_id, seq)
            top = max(top, seq)
        meta = self._meta.get(doc_id=_META_DOC)
        recorded = None if meta is None else meta.get("last_seq")
        if meta is not None and type(recorded) is not int:
            raise damaged_file_error(self._path, f"table {_META!r} has no integer last_seq")
        return _State(index, max(top, recorded or 0) + 1, recorded)


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
    return cast(dict[str, Any], json.loads(text))


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


@contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (released when the process dies).

    Raises:
        QueueError: the directory cannot be opened, is locked by another queue, or
            cannot be locked at all.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QueueError(f"cannot open the queue directory {directory}: {reason}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise QueueError(
                f"the sighting queue in {directory} is already open (one process owns it)"
            ) from exc
        except OSError as exc:  # ENOLCK: no locks on this filesystem (some NFS, FUSE mounts)
            reason = exc.strerror or str(exc)
            raise QueueError(f"cannot lock the queue directory {directory}: {reason}") from exc
        yield
    finally:
        os.close(fd)
