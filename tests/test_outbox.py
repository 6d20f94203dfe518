"""FilesOutbox: deduplicated JSON Lines, torn-line repair, reports, CSV guard; real files."""

from __future__ import annotations

import csv
import errno
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import RegisterError
from sync.outbox import CSV_COLUMNS, FilesOutbox, report_csv_rows

DEVICE = "handheld-07"


def sighting(number: int = 0, **fields: Any) -> dict[str, Any]:
    """A sighting record with a fresh UUID."""
    record = {
        "sighting_id": str(uuid.uuid4()),
        "asset_tag": f"IT-{number:06d}",
        "location": "Büro 3",
        "payload": f"IT-{number:06d}\u2028line",
        "tag": {"kind": "asset", "value": f"IT-{number:06d}"},
        "clock_synchronized": True,
        "recorded_location": None,
    }
    return {**record, **fields}


def lines_of(outbox: FilesOutbox) -> list[dict[str, Any]]:
    """The sightings file parsed line by line (JSON Lines split on newline only)."""
    raw = outbox.sightings_path.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


def failing(error: int) -> Callable[..., Any]:
    """A stand-in for an os function that fails like a full or broken disk."""

    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


def report(**fields: Any) -> dict[str, Any]:
    """An audit report in the shape ``firmware.room_report.build_report`` makes."""
    scans = [
        {"sighting_id": "s-1", "asset_tag": "IT-000001", "verdict": "verified", "source": "camera",
         "at": "2026-11-24T09:15:02.120Z", "payload": "IT-000001", "symbology": "QR",
         "recorded_location": "Büro 3", "reason": None},
        {"sighting_id": "s-2", "asset_tag": None, "verdict": "unregistered", "source": "stdin",
         "at": "2026-11-24T09:16:40.003Z", "payload": "=HYPERLINK(\"http://x\",\"click\")",
         "symbology": "CODE128", "recorded_location": None, "reason": None},
    ]
    base = {
        "session_id": "0d6f3a52-3f0e-4c38-9a51-1f0c2b7de001",
        "device_id": DEVICE,
        "location": "Büro 3",
        "technician": "Zoë",
        "started_at": "2026-11-24T09:00:00.000Z",
        "ended_at": "2026-11-24T09:30:00.000Z",
        "clock_synchronized": True,
        "expected": 2,
        "counts": {"verified": 1, "unregistered": 1, "ghost": 1},
        "ghosts": [{"asset_tag": "IT-000002", "serial": "SN 42", "name": "ThinkPad T14"}],
        "mislocated": [],
        "unregistered": [{"payload": scans[1]["payload"], "symbology": "CODE128"}],
        "scans": scans,
    }
    return {**base, **fields}


@pytest.fixture
def outbox(tmp_path: Path) -> FilesOutbox:
    return FilesOutbox(tmp_path / "usb" / "stocktaker", DEVICE)


def test_push_writes_json_lines_that_parse_back(outbox: FilesOutbox) -> None:
    records = [sighting(n) for n in range(3)]
    assert outbox.push(records) == 3
    assert outbox.sightings_path.name == f"sightings-{DEVICE}.jsonl"
    assert lines_of(outbox) == records
    raw = outbox.sightings_path.read_bytes()
    assert "Büro 3".encode() in raw and "\u2028".encode() in raw
    first = raw.split(b"\n")[0].decode("utf-8")
    assert first == json.dumps(records[0], sort_keys=True, ensure_ascii=False)


def test_push_skips_ids_already_written(outbox: FilesOutbox) -> None:
    a, b, c = (sighting(n) for n in range(3))
    assert outbox.push([a, b]) == 2
    assert outbox.push([b, c, c]) == 1
    assert outbox.push([a, b, c]) == 0
    assert lines_of(outbox) == [a, b, c]


def test_dedup_holds_for_a_fresh_outbox(outbox: FilesOutbox) -> None:
    a, b = sighting(1), sighting(2)
    outbox.push([a])
    again = FilesOutbox(outbox.directory, DEVICE)
    assert again.push([a, b]) == 1
    assert lines_of(again) == [a, b]


def test_devices_have_separate_files(outbox: FilesOutbox) -> None:
    record = sighting()
    outbox.push([record])
    other = FilesOutbox(outbox.directory, "kiosk-2")
    assert other.push([record]) == 1
    assert lines_of(other) == [record]


@pytest.mark.parametrize("tail", [b'{"sighting_id": "x", "asset', b"\x00\x00\x00\x00"])
def test_torn_last_line_is_cut_before_appending_and_kept_aside(
        outbox: FilesOutbox, tail: bytes) -> None:
    a, b, c = (sighting(n) for n in range(3))
    outbox.push([a, b])
    with outbox.sightings_path.open("ab") as fh:
        fh.write(tail)
    assert outbox.push([b, c]) == 1
    assert lines_of(outbox) == [a, b, c]
    assert (outbox.directory / f"sightings-{DEVICE}.torn").read_bytes() == tail + b"\n"


def test_a_whole_last_line_without_its_newline_is_kept(outbox: FilesOutbox) -> None:
    a, b = sighting(1), sighting(2)
    outbox.push([a])
    line = json.dumps(b, sort_keys=True, ensure_ascii=False).encode("utf-8")
    with outbox.sightings_path.open("ab") as fh:
        fh.write(line)  # complete JSON, saved on a PC without the final newline
    assert outbox.push([a, b]) == 0
    assert lines_of(outbox) == [a, b]


@pytest.mark.parametrize("foreign", [b"not json\n", b'{"sighting_id": "x"\n', b"[1, 2]\n",
                                     b'\xef\xbb\xbf{"sighting_id": "bom"}\n'])
def test_a_damaged_or_foreign_line_sets_the_file_aside_and_never_blocks(
        outbox: FilesOutbox, foreign: bytes) -> None:
    outbox.push([sighting(1)])
    with outbox.sightings_path.open("ab") as fh:
        fh.write(foreign)
        fh.write(json.dumps(sighting(3)).encode() + b"\n")
    before = outbox.sightings_path.read_bytes()
    fourth = sighting(4)
    assert outbox.push([fourth]) == 1
    assert lines_of(outbox) == [fourth]
    (aside,) = outbox.directory.glob(f"sightings-{DEVICE}-*.damaged.jsonl")
    assert aside.read_bytes() == before


def test_the_file_rotates_by_size_and_by_day(tmp_path: Path) -> None:
    outbox = FilesOutbox(tmp_path, DEVICE, max_bytes=700)
    records = [sighting(n) for n in range(12)]
    for record in records:
        outbox.push([record])
    rotated = sorted(tmp_path.glob(f"sightings-{DEVICE}-*.jsonl"))
    assert len(rotated) >= 3, "over max_bytes, the file starts anew"
    every = [json.loads(line) for path in [*rotated, outbox.sightings_path]
             for line in path.read_bytes().split(b"\n")[:-1]]
    assert every == records
    yesterday = time.time() - 86400
    os.utime(outbox.sightings_path, (yesterday, yesterday))
    late = sighting(99)
    outbox.push([late])
    assert lines_of(outbox) == [late]


def test_a_batch_sent_again_after_a_restart_is_not_written_twice(tmp_path: Path) -> None:
    first = FilesOutbox(tmp_path, DEVICE)
    batch = [sighting(n) for n in range(50)]
    for n in range(100, 400):  # a long file: only its end is read
        first.push([sighting(n)])
    first.push(batch)
    again = FilesOutbox(tmp_path, DEVICE)  # a new process: nothing remembered
    assert again.push(batch) == 0


@pytest.mark.parametrize("function", ["write", "fsync"])
def test_full_disk_raises_register_error_and_keeps_the_file(
    outbox: FilesOutbox, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    kept = sighting(1)
    outbox.push([kept])
    before = outbox.sightings_path.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(os, function, failing(errno.ENOSPC))
        with pytest.raises(RegisterError, match="disk full") as caught:
            outbox.push([sighting(2)])
    assert str(outbox.directory) in str(caught.value)
    assert outbox.sightings_path.read_bytes() == before
    assert outbox.push([kept, sighting(3)]) == 1


def test_push_of_known_records_still_makes_the_file_durable(
    outbox: FilesOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = sighting()
    outbox.push([record])
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert outbox.push([record]) == 0
    assert len(synced) == 2, "file and folder, before the caller forgets the records"


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([{"asset_tag": "IT-1"}], id="no-id"),
        pytest.param([{"sighting_id": 3}], id="id-not-a-string"),
        pytest.param([{"sighting_id": "x", "v": float("inf")}], id="not-strict-json"),
        pytest.param([{"sighting_id": "x", "v": {1, 2}}], id="not-json"),
    ],
)
def test_bad_record_writes_nothing(outbox: FilesOutbox, records: list[Any]) -> None:
    with pytest.raises(ValueError):
        outbox.push([sighting(), *records])
    assert not outbox.sightings_path.exists()


@pytest.mark.parametrize("device_id", ["", "../escape", "a/b", "scanner 3", ".hidden", "x" * 129])
def test_device_id_must_be_a_safe_file_name(tmp_path: Path, device_id: str) -> None:
    with pytest.raises(ValueError):
        FilesOutbox(tmp_path, device_id)


def test_report_files_parse_back(outbox: FilesOutbox) -> None:
    data = report()
    json_path, csv_path = outbox.write_report(data)
    assert json_path.name == f"report-{data['session_id']}.json"
    assert csv_path.name == f"report-{data['session_id']}.csv"
    assert json.loads(json_path.read_text(encoding="utf-8")) == data
    assert "Zoë" in json_path.read_text(encoding="utf-8")
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == report_csv_rows(data)
    assert {p.name for p in outbox.directory.iterdir()} == {json_path.name, csv_path.name}


def test_csv_rows_cover_scans_then_ghosts() -> None:
    rows = report_csv_rows(report())
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["scan", "scan", "ghost"]
    scan = dict(zip(CSV_COLUMNS, rows[1]))
    assert scan["verdict"] == "verified" and scan["reason"] == "" and scan["serial"] == ""
    assert dict(zip(CSV_COLUMNS, rows[2]))["asset_tag"] == ""
    ghost = dict(zip(CSV_COLUMNS, rows[3]))
    assert ghost == {
        "row_type": "ghost", "sighting_id": "", "at": "", "source": "", "verdict": "ghost",
        "asset_tag": "IT-000002", "serial": "SN 42", "name": "ThinkPad T14",
        "recorded_location": "Büro 3", "payload": "", "symbology": "", "reason": "",
    }


@pytest.mark.parametrize(
    ("payload", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+41 44 000", "'+41 44 000"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("IT-000001", "IT-000001"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_guards_against_formulas(payload: str, cell: str) -> None:
    data = report()
    data["scans"][0]["payload"] = payload
    data["ghosts"][0]["name"] = payload
    rows = report_csv_rows(data)
    assert rows[1][CSV_COLUMNS.index("payload")] == cell
    assert rows[3][CSV_COLUMNS.index("name")] == cell


def test_failed_report_rewrite_keeps_the_previous_files(
    outbox: FilesOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_path, csv_path = outbox.write_report(report())
    before = json_path.read_bytes(), csv_path.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", failing(errno.ENOSPC))
        with pytest.raises(RegisterError, match="disk full"):
            outbox.write_report(report(technician="someone else"))
    assert (json_path.read_bytes(), csv_path.read_bytes()) == before
    assert {p.name for p in outbox.directory.iterdir()} == {json_path.name, csv_path.name}


@pytest.mark.parametrize("session_id", [None, "", "../../etc/x", "a b"])
def test_report_needs_a_safe_session_id(outbox: FilesOutbox, session_id: Any) -> None:
    with pytest.raises(ValueError):
        outbox.write_report(report(session_id=session_id))


def test_report_that_is_not_json_writes_nothing(outbox: FilesOutbox) -> None:
    with pytest.raises(ValueError):
        outbox.write_report(report(expected=float("nan")))
    with pytest.raises(ValueError):
        outbox.write_report(report(counts={"verified": object()}))
    assert list(outbox.directory.iterdir()) == []


# --- a report the outbox cannot write -------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


MALFORMED_REPORTS = {
    "a-list": [report()],
    "no-session-id": {k: v for k, v in report().items() if k != "session_id"},
    "session-id-a-number": report(session_id=7),
    "session-id-a-path": report(session_id="../../etc/x"),
    "not-strict-json": report(expected=float("nan")),
    "not-json": report(counts={"verified": object()}),
    "lone-surrogate": report(technician="Zo\udce9"),
    "nested-too-deep": report(notes=nested(100_000)),
    "scans-a-string": report(scans="IT-000001"),
    "scans-a-number": report(scans=3),
    "scans-of-strings": report(scans=["IT-000001"]),
    "ghosts-of-numbers": report(ghosts=[1, 2]),
}


@pytest.mark.parametrize("bad", MALFORMED_REPORTS.values(), ids=MALFORMED_REPORTS.keys())
def test_a_malformed_report_is_a_register_error_and_writes_nothing(
    outbox: FilesOutbox, bad: Any
) -> None:
    with pytest.raises(RegisterError) as caught:
        outbox.write_report(bad)
    assert caught.value.exit_code == 4
    assert isinstance(caught.value, ValueError)  # what the caller gave, not the folder, is wrong
    assert "\n" not in str(caught.value)
    assert not outbox.directory.exists() or list(outbox.directory.iterdir()) == []


def test_a_malformed_report_leaves_earlier_report_files_as_they_were(outbox: FilesOutbox) -> None:
    json_path, csv_path = outbox.write_report(report())
    before = json_path.read_bytes(), csv_path.read_bytes()
    with pytest.raises(RegisterError, match="cannot be written as CSV"):
        outbox.write_report(report(scans=[None]))
    assert (json_path.read_bytes(), csv_path.read_bytes()) == before
    assert {p.name for p in outbox.directory.iterdir()} == {json_path.name, csv_path.name}
