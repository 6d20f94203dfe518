"""``audit.repeat_window`` never spans a change of who (a badge) or where (a room label).

Each case runs ``stocktaker run`` with the lines typed on standard input at once, well
within a 30-second window.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MANIFEST = ("asset_tag,serial,name,location,status,assigned_to,id\n"
            "IT-1,SN-1,Laptop,Storage B,,,1\n"
            "IT-2,SN-2,Dock,Storage B,,,2\n"
            "IT-3,SN-3,Monitor,Storage A,,,3\n")
PEOPLE = ("badge,employee_num,name,username,id\n"
          "0004211234,E-100,Ana Lopes,ana,7\n"
          "0004215678,E-101,Bo Berg,bo,8\n")


def write_config(folder: Path, mode: str) -> Path:
    (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (folder / "people.csv").write_text(PEOPLE, encoding="utf-8")
    kiosk = ['[kiosk]', 'location = "storage  b"', 'session_timeout = 600']
    lines = ['[device]', 'id = "dev-1"', f'mode = "{mode}"', *(kiosk if mode == "kiosk" else []),
             '[audit]', 'technician = "ana"', 'repeat_window = 30',
             *(['location = "Storage B"'] if mode == "handheld" else []),
             '[camera]', 'backend = "none"', '[scanner]', 'backend = "stdin"',
             '[display]', 'backend = "none"', '[feedback]', 'backend = "none"',
             '[register]', 'adapter = "files"', 'manifest = "expected.csv"',
             'people = "people.csv"', 'outbox = "out"', '[queue]', 'path = "state"']
    path = folder / "stocktaker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(config: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                          input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=300, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return done


def sightings(folder: Path) -> list[dict]:
    text = (folder / "out" / "sightings-dev-1.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]  # in the order they were scanned


def test_at_the_kiosk_bo_returns_the_laptop_ana_took_a_second_before(tmp_path: Path) -> None:
    config = write_config(tmp_path, "kiosk")
    run(config, ["BADGE:0004211234", "IT-1", "BADGE:0004215678", "IT-1"])
    events = [(r["verdict"], r["asset_tag"], (r["person"] or {}).get("username"))
              for r in sightings(tmp_path)]
    assert events == [("checked_out", "IT-1", "ana"), ("checked_in", "IT-1", "bo")]
    movements = subprocess.run([sys.executable, "-m", "firmware", "report", "--movements",
                                "--config", str(config)], capture_output=True, text=True,
                               timeout=120)
    assert movements.returncode == 0, movements.stderr
    assert "Out now (0)" in movements.stdout


def test_at_the_kiosk_the_same_person_scanning_twice_is_still_one_read(tmp_path: Path) -> None:
    config = write_config(tmp_path, "kiosk")
    # A refused badge changes no one: the laptop read again is still a repeat.
    run(config, ["BADGE:0004211234", "IT-1", "BADGE:999", "IT-1", "IT-1"])
    assert [r["verdict"] for r in sightings(tmp_path)] == ["checked_out"]


def test_on_the_handheld_a_room_label_starts_a_new_window(tmp_path: Path) -> None:
    config = write_config(tmp_path, "handheld")
    # Storage B (configured), then the technician carries the monitor into Storage A.
    run(config, ["IT-3", "LOC:Storage A", "IT-3", "IT-3"])
    scans = [(r["location"], r["asset_tag"], r["verdict"]) for r in sightings(tmp_path)]
    assert scans == [("Storage B", "IT-3", "mislocated"), ("Storage A", "IT-3", "verified")]
    reports = [json.loads(p.read_text(encoding="utf-8"))
               for p in (tmp_path / "out").glob("report-*.json")]
    dropped = {r["location"]: r["repeat_reads_dropped"] for r in reports}
    assert dropped == {"Storage B": 0, "Storage A": 1}
