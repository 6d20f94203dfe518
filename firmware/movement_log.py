"""The door kiosk's own record of what left and came back: its offline memory and its report.

Every kiosk event (check-out, check-in, refusal) is appended to
``<state>/kiosk/movements-<YYYY-MM>.jsonl`` (one file per month of the scan's UTC date)
right after the sighting queue holds it durably; the log's fsync is deferred until the
queue lets a record go (see :mod:`sync.journal`), and a start adds back the queued
events a power cut took from it. The queue forgets a sighting once the register
has it; this log keeps it, so the kiosk still knows, until the register's state it
caches catches up, that an asset checked out here is out — and so ``stocktaker report
--movements`` can say who took what and what is out now.

Each line is ``{"wall": <epoch seconds>, "record": <the sighting record>}``.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from firmware.errors import QueueError
from sync.journal import JsonLinesJournal, read_lines

log = logging.getLogger(__name__)

_NAME = re.compile(r"movements-(\d{4})-(\d{2})\.jsonl")


class MovementLog:
    """The append-only monthly files of one kiosk's events in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def add_many(self, records: Sequence[Mapping[str, Any]], wall: float, *,
                 flush: bool = False) -> None:
        """Append a burst of events with one write, its fsync deferred (or not: ``flush``).

        Deferred only for records the sighting queue holds durably, written inside
        :func:`sync.journal.deferred_write` (the scan path does): the queue flushes this
        file before it lets one go.

        Raises:
            QueueError: the log cannot be written (a full disk).
        """
        if not records:
            return
        path = self.directory / f"movements-{_month(wall)}.jsonl"
        lines = ({"wall": wall, "record": dict(r)} for r in records)
        try:
            JsonLinesJournal(path).append(lines, flush=flush)
        except OSError as exc:
            raise _error(path, exc) from None

    def events(self, since: float | None = None) -> Iterator[tuple[float, dict[str, Any]]]:
        """Every ``(wall, record)`` in scan order, from ``since`` (epoch seconds) on.

        A torn last line is cut off; a damaged line or file is logged and skipped.
        """
        first = _month(since) if since is not None else None
        for path in self.files():
            if first is not None and path.name[len("movements-"):-len(".jsonl")] < first:
                continue
            try:
                entries, _ = read_lines(path)
            except OSError as exc:
                log.error("%s: movements unreadable: %s", path, exc.strerror or exc)
                continue
            for entry in entries:
                if not (isinstance(entry, dict) and isinstance(entry.get("record"), dict)
                        and isinstance(entry.get("wall"), (int, float))):
                    log.error("%s: a line that is no movement skipped", path)
                    continue
                if since is None or entry["wall"] >= since:
                    yield float(entry["wall"]), entry["record"]

    def files(self) -> list[Path]:
        """The monthly files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if _NAME.fullmatch(p.name))


def _error(path: Path, exc: OSError) -> QueueError:
    full = exc.errno == errno.ENOSPC
    return QueueError(f"{path}: cannot save the movement: "
                      f"{'disk full' if full else exc.strerror or exc}")


def _month(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=timezone.utc).strftime("%Y-%m")
