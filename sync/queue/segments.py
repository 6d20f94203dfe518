"""The files of the segmented queue: names, reading a segment, its id sidecar, setting aside.

A segment holds two TinyDB tables: ``sightings`` (document id = the record's
sequence number, document = the sighting record) and ``meta`` (``next_seq``, the
numbering's high-water mark when the segment was last written by the writer). It is
written by :class:`sync.queue.log_storage.AppendLogStorage`: a snapshot line (an
ordinary TinyDB JSON file when alone) followed by one line per change; a sealed
segment rewritten smaller is a single snapshot again.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.queue.log_format import DamagedLog, read_log
from sync.storage import dump_tables, replace_file

log = logging.getLogger("sync.queue")

RECORDS = "sightings"
META = "meta"
META_DOC = "1"
OPEN, SEALED, IDS = "open", "seg", "ids"
DAMAGED_SUFFIX = ".damaged"
TEMP_SUFFIX = ".tmp"

_NAME = re.compile(r"^(open|seg)-(\d{10})\.(json|ids)$")
_NUMBERED = re.compile(r"^(?:open|seg)-(\d{10})\.")

Tables = dict[str, dict[str, Any]]
Stamp = tuple[int, int]
"""A file's (inode, size): a segment is only ever replaced by a smaller one, so a
rewrite always changes its stamp."""


def segment_name(kind: str, number: int) -> str:
    """The file name of segment ``number``: ``open-…json``, ``seg-…json`` or ``seg-…ids``."""
    if kind == IDS:
        return f"{SEALED}-{number:010d}.ids"
    return f"{kind}-{number:010d}.json"


def parse_name(name: str) -> tuple[str, int] | None:
    """Return (kind, number) for a segment or sidecar file name, None for any other."""
    match = _NAME.match(name)
    if match is None:
        return None
    kind = IDS if match[3] == "ids" else match[1]
    if kind == IDS and match[1] != SEALED:
        return None
    return kind, int(match[2])


def number_in(name: str) -> int | None:
    """The segment number any file name starting ``open-N.`` or ``seg-N.`` carries."""
    match = _NUMBERED.match(name)
    return None if match is None else int(match[1])


def stamp_of(info: os.stat_result) -> Stamp:
    """The stamp of a file's stat result."""
    return info.st_ino, info.st_size


class DamagedSegment(Exception):
    """A segment file that cannot be used as it is.

    Attributes:
        path: the file.
        detail: what is wrong.
        docs: the (seq, record) pairs that could still be read, oldest first.
        next_seq: the numbering found in its meta table, if it could be read.
    """

    def __init__(self, path: Path, detail: str, docs: list[tuple[int, dict[str, Any]]],
                 next_seq: int | None) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail
        self.docs = docs
        self.next_seq = next_seq


@dataclass
class Contents:
    """A segment file read and checked.

    Attributes:
        tables: the TinyDB tables as read.
        docs: (seq, record) pairs, oldest first.
        next_seq: the ``meta`` table's ``next_seq``, or None.
        stamp: the (inode, size) of the file that was read.
        torn: bytes at its end that were dropped: an append cut short (open segments).
    """

    tables: Tables
    docs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    next_seq: int | None = None
    stamp: Stamp = (0, 0)
    torn: int = 0


def read_segment(path: Path) -> Contents:
    """Read and check the segment file at ``path``.

    An incomplete last line is what a cut during an append leaves: an open segment
    (``open-…``) simply ends before it (``torn`` counts its bytes). A sealed segment
    was complete when it was sealed, so there it is damage.

    Raises:
        FileNotFoundError: the file is gone (acknowledged and deleted meanwhile).
        DamagedSegment: it is not a segment (not JSON, cut short, a record without
            ``sighting_id``); the exception carries what could still be read.
        OSError: it cannot be read.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
        stamp = stamp_of(os.fstat(fh.fileno()))
    try:
        log_contents = read_log(raw)
    except DamagedLog as exc:
        docs, next_seq = _checked(exc.salvaged, strict=False)
        raise DamagedSegment(path, str(exc), docs, next_seq) from None
    tables = log_contents.tables or {}
    if log_contents.torn and not path.name.startswith(f"{OPEN}-") and raw.strip():
        docs, next_seq = _checked(tables, strict=False)
        raise DamagedSegment(path, f"cut short at byte {log_contents.length}", docs, next_seq)
    try:
        docs, next_seq = _checked(tables, strict=True)
    except ValueError as exc:
        docs, next_seq = _checked(tables, strict=False)
        raise DamagedSegment(path, str(exc), docs, next_seq) from None
    return Contents(tables, docs, next_seq, stamp, log_contents.torn)


def _checked(tables: Tables, strict: bool) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """The (seq, record) pairs and the meta ``next_seq`` of ``tables``.

    Strict: the first entry that is not a queued sighting raises ValueError. Otherwise
    such entries are left out (salvage).
    """
    docs: list[tuple[int, dict[str, Any]]] = []
    for key, record in (tables.get(RECORDS) or {}).items():
        seq = int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else None
        sid = record.get("sighting_id") if isinstance(record, dict) else None
        if seq is None or not isinstance(sid, str) or not sid:
            if strict:
                raise ValueError(f"entry {key!r} of {RECORDS!r} is not a queued sighting")
            continue
        docs.append((seq, record))
    docs.sort(key=lambda doc: doc[0])
    meta = (tables.get(META) or {}).get(META_DOC)
    next_seq = meta.get("next_seq") if isinstance(meta, dict) else None
    if next_seq is not None and type(next_seq) is not int:
        if strict:
            raise ValueError(f"table {META!r} has no integer next_seq")
        next_seq = None
    return docs, next_seq


def segment_tables(docs: Iterable[tuple[int, dict[str, Any]]], next_seq: int) -> Tables:
    """The TinyDB tables of a segment holding ``docs`` with numbering at ``next_seq``."""
    return {META: {META_DOC: {"next_seq": next_seq}},
            RECORDS: {str(seq): record for seq, record in docs}}


def write_segment(path: Path, docs: Iterable[tuple[int, dict[str, Any]]], next_seq: int) -> None:
    """Write a complete segment file atomically (fsynced; the caller fsyncs the directory).

    Raises:
        OSError: it could not be written; ``path`` is as it was.
    """
    replace_file(path, dump_tables(segment_tables(docs, next_seq)))


def read_ids(path: Path, size: int) -> list[tuple[int, str]] | None:
    """The (seq, sighting_id) pairs a sealed segment's sidecar lists, if it is current.

    The sidecar is a cache: it counts only when it records exactly the segment's
    present size, and anything unreadable is simply not used.

    Args:
        path: the sidecar file.
        size: the segment file's size now.
    """
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("size") != size:
            return None
        pairs = [(int(seq), sid) for seq, sid in data["records"]]
        if not all(isinstance(sid, str) for _, sid in pairs):
            return None
        return pairs
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_ids(path: Path, size: int, pairs: Iterable[tuple[int, str]]) -> int:
    """Write a sealed segment's sidecar; a failure only costs a parse at the next start.

    Returns:
        The bytes written (0 when it failed).
    """
    data = {"size": size, "records": [[seq, sid] for seq, sid in pairs]}
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    try:
        replace_file(path, raw, durable=False)
    except OSError as exc:
        log.debug("sidecar %s not written: %s", path, exc)
        return 0
    return len(raw)


def set_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.damaged`` (or ``<name>.<n>.damaged``), never delete it.

    Returns:
        Its new path.

    Raises:
        OSError: it could not be renamed.
    """
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{n}{DAMAGED_SUFFIX}")
        n += 1
    os.rename(path, target)
    return target


def damaged_names(*folders: Path) -> list[str]:
    """The names of the files set aside as damaged in ``folders``, sorted."""
    names: list[str] = []
    for folder in folders:
        try:
            names += [name for name in os.listdir(folder) if name.endswith(DAMAGED_SUFFIX)]
        except FileNotFoundError:
            continue
    return sorted(names)
