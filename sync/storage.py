"""``AtomicJSONStorage``: a TinyDB storage that never leaves a half-written file.

TinyDB's own ``JSONStorage`` rewrites its file in place, so a crash during a write
can leave new bytes followed by an old tail, and the whole file no longer parses.
This storage writes a complete temporary file next to the real one, makes it
durable, then renames it over the real name: after a crash the file holds either
the old state or the new one, never a mix.

The two steps of that protocol are exported (``replace_file``, then
``fsync_directory``) for other files that must never be seen half-written, with
``load_tables`` (read a TinyDB file strictly) and ``salvage_tables`` (read what can
still be read from a damaged one).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from sync.errors import QueueError

__all__ = [
    "AtomicJSONStorage",
    "closed_storage_error",
    "damaged_file_error",
    "dump_tables",
    "fsync_directory",
    "io_error",
    "load_tables",
    "replace_file",
    "salvage_tables",
    "temp_path",
    "write_all",
    "write_and_fsync",
]

Tables = dict[str, dict[str, Any]]


def temp_path(path: Path) -> Path:
    """Return the temporary name used while ``path`` is being replaced.

    Args:
        path: the file that is written atomically.

    Returns:
        ``path`` with ``.tmp`` appended, in the same directory (a rename is only
        atomic within one filesystem).
    """
    return path.with_name(path.name + ".tmp")


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


def fsync_directory(directory: Path) -> None:
    """Make the entries of ``directory`` (a create, rename or unlink) durable.

    Args:
        directory: the directory whose entries changed.

    Raises:
        OSError: the directory cannot be opened or flushed.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # A few filesystems (some FUSE mounts) reject fsync on a directory at all;
        # there is nothing more to be done on them. ext4, vfat and exfat accept it.
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``; a short write is continued."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_and_fsync(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a short write is continued), then fsync it."""
    write_all(fd, data)
    os.fsync(fd)


def sync_filesystem(folder: str | Path) -> None:
    """Write out everything the kernel caches for the file system holding ``folder``
    (``syncfs``; ``sync`` where the C library has no ``syncfs``).

    On FAT (a USB stick) a file's directory entry, with its size, sits in the block
    device's cache, which an fsync of the file or of its folder does not write out: a
    rename or an append can be lost to a power cut after both fsyncs returned.

    Raises:
        OSError: the folder cannot be opened, or the file system not written.
    """
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)


FAT_LIKE = frozenset({0x4D44, 0x2011BAB0})
"""``statfs`` magic numbers of the file systems whose directory entries an fsync leaves
in the cache: FAT (vfat, msdos) and exFAT."""


def filesystem_type(folder: str | Path) -> int:
    """The ``statfs`` magic number of the file system holding ``folder``.

    Raises:
        OSError: the folder cannot be looked at.
    """
    buffer = ctypes.create_string_buffer(256)  # larger than any struct statfs
    if _libc().statfs(os.fsencode(folder), buffer) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(folder))
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF  # f_type comes first


def sync_if_fat(folder: str | Path) -> None:
    """:func:`sync_filesystem` where ``folder`` is on FAT or exFAT (a USB stick); nothing
    elsewhere, where the fsyncs already made the directory entries durable and a
    ``syncfs`` would only flush the whole file system (an SD card) for nothing.

    Raises:
        OSError: the folder cannot be looked at, or its file system not written.
    """
    if filesystem_type(folder) in FAT_LIKE:
        sync_filesystem(folder)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def replace_file(path: Path, data: bytes, *, durable: bool = True,
                 temp: Path | None = None, mode: int | None = None) -> None:
    """Replace the contents of ``path`` with ``data`` in one atomic step.

    The data goes to a temporary file in the same directory, which is flushed and
    fsynced before it is renamed over ``path``. The rename itself is made durable
    only by a later ``fsync_directory``.

    Args:
        path: the file to replace (or create).
        data: the complete new contents.
        durable: False skips the fsync, for a cache that is checked before use and
            rebuilt when a power cut left it empty or stale.
        temp: the temporary file (default :func:`temp_path`), in the same directory.
        mode: permissions set on the file whatever the umask (default: 0644 less the umask).

    Raises:
        OSError: writing failed; the temporary file is removed and ``path`` is as
            it was.
    """
    tmp = temp if temp is not None else temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            if durable:
                write_and_fsync(fd, data)
            else:
                write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        _remove_quietly(tmp)
        raise


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
            _remove_quietly(temp_path(self._path), strict=True)
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



_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def dump_tables(data: Tables) -> bytes:
    """Serialise TinyDB tables as this storage writes them (compact UTF-8 JSON).

    Raises:
        TypeError, ValueError: ``data`` is not JSON-able.
    """
    return _json(data).encode("utf-8")


def load_tables(raw: bytes) -> Tables | None:
    """Parse the bytes of a TinyDB JSON file strictly.

    Returns:
        The tables, or None for an empty file.

    Raises:
        ValueError: the bytes are not UTF-8 JSON, or not an object of tables; the
            message says what is wrong.
    """
    if not raw.strip():
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise ValueError("the top level is not an object of tables")
    return data


_SPACE = " \t\n\r"


def salvage_tables(raw: bytes) -> Tables:
    """Read every complete document from the start of a damaged TinyDB JSON file.

    The file is read as TinyDB lays it out, ``{"table": {"id": {document}, ...}, ...}``,
    document by document, up to the first byte that does not fit: a file cut short
    by a failing card keeps everything before the cut. Documents after a damaged
    spot are not searched for.

    Args:
        raw: the file's bytes.

    Returns:
        The tables and documents that could be read (possibly none).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8")
    found: Tables = {}
    decoder = json.JSONDecoder()

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        return pos

    def expect(pos: int, char: str) -> int:
        pos = skip(pos)
        if text[pos : pos + 1] != char:
            raise ValueError(f"expected {char!r} at {pos}")
        return skip(pos + 1)

    def key(pos: int) -> tuple[str, int]:
        name, pos = decoder.raw_decode(text, skip(pos))
        if not isinstance(name, str):
            raise ValueError(f"expected a name at {pos}")
        return name, expect(pos, ":")

    try:
        pos = expect(0, "{")
        while text[pos : pos + 1] != "}":
            name, pos = key(pos)
            table = found.setdefault(name, {})
            pos = expect(pos, "{")
            while text[pos : pos + 1] != "}":
                doc_id, pos = key(pos)
                document, pos = decoder.raw_decode(text, pos)
                table[doc_id] = document
                pos = skip(pos)
                if text[pos : pos + 1] == ",":
                    pos = skip(pos + 1)
            pos = skip(pos + 1)
            if text[pos : pos + 1] == ",":
                pos = skip(pos + 1)
    except (ValueError, IndexError):
        pass
    return found


def _remove_quietly(path: Path, strict: bool = False) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        if strict:
            raise


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
