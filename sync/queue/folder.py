"""The queue folder's small shared files and its locks: dead letters, the sync note, status.

Conflicts are kept the same way as dead letters (see :mod:`sync.queue.conflicts`).

Everything here may be used by a process that does not own the queue: ``read_status``
only reads, and the writers of the dead letters and the sync note hold the folder's
operation lock (see :func:`operation_lock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from sync.errors import QueueError
from sync.queue import segments as seg
from sync.queue.conflicts import conflict_lines, conflict_summary, read_conflicts
from sync.queue.kept import open_store, read_store
from sync.storage import (
    fsync_directory,
    io_error,
    load_tables,
    replace_file,
    salvage_tables,
)

SEGMENTS_DIR = "sightings"
LEGACY_FILE = "sightings.json"
DEAD_FILE = "dead-letters.json"
DEAD_TABLE = "dead_letters"
# What the status says of each dead letter, and how many a person is shown.
_DEAD_SHOWN = ("sighting_id", "asset_tag", "verdict", "reason", "dead_lettered_at")
_DEAD_LISTED = 20
NOTE_FILE = "sync.json"
WRITER_LOCK = "writer.lock"
OPERATION_LOCK = "queue.lock"


def now_iso() -> str:
    """The wall-clock time now, as sightings write it (``2026-11-24T09:15:02.120Z``)."""
    moment = datetime.now(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- locks ----------------------------------------------------------------------------------


def open_lock_file(path: Path) -> int:
    """Open (creating it if needed) a lock file; returns its descriptor.

    Raises:
        QueueError: it cannot be opened.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise io_error(path, "cannot open the lock file", exc) from exc


def try_lock(fd: int, path: Path, wait: float) -> bool:
    """Take an exclusive flock on ``fd``, trying for up to ``wait`` seconds.

    Returns:
        True when taken, False when another process kept it all that time.

    Raises:
        QueueError: the filesystem cannot lock at all (ENOLCK on some NFS or FUSE mounts).
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise QueueError(f"cannot lock the queue directory {path.parent}: {reason}") from exc


@contextmanager
def operation_lock(fd: int, path: Path) -> Iterator[None]:
    """Hold the folder's operation lock (blocking) for one operation on shared files.

    Raises:
        QueueError: the lock cannot be taken.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QueueError(f"cannot lock the queue directory {path.parent}: {reason}") from exc
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def take_writer_lock(folder: Path, wait: float, *, shared: bool) -> int | None:
    """Take the writer lock of the queue in ``folder``: its descriptor, None when refused.

    Args:
        wait: seconds to wait for it (a shared process holds it for a moment).
        shared: the caller opens the queue beside its owner: it does not wait, and
            going without the lock is no error.

    Raises:
        QueueError: not ``shared`` and another process owns the queue.
    """
    path = folder / WRITER_LOCK
    fd = open_lock_file(path)
    try:
        taken = try_lock(fd, path, 0.0 if shared else wait)
    except BaseException:
        os.close(fd)
        raise
    if taken:
        return fd
    os.close(fd)
    if not shared:
        raise QueueError(
            f"the sighting queue in {folder.parent} is already open (one process owns"
            " it: is the device loop running? A sync beside it opens the queue shared)")
    return None


# --- dead letters ---------------------------------------------------------------------------


def dead_entry(record: dict[str, Any], reason: str, at: str) -> dict[str, Any]:
    """A dead letter: the record's fields plus ``reason`` and ``dead_lettered_at``.

    A field of the record with one of those two names is kept as ``sighting_<name>``,
    so nothing of the record is lost.
    """
    entry = dict(record)
    for name in ("reason", "dead_lettered_at"):
        if name in entry:
            entry[f"sighting_{name}"] = entry.pop(name)
    entry["reason"] = reason
    entry["dead_lettered_at"] = at
    return entry


def open_dead_letters(folder: Path) -> TinyDB:
    """Open the dead-letter store (a TinyDB file) for a change; hold the operation lock.

    A damaged store is set aside, and what can still be read of it is carried over.

    Raises:
        QueueError: it cannot be read or set aside.
    """
    return open_store(folder, DEAD_FILE, DEAD_TABLE, "dead-letter store")


def read_dead_letters(folder: Path) -> list[dict[str, Any]]:
    """The dead letters, oldest first (an unreadable store reads as what can be read of it)."""
    return read_store(folder, DEAD_FILE, DEAD_TABLE)


# --- the sync note --------------------------------------------------------------------------


def read_note(folder: Path) -> dict[str, Any]:
    """The last sync attempt and success as noted; empty when never noted or unreadable."""
    try:
        data = json.loads((folder / NOTE_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_note(folder: Path, ok: bool, at_iso: str, error: str | None) -> None:
    """Record a sync attempt durably; hold the operation lock.

    Raises:
        QueueError: it cannot be written (the previous note stays).
    """
    note = read_note(folder)
    note["last_attempt"] = at_iso
    if ok:
        note["last_sync"] = at_iso
        note["last_error"] = None
    else:
        note["last_error"] = error or "sync failed"
    path = folder / NOTE_FILE
    try:
        replace_file(path, json.dumps(note, ensure_ascii=False).encode("utf-8"))
        fsync_directory(folder)
    except OSError as exc:
        raise io_error(path, "cannot save", exc) from exc


# --- status ---------------------------------------------------------------------------------


def folder_status(directory: Path, *, queued: int, oldest: str | None,
                  segments: int) -> dict[str, Any]:
    """The status dictionary: the given queue figures plus what the folder's files say."""
    folder = directory / SEGMENTS_DIR
    note = read_note(folder)
    dead = read_dead_letters(folder)
    conflicts = read_conflicts(folder)
    return {
        "queued": queued,
        "dead_letters": len(dead),
        "dead_letter_items": [{key: item.get(key) for key in _DEAD_SHOWN} for item in dead],
        "conflicts": len(conflicts),
        "conflict_items": [conflict_summary(item) for item in conflicts],
        "oldest": oldest,
        "last_sync": _text(note.get("last_sync")),
        "last_attempt": _text(note.get("last_attempt")),
        "last_error": _text(note.get("last_error")),
        "segments": segments,
        "damaged": seg.damaged_names(folder, directory),
    }


def format_status(status: dict[str, Any]) -> list[str]:
    """The status as lines for a person (outside text still to be made terminal-safe)."""
    oldest = f", oldest {status['oldest']}" if status.get("oldest") else ""
    lines = [f"queued: {status['queued']} sighting(s){oldest}"]
    last = status.get("last_sync") or "never"
    attempt, error = status.get("last_attempt"), status.get("last_error")
    if attempt and error:
        last += f" (last attempt {attempt} failed: {error})"
    elif attempt and attempt != status.get("last_sync"):
        last += f" (last attempt {attempt})"
    lines.append(f"last sync: {last}")
    lines.append(f"dead letters: {status['dead_letters']}"
                 + (" (refused by the register, kept on the device)"
                    if status["dead_letters"] else ""))
    items = status.get("dead_letter_items") or []
    for item in items[-_DEAD_LISTED:]:
        lines.append(f"  {item.get('dead_lettered_at') or '?'}  {item.get('asset_tag') or '-'}"
                     f"  {item.get('sighting_id')}: {item.get('reason')}")
    if len(items) > _DEAD_LISTED:
        lines.append(f"  (the {_DEAD_LISTED} newest of {len(items)}; --json lists all)")
    lines += conflict_lines(status)
    damaged = status.get("damaged") or []
    lines.append("damaged files set aside: " + (", ".join(damaged) if damaged else "none"))
    return lines


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_status(directory: str | Path) -> dict[str, Any]:
    """The queue's status read from its files, without opening it: safe while it is in use.

    Nothing is written, locked or removed, so this works beside the running device loop
    (``stocktaker queue status``). A file replaced or deleted while it is being read
    (a seal, an acknowledgement) makes it look again.

    Args:
        directory: the queue directory (``queue.path``), as given to ``SightingQueue``.

    Returns:
        ``queued`` (records waiting, including the open segment's), ``dead_letters``
        (and ``dead_letter_items``), ``conflicts`` (and ``conflict_items``, see
        :func:`sync.queue.conflicts.conflict_summary`), ``oldest`` (``wall_time`` of the oldest queued record, or None), ``last_sync``,
        ``last_attempt``, ``last_error``, ``segments`` (segment files), ``damaged``
        (names of files set aside).

    Raises:
        QueueError: the folder cannot be read.
    """
    directory = Path(directory)
    for _ in range(10):
        try:
            return _read_status_once(directory)
        except FileNotFoundError:
            continue
    try:
        return _read_status_once(directory)
    except OSError as exc:
        raise io_error(directory, "cannot read the queue in", exc) from exc


def _read_status_once(directory: Path) -> dict[str, Any]:
    folder = directory / SEGMENTS_DIR
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        names = []
    except OSError as exc:
        raise io_error(folder, "cannot read", exc) from exc
    found = [parsed for parsed in map(seg.parse_name, names) if parsed and parsed[0] != seg.IDS]
    found.sort(key=lambda kind_number: kind_number[1])  # segment numbers give the order
    seen: set[str] = set()
    oldest: str | None = None
    unreadable: list[str] = []
    files = [(folder / seg.segment_name(kind, number), kind, number) for kind, number in found]
    legacy = directory / LEGACY_FILE
    if legacy.exists():
        files.insert(0, (legacy, "legacy", 0))
    for path, kind, number in files:
        pairs: list[tuple[int, str]] | None = None
        docs: list[tuple[int, dict[str, Any]]] | None = None
        if kind == seg.SEALED:
            pairs = seg.read_ids(folder / seg.segment_name(seg.IDS, number),
                                 os.stat(path).st_size)
        if pairs is None:
            try:
                docs = legacy_docs(path) if kind == "legacy" else seg.read_segment(path).docs
            except seg.DamagedSegment as exc:
                unreadable.append(path.name)
                docs = exc.docs
            pairs = [(seq, record["sighting_id"]) for seq, record in docs]
        fresh = [sid for _, sid in pairs if sid not in seen]
        seen.update(fresh)
        if oldest is None and fresh:
            if docs is None:
                try:
                    docs = seg.read_segment(path).docs
                except seg.DamagedSegment as exc:
                    unreadable.append(path.name)
                    docs = exc.docs
                    readable = {record["sighting_id"] for _, record in docs}
                    seen.difference_update(sid for sid in fresh if sid not in readable)
            first = set(fresh)
            oldest = next((_text(r.get("wall_time")) for _, r in docs
                           if r["sighting_id"] in first), None)
    status = folder_status(directory, queued=len(seen), oldest=oldest,
                           segments=sum(1 for kind, _ in found))
    status["damaged"] = sorted(set(status["damaged"]) | set(unreadable))
    return status


def legacy_docs(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The records of the single-file queue of earlier versions, oldest first.

    Raises:
        seg.DamagedSegment: it cannot be read whole (carrying what could be read).
    """
    raw = path.read_bytes()
    try:
        tables = load_tables(raw) or {}
        strict = True
    except ValueError:
        tables, strict = salvage_tables(raw), False
    docs: list[tuple[int, dict[str, Any]]] = []
    bad = not strict
    for doc in (tables.get(seg.RECORDS) or {}).values():
        record = doc.get("record") if isinstance(doc, dict) else None
        number = doc.get("seq") if isinstance(doc, dict) else None
        if (type(number) is int and isinstance(record, dict)
                and isinstance(record.get("sighting_id"), str) and record["sighting_id"]):
            docs.append((number, record))
        else:
            bad = True
    docs.sort(key=lambda item: item[0])
    if bad:
        raise seg.DamagedSegment(path, "not a complete queue file", docs, None)
    return docs


def make_directory(directory: Path) -> None:
    """Create the queue directory (and its entry durably) if it is missing."""
    try:
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            # The new directory's own entry must survive a power cut too.
            fsync_directory(directory.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QueueError(f"cannot create the queue directory {directory}: {reason}") from exc


def check_writable(directory: Path) -> None:
    """Refuse a queue directory no file can be created in (a read-only mount, permissions).

    Without this, the queue would open and every append, that is every scan, would fail.
    """
    if not os.access(directory, os.W_OK | os.X_OK):
        raise QueueError(
            f"the queue directory {directory} is read-only: no sighting could be saved in it"
        )
