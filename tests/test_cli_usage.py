"""Command-line usage a new user meets first: ``bench`` alone, ``report --movements``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sync.asset import Asset
from firmware.movement_report import room_spelling
from tests.test_repeat_window import write_config


def stocktaker(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", *args], input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_bench_alone_lists_the_benches_and_exits_2() -> None:
    done = stocktaker("bench")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "stocktaker: error: bench needs BENCH, one of:"
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["scan", "room", "queue", "sync", "decode", "camera", "nautobot", "receiver",
                     "dashboard", "all"]
    assert all(len(line.split()) > 3 for line in lines[1:])  # each says what it measures
    assert "required" not in done.stderr and "what" not in done.stderr


def test_bench_help_lists_the_benches_too() -> None:
    done = stocktaker("bench", "--help")
    assert done.returncode == 0
    assert "benches:\n  scan " in done.stdout and "\n  nautobot " in done.stdout


def test_report_movements_without_config_asks_for_it(tmp_path: Path) -> None:
    done = stocktaker("report", "--movements")
    assert done.returncode == 2
    assert done.stderr == ("stocktaker: error: report --movements needs --config FILE, the door"
                           " kiosk's configuration\n")


def test_report_movements_of_a_handheld_configuration_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, "handheld")
    done = stocktaker("report", "--movements", "--config", str(config))
    assert done.returncode == 2 and done.stdout == ""
    assert "is not a door kiosk's configuration (device.mode = 'handheld')" in done.stderr


def test_the_movement_report_spells_the_room_as_the_register_does(tmp_path: Path) -> None:
    config = write_config(tmp_path, "kiosk")  # kiosk.location = "storage  b"
    assert stocktaker("run", "--config", str(config),
                      stdin="BADGE:0004211234\nIT-1\n").returncode == 0
    done = stocktaker("report", "--movements", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Movements at Storage B (dev-1), times UTC"
    rows = next((tmp_path / "out").glob("movements-dev-1-*.csv")).read_text(encoding="utf-8")
    assert ",Storage B," in rows  # the CSV's room, the same spelling


def test_room_spelling_from_the_events_then_the_saved_inventory() -> None:
    events = [(1.0, {"location": "Lab 2"}), (2.0, {"location": "STORAGE B"}),
              (3.0, {"location": "Storage  B"})]
    assets = [Asset("IT-1", location="Storage B ")]
    assert room_spelling("storage b", events, assets) == "Storage  B"
    assert room_spelling("storage b", [], [Asset("IT-9", location="Lab 2"), *assets]) \
        == "Storage B "
    assert room_spelling("storage   b", [], []) == "storage b"
