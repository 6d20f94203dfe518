"""``JsonLinesJournal``: an append-only file of JSON lines, each write fsynced or deferred.

The device keeps several such files: a room's journal (:mod:`firmware.room`), a kiosk's
movement log (:mod:`firmware.movement_log`) and the files outbox (:mod:`sync.outbox`).
A write is one ``write`` of one or more whole lines and one ``fsync``, so it is either
durable when it returns or cut back; the file's first line may be a header, written
(and fsynced, with the folder) when the file is created. Reading cuts a last line torn
by a power cut off the file and skips (and logs) a damaged line elsewhere.

A **deferred** write (``write(..., flush=False)``) is the same single ``write`` without
the fsync: it survives a kill of the process (the page cache keeps it) but not a power
cut until it is flushed. It is for lines whose records the sighting queue holds durably:
the scan path queues a burst (one fsync) and then writes its journal lines, both inside
:func:`deferred_write`; the file is named in a register of deferred files, and
:func:`flush_deferred` — which first waits for every :func:`deferred_write` under way —
fsyncs them all. The queue calls it before any record leaves it (acknowledged,
dead-lettered, or sealed where another process may acknowledge it), so a record is
always durable in the queue, in the journal, or in both (docs/queue-storage.md has the
argument).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sync.storage import fsync_directory, write_all, write_and_fsync

__all__ = [
    "FLUSH_WAIT",
    "JsonLinesJournal",
    "deferred_paths",
    "deferred_write",
    "encode_line",
    "flush_deferred",
    "journals_unflushed",
    "read_lines",
]

log = logging.getLogger("sync.journal")

# Files written with a deferred flush since their last fsync, each with a count of its
# deferred writes: a file leaves only when an fsync began after its last write.
_deferred: dict[Path, int] = {}
_deferred_lock = threading.Lock()
_idle = threading.Condition(_deferred_lock)
_writing = [0]  # deferred_write blocks under way

FLUSH_WAIT = 10.0
"""Seconds :func:`flush_deferred` waits for the writes under way to end."""


@contextmanager
def deferred_write() -> Iterator[None]:
    """Around queueing records and then writing their journal lines (deferred).

    A :func:`flush_deferred` called meanwhile waits for the block to end: the queue may
    hand a record to the sync as soon as it holds it, and must not let it go before
    its journal line is written and flushed.
    """
    with _idle:
        _writing[0] += 1
    try:
        yield
    finally:
        with _idle:
            _writing[0] -= 1
            if not _writing[0]:
                _idle.notify_all()


def journals_unflushed() -> bool:
    """True while a deferred write is under way or a deferred file is not flushed yet."""
    with _deferred_lock:
        return bool(_deferred) or _writing[0] > 0


def deferred_paths() -> list[Path]:
    """The files holding deferred writes that are not known to be flushed yet."""
    with _deferred_lock:
        return sorted(_deferred)


def _note_deferred(path: Path) -> None:
    with _deferred_lock:
        _deferred[path] = _deferred.get(path, 0) + 1


def flush_deferred() -> int:
    """Fsync every file holding deferred writes; return how many were flushed.

    Each is opened by its name and fsynced (an fsync reaches every page of the file,
    whoever wrote it), so this is safe from any thread while another writes. A file
    leaves the register once fsynced, unless it was written again meanwhile; a file
    gone (a room journal deleted once its report was saved) simply leaves it.

    Raises:
        OSError: a file could not be flushed (it stays in the register), or the writes
            under way did not end within ``FLUSH_WAIT`` seconds.
    """
    with _idle:
        if not _idle.wait_for(lambda: _writing[0] == 0, timeout=FLUSH_WAIT):
            raise TimeoutError(f"journal writes still under way after {FLUSH_WAIT:.0f} s")
        found = dict(_deferred)
    failure: OSError | None = None
    done: list[Path] = []
    flushed = 0
    for path in found:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            done.append(path)
            continue
        except OSError as exc:
            failure = failure or exc
            continue
        try:
            os.fsync(fd)
            done.append(path)
            flushed += 1
        except OSError as exc:
            failure = failure or exc
        finally:
            os.close(fd)
    with _deferred_lock:
        for path in done:
            if _deferred.get(path) == found[path]:
                del _deferred[path]
    if failure is not None:
        raise failure
    return flushed


def encode_line(line: Mapping[str, Any]) -> bytes:
    """One journal line: compact JSON, UTF-8, newline-terminated."""
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class JsonLinesJournal:
    """An append-only JSON-lines file; every write is one ``write`` and one ``fsync``.

    Args:
        path: the file (its folder is created when needed).
        header: the first line of a new file, written when the file is created.
        keep_open: keep the file open between writes (a journal written at every scan);
            otherwise each write opens and closes it.

    Attributes:
        bytes_written: bytes written into the file through this object.
    """

    def __init__(self, path: str | Path, *, header: Mapping[str, Any] | None = None,
                 keep_open: bool = False) -> None:
        self.path = Path(path)
        self.bytes_written = 0
        self._header = header
        self._keep_open = keep_open
        self._fd: int | None = None
        # The file's size while this object holds it open (it is the only writer).
        self._size: int | None = None

    def amend_header(self, fields: Mapping[str, Any]) -> bool:
        """Add ``fields`` to the header while nothing is written yet.

        Returns:
            False when the file exists already: its header is written, say it in a line.
        """
        if self._fd is not None or self.path.exists():
            return False
        self._header = {**(self._header or {}), **fields}
        return True

    def append(self, lines: Iterable[Mapping[str, Any]], *, flush: bool = True) -> int:
        """Append ``lines`` (JSON-able mappings) with one write and one fsync.

        Args:
            flush: False defers the fsync (see the module docstring).

        Returns:
            The bytes written (0, and nothing touched, when ``lines`` is empty).

        Raises:
            OSError: the file cannot be written; it is cut back to what it held.
        """
        return self.write(b"".join(encode_line(line) for line in lines), flush=flush)

    def write(self, data: bytes, *, flush: bool = True) -> int:
        """Append ``data`` (whole lines) with one write and one fsync; return its length.

        Args:
            flush: False writes without the fsync and names the file in the register
                of deferred files (:func:`flush_deferred` makes it durable).

        Raises:
            OSError: the file cannot be written; it is cut back to what it held.
        """
        if not data:
            return 0
        fd = self._fd if self._fd is not None else self._open()
        try:
            if self._size is None:
                self._size = os.fstat(fd).st_size
            try:
                if flush:
                    write_and_fsync(fd, data)
                else:
                    write_all(fd, data)
                    _note_deferred(self.path)
            except OSError:
                try:
                    os.ftruncate(fd, self._size)
                except OSError:
                    self._size = None  # a torn last line is cut off when the file is read
                raise
            self._size += len(data)
        finally:
            if not self._keep_open:
                self.close()
        self.bytes_written += len(data)
        return len(data)

    def _open(self) -> int:
        """Open the file for appending; a new one gets its header and a durable entry."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                if self._header is not None:
                    header = encode_line(self._header)
                    write_and_fsync(fd, header)
                    size = len(header)
                    self.bytes_written += size
                fsync_directory(directory)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._size = fd, size
        return fd

    def close(self) -> None:
        """Close the file if it is held open; the file stays."""
        fd, self._fd, self._size = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_lines(path: Path) -> tuple[list[Any], int]:
    """The JSON lines of a journal, and how many were damaged.

    A last line torn by a kill (no newline) is cut off the file; a damaged line
    elsewhere is skipped and logged.

    Raises:
        OSError: the file cannot be read or repaired.
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    if not data.endswith(b"\n"):
        torn, lines = lines[-1], lines[:-1]
        log.warning("%s: a line torn by a power cut was cut off (%d bytes)", path, len(torn))
        with path.open("r+b") as fh:
            fh.truncate(len(data) - len(torn))
            os.fsync(fh.fileno())
    entries, damaged = [], 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entries.append(json.loads(raw))
        except ValueError:
            damaged += 1
            log.error("%s, line %d: damaged journal line skipped", path, number)
    return entries, damaged
