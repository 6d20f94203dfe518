"""``AppendLogStorage``: a TinyDB storage that writes each change as one appended, fsynced line.

TinyDB hands its storage the whole database at every write. ``AtomicJSONStorage``
rewrites the whole file each time (a temporary file, its fsync, a rename, the
folder's fsync), so one appended record costs as many bytes on the disk as the
file holds. This storage keeps the last durable state in memory, works out what
changed, and appends only that, as one line, with one write and one fsync:

* line 1 is a **snapshot**: the tables as TinyDB lays them out, so a file of one
  line is an ordinary TinyDB JSON file;
* every later line is a **change**: ``{"tables": {name: {"set": {id: document},
  "del": [id, ...]}}, "drop": [name, ...]}`` (keys left out when empty).

When the log has grown past ``compact_factor`` times the live data (and past
``compact_floor`` bytes), the next write **compacts** it instead: the file is
replaced atomically by a single snapshot line (``replace_file``, then the folder's
fsync). The first write of a new file is such a snapshot too.

Crash argument (docs/queue-storage.md has the long form): a change line is written
with one ``write`` to the file opened ``O_APPEND`` and fsynced before the storage's
``write`` returns; nothing is appended after a line until it is durable. So a cut anywhere leaves the
confirmed lines complete, followed by at most one incomplete line — or by a complete
line that was never confirmed (its fsync had not returned), which holds a change the
caller was not told of and may apply again. ``read_log`` drops an incomplete last line
(one without its newline, or one that does not parse as a change, with nothing but
such bytes after it). A compaction is all or nothing (temporary file, fsync, rename).
A line that does not parse *followed by* lines that do cannot come from a cut, only
from a failing medium: that file is reported damaged, with the state up to that line.

Only one process may write a file; any number may read it (``read_log``) at any
time, and see a prefix of the confirmed changes. Reading the lines back and working out
a change are :mod:`sync.queue.log_format`'s (its names are exported here too).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from sync.queue.log_format import (
    DamagedLog,
    LogContents,
    Tables,
    apply_change,
    diff_tables,
    read_log,
)
from sync.storage import (
    closed_storage_error,
    damaged_file_error,
    dump_tables,
    flush_found_file,
    fsync_directory,
    io_error,
    replace_file,
    temp_path,
    write_and_fsync,
)

__all__ = [
    "DEFAULT_COMPACT_FACTOR",
    "DEFAULT_COMPACT_FLOOR",
    "AppendLogStorage",
    "DamagedLog",
    "LogContents",
    "apply_change",
    "diff_tables",
    "read_log",
]

DEFAULT_COMPACT_FACTOR = 2.0
DEFAULT_COMPACT_FLOOR = 32 * 1024

_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class AppendLogStorage(Storage):
    """A TinyDB storage over one log file: one appended, fsynced line per write.

    Only one process may write the file. Reads come from memory. See the module
    docstring for the format, compaction and the crash argument.

    Args:
        path: the log file. Its directory must exist.
        compact_factor: compact when the file outgrows the live data this many times
            (``DEFAULT_COMPACT_FACTOR`` when None)...
        compact_floor: ...and is larger than this many bytes (``DEFAULT_COMPACT_FLOOR``).
        flush_found: False skips flushing what was found at opening, when the caller
            knows it is durable (it was written by this storage) and flushes the folder.
        tables: ignored; accepted for the callers of ``AtomicJSONStorage`` (the file is
            always read, to find where its last complete line ends).
        immutable_documents: True when no document is ever changed in place (TinyDB's
            ``insert`` and ``remove`` do not; ``update`` and ``upsert`` do): a write then
            finds what changed by identity, without comparing every document, which
            keeps an append to a segment of hundreds of records cheap.

    Raises:
        QueueError: the file is damaged (it is left untouched), or cannot be read.
    """

    def __init__(self, path: str | Path, *, compact_factor: float | None = None,
                 compact_floor: int | None = None, flush_found: bool = True,
                 tables: Tables | None = None, immutable_documents: bool = False) -> None:
        super().__init__()
        del tables
        self._path = Path(path)
        self._factor = DEFAULT_COMPACT_FACTOR if compact_factor is None else compact_factor
        self._floor = DEFAULT_COMPACT_FLOOR if compact_floor is None else compact_floor
        self._by_identity = immutable_documents
        self._closed = False
        self._fd: int | None = None
        self.bytes_written = 0
        """Bytes this storage has written to its file (appends and compactions)."""
        try:
            temp = temp_path(self._path)
            if temp.exists():
                temp.unlink()
            raw = self._path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise io_error(self._path, "cannot read", exc) from exc
        contents = LogContents(None, 0, 0, 0)
        if raw is not None:
            try:
                contents = read_log(raw)
            except DamagedLog as exc:
                raise damaged_file_error(self._path, str(exc)) from exc
        # What the file holds once its torn tail is gone, and its size then.
        self._data: Tables | None = contents.tables
        # The state the file holds: private copies, or the very documents of ``_data``
        # (in their own tables) when documents are never changed in place.
        self._durable: Tables | None = self._kept(contents.tables)
        self._size = contents.length
        self._live = len(dump_tables(contents.tables)) if contents.tables is not None else 0
        # The next write replaces the file when it has a torn tail to drop, when a
        # write failed, or a snapshot without its newline (earlier versions) to end.
        self._must_compact = (raw is None or contents.torn > 0 or contents.tables is None
                              or not raw.endswith(b"\n"))
        self.torn = contents.torn
        if raw is not None and flush_found and not self._must_compact:
            flush_found_file(self._path)

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    @property
    def size(self) -> int:
        """Bytes of the file as this storage last wrote or read it."""
        return self._size

    def read(self) -> Tables | None:
        """Return the tables (from memory), or None for a missing or empty file."""
        self._check_open()
        return self._data

    def write(self, data: Tables) -> None:
        """Make ``data`` the stored state; durable when this returns.

        Appends one change line (one write, one fsync), or compacts the file (atomic
        replace, two fsyncs) when it is new, has outgrown the live data, or the last
        write failed.

        Raises:
            QueueError: the disk is full or failing. The state in memory goes back to
                the last durable one; the file may hold an unconfirmed line, which the
                next write replaces by a compaction.
            ValueError, TypeError: ``data`` is not JSON-able; nothing was written.
        """
        self._check_open()
        old = self._durable or {}
        change = (None if self._must_compact
                  else diff_tables(old, data, by_identity=self._by_identity))
        if change == {}:
            self._data = data
            return
        try:
            if change is not None:
                line = _json(change).encode("utf-8") + b"\n"
                live = self._live + _size_change(old, change)
                if self._size + len(line) <= max(self._floor, self._factor * live):
                    self._append(line)
                    self._live = live
                    self._data = data
                    if self._by_identity:
                        self._durable = self._kept(data)
                    else:
                        # Private copies of only what changed, from the very bytes written.
                        apply_change(old, json.loads(line))
                        self._durable = old
                    return
            self._compact(data)
        except (TypeError, ValueError):
            self._data = self._kept(self._durable)
            raise

    def ensure_durable(self) -> None:
        """Write the file again if the last write could not confirm it reached the disk.

        Raises:
            QueueError: the rewrite failed too.
        """
        if self._must_compact and self._durable is not None:
            self._compact(self._durable)

    def close(self) -> None:
        """Close the file; the state in memory is forgotten."""
        self._closed = True
        self._data = self._durable = None
        self._close_fd()

    def _append(self, line: bytes) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            write_and_fsync(self._fd, line)
        except OSError as exc:
            self._cut_back()
            self._failed()
            raise io_error(self._path, "cannot save", exc) from exc
        self._size += len(line)
        self.bytes_written += len(line)

    def _cut_back(self) -> None:
        """Take a failed append's bytes off the file again, if it can be done.

        Whether or not it works, the next write replaces the whole file: after a failed
        fsync the kernel may have dropped pages it could not write.
        """
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            pass

    def _compact(self, data: Tables) -> None:
        snapshot = dump_tables(data) + b"\n"
        self._close_fd()
        try:
            replace_file(self._path, snapshot)
        except OSError as exc:
            self._failed()
            raise io_error(self._path, "cannot save", exc) from exc
        self._size = len(snapshot)
        self.bytes_written += len(snapshot)
        self._live = len(snapshot) - 1
        self._durable = self._kept(data) if self._by_identity else json.loads(snapshot)
        self._data = data
        try:
            fsync_directory(self._path.parent)
        except OSError as exc:
            # The file holds ``data`` but its name may not survive a power cut yet.
            self._must_compact = True
            raise io_error(self._path, "cannot save", exc) from exc
        self._must_compact = False

    def _failed(self) -> None:
        self._close_fd()
        self._must_compact = True
        self._data = self._kept(self._durable)

    def _kept(self, tables: Tables | None) -> Tables | None:
        """A copy of ``tables`` that later writes cannot change (see ``_durable``)."""
        if tables is None:
            return None
        if self._by_identity:
            return {name: dict(table) for name, table in tables.items()}
        return copy.deepcopy(tables)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _check_open(self) -> None:
        if self._closed:
            raise closed_storage_error(self._path)



def _size_change(old: Tables, change: dict[str, Any]) -> int:
    """Roughly how many bytes ``change`` adds to (or takes from) the snapshot of ``old``."""
    delta = 0
    for name in change.get("drop", []):
        delta -= len(_json(old.get(name, {})))
    for name, part in change.get("tables", {}).items():
        table = old.get(name, {})
        for key, doc in part.get("set", {}).items():
            delta += len(_json(key)) + len(_json(doc)) + 2
            if key in table:
                delta -= len(_json(key)) + len(_json(table[key])) + 2
        for key in part.get("del", []):
            if key in table:
                delta -= len(_json(key)) + len(_json(table[key])) + 2
    return delta
