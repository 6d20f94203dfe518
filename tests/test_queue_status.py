"""The queue's status, dead letters and sync note; ``read_status``; ``stocktaker queue status``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from firmware.cli import main
from sync.queue import SEGMENTS_DIR, SightingQueue, read_status
from sync.pending_reports import PendingReports

KEYS = {"queued", "dead_letters", "oldest", "last_sync", "last_attempt", "last_error",
        "segments", "damaged", "dead_letter_items", "conflicts", "conflict_items"}


def sighting(number: int, **fields: Any) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "n": number,
            "wall_time": f"2026-11-24T09:15:{number:02d}.000Z", **fields}


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its inode and modification time."""
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_an_empty_queue(tmp_path: Path) -> None:
    with SightingQueue(tmp_path) as queue:
        status = queue.status()
    assert status == {"queued": 0, "dead_letters": 0, "dead_letter_items": [], "conflicts": 0,
                      "conflict_items": [], "oldest": None,
                      "last_sync": None, "last_attempt": None, "last_error": None,
                      "segments": 0, "damaged": []}
    assert read_status(tmp_path) == status


def test_read_status_of_a_folder_never_used_creates_nothing(tmp_path: Path) -> None:
    status = read_status(tmp_path / "state")
    assert status["queued"] == 0 and status["oldest"] is None
    assert not (tmp_path / "state").exists()


def test_status_counts_oldest_and_segments(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(9)]
    with SightingQueue(tmp_path, segment_size=4) as queue:
        for record in records:
            queue.append(record)
        queue.acknowledge([records[0]["sighting_id"]])
        status = queue.status()
        assert status["queued"] == 8 and status["segments"] == 3
        assert status["oldest"] == records[1]["wall_time"]
        assert read_status(tmp_path) == status
        queue.acknowledge([r["sighting_id"] for r in records[1:4]])
        assert queue.status()["oldest"] == records[4]["wall_time"]
        assert read_status(tmp_path)["oldest"] == records[4]["wall_time"]


def test_read_status_while_the_queue_is_open_reads_without_writing(tmp_path: Path) -> None:
    with SightingQueue(tmp_path, segment_size=3) as queue:
        for n in range(7):
            queue.append(sighting(n))
        queue.note_sync(False, "2026-11-30T10:00:00Z", "register unreachable")
        before = listing(tmp_path)
        status = read_status(tmp_path)
        assert listing(tmp_path) == before
        assert status["queued"] == 7 and status["last_error"] == "register unreachable"


def test_note_sync_keeps_the_last_success_across_failures(tmp_path: Path) -> None:
    with SightingQueue(tmp_path) as queue:
        queue.note_sync(True, "2026-11-30T10:00:00Z")
        queue.note_sync(False, "2026-11-30T10:05:00Z", "HTTP 503")
        status = queue.status()
    assert (status["last_sync"], status["last_attempt"], status["last_error"]) == (
        "2026-11-30T10:00:00Z", "2026-11-30T10:05:00Z", "HTTP 503")
    with SightingQueue(tmp_path, shared=True) as other:
        other.note_sync(True, "2026-11-30T10:10:00Z")
    status = read_status(tmp_path)
    assert (status["last_sync"], status["last_error"]) == ("2026-11-30T10:10:00Z", None)


def test_dead_letters_keep_the_record_the_reason_and_the_time(tmp_path: Path) -> None:
    records = [sighting(n, reason="label of another register") for n in range(5)]
    with SightingQueue(tmp_path, segment_size=2) as queue:
        for record in records:
            queue.append(record)
        moved = queue.dead_letter([(records[0]["sighting_id"], "unknown asset"),
                                   (records[4]["sighting_id"], "location closed"),
                                   ("not-queued", "whatever")])
        assert moved == 2
        again = queue.dead_letter([(records[0]["sighting_id"], "unknown asset")])
        assert again == 0
        letters = queue.dead_letters()
        assert [r["sighting_id"] for r in queue.pending()] == [
            r["sighting_id"] for r in records[1:4]]
        assert queue.status()["dead_letters"] == 2
    first, second = letters
    assert first["reason"] == "unknown asset" and second["reason"] == "location closed"
    assert first["sighting_reason"] == "label of another register"
    assert {k: v for k, v in first.items()
            if k not in ("reason", "sighting_reason", "dead_lettered_at")} == {
        k: v for k, v in records[0].items() if k != "reason"}
    assert first["dead_lettered_at"].endswith("Z")
    assert read_status(tmp_path)["dead_letters"] == 2


@pytest.mark.parametrize("items", [["one-id"], [("id",)], [("id", 3)], "ab"])
def test_dead_letter_wants_pairs_of_strings(tmp_path: Path, items: Any) -> None:
    with SightingQueue(tmp_path) as queue, pytest.raises(TypeError):
        queue.dead_letter(items)


def write_config(folder: Path) -> Path:
    config = folder / "stocktaker.toml"
    config.write_text('[queue]\npath = "state"\n', encoding="utf-8")
    return config


def test_cli_prints_the_status_for_people(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    records = [sighting(n) for n in range(3)]
    with SightingQueue(tmp_path / "state", segment_size=2) as queue:
        for record in records:
            queue.append(record)
        queue.dead_letter([(records[0]["sighting_id"], "unknown asset")])
        queue.note_sync(False, "2026-11-30T10:05:00Z", "refused \x1b[31mred\u202e")
        # The device loop keeps the queue open while the command runs.
        assert main(["queue", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "queued: 2 sighting(s), oldest 2026-11-24T09:15:01.000Z" in out
    assert "last sync: never (last attempt 2026-11-30T10:05:00Z failed: refused" in out
    assert "dead letters: 1" in out and "damaged files set aside: none" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_cli_prints_one_json_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    with SightingQueue(tmp_path / "state") as queue:
        queue.append(sighting(7))
        queue.note_sync(True, "2026-11-30T10:00:00Z")
    segment = next((tmp_path / "state" / SEGMENTS_DIR).glob("open-*.json"))
    os.rename(segment, segment.with_name(segment.name + ".damaged"))
    assert main(["queue", "status", "--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status) == KEYS | {"reports_waiting", "reports_waiting_items"}
    assert status["reports_waiting"] == 0 and status["reports_waiting_items"] == []
    assert status["queued"] == 0 and status["last_sync"] == "2026-11-30T10:00:00Z"
    assert status["damaged"] == [segment.name + ".damaged"]


def test_cli_queue_status_with_a_bad_configuration_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "status", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_the_command_names_the_reports_waiting_on_the_device(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    reports = PendingReports(tmp_path / "state" / "reports")
    for session in ("s-1", "s-2"):
        reports.add({"session_id": session, "counts": {}, "scans": []})
    command = [sys.executable, "-m", "firmware", "queue", "status", "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"reports waiting: 2 in {Path('state') / 'reports'}" in done.stdout.replace(
        str(tmp_path) + os.sep, "")
    assert "  report-s-1.json\n  report-s-2.json" in done.stdout
    done = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=120)
    status = json.loads(done.stdout)
    assert status["reports_waiting"] == 2
    assert status["reports_waiting_items"] == ["report-s-1.json", "report-s-2.json"]
