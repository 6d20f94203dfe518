"""``FilesOutbox``: the output folder of the ``files`` register adapter (often a USB stick).

Sightings go to ``sightings-<device_id>.jsonl``, one JSON object per line, each
``sighting_id`` at most once however often a batch is pushed again. Audit reports
go to ``report-<session_id>.json`` and ``.csv``, each replaced atomically.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from firmware.errors import RegisterError
from sync.storage import fsync_directory, replace_file, write_and_fsync

__all__ = ["CSV_COLUMNS", "FilesOutbox", "ReportError", "report_csv_rows"]

CSV_COLUMNS = (
    "row_type", "sighting_id", "at", "source", "verdict", "asset_tag",
    "serial", "name", "recorded_location", "payload", "symbology", "reason",
)
_SCAN_FIELDS = ("sighting_id", "at", "source", "verdict", "asset_tag")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Safe as a file name on ext4, vfat and exfat alike.
_FILE_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ReportError(RegisterError, ValueError):
    """An audit report that cannot be written as it stands; the message says why.

    A ``RegisterError`` like every other refusal of the outbox, and a ``ValueError``
    as it is a fault of the report, not of the folder.
    """


class FilesOutbox:
    """The folder sightings and audit reports are handed over in.

    Args:
        directory: the folder; created if missing.
        device_id: this device's id, which names its sightings file.

    Raises:
        ValueError: ``device_id`` cannot be part of a file name.
        RegisterError: the folder cannot be created.
    """

    def __init__(self, directory: str | Path, device_id: str) -> None:
        _check_name("device id", device_id)
        self.directory = Path(directory)
        self.sightings_path = self.directory / f"sightings-{device_id}.jsonl"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _folder_error(self.directory, exc) from exc

    def push(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Like :meth:`push_new`, returning how many lines were written."""
        return len(self.push_new(records))

    def push_new(self, records: Sequence[Mapping[str, Any]]) -> set[str]:
        """Append the records whose ``sighting_id`` is not in the file yet; durable on return.

        A torn last line left by a crash is cut off first: its record was never
        acknowledged, so it is still queued and comes back in this or a later push.

        Args:
            records: JSON-able sighting records, each with a string ``sighting_id``.

        Returns:
            The ``sighting_id`` of every line written.

        Raises:
            ValueError: a record has no string ``sighting_id`` or is not JSON-able;
                nothing was written.
            RegisterError: the folder cannot be written (the file keeps every
                complete line it had), or a line other than the last is damaged
                (the file is left untouched).
        """
        lines = _json_lines(records)
        try:
            data = self._read_existing()
            known, keep = self._scan(data or b"")
            fresh_ids = [sid for sid in lines if sid not in known]
            fresh = [lines[sid] for sid in fresh_ids]
            if data is not None and keep < len(data):
                _truncate(self.sightings_path, keep)
            if fresh:
                _append(self.sightings_path, b"".join(fresh), keep)
            elif data is not None:
                # Lines already there may still sit in the page cache only (a push
                # cut short by a crash): make them durable before the caller drops
                # those records from its queue.
                _fsync_file(self.sightings_path)
            if data is not None or fresh:
                fsync_directory(self.directory)
        except OSError as exc:
            raise _folder_error(self.directory, exc) from exc
        return set(fresh_ids)

    def write_report(self, report: Mapping[str, Any]) -> tuple[Path, Path]:
        """Write ``report-<session_id>.json`` and ``report-<session_id>.csv`` atomically.

        Args:
            report: an audit report (see ``firmware.report.build_report``).

        Returns:
            The JSON file and the CSV file.

        Raises:
            ReportError: the report is not an object, has no usable ``session_id``, is
                not JSON-able, or its ``scans`` or ``ghosts`` are not lists of objects;
                nothing was written.
            RegisterError: the folder cannot be written; each file is either
                complete or as it was.
        """
        if not isinstance(report, Mapping):
            raise ReportError(f"an audit report is a JSON object, not {type(report).__name__}")
        session_id = report.get("session_id")
        try:
            _check_name("session id", session_id)
        except ValueError as exc:
            raise ReportError(f"report not written: {exc}") from exc
        json_path = self.directory / f"report-{session_id}.json"
        csv_path = self.directory / f"report-{session_id}.csv"
        try:
            text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
            json_data = text.encode("utf-8")  # a lone surrogate fails here
        # RecursionError: nested too deeply.
        except (TypeError, ValueError, RecursionError) as exc:
            raise ReportError(f"report {session_id} cannot be written as JSON: {exc}") from exc
        buffer = io.StringIO()
        try:
            csv.writer(buffer).writerows(report_csv_rows(report))
        except (AttributeError, TypeError) as exc:
            raise ReportError(f"report {session_id} cannot be written as CSV: its scans and "
                              f"ghosts must be lists of objects ({exc})") from exc
        csv_data = buffer.getvalue().encode("utf-8")  # its text is the JSON's, checked above
        try:
            replace_file(json_path, json_data)
            replace_file(csv_path, csv_data)
            fsync_directory(self.directory)
        except OSError as exc:
            raise _folder_error(self.directory, exc) from exc
        return json_path, csv_path

    def _read_existing(self) -> bytes | None:
        try:
            return self.sightings_path.read_bytes()
        except FileNotFoundError:
            return None

    def _scan(self, data: bytes) -> tuple[set[str], int]:
        """Return the ids already in the file and how many leading bytes to keep."""
        keep = data.rfind(b"\n") + 1  # a tail without a newline is torn
        # Split on b"\n" only: str.splitlines would also split on U+2028, which
        # ensure_ascii=False leaves unescaped inside JSON strings.
        rows = data[:keep].split(b"\n")[:-1]
        known: set[str] = set()
        offset = 0
        for number, row in enumerate(rows, start=1):
            start, offset = offset, offset + len(row) + 1
            if not row.strip():
                continue
            try:
                value = json.loads(row.decode("utf-8"))
            except ValueError as exc:
                if any(later.strip() for later in rows[number:]):
                    raise RegisterError(
                        f"{self.sightings_path}, line {number}: not JSON ({exc}); "
                        "the file was left untouched"
                    ) from exc
                return known, start
            if isinstance(value, dict) and isinstance(value.get("sighting_id"), str):
                known.add(value["sighting_id"])
        return known, keep


def report_csv_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """Return the CSV of an audit report as rows of cells, header first.

    One row per scan, then one per ghost (an asset expected in the room but not
    seen). ``None`` becomes an empty cell. A cell that a spreadsheet would run as
    a formula gets a leading apostrophe: payloads come from untrusted labels.

    Args:
        report: an audit report (see ``FilesOutbox.write_report``).

    Returns:
        The header row followed by the data rows, every cell a string.
    """
    rows = [list(CSV_COLUMNS)]
    for scan in report.get("scans") or ():
        cells: dict[str, Any] = {"row_type": "scan"}
        cells.update({key: scan.get(key) for key in _SCAN_FIELDS})
        for key in ("recorded_location", "payload", "symbology", "reason"):
            cells[key] = scan.get(key)
        rows.append([_cell(cells.get(column)) for column in CSV_COLUMNS])
    for ghost in report.get("ghosts") or ():
        cells = {
            "row_type": "ghost",
            "verdict": "ghost",
            "asset_tag": ghost.get("asset_tag"),
            "serial": ghost.get("serial"),
            "name": ghost.get("name"),
            # A ghost is by definition recorded in the audited room.
            "recorded_location": ghost.get("recorded_location", report.get("location")),
        }
        rows.append([_cell(cells.get(column)) for column in CSV_COLUMNS])
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _json_lines(records: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """Serialise ``records`` to JSON Lines keyed by sighting_id (first one wins)."""
    lines: dict[str, bytes] = {}
    for record in records:
        sighting_id = record.get("sighting_id") if isinstance(record, Mapping) else None
        if not isinstance(sighting_id, str) or not sighting_id:
            raise ValueError("every record needs a non-empty string 'sighting_id'")
        if sighting_id in lines:
            continue
        try:
            text = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False)
            lines[sighting_id] = (text + "\n").encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sighting {sighting_id} cannot be written as JSON: {exc}") from exc
    return lines


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _append(path: Path, data: bytes, size: int) -> None:
    """Append ``data`` to a file of ``size`` bytes and fsync; on error, cut it back."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        write_and_fsync(fd, data)
    except OSError:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass  # the next push cuts a torn tail anyway
        raise
    finally:
        os.close(fd)


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not _FILE_NAME_PART.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} cannot name a file: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )


def _folder_error(directory: Path, exc: OSError) -> RegisterError:
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return RegisterError(f"cannot write to the outbox folder {directory}: {reason}")
