"""``stocktaker hid-replay``: evtest recordings in tests/hid/ decoded as the device decodes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HID = Path(__file__).parent / "hid"


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", "hid-replay", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("layout", ["uk", "de", "fr"])
def test_each_layout_recording_decodes_to_the_same_labels(layout: str) -> None:
    done = replay(str(HID / f"{layout}-scans.txt"), "--keymap", layout)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        '{"payload": "IT-004512", "at": 1700000100.322}',
        '{"payload": "https://a.example/ht/Yz@1", "at": 1700000101.53}',
    ]


def test_us_recording_with_aim_prefix_gs_and_a_fast_scanner() -> None:
    done = replay(str(HID / "us-scans.txt"))
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == [
        '{"payload": "IT-004512", "at": 1700000000.172}',
        '{"payload": "]C18004IT-0001\\u001d21SN42", "at": 1700000001.848}',
        '{"payload": "5CG1234XYZ", "at": 1700000003.886}',
    ]
    assert json.loads(done.stdout.splitlines()[1])["payload"] == "]C18004IT-0001\x1d21SN42"


def test_the_wrong_keymap_gives_other_text_or_discards() -> None:
    done = replay(str(HID / "fr-scans.txt"), "--keymap", "us")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        '{"payload": "IT6))$%!@", "at": 1700000100.322}',
        '{"discarded": true, "reason": "unknown key AltGr+KEY_0 on the us keymap",'
        ' "at": 1700000101.53}',
    ]


FAULTS = [
    '{"discarded": true, "reason": "events dropped by the kernel (SYN_DROPPED)",'
    ' "at": 1700000200.072}',
    *[f'{{"discarded": true, "reason": "no terminator within 0.1 s of the last key'
      f' (1 character typed)", "at": {at}}}'
      for at in ("1700000201.184", "1700000201.484", "1700000201.784", "1700000202.084")],
    '{"discarded": true, "reason": "unknown key code 59 on the us keymap",'
    ' "at": 1700000203.336}',
    '{"payload": "it-9", "at": 1700000204.584}',
    '{"discarded": true, "reason": "no terminator within 0.1 s of the last key'
    ' (5 characters typed)", "at": 1700000205.728}',
]


def test_faults_recording_with_the_recorded_times() -> None:
    # a drop mid-scan, a person typing "IT-7" a key every 0.3 s, F1 inside a scan, a
    # scanner at 60 ms a character, and a scan cut off by the end of the recording
    done = replay(str(HID / "us-faults.txt"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == FAULTS


def test_a_longer_timeout_takes_the_slow_typing_as_a_scan() -> None:
    done = replay(str(HID / "us-faults.txt"), "--inter-key-timeout", "0.5",
                  "--terminator", "enter")
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[1] == '{"payload": "IT-7", "at": 1700000202.28}'
    assert len(lines) == 5


def test_tab_terminator() -> None:
    done = replay(str(HID / "us-scans.txt"), "--terminator", "tab")
    assert done.returncode == 0
    assert [json.loads(line).get("reason") for line in done.stdout.splitlines()] == [
        "no terminator within 0.1 s of the last key (10 characters typed)",
        "no terminator within 0.1 s of the last key (22 characters typed)",
        "no terminator within 0.1 s of the last key (11 characters typed)"]


def test_a_malformed_recording_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    lines = (HID / "us-scans.txt").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if i > 40 and line.endswith("value 1"))
    lines[n] = lines[n].replace("value 1", "value x\x1b[2J")
    bad.write_text("\n".join(lines) + "\n")
    done = replay(str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"stocktaker: error: {bad}, line {n + 1}: not an evtest event line: "
        f"{lines[n][:60] + '…'!r}".replace("\x1b", "\\x1b")]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("content", "problem"), [
    (b"\xff\xfe\x00binary", "line 1: not UTF-8 text"),
    (b"Event: time 1.5, type 1 (EV_KEY), code 30 (KEY_A), value 3\n", "line 1: key value '3'"),
])
def test_other_bad_recordings_exit_2(tmp_path: Path, content: bytes, problem: str) -> None:
    bad = tmp_path / "rec.txt"
    bad.write_bytes(content)
    done = replay(str(bad))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert f"{bad}, {problem}" in done.stderr


def test_missing_file_and_bad_timeout_exit_2(tmp_path: Path) -> None:
    done = replay(str(tmp_path / "none.txt"))
    assert done.returncode == 2 and "none.txt: cannot read" in done.stderr
    done = replay(str(HID / "us-scans.txt"), "--inter-key-timeout", "0")
    assert done.returncode == 2 and "--inter-key-timeout" in done.stderr
