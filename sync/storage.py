"""``AtomicJSONStorage``: a TinyDB storage that never leaves a half-written file.

TinyDB's own ``JSONStorage`` rewrites its file in place, so a crash during a write
can leave new bytes followed by an old tail, and the whole file no longer parses.
This storage writes a complete temporary file next to the real one, makes it
durable, then renames it over the real name: after a crash the file holds either
the old state or the new one, never a mix.

The two steps of that protocol are :mod:`sync.durable_files` (``replace_file``, then
``fsync_directory``), for every file that must never be seen half-written; reading a
TinyDB file strictly (``load_tables``) or what can still be read from a damaged one
(``salvage_tables``) is :mod:`sync.tinydb_files`. Both are named here too, as before,
with the queue's errors for a file (``io_error``, ``damaged_file_error``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from tinydb.storages import Storage

from sync.durable_files import (
    FAT_LIKE,
    filesystem_type,
    fsync_directory,
    remove_quietly,
    replace_file,
    sync_filesystem,
    sync_if_fat,
    temp_path,
    write_all,
    write_and_fsync,
)
from sync.errors import QueueError
from sync.tinydb_files import Tables, dump_tables, load_tables, salvage_tables

__all__ = [
    "FAT_LIKE",
    "AtomicJSONStorage",
    "Tables",
    "closed_storage_error",
    "damaged_file_error",
    "dump_tables",
    "filesystem_type",
    "flush_found_file",
    "fsync_directory",
    "io_error",
    "load_tables",
    "replace_file",
    "salvage_tables",
    "sync_filesystem",
    "sync_if_fat",
    "temp_path",
    "write_all",
    "write_and_fsync",
]


def flush_found_file(path: Path) -> None:
    """Make a file found at open durable, with its folder entry: a crash may have left its
    last write or replace in the page cache only.

    Raises:
        QueueError: the file or its folder cannot be flushed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(path.parent)
    except OSError as exc:
        raise io_error(path, "cannot flush", exc) from exc


class AtomicJSONStorage(Storage):
    """A TinyDB storage over one JSON file, replaced atomically on every write.

    Only one process may write the file: the last state read or written is kept in
    memory, so reads never re-parse the file. The dict returned by ``read`` is that
    in-memory state; TinyDB changes it only to hand it back to ``write``.

    Opening the storage removes a temporary file left by a crash, parses the file
    and flushes it and its directory to disk, so that everything found there is
    durable before anyone confirms it.

    TinyDB passes its extra keyword arguments on: ``TinyDB(path,
    storage=AtomicJSONStorage, tables=..., flush_found=False)``.

    Args:
        path: the JSON file. Its directory must exist.
        tables: the file's contents, already read and checked by the caller (see
            ``load_tables``): the file is not read again.
        flush_found: False skips flushing what was found, when the caller knows it
            was written by ``replace_file`` (fsynced before its rename) and flushes
            the directory itself.

    Raises:
        QueueError: the file is not valid JSON (it is left untouched), or it or its
            directory cannot be read.
    """

    def __init__(
        self, path: str | Path, *, tables: Tables | None = None, flush_found: bool = True
    ) -> None:
        super().__init__()
        self._path = Path(path)
        self._closed = False
        # True when the file was replaced but the rename may not be durable yet.
        self._unsynced = False
        try:
            remove_quietly(temp_path(self._path), strict=True)
        except OSError as exc:
            raise io_error(self._path, "cannot remove the leftover temporary file", exc) from exc
        self._data: Tables | None = tables if tables is not None else self._load()
        self._loaded = True
        if self._data is not None and flush_found:
            flush_found_file(self._path)

    @property
    def path(self) -> Path:
        """The JSON file this storage reads and writes."""
        return self._path

    def read(self) -> Tables | None:
        """Return the stored tables, or None for a missing or empty file.

        Raises:
            QueueError: the storage is closed, or the file had to be re-read after a
                failed write and could not be.
        """
        self._check_open()
        if not self._loaded:
            self._data = self._load()
            self._loaded = True
        return self._data

    def write(self, data: Tables) -> None:
        """Replace the file with ``data``; durable when this returns.

        Args:
            data: every table of the database.

        Raises:
            QueueError: the disk is full or failing. The temporary file is removed and
                the file keeps its previous contents, except when only the final
                directory fsync failed (then the file holds ``data``); either way the
                next ``read`` returns what the file holds.
            ValueError, TypeError: ``data`` is not JSON-able; nothing was written.
        """
        self._check_open()
        try:
            replace_file(self._path, self._serialise(data))
        except OSError as exc:
            self._forget()
            raise io_error(self._path, "cannot save", exc) from exc
        except (TypeError, ValueError):
            self._forget()
            raise
        self._data = data
        self._loaded = True
        self._unsynced = True
        try:
            fsync_directory(self._path.parent)
        except OSError as exc:
            raise io_error(self._path, "cannot save", exc) from exc
        self._unsynced = False

    def ensure_durable(self) -> None:
        """Rewrite the file if the last write could not confirm it reached the disk.

        A failed fsync cannot simply be retried (the kernel may have dropped the
        dirty pages), so the whole file is written again.

        Raises:
            QueueError: the rewrite failed too.
        """
        if self._unsynced:
            data = self.read()
            self.write(data if data is not None else {})

    def close(self) -> None:
        """Forget the in-memory state; no file handle is held between calls."""
        self._closed = True
        self._data = None
        self._loaded = False

    def _serialise(self, data: Tables) -> bytes:
        return dump_tables(data)

    def _check_open(self) -> None:
        if self._closed:
            raise closed_storage_error(self._path)

    def _forget(self) -> None:
        # TinyDB may already have changed the cached dict in place before a failed
        # write; re-reading the untouched file is the only trustworthy state.
        self._data = None
        self._loaded = False

    def _load(self) -> Tables | None:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise io_error(self._path, "cannot read", exc) from exc
        try:
            return load_tables(raw)
        except ValueError as exc:
            raise damaged_file_error(self._path, str(exc)) from exc



def io_error(path: Path, action: str, exc: OSError) -> QueueError:
    """Return the QueueError for an OSError met while doing ``action`` on ``path``.

    A full disk is worded "disk full", whatever the call that met it.
    """
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return QueueError(f"{action} {path}: {reason}")


def closed_storage_error(path: Path) -> QueueError:
    """Return the error for a storage of ``path`` used after it was closed."""
    return QueueError(f"{path}: the storage is closed")


def damaged_file_error(path: Path, detail: str) -> QueueError:
    """Return the error for a queue file that cannot be used as it is.

    Args:
        path: the damaged file, which must be left untouched.
        detail: what is wrong with it.
    """
    return QueueError(
        f"{path} is not a valid queue file ({detail}); it was left untouched. "
        "Keep it (it may hold unsent sightings) and move it aside to start an empty queue."
    )
