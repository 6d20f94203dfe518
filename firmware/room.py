"""The open room as durable state: what a power cut must not take from an audit.

Each open session has a journal, ``<state>/rooms/room-<session_id>.jsonl``: a first line
with who, where and when, then one line per counted sighting (and one when a room label
sets the room). A sighting's line is written (one ``write``, its fsync deferred) right
after the sighting queue holds the record durably, and both before the scan is counted
or shown: a scan costs one short append and one flush (the queue's) whatever the room's
size. The deferred lines are flushed before the queue lets any record go (see
:mod:`sync.journal`), and a start adds back the room's queued sightings a power cut
took from the journal, so after any kill the journal and the queue together hold every
acknowledged scan of the room. Other lines (room label, campaign, resume) are fsynced
when written. Replaying it rebuilds the counts, the repeat keys and the report.

A journal is deleted only once the room's report is saved (see
:class:`firmware.handheld_audit.HandheldAudit`), so a kill between the two finds the report
and drops the journal: one report per session, never two, never none.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.errors import QueueError
from sync.journal import JsonLinesJournal, encode_line, read_lines
from sync.storage import fsync_directory

log = logging.getLogger(__name__)

__all__ = ["OpenRoom", "RoomJournal", "encode_journal_line", "open_rooms", "read_journal_lines"]

_PREFIX, _SUFFIX = "room-", ".jsonl"


@dataclass
class OpenRoom:
    """A journal read back: an interrupted room's header and its counted sightings.

    Attributes:
        path: the journal file.
        session_id, device_id, technician, started_at, clock_synchronized: from the header.
        location: the room, or None when no room label had been scanned.
        started_wall: wall-clock seconds at the start.
        last_wall: wall-clock seconds of the last line (start, room label or sighting).
        sightings: the sighting records, in scan order.
        resumed: how many times this room was resumed before.
    """

    path: Path
    session_id: str
    device_id: str
    technician: str
    started_at: str
    clock_synchronized: bool
    location: str | None
    started_wall: float
    last_wall: float
    sightings: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0
    campaign: str | None = None
    """The audit campaign the session is tagged with (``audit.campaign``, ``CAMPAIGN:``)."""


class RoomJournal:
    """The append-only journal of one open session.

    Nothing is written until there is something to keep: the first room label or
    sighting creates the file, header first. A session that saw nothing leaves no file.

    Args:
        directory: the folder of journals (created when needed).
        session_id: the session it records.
        header: who, where and when (``device_id``, ``technician``, ``location``,
            ``started_at``, ``clock_synchronized``, ``wall``), written as the first line.
    """

    def __init__(self, directory: Path, session_id: str, header: Mapping[str, Any]) -> None:
        self.directory = directory
        self.path = directory / f"{_PREFIX}{session_id}{_SUFFIX}"
        self._journal = JsonLinesJournal(
            self.path, header={"type": "room", "session_id": session_id, **header},
            keep_open=True)

    def locate(self, location: str, wall: float) -> None:
        """Record that a room label set the room of a session that began without one."""
        self._append({"type": "locate", "location": location, "wall": wall})

    def tag_campaign(self, campaign: str, wall: float) -> None:
        """Record the campaign a ``CAMPAIGN:<name>`` label gave the session."""
        if self._journal.amend_header({"campaign": campaign}):
            return  # nothing written yet: the header says it
        self._append({"type": "campaign", "campaign": campaign, "wall": wall})

    def add(self, record: Mapping[str, Any], wall: float) -> None:
        """Record a sighting with one write and one fsync (a repair from the queue).

        Raises:
            QueueError: the journal cannot be written (full disk): do not count the scan.
        """
        self.add_many([record], wall, flush=True)

    def add_many(self, records: Sequence[Mapping[str, Any]], wall: float, *,
                 flush: bool = False) -> None:
        """Record a burst of sightings with one write, its fsync deferred (or not: ``flush``).

        Deferred only for records the sighting queue holds durably, written inside
        :func:`sync.journal.deferred_write` (the scan path does): the queue flushes this
        file before it lets one go.

        Raises:
            QueueError: the journal cannot be written (full disk): do not count the scan.
        """
        lines = [{"type": "sighting", "wall": wall, "record": dict(r)} for r in records]
        try:
            self._journal.append(lines, flush=flush)
        except OSError as exc:
            raise _error(self.path, exc) from None

    def mark_resumed(self, wall: float) -> None:
        """Record that the room was resumed after an interruption."""
        self._append({"type": "resumed", "wall": wall})

    def close(self) -> None:
        """Stop writing; the file stays (it is the room's state until its report is saved)."""
        self._journal.close()

    def delete(self) -> None:
        """Remove the journal once the room's report is saved (nothing to do if never written)."""
        self._journal.close()
        if self.path.exists():
            remove_journal(self.path)

    def _append(self, *lines: Mapping[str, Any]) -> None:
        try:
            self._journal.append(lines)
        except OSError as exc:
            raise _error(self.path, exc) from None


def remove_journal(path: Path) -> None:
    """Delete a journal durably (its room is closed)."""
    try:
        path.unlink(missing_ok=True)
        fsync_directory(path.parent)
    except OSError as exc:
        raise _error(path, exc) from None


def open_rooms(directory: Path) -> list[OpenRoom]:
    """Every journal left in ``directory`` by a session that did not end, oldest first.

    A line torn by a kill (the last one, without its newline or not JSON) is cut off; a
    damaged line elsewhere is skipped and logged. A journal whose header is unreadable
    is renamed ``*.damaged`` and logged, never deleted.
    """
    if not directory.is_dir():
        return []
    found: list[OpenRoom] = []
    for path in sorted(directory.glob(f"{_PREFIX}*{_SUFFIX}")):
        try:
            room = _read(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("%s: unreadable room journal set aside: %s", path, exc)
            _set_aside(path)
            continue
        if room is None:  # killed before its first line was durable: nothing happened
            remove_journal(path)
            continue
        found.append(room)
    return sorted(found, key=lambda r: r.started_wall)


read_journal_lines = read_lines
"""The JSON lines of a journal (see :func:`sync.journal.read_lines`)."""

encode_journal_line = encode_line
"""One journal line (see :func:`sync.journal.encode_line`)."""


def _read(path: Path) -> OpenRoom | None:
    entries, damaged = read_journal_lines(path)
    if not entries and not damaged:
        return None
    if not entries or not isinstance(header := entries[0], dict) or header.get("type") != "room":
        raise ValueError("the first line is not a room header")
    room = OpenRoom(
        path=path, session_id=str(header["session_id"]), device_id=str(header["device_id"]),
        technician=str(header["technician"]), started_at=str(header["started_at"]),
        clock_synchronized=bool(header["clock_synchronized"]), location=header["location"],
        started_wall=float(header["wall"]), last_wall=float(header["wall"]),
        campaign=header["campaign"] if isinstance(header.get("campaign"), str) else None)
    for entry in entries[1:]:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind == "sighting" and isinstance(entry.get("record"), dict):
            room.sightings.append(entry["record"])
        elif kind == "locate" and isinstance(entry.get("location"), str):
            room.location = entry["location"]
        elif kind == "resumed":
            room.resumed += 1
        elif kind == "campaign" and isinstance(entry.get("campaign"), str):
            room.campaign = entry["campaign"]
        else:
            log.error("%s: unknown journal entry skipped", path)
            continue
        if isinstance(entry.get("wall"), (int, float)):
            room.last_wall = max(room.last_wall, float(entry["wall"]))
    return room


def _set_aside(path: Path) -> None:
    try:
        path.rename(path.with_name(path.name + ".damaged"))
        fsync_directory(path.parent)
    except OSError as exc:
        log.error("%s: cannot set the journal aside: %s", path, exc)


def _error(path: Path, exc: OSError) -> QueueError:
    full = exc.errno == errno.ENOSPC
    return QueueError(f"{path}: cannot save the room's state: "
                      f"{'disk full' if full else exc.strerror or exc}")
