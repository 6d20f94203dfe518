"""The append log's lines, read back and computed: a snapshot line, then change lines.

The format and the crash argument are told in :mod:`sync.queue.log_storage`, whose
:class:`~sync.queue.log_storage.AppendLogStorage` writes these files; this module reads
them (``read_log``: the state after every complete line, a torn tail dropped, damage
reported) and works out the change between two states (``diff_tables``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sync.storage import load_tables, salvage_tables

__all__ = ["DamagedLog", "LogContents", "Tables", "apply_change", "diff_tables", "read_log"]

Tables = dict[str, dict[str, Any]]


@dataclass
class LogContents:
    """A log file read back.

    Attributes:
        tables: the state after every complete change, or None for an empty file.
        length: bytes of the file that hold it (everything before a torn tail).
        torn: bytes after ``length`` that were dropped (an append cut short).
        lines: complete lines read (the snapshot included).
    """

    tables: Tables | None
    length: int
    torn: int
    lines: int


class DamagedLog(ValueError):
    """A log that no cut can explain: a bad snapshot, or a bad line followed by good ones.

    Attributes:
        salvaged: the tables that could still be read, up to the damage.
    """

    def __init__(self, detail: str, salvaged: Tables) -> None:
        super().__init__(detail)
        self.salvaged = salvaged


def read_log(raw: bytes) -> LogContents:
    """Read a log file's bytes: the snapshot, then each change in order.

    Raises:
        DamagedLog: the snapshot does not parse, or a line that does not parse is
            followed by complete lines that do; ``salvaged`` holds what was read.
    """
    if not raw.strip():
        return LogContents(None, 0, len(raw), 0)
    end = raw.find(b"\n")
    first = raw if end < 0 else raw[:end]
    try:
        tables = load_tables(first)
    except ValueError as exc:
        raise DamagedLog(f"the first line is not a TinyDB snapshot: {exc}",
                         salvage_tables(first)) from None
    assert tables is not None
    if end < 0:
        # One snapshot without its newline: a file of earlier versions (or written by
        # TinyDB itself), complete because it was replaced atomically.
        return LogContents(tables, len(raw), 0, 1)
    length, lines, pos = end + 1, 1, end + 1
    while pos < len(raw):
        stop = raw.find(b"\n", pos)
        change = _parse_change(raw[pos:stop]) if stop >= 0 else None
        if change is None:
            if _has_complete_change_after(raw, pos if stop < 0 else stop + 1):
                raise DamagedLog(f"line {lines + 1} (byte {pos}) is damaged and later lines"
                                 " are not", tables)
            return LogContents(tables, length, len(raw) - length, lines)
        apply_change(tables, change)
        lines += 1
        pos = length = stop + 1
    return LogContents(tables, length, 0, lines)


def _parse_change(line: bytes) -> dict[str, Any] | None:
    try:
        change = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(change, dict) or not set(change) <= {"tables", "drop"}:
        return None
    tables = change.get("tables", {})
    if not isinstance(tables, dict) or not isinstance(change.get("drop", []), list):
        return None
    for part in tables.values():
        if (not isinstance(part, dict) or not isinstance(part.get("set", {}), dict)
                or not isinstance(part.get("del", []), list)):
            return None
    return change


def _has_complete_change_after(raw: bytes, pos: int) -> bool:
    while pos < len(raw):
        stop = raw.find(b"\n", pos)
        if stop < 0:
            return False
        if _parse_change(raw[pos:stop]) is not None:
            return True
        pos = stop + 1
    return False


def apply_change(tables: Tables, change: dict[str, Any]) -> None:
    """Apply one change line to ``tables`` in place."""
    for name in change.get("drop", []):
        tables.pop(name, None)
    for name, part in change.get("tables", {}).items():
        table = tables.setdefault(name, {})
        table.update(part.get("set", {}))
        for doc_id in part.get("del", []):
            table.pop(doc_id, None)


def diff_tables(old: Tables, new: Tables, *, by_identity: bool = False) -> dict[str, Any]:
    """The change that turns ``old`` into ``new`` (empty when they are equal).

    Args:
        by_identity: a document that is the very object it was in ``old`` is taken as
            unchanged without comparing it (for documents nobody changes in place).
    """
    parts: dict[str, Any] = {}
    for name, table in new.items():
        before = old.get(name)
        if before is None:
            parts[name] = {"set": dict(table)} if table else {}
            continue
        if by_identity:
            changed = {key: doc for key, doc in table.items() if before.get(key) is not doc}
        else:
            changed = {key: doc for key, doc in table.items()
                       if (was := before.get(key, _MISSING)) is _MISSING or was != doc}
        gone = [key for key in before if key not in table]
        if changed or gone:
            part: dict[str, Any] = {}
            if changed:
                part["set"] = changed
            if gone:
                part["del"] = gone
            parts[name] = part
    dropped = [name for name in old if name not in new]
    change: dict[str, Any] = {}
    if parts:
        change["tables"] = parts
    if dropped:
        change["drop"] = dropped
    return change


_MISSING = object()
