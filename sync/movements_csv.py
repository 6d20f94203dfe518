"""The door kiosk's movements as a daily CSV in the outbox folder (the ``files`` adapter).

Every kiosk event (``checked_out``, ``checked_in``, ``refused``) also goes, as one row, into
``movements-<device>-<YYYY-MM-DD>.csv``, the date being the scan's (UTC). A row per
``sighting_id`` at most: a batch pushed again adds nothing. The day's file is rewritten
whole and atomically (a day at one door is a few hundred rows), so a power cut leaves it
either as it was or complete. Cells a spreadsheet would run as formulas are escaped
(names and payloads come from badges and labels).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sync.outbox import csv_cell, read_csv_rows
from sync.sighting import Outgoing, Sighting
from sync.storage import fsync_directory, replace_file

__all__ = ["KIOSK_VERDICTS", "MOVEMENT_COLUMNS", "movement_day", "movement_row",
           "write_movements"]

KIOSK_VERDICTS = frozenset({"checked_out", "checked_in", "refused"})
"""The verdicts of a door kiosk's events (every other verdict is an audit's)."""

MOVEMENT_COLUMNS = (
    "sighting_id", "at", "movement", "asset_tag", "room", "person_name", "username",
    "employee_num", "badge", "person_id", "recorded_location", "reason", "payload",
    "device_id", "session_id",
)
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})T")


def movement_day(event: Sighting) -> str:
    """The UTC date (``YYYY-MM-DD``) of an event's scan; today's when its time is unreadable."""
    if match := _DAY.match(event.wall_time):
        return match[1]
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def movement_row(event: Sighting) -> list[str]:
    """One event as the cells of :data:`MOVEMENT_COLUMNS`."""
    person: Mapping[str, Any] = event.person or {}
    cells = {
        "sighting_id": event.sighting_id, "at": event.wall_time,
        "movement": event.verdict, "asset_tag": event.asset_tag,
        "room": event.location, "person_name": person.get("name"),
        "username": person.get("username"), "employee_num": person.get("employee_num"),
        "badge": person.get("badge"), "person_id": person.get("id"),
        "recorded_location": event.recorded_location, "reason": event.reason,
        "payload": event.payload, "device_id": event.device_id,
        "session_id": event.session_id,
    }
    return [csv_cell(cells[column]) for column in MOVEMENT_COLUMNS]


def write_movements(directory: Path, device_id: str, records: Sequence[Outgoing]) -> set[str]:
    """Add the kiosk events among ``records`` to their days' files; durable on return.

    Args:
        directory: the outbox folder (it exists).
        device_id: names the files (already checked to be a safe file name).
        records: a batch; what is not a kiosk event is skipped.

    Returns:
        The ``sighting_id`` of every row written now.

    Raises:
        OSError: a file cannot be read or written (each is complete or as it was).
    """
    by_day: dict[str, list[Sighting]] = {}
    for record in records:
        if isinstance(record, Sighting) and record.verdict in KIOSK_VERDICTS:
            by_day.setdefault(movement_day(record), []).append(record)
    written: set[str] = set()
    for day, events in sorted(by_day.items()):
        path = directory / f"movements-{device_id}-{day}.csv"
        rows, known = _existing(path)
        fresh = []
        fresh_ids = []
        for record in events:
            cell = csv_cell(record.sighting_id)
            if cell not in known:
                known.add(cell)
                fresh.append(movement_row(record))
                fresh_ids.append(record.sighting_id)
        if not fresh:
            continue
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(
            [list(MOVEMENT_COLUMNS), *rows, *fresh])
        replace_file(path, buffer.getvalue().encode("utf-8"))
        fsync_directory(directory)
        written.update(fresh_ids)
    return written


def _existing(path: Path) -> tuple[list[list[str]], set[str]]:
    """The data rows of a day's file and their sighting ids (none when it does not exist).

    A file edited on a PC may have lost its header or gained blank lines: only rows whose
    first cell is a sighting id count, and they are kept as they are.
    """
    rows = read_csv_rows(path, lambda row: bool(row and row[0])
                         and row[0] != MOVEMENT_COLUMNS[0])
    return rows, {row[0] for row in rows}
