"""Audit reports kept on the device until the register has taken them."""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync.errors import QueueError
from sync.storage import fsync_directory, replace_file

log = logging.getLogger(__name__)


def waiting_reports(directory: str | Path) -> list[str]:
    """The names of the reports saved in ``directory`` and not yet taken by the register.

    Reads the folder only (nothing is created, renamed or removed), so it is safe beside a
    running device; a folder that does not exist holds none.

    Raises:
        QueueError: the folder cannot be read.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise QueueError(f"{directory}: cannot read report folder: {exc.strerror}") from None
    return sorted(name for name in names
                  if name.startswith("report-") and name.endswith(".json"))


class PendingReports:
    """A folder of report JSON files not yet handed to the register.

    A report is saved here first, so an unplugged USB stick or an unreachable register
    delays it instead of losing it.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in self.directory.glob("*.tmp"):
                stale.unlink()
        except OSError as exc:
            raise QueueError(f"{self.directory}: cannot use report folder: {exc.strerror}") from None

    def add(self, report: Mapping[str, Any]) -> Path:
        """Save ``report`` durably; returns its file."""
        path = self.directory / f"report-{report['session_id']}.json"
        data = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
        try:
            replace_file(path, data)
            fsync_directory(self.directory)
        except OSError as exc:
            full = exc.errno == errno.ENOSPC
            raise QueueError(f"{path}: cannot save report: "
                             f"{'disk full' if full else exc.strerror}") from None
        return path

    def items(self) -> list[tuple[Path, dict[str, Any]]]:
        """The saved reports, oldest file name first.

        A file that cannot be read is logged and left in place (the fault may pass). One
        that is not a report (not JSON, not an object, no ``session_id``, ``scans`` not a
        list of objects) is logged and renamed ``*.damaged``: kept for a person to look
        at, and out of the way of every later start and of a new report of the same room.
        """
        found = []
        for path in sorted(self.directory.glob("report-*.json")):
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                self._set_aside(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
            except OSError as exc:
                log.error("%s: unreadable saved report left in place: %s", path,
                          exc.strerror or exc)
                continue
            try:
                report = json.loads(text)
            # ValueError: not JSON, or an integer too long; RecursionError: nested too deeply.
            except (ValueError, RecursionError) as exc:
                self._set_aside(path, f"not JSON ({exc})")
                continue
            problem = _problem(report)
            if problem is not None:
                self._set_aside(path, problem)
                continue
            found.append((path, report))
        return found

    def remove(self, path: Path) -> None:
        """Forget a report the register has taken.

        Raises:
            QueueError: the file cannot be removed; it stays, and is handed over again.
        """
        try:
            path.unlink(missing_ok=True)
            fsync_directory(self.directory)
        except OSError as exc:
            raise QueueError(f"{path}: cannot remove the handed-over report: "
                             f"{exc.strerror or exc}") from None

    def _set_aside(self, path: Path, problem: str) -> None:
        """Rename a damaged report to ``*.damaged`` (never over an earlier one) and log it."""
        aside = path.with_name(path.name + ".damaged")
        try:
            number = 1
            while aside.exists():
                number += 1
                aside = path.with_name(f"{path.name}.damaged-{number}")
            path.rename(aside)
            fsync_directory(self.directory)
        except OSError as exc:
            log.error("%s: damaged saved report (%s) left in place, cannot rename it: %s",
                      path, problem, exc.strerror or exc)
            return
        log.error("%s: damaged saved report (%s) set aside as %s", path, problem, aside.name)


def _problem(report: Any) -> str | None:
    """What keeps ``report`` from being handed over, or None if nothing does."""
    if not isinstance(report, dict):
        return "not a JSON object"
    session_id = report.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        return "no session_id"
    for key, required in (("scans", True), ("ghosts", False)):
        entries = report.get(key)
        if entries is None and not required:
            continue
        if not isinstance(entries, list):
            return f"{key} is not a list"
        if not all(isinstance(entry, dict) for entry in entries):
            return f"{key} holds something other than objects"
    return None
