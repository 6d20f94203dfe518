"""Files that are never seen half-written and survive a power cut once written.

:func:`replace_file` writes a complete temporary file next to the real one
(:func:`temp_path`), makes it durable, then renames it over the real name; the rename is
made durable by :func:`fsync_directory`. :func:`write_and_fsync` appends durably, and
:func:`sync_if_fat` writes out the directory entries that an fsync leaves in the cache on
a USB stick's FAT or exFAT.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from pathlib import Path

__all__ = ["FAT_LIKE", "filesystem_type", "fsync_directory", "remove_quietly", "replace_file",
           "sync_filesystem", "sync_if_fat", "temp_path", "write_all", "write_and_fsync"]


def temp_path(path: Path) -> Path:
    """Return the temporary name used while ``path`` is being replaced.

    Args:
        path: the file that is written atomically.

    Returns:
        ``path`` with ``.tmp`` appended, in the same directory (a rename is only
        atomic within one filesystem).
    """
    return path.with_name(path.name + ".tmp")


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
        remove_quietly(tmp)
        raise


def remove_quietly(path: Path, strict: bool = False) -> None:
    """Remove ``path`` if it is there; other failures are ignored unless ``strict``."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        if strict:
            raise
