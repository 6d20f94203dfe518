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
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sync.errors import RegisterError
from sync.journal import JsonLinesJournal
from sync.storage import fsync_directory, replace_file, sync_if_fat

__all__ = ["CSV_COLUMNS", "FilesOutbox", "ReportError", "csv_cell", "read_csv_rows",
           "report_csv_rows"]

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "row_type", "sighting_id", "at", "source", "verdict", "asset_tag",
    "serial", "name", "recorded_location", "payload", "symbology", "reason",
)
_SCAN_FIELDS = ("sighting_id", "at", "source", "verdict", "asset_tag")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Safe as a file name on ext4, vfat and exfat alike.
_FILE_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# The end of the file read at each push: at least this, and twice the batch's own size
# (a batch sent again after a crash was the last thing written).
_MIN_TAIL = 64 * 1024
# Sighting ids written by this process, remembered so a batch sent again is not written twice.
_RECENT_IDS = 50_000


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

    def __init__(self, directory: str | Path, device_id: str, *,
                 max_bytes: int = 16 * 1024 * 1024) -> None:
        _check_name("device id", device_id)
        self.device_id = device_id
        self.max_bytes = max_bytes
        self._recent: dict[str, None] = {}
        self.directory = Path(directory)
        self.sightings_path = self.directory / f"sightings-{device_id}.jsonl"

    def make_folder(self) -> None:
        """Create the folder at each hand-over: a USB stick may come and go while scanning."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise folder_error(self.directory, exc) from exc

    def push(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Like :meth:`push_new`, returning how many lines were written."""
        return len(self.push_new(records))

    def push_new(self, records: Sequence[Mapping[str, Any]]) -> set[str]:
        """Append the records whose ``sighting_id`` is not in the file yet; durable on return.

        Only the end of the file is read (the lines a batch sent again after a crash can
        be among), so a push costs the same however long the file has grown. Before
        writing, the file is rotated when it is from an earlier day (UTC) or over
        ``max_bytes``. A last line without its newline is completed when it is a whole
        record (a file saved on a PC) and cut otherwise (torn by a crash: it was never
        acknowledged, so it is still queued), its bytes kept in ``sightings-<device>.torn``.
        A line that is not a sighting (damaged, foreign, a byte-order mark) never blocks:
        the file is set aside as ``…damaged.jsonl`` and a new one started.

        Args:
            records: JSON-able sighting records, each with a string ``sighting_id``.

        Returns:
            The ``sighting_id`` of every line written.

        Raises:
            ValueError: a record has no string ``sighting_id`` or is not JSON-able;
                nothing was written.
            RegisterError: the folder cannot be written (the file keeps every
                complete line it had).
        """
        lines = _json_lines(records)
        tail_bytes = max(_MIN_TAIL, 2 * sum(len(line) for line in lines.values()))
        self.make_folder()
        try:
            self._rotate_if_due()
            known, size = self._tail(tail_bytes)
            fresh_ids = [sid for sid in lines if sid not in known and sid not in self._recent]
            if fresh_ids:
                # A new file's entry is made durable by the journal.
                JsonLinesJournal(self.sightings_path).write(
                    b"".join(lines[sid] for sid in fresh_ids))
            elif size:
                # Lines already there may still sit in the page cache only (a push cut
                # short by a crash): make them durable before the caller drops those
                # records from its queue.
                _fsync_file(self.sightings_path)
                fsync_directory(self.directory)
            if fresh_ids or size:
                sync_if_fat(self.directory)  # FAT: the file's new size too
        except OSError as exc:
            raise folder_error(self.directory, exc) from exc
        for sighting_id in fresh_ids:
            self._remember(sighting_id)
        return set(fresh_ids)

    def _remember(self, sighting_id: str) -> None:
        self._recent[sighting_id] = None
        if len(self._recent) > _RECENT_IDS:
            del self._recent[next(iter(self._recent))]

    def _rotate_if_due(self) -> None:
        """Start a new file when the current one is from an earlier day or over the size."""
        try:
            info = self.sightings_path.stat()
        except FileNotFoundError:
            return
        day = time.strftime("%Y%m%d", time.gmtime(info.st_mtime))
        if info.st_size < self.max_bytes and day == time.strftime("%Y%m%d", time.gmtime()):
            return
        # Microseconds too, so that names sort in the order the files were written.
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(info.st_mtime))
        self._set_aside(f"{stamp}.{info.st_mtime_ns // 1000 % 1_000_000:06d}", "rotated")

    def _set_aside(self, stamp: str, why: str, suffix: str = ".jsonl") -> Path:
        stem = f"sightings-{self.device_id}-{stamp}"
        target = self.directory / f"{stem}{suffix}"
        n = 1
        while target.exists():
            n += 1
            target = self.directory / f"{stem}-{n}{suffix}"
        os.rename(self.sightings_path, target)
        fsync_directory(self.directory)
        (log.warning if why != "rotated" else log.info)(
            "%s: %s; continued in a new file, the old one is %s", self.sightings_path, why,
            target.name)
        return target

    def _tail(self, tail_bytes: int) -> tuple[set[str], int]:
        """The ids in the last ``tail_bytes`` of the file and its size, after mending its end."""
        try:
            fd = os.open(self.sightings_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return set(), 0
        try:
            size = os.fstat(fd).st_size
            start = max(0, size - tail_bytes)
            data = os.pread(fd, size - start, start)
        finally:
            os.close(fd)
        if start > 0:
            data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
        body, _, last = data.rpartition(b"\n") if not data.endswith(b"\n") else (data, b"", b"")
        if last:
            if _sighting_id(last) is not None:
                # A whole line saved without its end.
                JsonLinesJournal(self.sightings_path).write(b"\n")
                size += 1
                body += b"\n" + last
            else:
                with (self.directory / f"sightings-{self.device_id}.torn").open("ab") as torn:
                    torn.write(last + b"\n")
                _truncate(self.sightings_path, size - len(last))
                log.warning(
                    "%s: a line torn by a crash was cut (%d bytes kept in %s)",
                    self.sightings_path, len(last), f"sightings-{self.device_id}.torn")
                size -= len(last)
        known: set[str] = set()
        for row in body.split(b"\n"):
            if not row.strip():
                continue
            sighting_id = _sighting_id(row)
            if sighting_id is None:
                self._set_aside(time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + ".damaged",
                                "a line that is not a sighting record (damaged or foreign)")
                return set(), 0
            known.add(sighting_id)
        return known, size

    def write_report(self, report: Mapping[str, Any]) -> tuple[Path, Path]:
        """Write ``report-<session_id>.json`` and ``report-<session_id>.csv`` atomically.

        Args:
            report: an audit report (see ``firmware.room_report.build_report``).

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
        self.make_folder()
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
            sync_if_fat(self.directory)  # FAT: the folder's entries too
        except OSError as exc:
            raise folder_error(self.directory, exc) from exc
        return json_path, csv_path


    def write_conflicts(self, conflicts: Sequence[Mapping[str, Any]]) -> Path:
        """Write every conflict this device holds to ``conflicts-<device>.json`` atomically.

        The file is the device's whole list each time (conflicts are few), so it is
        complete after any crash and an admin reading the USB stick sees both sides.

        Raises:
            RegisterError: the folder cannot be written (the file is as it was).
        """
        self.make_folder()
        path = self.directory / f"conflicts-{self.device_id}.json"
        data = (json.dumps(list(conflicts), indent=2, ensure_ascii=False, default=str)
                + "\n").encode("utf-8", "backslashreplace")
        try:
            replace_file(path, data)
            fsync_directory(self.directory)
        except OSError as exc:
            raise folder_error(self.directory, exc) from exc
        return path


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
        for key in ("serial", "name", "recorded_location", "payload", "symbology", "reason"):
            cells[key] = scan.get(key)
        rows.append([csv_cell(cells.get(column)) for column in CSV_COLUMNS])
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
        rows.append([csv_cell(cells.get(column)) for column in CSV_COLUMNS])
    return rows


def csv_cell(value: Any) -> str:
    """One CSV cell: None empty, booleans ``true``/``false``, and a leading apostrophe on
    text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR)."""
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def read_csv_rows(path: Path, keep: Callable[[list[str]], bool]) -> list[list[str]]:
    """The rows ``keep`` accepts of a CSV file in the outbox (none when it does not exist).

    A file that is no longer CSV (edited on a PC, damaged) is set aside as
    ``<name>.damaged<suffix>`` and the caller starts a new one; the rows it held stay there.
    """
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        return []
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), strict=True)
                if keep(row)]
    except csv.Error as exc:
        target = path.with_name(f"{path.stem}.damaged{path.suffix}")
        os.replace(path, target)
        log.warning("%s is not CSV any more (%s): set aside as %s, a new one started",
                    path, exc, target.name)
        return []


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


def _sighting_id(row: bytes) -> str | None:
    """The ``sighting_id`` of one JSON Lines row, or None when it is not a sighting record
    (damaged, foreign, or starting with a byte-order mark an editor added)."""
    try:
        value = json.loads(row.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("sighting_id"), str) \
            and value["sighting_id"]:
        return str(value["sighting_id"])
    return None


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


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not _FILE_NAME_PART.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} cannot name a file: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit)"
        )


def folder_error(directory: Path, exc: OSError) -> RegisterError:
    """The refusal an OS error writing the outbox folder becomes (disk full named as such)."""
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return RegisterError(f"cannot write to the outbox folder {directory}: {reason}")
