""""Last sync" is the last time the register answered, also when nothing was queued.

Real registers on loopback: the reference receiver (``stocktaker register-server``
subprocesses, stopped and started again on the same port) and the Snipe-IT emulator. With
an empty queue, a round asks the register one cheap question (``Register.check``); a
register that is down or refuses the token makes ``stocktaker sync`` exit 4, leaves the
last sync where it was, keeps "all sent" off the idle screen and puts
``stocktaker_register_reachable 0`` in the health textfile.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from firmware import screens
from hal.clock import SystemClock
from firmware.config import RegisterConfig
from firmware.errors import RegisterError, RegisterRefused, RegisterUnavailable
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Inventory
from firmware.mode import IDLE_LOOK_EVERY
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from sync.engine import SyncEngine
from sync.files import FilesRegister
from sync.http import HttpRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports
from sync.snipeit import SnipeItRegister
from tests.snipeit_emulator import SnipeItEmulator
from tests.test_receiver import (
    TOKEN,
    _first_line,
    receiver_command,
    stop_process,
    write_manifest,
    write_token,
)

WAIT = 120.0
"""The most a test waits for a running device to notice a change (never reached when
all is well; a loaded machine may be slow, so this is generous)."""


class Receiver:
    """A ``stocktaker register-server`` that can be stopped and started on the same port."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.manifest = write_manifest(folder / "expected.csv")
        self.token_file = write_token(folder / "token")
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen(
            receiver_command(self.folder / "receiver.sqlite", self.manifest, self.token_file,
                             self.port),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self.url = _first_line(self.proc, timeout=60)
        assert self.url.startswith("http://127.0.0.1:"), self.url
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path / "receiver")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def device_config(folder: Path, url: str, token_file: Path, *, extra: str = "") -> Path:
    """A handheld with the http adapter, typed scans, and a fast idle sync."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stocktaker.toml"
    path.write_text("\n".join([
        "[device]", 'id = "hh-01"', "[audit]", 'location = "Storage A"',
        "[scanner]", 'backend = "stdin"', "[display]", 'backend = "none"',
        "[feedback]", 'backend = "none"',
        "[register]", 'adapter = "http"', f'url = "{url}"', f'token_file = "{token_file}"',
        "timeout = 5",
        "[sync]", "interval = 0.2", "backoff_max = 1",
        "[queue]", 'path = "state"',
    ]) + "\n" + extra, encoding="utf-8")
    return path


def stocktaker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def queue_status(config: Path) -> dict[str, Any]:
    done = stocktaker("queue", "status", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- each adapter's check ---------------------------------------------------------------


def test_the_http_check_is_one_cheap_authenticated_call(receiver: Receiver) -> None:
    with HttpRegister(receiver.url, TOKEN, "hh-01") as register:
        register.check()
        answer = register.client.request("GET", "/api/v1/manifest",
                                         headers={"If-None-Match": "*"}, ok=(200, 304))
        assert answer.status_code == 304 and not answer.content  # no manifest downloaded
    with HttpRegister(receiver.url, "wrong-token", "hh-01") as register, \
            pytest.raises(RegisterRefused, match="refused the token"):
        register.check()
    url = receiver.url
    receiver.stop()
    with HttpRegister(url, TOKEN, "hh-01", timeout=5) as register, \
            pytest.raises(RegisterUnavailable, match="cannot reach the register"):
        register.check()


def test_the_snipeit_check_needs_the_token(tmp_path: Path) -> None:
    token_file = write_token(tmp_path / "token", "snipe-token")
    with SnipeItEmulator(token="snipe-token") as emulator:
        config = RegisterConfig(adapter="snipeit", url=emulator.url, token_file=token_file,
                                outbox=tmp_path / "out")
        with SnipeItRegister(config, "hh-01") as register:
            register.check()
        assert [(r.method, r.path, r.query.get("limit"), r.status)
                for r in emulator.requests] == [("GET", "/api/v1/hardware", "1", 200)]
        write_token(token_file, "stale-token")
        with SnipeItRegister(config, "hh-01") as register, \
                pytest.raises(RegisterRefused, match="HTTP 401"):
            register.check()


def test_the_files_check_needs_the_manifest_and_a_writable_outbox(tmp_path: Path) -> None:
    register = FilesRegister(tmp_path / "stick" / "expected.csv", tmp_path / "stick" / "out",
                             "hh-01")
    with pytest.raises(RegisterUnavailable, match="is it plugged in"):
        register.check()
    (tmp_path / "stick").mkdir()
    write_manifest(tmp_path / "stick" / "expected.csv")
    register.check()  # the outbox is made when first needed: its folder is writable
    (tmp_path / "stick" / "out").write_text("a file where the folder should be")
    with pytest.raises(RegisterError, match="outbox folder"):
        register.check()


class EmptyNotFound(BaseHTTPRequestHandler):
    """A web server with nothing at the register's paths: 404 with an empty body."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_empty_error_answer_names_the_url_and_the_likely_cause() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptyNotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/inventory"
        with HttpRegister(url, TOKEN, "hh-01") as register, \
                pytest.raises(RegisterError) as caught:
            register.check()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    message = str(caught.value)
    assert f"GET {url}/api/v1/manifest: HTTP 404: " in message
    assert "register.url is probably wrong" in message and not message.endswith(": ")


# --- stocktaker sync with nothing queued ----------------------------------------------


def test_sync_with_nothing_queued_exits_4_unless_the_register_answers(
        receiver: Receiver, tmp_path: Path) -> None:
    config = device_config(tmp_path / "device", receiver.url, receiver.token_file)
    done = stocktaker("sync", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the register answered" in done.stdout
    answered = queue_status(config)["last_sync"]
    assert answered is not None

    receiver.stop()
    done = stocktaker("sync", "--config", str(config))
    assert done.returncode == 4, done.stdout + done.stderr
    assert "cannot reach the register" in done.stdout and "Traceback" not in done.stderr
    status = queue_status(config)
    assert status["last_sync"] == answered  # not a fresh last sync
    assert "cannot reach the register" in status["last_error"]
    shown = stocktaker("queue", "status", "--config", str(config)).stdout
    assert f"last sync: {answered} (last attempt" in shown and "failed" in shown

    receiver.start()
    wrong = write_token(tmp_path / "wrong-token", "not-the-token")
    bad = device_config(tmp_path / "device", receiver.url, wrong)
    done = stocktaker("sync", "--config", str(bad))
    assert done.returncode == 4, done.stdout + done.stderr
    assert "refused the token" in done.stdout
    assert queue_status(bad)["last_sync"] == answered


# --- the idle screen ----------------------------------------------------------------------


def test_all_sent_only_once_the_register_confirmed_it(receiver: Receiver,
                                                      tmp_path: Path) -> None:
    clock = SystemClock()
    with SightingQueue(tmp_path / "state") as queue, \
            HttpRegister(receiver.url, TOKEN, "hh-01", timeout=5) as register:
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "state" / "reports"),
                            clock)
        assert engine.status().line() == "0 wait never"  # no round yet: nothing confirmed
        assert engine.run_once().error is None
        assert engine.status().line() == "all sent now"
        receiver.stop()
        assert engine.run_once().error is not None
        assert engine.status().line() == "offline now"
        receiver.start()
        assert engine.run_once().error is None
        assert engine.status().line() == "all sent now"
    with SightingQueue(tmp_path / "state2") as queue, \
            HttpRegister(receiver.url, "wrong-token", "hh-01", timeout=5) as register:
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "state2" / "reports"),
                            clock)
        assert "refused the token" in (engine.run_once().error or "")
        assert engine.status().line() == "TOKEN REFUSED 0 wait"


class StepClock:
    """Wall time is real; monotonic time moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def wall(self) -> float:
        return time.time()

    def mono(self) -> float:
        return self.now

    def boot_id(self) -> str:
        return "boot-1"

    def synced(self) -> bool:
        return True


def test_the_idle_screen_follows_the_register_without_a_scan(
        receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str | None] = []
    real_screen = screens.progress_screen

    def progress_screen(*args: Any, status: str | None = None, **kwargs: Any) -> Any:
        drawn.append(status)
        return real_screen(*args, status=status, **kwargs)

    monkeypatch.setattr(screens, "progress_screen", progress_screen)
    clock = StepClock()
    reports = PendingReports(tmp_path / "state" / "reports")
    with SightingQueue(tmp_path / "state") as queue, \
            HttpRegister(receiver.url, TOKEN, "hh-01", timeout=5) as register:
        engine = SyncEngine(queue, register, reports, clock)
        audit = HandheldAudit(Settings("hh-01", "ana", "Storage A", 2.0, DEFAULT_TAG_PATTERN),
                              Inventory(register.expected_assets()), queue, register, reports,
                              TerminalDisplay(stream=io.StringIO()),
                              TerminalFeedback(stream=io.StringIO()), clock,
                              sync_status=engine.status)
        audit.show_idle()
        assert drawn == ["0 wait never"]
        engine.run_once()
        audit.tick()  # looked at every few seconds, not at every turn of the loop
        assert drawn == ["0 wait never"]
        clock.now += IDLE_LOOK_EVERY
        audit.tick()
        assert drawn == ["0 wait never", "all sent now"]
        clock.now += 120
        engine.run_once()
        audit.tick()  # the same state, only older: not redrawn (an idle OLED still dims)
        assert drawn[-1] == "all sent now" and len(drawn) == 2
        receiver.stop()
        engine.run_once()
        clock.now += IDLE_LOOK_EVERY
        audit.tick()
        assert drawn[-1] == "offline now"
        audit.show(screens.error_screen("NO SCANNER", "hid disconnected"), "hid disconnected")
        receiver.start()
        engine.run_once()
        clock.now += IDLE_LOOK_EVERY
        audit.tick()  # another screen shows: it is left alone
        assert drawn[-1] == "offline now"


# --- the health textfile of a running device ------------------------------------------


def metrics(path: Path) -> dict[str, float]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


def wait_for(what: str, path: Path, test: Callable[[dict[str, float]], bool],
             proc: subprocess.Popen[bytes]) -> dict[str, float]:
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        found = metrics(path)
        if found and test(found):
            return found
        assert proc.poll() is None, f"the device stopped while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"{what}: not seen within {WAIT:g} s; last {metrics(path)}")


def test_the_idle_device_checks_the_register_and_the_textfile_says_so(
        receiver: Receiver, tmp_path: Path) -> None:
    folder = tmp_path / "device"
    config = device_config(folder, receiver.url, receiver.token_file, extra=(
        '[service]\nhealth_file = "health.prom"\nhealth_interval = 1\n'))
    health = folder / "health.prom"
    log_path = folder / "stderr.txt"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config",
                                 str(config)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=log_file, cwd=folder)
    try:
        up = wait_for("the register reachable", health,
                      lambda m: m.get("stocktaker_register_reachable") == 1, proc)
        answered = up["stocktaker_register_last_answer_timestamp_seconds"]
        assert answered > 0
        assert up["stocktaker_last_sync_success_timestamp_seconds"] == answered
        receiver.stop()
        down = wait_for("the register unreachable", health,
                        lambda m: m.get("stocktaker_register_reachable") == 0, proc)
        last_seen = down["stocktaker_register_last_answer_timestamp_seconds"]
        assert last_seen >= answered
        written = health.stat().st_ino
        later = wait_for("the next write while it is down", health,
                         lambda m: health.stat().st_ino != written, proc)
        # Checked again meanwhile (every sync.interval, backing off): still no answer.
        assert later["stocktaker_register_reachable"] == 0
        assert later["stocktaker_register_last_answer_timestamp_seconds"] == last_seen
        receiver.start()
        back = wait_for("the register back", health,
                        lambda m: m.get("stocktaker_register_reachable") == 1, proc)
        assert back["stocktaker_register_last_answer_timestamp_seconds"] > last_seen
    finally:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, 9)
                proc.wait()
    assert "Traceback" not in log_path.read_text(encoding="utf-8")
