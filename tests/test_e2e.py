"""End to end: ``stocktaker run`` in a subprocess on generated rooms, reports checked exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.queue import read_status
from tests.rooms import LOST, RETIRED, Room, make_room, write_config, write_frames


def run_stocktaker(config: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                          input=stdin, capture_output=True, timeout=300, cwd=config.parent)


def only_report(folder: Path) -> dict:
    reports = sorted((folder / "out").glob("report-*.json"))
    assert len(reports) == 1, reports
    return json.loads(reports[0].read_text(encoding="utf-8"))


def assert_report_matches(report: dict, room: Room) -> None:
    truth = room.truth()
    assert report["location"] == truth["location"]
    assert report["expected"] == truth["expected"]
    assert report["counts"] == truth["counts"]
    assert report["ghosts"] == truth["ghosts"]
    assert report["mislocated"] == truth["mislocated"]
    assert [u["payload"] for u in report["unregistered"]] == truth["unregistered"]
    assert [r["asset_tag"] for r in report["recovered"]] == truth["recovered"]
    assert [sorted(c["asset_tag"] for c in a["candidates"])
            for a in report["ambiguous"]] == truth["ambiguous"]
    assert [(s["asset_tag"], s["verdict"]) for s in report["scans"]] == truth["verdicts"]
    assert report["device_id"] == "hh-test" and report["technician"] == "ana"


def assert_outbox_holds_each_sighting_once(folder: Path, report: dict) -> None:
    lines = (folder / "out" / "sightings-hh-test.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["sighting_id"] for line in lines]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(s["sighting_id"] for s in report["scans"])
    assert read_status(folder / "state")["queued"] == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_camera_audit_report_is_exact(tmp_path: Path, seed: int) -> None:
    room = make_room(seed)
    room.write_manifest(tmp_path / "expected.csv")
    write_frames(room, tmp_path / "frames")
    write_config(tmp_path / "stocktaker.toml", camera=True, scanner=False, location=room.location)

    done = run_stocktaker(tmp_path / "stocktaker.toml")

    assert done.returncode == 0, done.stderr.decode()
    report = only_report(tmp_path)
    assert_report_matches(report, room)
    assert {s["source"] for s in report["scans"]} == {"camera"}
    assert {s["symbology"] for s in report["scans"]} == {"QR", "CODE128"}
    assert_outbox_holds_each_sighting_once(tmp_path, report)
    assert (tmp_path / "out" / f"report-{report['session_id']}.csv").exists()


def test_stdin_audit_starting_from_a_room_label(tmp_path: Path) -> None:
    room = make_room(3, location="Server Room")
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    lines = [f"LOC:{room.location}"] + [s.payload for s in room.scans]

    done = run_stocktaker(tmp_path / "stocktaker.toml", "\n".join(lines).encode() + b"\n")

    assert done.returncode == 0, done.stderr.decode()
    report = only_report(tmp_path)
    assert_report_matches(report, room)
    assert {s["source"] for s in report["scans"]} == {"stdin"}
    assert_outbox_holds_each_sighting_once(tmp_path, report)


def test_camera_and_scanner_together(tmp_path: Path) -> None:
    room = make_room(4)
    camera_part, scanner_part = room.scans[:-1], room.scans[-1:]
    room.write_manifest(tmp_path / "expected.csv")
    room.scans = camera_part
    write_frames(room, tmp_path / "frames")
    room.scans = camera_part + scanner_part
    write_config(tmp_path / "stocktaker.toml", camera=True, scanner=True, location=room.location)

    done = run_stocktaker(tmp_path / "stocktaker.toml",
                          "".join(s.payload + "\n" for s in scanner_part).encode())

    assert done.returncode == 0, done.stderr.decode()
    report = only_report(tmp_path)
    # The two readers run side by side, so which sighting of the repeated tag came first
    # (and so is the repeat) is not fixed; the totals are.
    truth = room.truth()
    assert report["expected"] == truth["expected"]
    assert report["counts"] == truth["counts"]
    assert report["ghosts"] == truth["ghosts"]
    assert sorted(s["source"] for s in report["scans"]).count("stdin") == 1


def test_scanner_burst_within_the_window_is_one_read(tmp_path: Path) -> None:
    room = make_room(5)
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True,
                 location=room.location, repeat_window=30)
    first = room.expected()[3]  # [0..2] carry colliding identifiers
    done = run_stocktaker(tmp_path / "stocktaker.toml",
                          f"{first.asset_tag}\n{first.asset_tag}\r\n{first.asset_tag}\n".encode())
    assert done.returncode == 0, done.stderr.decode()
    report = only_report(tmp_path)
    assert report["counts"]["verified"] == 1 and report["counts"]["repeat"] == 0
    assert len(report["scans"]) == 1


def test_room_label_of_another_room_closes_the_first(tmp_path: Path) -> None:
    room = make_room(6)
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    a = next(x for x in room.assets if x.location == "Storage A" and x.status not in RETIRED + LOST)
    b = room.expected()[3]  # [0..2] carry colliding identifiers
    lines = [a.asset_tag, "LOC:Storage A", a.asset_tag, "LOC:Storage B", b.asset_tag, a.asset_tag]
    done = run_stocktaker(tmp_path / "stocktaker.toml", "\n".join(lines).encode())
    assert done.returncode == 0, done.stderr.decode()
    reports = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("report-*.json")]
    by_room = {r["location"]: r for r in reports}
    assert set(by_room) == {"Storage A", "Storage B"}
    first = by_room["Storage A"]
    assert first["counts"]["rejected"] == 1 and first["counts"]["verified"] == 1
    assert first["scans"][0]["reason"].startswith("scan a room label")
    second = by_room["Storage B"]
    assert second["counts"]["verified"] == 1 and second["counts"]["mislocated"] == 1
    assert second["mislocated"] == [{"asset_tag": a.asset_tag, "recorded_location": "Storage A"}]


def test_bad_manifest_stops_with_exit_code_2_naming_line_and_column(tmp_path: Path) -> None:
    room = make_room(7)
    room.write_manifest(tmp_path / "expected.csv")
    text = (tmp_path / "expected.csv").read_text(encoding="utf-8").splitlines()
    text[4] = text[2]  # a duplicate asset tag on line 5
    (tmp_path / "expected.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=room.location)
    done = run_stocktaker(tmp_path / "stocktaker.toml", b"")
    assert done.returncode == 2
    message = done.stderr.decode()
    assert "expected.csv, line 5, column 'Asset Tag'" in message and "duplicate" in message


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[camera]\nbackend = "files"\npaht = "x"\n')
    done = run_stocktaker(tmp_path / "c.toml")
    assert done.returncode == 2
    assert "camera.paht" in done.stderr.decode()


def test_a_missing_oled_does_not_stop_scanning(tmp_path: Path) -> None:
    room = make_room(8)
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True,
                 location=room.location, display="oled")
    done = run_stocktaker(tmp_path / "stocktaker.toml", room.expected()[3].asset_tag.encode())
    assert done.returncode == 0, done.stderr.decode()
    assert "display unavailable, going on without it" in done.stderr.decode()
    assert "/dev/i2c-29" in done.stderr.decode()
    assert only_report(tmp_path)["counts"]["verified"] == 1


def test_a_reader_that_fails_does_not_end_the_others(tmp_path: Path) -> None:
    room = make_room(9)
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True,
                 location=room.location, repeat_window=0, display="none")
    master, slave = os.openpty()
    with (tmp_path / "stocktaker.toml").open("a", encoding="utf-8") as config:
        config.write(f'[rfid]\nbackend = "serial"\nport = "{os.ttyname(slave)}"\n')
    first, second = room.expected()[3], room.expected()[4]
    run = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config",
                            str(tmp_path / "stocktaker.toml")], cwd=tmp_path,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert run.stdin is not None and run.stdout is not None
        run.stdin.write(f"{first.asset_tag}\n".encode())
        run.stdin.flush()
        assert b"[feedback] verified" in run.stdout.readline()  # every reader is open now
        os.close(master)  # the UHF reader's cable is pulled: its reads fail
        master = -1
        run.stdin.write(f"{second.asset_tag}\n".encode())
        run.stdin.flush()
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    assert run.returncode == 0, err.decode()
    assert "a reader stopped, the others go on" in err.decode()
    report = only_report(tmp_path)
    assert [(s["asset_tag"], s["source"]) for s in report["scans"]] == [
        (first.asset_tag, "stdin"), (second.asset_tag, "stdin")]


def test_the_end_key_in_the_terminal_ends_the_room_and_the_next_label_starts_one(
        tmp_path: Path) -> None:
    room = make_room(4, location="Storage B")
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    first = [s.payload for s in room.scans[:3]]
    lines = ["LOC:Storage B", *first, "\x1bOP", "LOC:Storage B", room.scans[3].payload]

    done = run_stocktaker(tmp_path / "stocktaker.toml", "\n".join(lines).encode() + b"\n")

    assert done.returncode == 0, done.stderr.decode()
    reports = sorted((json.loads(p.read_text(encoding="utf-8"))
                      for p in (tmp_path / "out").glob("report-*.json")),
                     key=lambda r: r["started_at"])
    assert [len(r["scans"]) for r in reports] == [3, 1]  # F1 ended the first room
    assert {r["location"] for r in reports} == {"Storage B"}


def test_a_missing_manifest_audits_with_the_saved_copy_or_says_why(tmp_path: Path) -> None:
    room = make_room(6, location="Storage B")
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    lines = "\n".join(["LOC:Storage B", room.scans[0].payload]).encode() + b"\n"
    first = run_stocktaker(tmp_path / "stocktaker.toml", lines)
    assert first.returncode == 0, first.stderr.decode()
    (tmp_path / "expected.csv").unlink()  # the USB stick is out
    second = run_stocktaker(tmp_path / "stocktaker.toml", lines)
    assert second.returncode == 0, second.stderr.decode()
    assert b"is it plugged in?" in second.stderr
    assert len(list((tmp_path / "out").glob("report-*.json"))) == 2
    (tmp_path / "state" / "inventory.json").unlink()  # and nothing saved: a clear error
    third = run_stocktaker(tmp_path / "stocktaker.toml", lines)
    assert third.returncode == 4 and b"Traceback" not in third.stderr
    assert b"no expected inventory is saved on the device" in third.stderr
