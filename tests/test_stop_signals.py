"""Stop signals while standard input is still open: the real ``stocktaker run`` must exit 0.

A technician's Ctrl-C at a terminal, or systemd's SIGTERM to a device fed by a pipe, comes
while the stdin reader is waiting for the next line. The reader must be woken and its thread
ended before the interpreter exits (a thread left inside a read of ``sys.stdin`` aborts the
process at exit), for a pipe and for a terminal (a pseudo-terminal here), in both
``audit.on_stop`` modes, in kiosk mode and for ``stocktaker doctor --listen``; and for a UHF
reader on a serial port that never stops sending.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MANIFEST = ("asset_tag,location,status\nIT-1,Storage B,\nIT-2,Storage B,\nIT-3,Storage B,\n"
            "IT-4,Storage A,\n")
PEOPLE = "badge,employee_num,name,username\n0004211234,E-100,Ana Lopes,ana\n"
SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT]

HANDHELD = """\
[device]
id = "hh-1"
[audit]
technician = "ana"
repeat_window = 0
on_stop = "{on_stop}"
[display]
backend = "none"
[register]
manifest = "expected.csv"
outbox = "out"
[queue]
path = "state"
"""

KIOSK = """\
[device]
id = "door-1"
mode = "kiosk"
[kiosk]
location = "Storage B"
[audit]
repeat_window = 0
[display]
backend = "none"
[register]
manifest = "expected.csv"
people = "people.csv"
outbox = "out"
[queue]
path = "state"
"""


#: Run by the new session's leader: standard input (a terminal) becomes its controlling
#: terminal, so keys typed there (Ctrl-C) signal it as at a console; then the command runs
#: in its place.
TAKE_TERMINAL = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                 "os.execv(sys.argv[1], sys.argv[1:])")


class Device:
    """``python -m firmware …`` with standard input a pipe or a pseudo-terminal kept open."""

    def __init__(self, folder: Path, args: list[str], stdin: str) -> None:
        self.master: int | None = None
        slave: int | None = None
        if stdin in ("pty", "terminal"):
            self.master, slave = os.openpty()
        command = [sys.executable, "-m", "firmware", *args]
        if stdin == "terminal":  # the same process, once its terminal is its controlling one
            command = [sys.executable, "-c", TAKE_TERMINAL, *command]
        self.process = subprocess.Popen(
            command, cwd=folder, stdin=slave if slave is not None else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        if slave is not None:
            os.close(slave)  # the child holds it; the master keeps the terminal open
        self._written: tuple[bytes, bytes] | None = None

    def type(self, text: bytes) -> None:
        """Type lines on the device's standard input, leaving it open."""
        if self.master is not None:
            os.write(self.master, text)
        else:
            assert self.process.stdin is not None
            self.process.stdin.write(text)
            self.process.stdin.flush()

    def line(self) -> bytes:
        """The next line of standard output (readiness: the device said something)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the device ended early: {self.finish()[1]!r}"
        return line

    def stop(self, signum: int) -> tuple[int, bytes]:
        """Send ``signum`` with standard input still open; the exit code and stderr."""
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=60)  # not communicate(): it would close stdin
        except subprocess.TimeoutExpired:
            pytest.fail("the device did not end after the stop signal")
        return code, self.finish()[1]

    def finish(self) -> tuple[bytes, bytes]:
        """Kill what is left; close every end; what the device wrote. Safe to call twice."""
        if self._written is not None:
            return self._written
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None and self.process.stderr is not None
        out, err = self.process.stdout.read(), self.process.stderr.read()
        self._written = out, err
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self.master is not None:
            os.close(self.master)
            self.master = None
        return out, err


@contextmanager
def device(folder: Path, args: list[str], stdin: str) -> Iterator[Device]:
    running = Device(folder, args, stdin)
    try:
        yield running
    finally:
        running.finish()


def reports(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8"))
            for where in (folder / "out", folder / "state" / "reports") if where.is_dir()
            for p in sorted(where.glob("report-*.json"))]


def assert_clean_exit(code: int, err: bytes) -> None:
    assert b"Fatal Python error" not in err, err.decode(errors="replace")
    assert b"Traceback" not in err, err.decode(errors="replace")
    assert code == 0, err.decode(errors="replace")


@pytest.mark.parametrize("stdin", ["pipe", "pty"])
@pytest.mark.parametrize("on_stop", ["report", "keep"])
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_with_input_still_open_exits_0_with_one_report_or_the_room_kept(
        tmp_path: Path, signum: int, on_stop: str, stdin: str) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(HANDHELD.format(on_stop=on_stop), encoding="utf-8")
    with device(tmp_path, ["run", "--config", "c.toml"], stdin) as run:
        run.type(b"LOC:Storage B\nIT-1\nIT-4\n")
        # Each scan's feedback comes once it is durable: both are in the room now.
        assert all(run.line().startswith(b"[feedback]") for _ in range(2))
        code, err = run.stop(signum)
    assert_clean_exit(code, err)
    rooms = list((tmp_path / "state" / "rooms").glob("room-*.jsonl"))
    if on_stop == "keep":
        assert reports(tmp_path) == [] and len(rooms) == 1
        return
    (report,) = reports(tmp_path)
    assert report["counts"]["verified"] == 1 and report["counts"]["mislocated"] == 1
    assert report["interrupted"] is False and rooms == []


@pytest.mark.parametrize("key", [b"\x03", b"\x1c"], ids=["ctrl-c", "ctrl-backslash"])
def test_ctrl_c_typed_at_the_terminal_ends_the_room_with_exit_0(tmp_path: Path,
                                                                key: bytes) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(HANDHELD.format(on_stop="report"), encoding="utf-8")
    with device(tmp_path, ["run", "--config", "c.toml"], "terminal") as run:
        run.type(b"LOC:Storage B\nIT-1\n")
        assert run.line().startswith(b"[feedback]")
        run.type(key)  # the terminal signals the device, which was waiting for a line
        try:
            code = run.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the device did not end after the key")
        err = run.finish()[1]
    assert_clean_exit(code, err)
    (report,) = reports(tmp_path)
    assert report["counts"]["verified"] == 1


@pytest.mark.parametrize("stdin", ["pipe", "pty"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
def test_a_kiosk_stopped_with_input_still_open_exits_0_and_hands_the_visit_over(
        tmp_path: Path, signum: int, stdin: str) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "k.toml").write_text(KIOSK, encoding="utf-8")
    with device(tmp_path, ["run", "--config", "k.toml"], stdin) as run:
        run.type(b"BADGE:E-100\nIT-1\n")
        assert all(run.line().startswith(b"[feedback]") for _ in range(2))
        code, err = run.stop(signum)
    assert_clean_exit(code, err)
    # The check-out was durable before it was shown, and the last sync handed it over.
    (sent,) = (tmp_path / "out").glob("sightings-door-1.jsonl")
    (movement,) = [json.loads(line) for line in sent.read_text(encoding="utf-8").splitlines()]
    assert movement["asset_tag"] == "IT-1" and movement["person"]["employee_num"] == "E-100"


@pytest.mark.parametrize("stdin", ["pipe", "pty"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM],
                         ids=lambda s: signal.Signals(s).name)
def test_doctor_listen_stopped_with_input_still_open_exits_0(
        tmp_path: Path, signum: int, stdin: str) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(HANDHELD.format(on_stop="report"), encoding="utf-8")
    with device(tmp_path, ["doctor", "--listen", "--config", "c.toml"], stdin) as listen:
        assert listen.line() == b"listening to stdin; Ctrl-C to stop\n"
        listen.type(b"IT-1\n")
        assert b"IT-1" in listen.line()
        code, err = listen.stop(signum)
    assert_clean_exit(code, err)


def test_a_uhf_reader_that_never_stops_sending_is_stopped_cleanly(tmp_path: Path) -> None:
    """The serial reader's thread is inside a read of the port (tags keep coming) at the stop."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(
        HANDHELD.format(on_stop="report").replace(
            'technician = "ana"\n', 'technician = "ana"\nlocation = "Storage B"\n').replace(
            '[display]', '[scanner]\nbackend = "none"\n'
                                                  f'[rfid]\nbackend = "serial"\n'
                                                  f'port = "{port}"\nwindow = 3600\n'
                                                  '[display]'), encoding="utf-8")
    epc = b"3074257BF7194E4000001A85\r\n"  # not in the expected list: counted, never blocks
    try:
        with device(tmp_path, ["run", "--config", "c.toml"], "pipe") as run:
            assert run.process.stdout is not None
            deadline = time.monotonic() + 60
            seen = b""
            while b"[feedback]" not in seen:  # the reader has its port open and reads
                assert time.monotonic() < deadline, "the UHF read was never judged"
                os.write(master, epc)
                if select.select([run.process.stdout], [], [], 0.2)[0]:
                    seen += os.read(run.process.stdout.fileno(), 65536)
            os.write(master, epc * 8)  # more keeps coming as the stop arrives
            code, err = run.stop(signal.SIGTERM)
    finally:
        os.close(master)
        os.close(slave)
    assert_clean_exit(code, err)
    (report,) = reports(tmp_path)
    assert len(report["scans"]) == 1  # one tag, inside the window: one sighting
