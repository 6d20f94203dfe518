"""Bad environments and bad saved files: each one a stocktaker error, and nothing lost."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import QueueError
from firmware.room_report import format_report
from sync.pending_reports import PendingReports

HOSTILE = "\x1b[2J\u202e"
SHOWN = "\\x1b[2J\\u202e"


def stocktaker(*args: str, cwd: Path, scans: str = "") -> subprocess.CompletedProcess[str]:
    """Run the command in ``cwd`` with ``scans`` on its standard input."""
    return subprocess.run([sys.executable, "-m", "firmware", *args], input=scans, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def saved_report(session_id: str = "0d6f3a52-3f0e-4c38-9a51-1f0c2b7de001",
                 **fields: Any) -> dict[str, Any]:
    """A report as the handheld saves it, reduced to what handing it over needs."""
    return {"session_id": session_id, "device_id": "hh-1", "location": "Store",
            "counts": {"verified": 0}, "ghosts": [], "scans": [], **fields}


# --- saved reports that are not reports --------------------------------------------------------

NOT_REPORTS = {
    "a-list": b"[1, 2]",
    "a-string": b'"report"',
    "null": b"null",
    "no-session-id": json.dumps({"scans": []}).encode(),
    "session-id-a-number": json.dumps({"session_id": 7, "scans": []}).encode(),
    "session-id-empty": json.dumps({"session_id": "", "scans": []}).encode(),
    "no-scans": json.dumps({"session_id": "s"}).encode(),
    "scans-a-string": json.dumps({"session_id": "s", "scans": "IT-1"}).encode(),
    "scans-an-object": json.dumps({"session_id": "s", "scans": {"a": 1}}).encode(),
    "scans-of-numbers": json.dumps({"session_id": "s", "scans": [1]}).encode(),
    "ghosts-a-number": json.dumps({"session_id": "s", "scans": [], "ghosts": 3}).encode(),
    "nested-too-deep": b"[" * 200_000 + b"]" * 200_000,
    "huge-integer": b'{"session_id": ' + b"9" * 5000 + b"}",
    "truncated": json.dumps(saved_report()).encode()[:-3],
    "not-utf-8": b'{"session_id": "\xff"}',
    "empty": b"",
}


@pytest.mark.parametrize("content", NOT_REPORTS.values(), ids=NOT_REPORTS.keys())
def test_a_saved_file_that_is_no_report_is_set_aside_and_kept(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes) -> None:
    reports = PendingReports(tmp_path)
    good = reports.add(saved_report())
    bad = tmp_path / "report-0000-bad.json"
    bad.write_bytes(content)
    with caplog.at_level(logging.ERROR, logger="sync.pending_reports"):
        assert reports.items() == [(good, saved_report())]
    assert not bad.exists()
    assert (tmp_path / "report-0000-bad.json.damaged").read_bytes() == content
    assert "report-0000-bad.json" in caplog.text and "set aside" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="sync.pending_reports"):
        assert reports.items() == [(good, saved_report())]
    assert caplog.text == "", "a file set aside is not complained about at every start"


def test_setting_aside_never_overwrites_an_earlier_damaged_file(tmp_path: Path) -> None:
    reports = PendingReports(tmp_path)
    name = "report-s.json"
    (tmp_path / f"{name}.damaged").write_bytes(b"first")
    (tmp_path / name).write_bytes(b"second")
    assert reports.items() == []
    (tmp_path / name).write_bytes(b"third")
    assert reports.items() == []
    assert (tmp_path / f"{name}.damaged").read_bytes() == b"first"
    assert (tmp_path / f"{name}.damaged-2").read_bytes() == b"second"
    assert (tmp_path / f"{name}.damaged-3").read_bytes() == b"third"


def test_a_report_of_the_same_room_is_saved_beside_the_damaged_one(tmp_path: Path) -> None:
    reports = PendingReports(tmp_path)
    report = saved_report("s1")
    path = tmp_path / "report-s1.json"
    path.write_bytes(b"{torn")
    assert reports.items() == []
    assert reports.add(report) == path
    assert reports.items() == [(path, report)]
    assert (tmp_path / "report-s1.json.damaged").read_bytes() == b"{torn"


def test_a_damaged_file_that_cannot_be_renamed_is_left_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    reports = PendingReports(tmp_path)
    bad = tmp_path / "report-s.json"
    bad.write_bytes(b"[]")

    def refused(self: Path, target: Any) -> Path:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "rename", refused)
    with caplog.at_level(logging.ERROR, logger="sync.pending_reports"):
        assert reports.items() == []
    assert bad.read_bytes() == b"[]"
    assert "left in place" in caplog.text and os.strerror(errno.EROFS) in caplog.text


def test_an_unreadable_saved_report_is_left_in_place(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reports = PendingReports(tmp_path)
    (tmp_path / "report-s.json").mkdir()  # reading it fails with EISDIR
    with caplog.at_level(logging.ERROR, logger="sync.pending_reports"):
        assert reports.items() == []
    assert (tmp_path / "report-s.json").is_dir()
    assert "unreadable saved report left in place" in caplog.text


@pytest.mark.parametrize("where", ["unlink", "fsync"])
def test_a_report_that_cannot_be_removed_is_a_queue_error_and_stays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    reports = PendingReports(tmp_path)
    path = reports.add(saved_report())

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with monkeypatch.context() as patch:
        if where == "unlink":
            patch.setattr(Path, "unlink", fail)
        else:
            patch.setattr(os, "fsync", fail)
        with pytest.raises(QueueError, match=os.strerror(errno.EIO)) as caught:
            reports.remove(path)
    assert str(path) in str(caught.value) and caught.value.exit_code == 5
    if where == "unlink":
        assert reports.items() == [(path, saved_report())]


def test_run_starts_and_ends_past_a_damaged_saved_report(tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text("asset_tag,location\nIT-1,Store\n", encoding="utf-8")
    (tmp_path / "stocktaker.toml").write_text(
        "[audit]\nlocation = 'Store'\n[display]\nbackend = 'none'\n[feedback]\nbackend = 'none'\n",
        encoding="utf-8")
    saved = tmp_path / "state" / "reports"
    saved.mkdir(parents=True)
    (saved / "report-old.json").write_text('{"session_id": "old", "scans": "x"}',
                                           encoding="utf-8")
    done = stocktaker("run", "--config", "stocktaker.toml", cwd=tmp_path, scans="IT-1\r")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "report-old.json" in done.stderr and "set aside" in done.stderr
    assert (saved / "report-old.json.damaged").exists()
    assert len(list((tmp_path / "out").glob("report-*.json"))) == 1  # this room's, handed over


# --- the environment at start -------------------------------------------------------------

def test_a_camera_folder_name_too_long_exits_3_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text("asset_tag,location\nIT-1,Store\n", encoding="utf-8")
    (tmp_path / "stocktaker.toml").write_text(
        "[audit]\nlocation = 'Store'\n[camera]\nbackend = 'files'\n"
        f"path = '{'x' * 5000}'\n[display]\nbackend = 'none'\n", encoding="utf-8")
    done = stocktaker("run", "--config", "stocktaker.toml", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("stocktaker: error: cannot use camera image folder ")
    assert last.endswith("x: File name too long")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder of mode 0o500")
def test_a_read_only_state_folder_exits_5_at_start(tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text("asset_tag,location\nIT-1,Store\n", encoding="utf-8")
    (tmp_path / "stocktaker.toml").write_text(
        "[audit]\nlocation = 'Store'\n[display]\nbackend = 'none'\n", encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        done = stocktaker("run", "--config", "stocktaker.toml", cwd=tmp_path, scans="IT-1\r")
    finally:
        state.chmod(0o700)
    assert done.returncode == 5, done.stderr
    assert "read-only" in done.stderr.splitlines()[-1]


# --- the layers ----------------------------------------------------------------------------

def test_hal_imports_nothing_from_the_layers_above_it() -> None:
    script = (
        "import importlib, pkgutil, sys, hal\n"
        "for module in pkgutil.walk_packages(hal.__path__, 'hal.'):\n"
        "    importlib.import_module(module.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('firmware', 'sync')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_terminal_safe_is_one_function_wherever_it_is_imported_from() -> None:
    import firmware.text
    import hal.text

    assert firmware.text.terminal_safe is hal.text.terminal_safe
    assert hal.text.terminal_safe(HOSTILE) == SHOWN


# --- how often a room was resumed -----------------------------------------------------------

def test_a_resumed_room_says_how_often() -> None:
    lines = format_report(saved_report(resumed=2)).split("\n")
    assert "  resumed 2 times after an interruption" in lines
    assert "  resumed 1 time after an interruption" in format_report(saved_report(resumed=1))


@pytest.mark.parametrize("report", [saved_report(), saved_report(resumed=0),
                                    saved_report(resumed=None)])
def test_a_room_never_resumed_says_nothing_of_it(report: dict[str, Any]) -> None:
    text = format_report(report)
    assert "resumed" not in text and "not as stocktaker writes it" not in text


@pytest.mark.parametrize("odd", ["2", f"2{HOSTILE}", True, -1, 2.5, [2], {"n": 2}])
def test_a_resumed_count_of_odd_shape_is_named_not_shown_raw(odd: Any) -> None:
    text = format_report(saved_report(resumed=odd))
    assert all(line.isprintable() for line in text.split("\n"))
    assert "after an interruption" not in text
    assert text.split("\n")[-1] == ("(not as stocktaker writes it, shown as far as possible:"
                                    " resumed is not a count)")
