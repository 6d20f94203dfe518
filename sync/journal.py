"""``JsonLinesJournal``: an append-only file of JSON lines, each write fsynced.

The device keeps several such files: a room's journal (:mod:`firmware.room`), a kiosk's
movement log (:mod:`firmware.movements`) and the files outbox (:mod:`sync.outbox`).
A write is one ``write`` of one or more whole lines and one ``fsync``, so it is either
durable when it returns or cut back; the file's first line may be a header, written
(and fsynced, with the folder) when the file is created. Reading cuts a last line torn
by a power cut off the file and skips (and logs) a damaged line elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sync.storage import fsync_directory, write_and_fsync

__all__ = ["JsonLinesJournal", "encode_line", "read_lines"]

log = logging.getLogger("sync.journal")


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

    def append(self, lines: Iterable[Mapping[str, Any]]) -> int:
        """Append ``lines`` (JSON-able mappings) with one write and one fsync.

        Returns:
            The bytes written (0, and nothing touched, when ``lines`` is empty).

        Raises:
            OSError: the file cannot be written; it is cut back to what it held.
        """
        return self.write(b"".join(encode_line(line) for line in lines))

    def write(self, data: bytes) -> int:
        """Append ``data`` (whole lines) with one write and one fsync; return its length.

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
                write_and_fsync(fd, data)
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
