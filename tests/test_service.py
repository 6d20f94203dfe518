"""sd_notify, the watchdog, the health textfile and the scan log line
(firmware/systemd_notify.py, firmware/health.py).

The notification protocol is checked against a real AF_UNIX datagram socket standing where
systemd's would be, the textfile with prometheus_client's own parser.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from firmware.config import load_config
from firmware.errors import ConfigError
from sync.sync_status import SyncStatus
from firmware.health import Health, HealthFile, render_health
from firmware.systemd_notify import Notifier, Watchdog, scan_log_line, status_text
from sync.queue import SightingQueue


class Manager:
    """The service manager's end: a datagram socket that collects what the service says."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.name = address if isinstance(address, str) else "@" + address[1:].decode()

    def receive(self, timeout: float = 1.0) -> list[str] | None:
        """The lines of the next datagram, or None when none came within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode("utf-8").split("\n")
        except socket.timeout:
            return None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    listening = Manager(str(tmp_path / "notify"))
    yield listening
    listening.close()


def test_ready_status_and_stopping_arrive_as_datagrams(manager: Manager) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.name})
    assert notifier.enabled
    assert notifier.ready("scanning")
    assert manager.receive() == ["READY=1", "STATUS=scanning"]
    assert notifier.status("room Storage B; 3 queued")
    assert manager.receive() == ["STATUS=room Storage B; 3 queued"]
    assert notifier.extend_timeout(2.5)
    assert manager.receive() == ["EXTEND_TIMEOUT_USEC=2500000"]
    assert notifier.stopping()
    assert manager.receive() == ["STOPPING=1"]
    notifier.close()


def test_an_abstract_socket_name_is_reached() -> None:
    name = f"stocktaker-test-{uuid.uuid4().hex}"
    listening = Manager(b"\0" + name.encode())
    try:
        with Notifier({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.ready()
        assert listening.receive() == ["READY=1"]
    finally:
        listening.close()


def test_a_status_from_outside_cannot_add_a_line_or_escape(manager: Manager) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.name})
    notifier.status("room X\nREADY=1\x1b[2J" + "y" * 500)
    (line,) = manager.receive() or []
    assert line.startswith("STATUS=room X\\x0aREADY=1\\x1b[2J")
    assert len(line) == len("STATUS=") + 200 and line.endswith("…")
    with pytest.raises(ValueError, match="not one KEY=VALUE line"):
        notifier.send("READY=1\nWATCHDOG=1")


def test_without_a_service_manager_every_call_does_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    assert not Notifier({}).enabled and not Notifier({}).ready()
    with caplog.at_level(logging.WARNING):
        odd = Notifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not odd.enabled and not odd.status("x")
    assert "is not a socket path" in caplog.text
    assert not Watchdog(Notifier({}), {"WATCHDOG_USEC": "1000000"}).enabled


def test_a_manager_gone_away_is_logged_once_and_never_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING):
        assert not notifier.ready() and not notifier.status("x")
    assert caplog.text.count("service manager not told") == 1


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watchdog_pings_at_half_its_timeout_and_no_more(manager: Manager) -> None:
    ticks = Ticks()
    watchdog = Watchdog(Notifier({"NOTIFY_SOCKET": manager.name}),
                        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, ticks)
    assert watchdog.enabled and watchdog.timeout == 30.0 and watchdog.interval == 15.0
    sent = []
    for _ in range(100):  # a loop turning every 0.5 s for 50 s
        sent.append(watchdog.ping())
        ticks.now += 0.5
    assert sent.count(True) == 4 and [i for i, s in enumerate(sent) if s] == [0, 30, 60, 90]
    for _ in range(4):
        assert manager.receive(0.5) == ["WATCHDOG=1"]
    assert manager.receive(0.05) is None


@pytest.mark.parametrize("env", [
    {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},  # meant for another process
    {"WATCHDOG_USEC": "0"}, {"WATCHDOG_USEC": "soon"}, {},
])
def test_a_watchdog_not_meant_for_this_process_is_off(manager: Manager,
                                                      env: dict[str, str]) -> None:
    watchdog = Watchdog(Notifier({"NOTIFY_SOCKET": manager.name}), env)
    assert not watchdog.enabled and watchdog.interval is None and not watchdog.ping()
    assert manager.receive(0.05) is None


def test_a_loop_that_hangs_stops_pinging_and_the_manager_sees_it_expire(
        manager: Manager) -> None:
    """A loop pings on every turn; then one turn hangs. Seen from the manager's socket,
    pings come at least every timeout while the loop turns, and none once it hangs."""
    timeout = 0.4
    watchdog = Watchdog(Notifier({"NOTIFY_SOCKET": manager.name}),
                        {"WATCHDOG_USEC": str(int(timeout * 1e6))})
    hang, stop = threading.Event(), threading.Event()

    def loop() -> None:
        while not stop.is_set():
            watchdog.ping()
            if hang.is_set():
                stop.wait()  # stuck: a reader that never returns, say
            time.sleep(0.01)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        turning_until = time.monotonic() + 1.5
        pings = 0
        while time.monotonic() < turning_until:
            assert manager.receive(timeout) == ["WATCHDOG=1"], "expired while the loop turned"
            pings += 1
        assert pings >= 3
        hang.set()
        expired = False
        for _ in range(3):  # at most one ping already under way when the loop hung
            if manager.receive(timeout) is None:
                expired = True
                break
        assert expired, "pings went on from a hung loop"
    finally:
        stop.set()
        thread.join(2)


def parsed(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {family.name: [(sample.labels, sample.value) for sample in family.samples]
            for family in text_string_to_metric_families(text)}


def test_the_textfile_is_prometheus_text_with_every_metric() -> None:
    health = Health("hh-01", queue_depth=12, oldest_queued_age=340.5,
                    last_sync_success=1_796_000_000.25, register_reachable=True,
                    dead_letters=2, conflicts=1,
                    decoder_fps=9.5, scans={"verified": 40, "mislocated": 3, "repeat": 0},
                    repeat_reads_dropped=5)
    text = render_health(health)
    families = parsed(text)
    assert families["stocktaker_queue_depth"] == [({}, 12.0)]
    assert families["stocktaker_queue_oldest_age_seconds"] == [({}, 340.5)]
    assert families["stocktaker_last_sync_success_timestamp_seconds"] == [({}, 1_796_000_000.25)]
    assert families["stocktaker_register_reachable"] == [({}, 1.0)]
    assert families["stocktaker_register_last_answer_timestamp_seconds"] == [
        ({}, 1_796_000_000.25)]
    assert families["stocktaker_dead_letters"] == [({}, 2.0)]
    assert families["stocktaker_conflicts"] == [({}, 1.0)]
    assert families["stocktaker_decoder_frames_per_second"] == [({}, 9.5)]
    assert families["stocktaker_up"] == [({}, 1.0)]
    assert families["stocktaker_repeat_reads_dropped"] == [({}, 5.0)]
    assert families["stocktaker_scans"] == [({"verdict": "mislocated"}, 3.0),
                                            ({"verdict": "repeat"}, 0.0),
                                            ({"verdict": "verified"}, 40.0)]
    ((labels, value),) = families["stocktaker_info"]
    assert labels["device"] == "hh-01" and labels["version"] and value == 1.0
    assert "# TYPE stocktaker_scans_total counter" in text
    assert text.count("# HELP ") == 13 and text.endswith("\n")


def test_the_textfile_reports_the_bytes_written_into_the_queue(tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "state") as queue:
        for n in range(3):
            queue.append({"sighting_id": f"s{n}", "payload": "x" * 400})
        status = {**queue.status(), "bytes_written": queue.bytes_written}
    assert 3 * 400 < status["bytes_written"] < 3 * 400 + 600
    text = render_health(Health.from_queue_status("hh-01", status, 0.0))
    assert "# TYPE stocktaker_queue_bytes_written_total counter" in text
    assert parsed(text)["stocktaker_queue_bytes_written"] == [({}, status["bytes_written"])]


def test_label_values_are_escaped() -> None:
    odd = 'a"b\\c\nd'
    families = parsed(render_health(Health(odd, scans={odd: 1}, up=False,
                                           last_sync_success=None)))
    assert families["stocktaker_info"][0][0]["device"] == odd
    assert families["stocktaker_scans"] == [({"verdict": odd}, 1.0)]
    assert families["stocktaker_up"] == [({}, 0.0)]
    assert families["stocktaker_last_sync_success_timestamp_seconds"] == [({}, 0.0)]
    assert families["stocktaker_register_reachable"] == [({}, 0.0)]


def test_the_file_is_replaced_whole_readable_by_all_and_at_most_every_interval(
        tmp_path: Path) -> None:
    ticks = Ticks()
    path = tmp_path / "stocktaker.prom"
    health_file = HealthFile(path, interval=15.0, clock=ticks)
    old_umask = os.umask(0o077)
    try:
        assert health_file.update(Health("hh-01", queue_depth=1))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    inode = path.stat().st_ino
    ticks.now += 14.9
    assert not health_file.update(Health("hh-01", queue_depth=2))
    assert parsed(path.read_text())["stocktaker_queue_depth"] == [({}, 1.0)]
    ticks.now += 0.1
    assert health_file.update(Health("hh-01", queue_depth=3))
    assert parsed(path.read_text())["stocktaker_queue_depth"] == [({}, 3.0)]
    assert path.stat().st_ino != inode  # renamed over, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stocktaker.prom"]


def test_a_health_file_that_cannot_be_written_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    health_file = HealthFile(tmp_path / "missing" / "stocktaker.prom", interval=0)
    with caplog.at_level(logging.WARNING):
        assert not health_file.update(Health("hh-01"))
        assert not health_file.update(Health("hh-01"))
    assert caplog.text.count("not written") == 1
    (tmp_path / "missing").mkdir()
    assert health_file.update(Health("hh-01"))


def test_health_from_a_real_queue_status(tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "state") as queue:
        queue.append({"sighting_id": "s1", "wall_time": "2026-11-30T10:00:00.000Z"})
        queue.append({"sighting_id": "s2", "wall_time": "2026-11-30T10:05:00.000Z"})
        status = queue.status()
    now = 1_796_032_800.0 + 600  # 2026-11-30T10:10:00Z
    health = Health.from_queue_status("hh-01", status, now, scans={"verified": 2})
    assert health.queue_depth == 2 and health.oldest_queued_age == 600.0
    assert health.last_sync_success is None and health.dead_letters == 0
    assert health.scans == {"verified": 2}
    synced = Health.from_queue_status("hh-01", {"queued": 0, "oldest": None,
                                                "last_sync": "2026-11-30T10:00:00.000Z",
                                                "dead_letters": 4}, now)
    assert synced.last_sync_success == 1_796_032_800.0 and synced.dead_letters == 4
    assert synced.oldest_queued_age == 0.0


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sighting_id": "6f1c", "asset_tag": "IT-004512", "location": "Storage B",
        "source": "camera", "symbology": "QR", "payload": "IT-004512", "verdict": "verified"}
    return {**base, **fields}


def test_a_scan_is_one_escaped_line() -> None:
    assert scan_log_line(record()) == ('scan verified tag=IT-004512 room="Storage B"'
                                       ' source=camera symbology=QR payload=IT-004512 id=6f1c')
    line = scan_log_line(record(payload="IT-1\x1b]0;owned\x07\n\u202e", asset_tag=None,
                                verdict="rejected"))
    assert "\x1b" not in line and "\n" not in line and "\u202e" not in line
    assert "payload=IT-1\\x1b]0;owned\\x07\\x0a\\u202e" in line and "tag=" not in line
    assert scan_log_line(record(location='say "hi"')).count('room="say \\"hi\\""') == 1


def test_a_url_label_loses_its_credentials_and_long_payloads_are_cut() -> None:
    line = scan_log_line(record(
        payload="https://ana:s3cret@assets.example.com/hardware/42?api_token=abc&x=1"))
    assert "s3cret" not in line and "ana" not in line and "abc" not in line
    assert "https://***@assets.example.com/hardware/42?api_token=***&x=1" in line
    cut = scan_log_line(record(payload="A" * 500))
    assert "A" * 119 + "…" in cut and "A" * 120 not in cut


def test_the_status_line_names_room_queue_and_last_sync() -> None:
    assert status_text("Storage B", SyncStatus(12, 2, 330.0)) == (
        "room Storage B; 12 queued, last sync 5m ago; 2 dead letter(s)")
    assert status_text(None, SyncStatus()) == "no room yet; 0 queued, never synced"
    assert status_text("Storage B", SyncStatus(0, 0, 600.0, register_answered=False)) == (
        "room Storage B; 0 queued, last sync 10m ago; register not answering")
    assert "not answering" not in status_text(None, SyncStatus(register_answered=True))
    assert "\x1b" not in status_text("a\x1b[2J", SyncStatus())


def test_the_service_section_of_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[service]\nhealth_file = 'metrics/stocktaker.prom'\nhealth_interval = 30\n")
    config = load_config(path)
    assert config.service.health_file == tmp_path / "metrics" / "stocktaker.prom"
    assert config.service.health_interval == 30.0
    path.write_text("")
    assert load_config(path).service.health_file is None
    for text, named in [("health_file = 'stocktaker.txt'", "only files ending in .prom"),
                        ("health_interval = 0.5", "must be from 1 to 3600 seconds")]:
        path.write_text(f"[service]\n{text}\n")
        with pytest.raises(ConfigError, match=f"^service.health_[a-z]+: .*{named}"):
            load_config(path)
