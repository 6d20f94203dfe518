"""Audit reports kept on the device until the register has taken them."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firmware.errors import QueueError
from sync.storage import fsync_directory, replace_file

log = logging.getLogger(__name__)


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
        """The saved reports, oldest file name first; unreadable ones are skipped and logged."""
        found = []
        for path in sorted(self.directory.glob("report-*.json")):
            try:
                found.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as exc:
                log.error("%s: unreadable saved report left in place: %s", path, exc)
        return found

    def remove(self, path: Path) -> None:
        """Forget a report the register has taken."""
        path.unlink(missing_ok=True)
        fsync_directory(self.directory)
