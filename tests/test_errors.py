"""What a user sees when things go wrong: a one-line error with its exit code, no traceback,
and no text from outside (labels, register fields, report files) reaching a terminal raw."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import firmware.cli_commands
from firmware.cli import main
from firmware.room_report import format_report, load_report
from firmware.tags import payload_text
from firmware.text import terminal_safe
from hal.display.terminal import TerminalDisplay
from hal.errors import DeviceError, StocktakerError

#: What a label or a CSV cell may try on a terminal: clear the screen, retitle the window,
#: a C1 control sequence introducer, a right-to-left override.
HOSTILE = "\x1b[2J\x1b]0;title\x07\x9b31m\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")
SHOWN = "\\x1b[2J\\x1b]0;title\\x07\\u009b31m\\u202e"


def stocktaker(*args: str, scans: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command with ``scans`` on its standard input (none: input closed)."""
    return subprocess.run([sys.executable, "-m", "firmware", *args], input=scans,
                          stdin=None if scans is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def assert_nothing_raw(*texts: str) -> None:
    for text in texts:
        assert not [ch for ch in RAW if ch in text], text


# --- terminal_safe ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown"), [
    (HOSTILE, SHOWN),
    ("Größe 日本 \U0001f600 ok", "Größe 日本 \U0001f600 ok"),
    ("a\nb\tc\r", "a\\x0ab\\x09c\\x0d"),
    ("zero\u200bwidth\u2028line\u2029para\x7f", "zero\\u200bwidth\\u2028line\\u2029para\\x7f"),
    ("lone \udcff surrogate", "lone \\udcff surrogate"),
    ("tag \U000e0041 char", "tag \\U000e0041 char"),
    ("", ""),
])
def test_terminal_safe_shows_every_unprintable_character_as_an_escape(text: str,
                                                                      shown: str) -> None:
    assert terminal_safe(text) == shown


def test_terminal_safe_takes_anything() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert terminal_safe(42) == "42"
    assert terminal_safe(Path("a\x1bb")) == "a\\x1bb"
    assert terminal_safe(Hostile()) == "<Hostile>"


@given(st.text())
def test_terminal_safe_is_one_printable_line_and_agrees_with_payload_text(text: str) -> None:
    shown = terminal_safe(text)
    assert shown.isprintable()
    assert terminal_safe(shown) == shown
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        assert shown == payload_text(text.encode("utf-8"))


@given(st.binary())
def test_a_payload_rendered_by_payload_text_comes_out_unchanged(payload: bytes) -> None:
    assert terminal_safe(payload_text(payload)) == payload_text(payload)


# --- the report -----------------------------------------------------------------------------

def hostile_report() -> dict[str, Any]:
    h = HOSTILE
    return {
        "session_id": f"s{h}", "device_id": f"d{h}", "location": f"room{h}",
        "technician": f"tech{h}", "started_at": f"t0{h}", "ended_at": f"t1{h}",
        "clock_synchronized": True, "interrupted": True, "expected": 2,
        "counts": {"verified": 0, "mislocated": 1, "unregistered": 1, "retired": 0,
                   "recovered": 1, "ambiguous": 1, "repeat": 0, "rejected": 1, "ghost": 1,
                   f"new{h}": 3},
        "ghosts": [{"asset_tag": f"g{h}", "serial": f"gs{h}", "name": f"gn{h}"}],
        "mislocated": [{"asset_tag": f"m{h}", "recorded_location": f"ml{h}"}],
        "unregistered": [{"payload": f"u{h}", "symbology": f"us{h}", "reason": f"ur{h}"}],
        "recovered": [{"asset_tag": f"r{h}", "name": f"rn{h}", "status": f"rs{h}",
                       "recorded_location": f"rl{h}"}],
        "ambiguous": [{"payload": f"a{h}", "symbology": f"as{h}", "candidates": [
            {"asset_tag": f"c{h}", "serial": f"cs{h}", "name": f"cn{h}",
             "location": f"cl{h}"}]}],
        "warnings": [f"w{h}"],
        "scans": [{"verdict": "rejected", "payload": f"p{h}", "reason": f"pr{h}"}],
    }


def test_every_field_of_a_report_is_escaped() -> None:
    text = format_report(hostile_report())
    assert_nothing_raw(text)
    assert all(line.isprintable() for line in text.split("\n"))
    for prefix in ("s", "d", "room", "tech", "t0", "t1", "new", "g", "gs", "gn", "m", "ml",
                   "u", "us", "ur", "r", "rn", "rs", "rl", "a", "as", "c", "cs", "cn", "cl",
                   "w", "p", "pr"):
        assert prefix + SHOWN in text, prefix


def test_the_newer_parts_of_a_report_are_shown() -> None:
    report = {
        "session_id": "s1", "device_id": "hh-01", "location": "Storage B",
        "technician": "ana", "started_at": "t0", "ended_at": "t1",
        "clock_synchronized": True, "interrupted": True, "expected": 3,
        "counts": {"verified": 1, "mislocated": 0, "unregistered": 1, "retired": 0,
                   "recovered": 1, "ambiguous": 1, "repeat": 0, "rejected": 0, "ghost": 2},
        "unregistered": [{"payload": "OLD-1", "symbology": "QR",
                          "reason": "label of another register (old.example)"}],
        "recovered": [{"asset_tag": "IT-9", "name": "Laptop", "status": "Lost",
                       "recorded_location": "Storage A"}],
        "ambiguous": [{"payload": "5CG1", "symbology": "CODE128", "candidates": [
            {"asset_tag": "IT-1", "serial": "5CG1", "name": "Dock", "location": "Storage B"},
            {"asset_tag": "IT-2", "serial": "5CG1", "name": "Dock", "location": ""}]}],
        "warnings": ["serial 5CG1 is shared by IT-1 and IT-2"],
        "scans": [],
    }
    lines = format_report(report).split("\n")
    assert "  (interrupted: closed after a power cut)" in lines
    assert ("  mislocated 0  unregistered 1  retired 0  recovered 1  ambiguous 1  repeat 0"
            "  rejected 0  ghost 2") in lines
    assert "  OLD-1                          QR  (label of another register (old.example))" in lines
    assert ("  IT-9             Laptop  status Lost, registered at Storage A") in lines
    at = lines.index("Ambiguous (the label matches several assets):")
    assert lines[at + 1:at + 4] == [
        "  5CG1                           CODE128",
        "    IT-1             5CG1           Dock  at Storage B",
        "    IT-2             5CG1           Dock  at (none)",
    ]
    assert lines[-2:] == ["Warnings:", "  serial 5CG1 is shared by IT-1 and IT-2"]


def test_a_report_of_the_first_format_prints_as_it_always_did() -> None:
    report = {
        "session_id": "5f0c", "device_id": "hh-01", "location": "Storage B",
        "technician": "ana", "started_at": "2024-05-02T09:00:00Z",
        "ended_at": "2024-05-02T09:20:00Z", "clock_synchronized": False, "expected": 3,
        "counts": {"verified": 1, "mislocated": 1, "unregistered": 1, "retired": 0,
                   "repeat": 0, "rejected": 1, "ghost": 2},
        "ghosts": [{"asset_tag": "IT-2", "serial": "S2", "name": "Dock"},
                   {"asset_tag": "IT-3", "serial": "", "name": ""}],
        "mislocated": [{"asset_tag": "IT-9", "recorded_location": "Storage A"}],
        "unregistered": [{"payload": "IT-77", "symbology": "QR"}],
        "scans": [{"verdict": "rejected", "payload": "IT-\\x07",
                   "reason": "control character U+0007 in label"},
                  {"verdict": "verified", "payload": "IT-1"}],
    }
    assert format_report(report) == "\n".join([
        "Audit of Storage B by ana on hh-01",
        "  session 5f0c",
        "  2024-05-02T09:00:00Z -> 2024-05-02T09:20:00Z  (device clock not synchronised)",
        "  verified 1 of 3 expected",
        "  mislocated 1  unregistered 1  retired 0  repeat 0  rejected 1  ghost 2",
        "Ghosts (expected here, not seen):",
        "  IT-2             S2             Dock",
        "  IT-3                            ",
        "Mislocated (register says elsewhere):",
        "  IT-9             registered at Storage A",
        "Unregistered (unknown to the register):",
        "  IT-77                          QR",
        "Rejected labels:",
        "  IT-\\x07                        control character U+0007 in label",
    ])


BASE = {"session_id": "s1", "counts": {"verified": 1}, "scans": []}

#: Reports of the right top level with parts of the wrong shape: shown as far as possible.
ODD_SHAPES = {
    "counts-a-list": {**BASE, "counts": [1, 2]},
    "scans-a-string": {**BASE, "scans": "x"},
    "scans-of-numbers": {**BASE, "scans": [1, None, {"verdict": "rejected", "payload": 5}]},
    "ghosts-not-objects": {**BASE, "ghosts": ["IT-1", 5, None, ["x"]]},
    "ghosts-an-object": {**BASE, "ghosts": {"asset_tag": "IT-1"}},
    "numbers-for-text": {**BASE, "location": 5, "technician": [1], "device_id": {"a": 1},
                         "mislocated": [{"asset_tag": 7, "recorded_location": 8.5}]},
    "nothing-but-the-keys": {"session_id": None, "counts": {}, "scans": []},
    "candidates-not-a-list": {**BASE, "ambiguous": [{"payload": "x", "candidates": "IT-1"}]},
    "warnings-odd": {**BASE, "warnings": "one warning"},
    "warnings-of-numbers": {**BASE, "warnings": [1, None, {"a": "\x1b"}]},
    "interrupted-a-string": {**BASE, "interrupted": "yes", "clock_synchronized": "yes"},
    "nan-and-huge": {**BASE, "expected": float("nan"), "counts": {"verified": 10**300}},
}


@pytest.mark.parametrize("report", ODD_SHAPES.values(), ids=ODD_SHAPES.keys())
def test_a_report_of_odd_shape_is_shown_as_far_as_possible(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], report: dict[str, Any]) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["report", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Audit of ") and err == ""
    assert_nothing_raw(out)


def test_what_was_not_understood_is_named() -> None:
    text = format_report({**BASE, "counts": [1], "ghosts": ["IT-1", {"asset_tag": "IT-2"}]})
    assert "  IT-1" in text and "  IT-2" in text
    assert text.split("\n")[-1] == ("(not as stocktaker writes it, shown as far as possible:"
                                    " counts is not an object; 1 of the ghosts entries are"
                                    " not objects)")


#: Files that are no report at all: exit code 2 and a one-line message naming the file.
NOT_REPORTS = {
    "a-list": (b"[1, 2]", "not a JSON object"),
    "a-string": (b'"report"', "not a JSON object"),
    "no-keys": (b"{}", "no session_id, counts, scans"),
    "binary": (bytes(range(256)) * 4, "is not UTF-8 text"),
    "truncated": (json.dumps(BASE).encode()[:-3], "not JSON"),
    "nested-deep": (b"[" * 200_000 + b"]" * 200_000, "not JSON"),
    "huge-integer": (b'{"session_id": ' + b"9" * 5000 + b"}", "not JSON"),
    "empty": (b"", "not JSON"),
}


@pytest.mark.parametrize(("data", "message"), NOT_REPORTS.values(), ids=NOT_REPORTS.keys())
def test_a_file_that_is_not_a_report_is_an_input_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(data)
    assert main(["report", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"stocktaker: error: {path}: ") and message in err


def test_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    done = stocktaker("report", str(path))
    assert done.returncode == 2 and "over 16 MiB" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("where", ["missing", "folder", "device"])
def test_a_report_path_that_is_not_a_file_is_an_input_error(tmp_path: Path, where: str) -> None:
    path = {"missing": tmp_path / "nope.json", "folder": tmp_path,
            "device": Path("/dev/zero")}[where]
    with pytest.raises(StocktakerError) as caught:
        load_report(path)
    assert caught.value.exit_code == 2 and str(path) in str(caught.value)


def test_a_hostile_report_file_prints_escaped(tmp_path: Path) -> None:
    path = tmp_path / f"report{HOSTILE}.json"
    path.write_text(json.dumps(hostile_report(), ensure_ascii=False), encoding="utf-8")
    done = stocktaker("report", str(path))
    assert done.returncode == 0, done.stderr
    assert_nothing_raw(done.stdout, done.stderr)
    assert f"Audit of room{SHOWN} by tech{SHOWN} on d{SHOWN}" in done.stdout
    path.write_text("[]", encoding="utf-8")
    done = stocktaker("report", str(path))
    assert done.returncode == 2 and SHOWN in done.stderr
    assert_nothing_raw(done.stderr)


# --- stocktaker run on hostile register data ----------------------------------------------

def hostile_room(tmp_path: Path, manifest: str) -> Path:
    (tmp_path / "expected.csv").write_text(manifest, encoding="utf-8")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / f"{HOSTILE}.png").write_bytes(b"not an image")
    config = tmp_path / "stocktaker.toml"
    config.write_text(
        "[audit]\nlocation = 'Store'\n[camera]\nbackend = 'files'\n"
        "[display]\nbackend = 'terminal'\n[feedback]\nbackend = 'terminal'\n",
        encoding="utf-8")
    return config


def test_stocktaker_run_escapes_what_the_register_and_labels_hold(tmp_path: Path) -> None:
    config = hostile_room(tmp_path, (
        "asset_tag,serial,name,location,status,assigned_to\n"
        f'IT-1,S1,"Laptop{HOSTILE}",Store,,\n'
        f'IT-2,S2,Dock,"Lab{HOSTILE}",,\n'
        f'"IT-3{HOSTILE}",S3,Phone,Store,,\n'))
    done = stocktaker("run", "--config", str(config), scans=f"IT-2\r{HOSTILE}\nX\u202eY\r\n")
    # The register's export may be refused for what it holds (exit 2) or audited (exit 0):
    # either way nothing of it reaches the terminal raw, and nothing crashes.
    assert done.returncode in (0, 2), done.stderr
    assert_nothing_raw(done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


def test_stocktaker_run_escapes_free_text_and_file_names(tmp_path: Path) -> None:
    config = hostile_room(tmp_path, (
        "asset_tag,serial,name,location,status,assigned_to\n"
        'IT-1,S1,"Two\nlines\tand a tab",Store,,\n'
        "IT-2,S2,Dock,Store,,\n"))
    done = stocktaker("run", "--config", str(config), scans=f"IT-2\r{HOSTILE}\r")
    assert done.returncode == 0, done.stderr
    assert_nothing_raw(done.stdout, done.stderr)
    assert "  IT-1             S1             Two\\x0alines\\x09and a tab" in done.stdout
    assert f"  {SHOWN} control character U+001B in label" in done.stdout
    assert f"rejected {SHOWN}" in done.stdout  # the display's caption
    assert "WARNING hal.camera: skipping frame: cannot read image" in done.stderr
    assert f"{SHOWN}.png" in done.stderr  # the log names the file, escaped


def test_stocktaker_run_with_standard_input_closed_ends_the_room_at_once(
        tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text("asset_tag,location\nIT-1,Store\n",
                                           encoding="utf-8")
    config = tmp_path / "stocktaker.toml"
    config.write_text("[audit]\nlocation = 'Store'\n[display]\nbackend = 'none'\n",
                      encoding="utf-8")
    done = subprocess.run(  # <&- : no file descriptor 0 at all, so sys.stdin is None
        ["bash", "-c", 'exec "$@" <&-', "-", *command("run", "--config", str(config))],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Ghosts (expected here, not seen):\n  IT-1" in done.stdout


# --- the last line of defence ---------------------------------------------------------------

def test_an_unexpected_error_is_one_escaped_line_and_exit_code_1(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(args: object) -> int:
        raise RuntimeError(f"boom{HOSTILE}\nsecond line")

    monkeypatch.setattr(firmware.cli_commands, "report", broken)
    assert main(["report", "x.json"]) == 1
    err = capsys.readouterr().err
    assert err == (f"stocktaker: internal error: RuntimeError: boom{SHOWN}\\x0asecond line"
                   " (details in the log with -vv)\n")


def test_ctrl_c_outside_the_scan_loop_is_a_quiet_exit_130(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(firmware.cli_commands, "report", interrupted)
    assert main(["report", "x.json"]) == 130
    assert capsys.readouterr().err == ""


def test_the_log_escapes_messages_and_keeps_a_traceback_readable(tmp_path: Path) -> None:
    script = (
        "import logging, sys\n"
        "from firmware import cli, cli_commands\n"
        "def broken(args):\n"
        "    logging.getLogger('t').warning('label %s', sys.argv[1])\n"
        "    raise ValueError(sys.argv[1])\n"
        "cli_commands.report = broken\n"
        "sys.exit(cli.main(['-vv', 'report', 'x']))\n")
    done = subprocess.run([sys.executable, "-c", script, HOSTILE], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert_nothing_raw(done.stderr)
    lines = done.stderr.splitlines()
    assert f"WARNING t: label {SHOWN}" in lines
    assert "DEBUG stocktaker: internal error" in lines
    assert "Traceback (most recent call last):" in lines  # asked for with -vv, line by line
    assert f"ValueError: {SHOWN}" in lines
    assert lines[-1] == (f"stocktaker: internal error: ValueError: {SHOWN}"
                         " (details in the log with -vv)")


# --- closed pipes ---------------------------------------------------------------------------

def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "firmware", *args]


def read_one_line_then_close(args: list[str],
                             stdin: Any = subprocess.DEVNULL) -> tuple[int, str]:
    """``stocktaker ... | head -1``: read a line, close the pipe; the exit code and stderr."""
    with subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait(timeout=120)
    assert first, err
    return code, err


def big_report(tmp_path: Path) -> Path:
    report = {**BASE, "ghosts": [{"asset_tag": f"IT-{n}", "serial": f"S{n}", "name": "Dock"}
                                 for n in range(5000)]}  # far more than a pipe holds
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_report_into_a_pipe_closed_early_stops_quietly(tmp_path: Path) -> None:
    code, err = read_one_line_then_close(command("report", str(big_report(tmp_path))))
    assert code == 141 and err == ""


def test_decode_into_a_pipe_closed_at_once_stops_quietly(tmp_path: Path) -> None:
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    with subprocess.Popen(command("decode", str(tmp_path / "blank.png")),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # head -0
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141 and err == ""


def test_run_into_a_pipe_closed_early_stops_quietly_and_keeps_the_report(
        tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text(
        "asset_tag,serial,name,location,status,assigned_to\nIT-1,S1,Dock,Store,,\n",
        encoding="utf-8")
    config = tmp_path / "stocktaker.toml"
    config.write_text("[audit]\nlocation = 'Store'\nrepeat_window = 0\n"
                      "[display]\nbackend = 'terminal'\n[feedback]\nbackend = 'terminal'\n",
                      encoding="utf-8")
    scans = tmp_path / "scans.txt"
    scans.write_bytes(b"".join(b"UNKNOWN-%d\r" % n for n in range(300)))
    with scans.open("rb") as stdin:
        code, err = read_one_line_then_close(command("run", "--config", str(config)), stdin)
    assert code == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert list((tmp_path / "out").glob("report-*.json"))  # the room's report was written


# --- the terminal display ------------------------------------------------------------------

def test_the_terminal_display_escapes_its_caption() -> None:
    stream = io.StringIO()
    TerminalDisplay(stream=stream).show(Image.new("1", (128, 64)), f"room {HOSTILE}")
    assert stream.getvalue().split("\n")[0] == f"room {SHOWN}"


def test_the_terminal_display_on_a_closed_pipe_is_a_device_error(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    frame = Image.new("1", (128, 64))
    with open(write_end, "w", encoding="utf-8") as stream:
        display = TerminalDisplay(stream=stream, screens_dir=tmp_path)
        with pytest.raises(DeviceError, match="cannot print the display on its terminal"):
            display.show(frame, "verified IT-1")
        with pytest.raises(DeviceError):
            display.show(frame, "verified IT-2")
        assert [f.caption for f in display.frames] == ["verified IT-1", "verified IT-2"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "0001-verified-it-1.png", "0002-verified-it-2.png"]
        with pytest.raises(OSError):
            stream.close()  # the unwritten frame cannot be flushed either


def test_the_terminal_display_on_a_closed_stream_is_a_device_error() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(DeviceError):
        TerminalDisplay(stream=stream).show(Image.new("1", (128, 64)), "x")
