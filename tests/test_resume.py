"""A room survives a power cut: the open room's journal, resume, expiry and stop signals."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Inventory
from firmware.room import open_rooms
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.engine import SyncEngine, SyncResult
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports

MANIFEST = ("asset_tag,location,status\nIT-1,Storage B,\nIT-2,Storage B,\nIT-3,Storage B,\n"
            "IT-4,Storage A,\nIT-5,Storage A,Stolen\n")


class VirtualClock:
    """Wall and monotonic time that the test moves."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def wall(self) -> float: return self.now
    def mono(self) -> float: return self.now - 1_794_000_000.0
    def boot_id(self) -> str: return "boot-1"
    def synced(self) -> bool: return True


class Device:
    """The parts a handheld run holds; ``power_cut`` drops them without ending the room."""

    def __init__(self, folder: Path, clock: VirtualClock, resume_within: float = 12 * 3600.0,
                 location: str | None = None) -> None:
        (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
        self.folder = folder
        self.queue = SightingQueue(folder / "state")
        self.display = TerminalDisplay(stream=io.StringIO())
        self.feedback = TerminalFeedback(stream=io.StringIO())
        register = FilesRegister(folder / "expected.csv", folder / "out", "hh-1")
        self.audit = HandheldAudit(
            Settings("hh-1", "ana", location, 0.0, DEFAULT_TAG_PATTERN, 10.0, resume_within),
            Inventory(register.expected_assets()), self.queue, register,
            PendingReports(folder / "state" / "reports"), self.display, self.feedback, clock)

    def scan(self, *lines: str) -> None:
        for line in lines:
            self.audit.handle(Read(line.encode(), "UNKNOWN", "stdin", 0.0))

    def sync(self) -> SyncResult:
        return SyncEngine(self.queue, self.audit.register, self.audit.pending_reports,
                          self.audit.clock).run_once()

    def power_cut(self) -> None:
        self.audit.journal.close()
        self.queue.close()

    def stop(self) -> dict | None:
        report = self.audit.finish_room()
        self.queue.close()
        return report


def reports(folder: Path) -> list[dict]:
    found = [json.loads(p.read_text(encoding="utf-8"))
             for where in (folder / "out", folder / "state" / "reports") if where.is_dir()
             for p in sorted(where.glob("report-*.json"))]
    return found


def test_an_interrupted_room_resumes_with_its_session_and_counts(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock)
    first.scan("LOC:Storage B", "IT-1", "IT-4", "IT-5", "BAD\x07")
    session = first.audit.stamp.session_id
    first.power_cut()

    clock.now += 600
    second = Device(tmp_path, clock)
    assert second.audit.stamp.session_id == session
    assert second.audit.session.location == "Storage B"
    assert second.audit.session.counts == {"verified": 1, "mislocated": 1, "recovered": 1,
                                           "rejected": 1}
    second.audit.show_progress()
    assert second.display.frames[-1].caption == "resumed Storage B"
    second.scan("LOC:storage b", "IT-2", "IT-1")
    assert second.audit.stamp.session_id == session
    report = second.stop()
    assert report is not None and report["session_id"] == session
    assert report["counts"]["verified"] == 2 and report["counts"]["repeat"] == 1
    assert [g["asset_tag"] for g in report["ghosts"]] == ["IT-3"]
    assert report["resumed"] == 1 and report["interrupted"] is False
    assert len(report["scans"]) == 6
    assert {(s["boot_id"], s["clock_synchronized"]) for s in report["scans"]} == {("boot-1", True)}
    assert [r["session_id"] for r in reports(tmp_path)] == [session]
    assert open_rooms(tmp_path / "state" / "rooms") == []


def test_sightings_synced_before_the_room_ends_stay_in_its_report(tmp_path: Path) -> None:
    clock = VirtualClock()
    device = Device(tmp_path, clock, location="Storage B")
    device.scan("IT-1", "IT-2")
    assert device.sync().sent == 2 and len(device.queue) == 0
    device.power_cut()
    again = Device(tmp_path, clock)
    again.scan("IT-3")
    assert again.sync().sent == 1
    report = again.stop()
    assert report["counts"]["verified"] == 3 and report["ghosts"] == []


def test_a_room_left_too_long_is_closed_as_interrupted_and_a_new_one_starts(
        tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, resume_within=12 * 3600.0)
    first.scan("LOC:Storage B", "IT-1")
    old_session = first.audit.stamp.session_id
    first.power_cut()

    clock.now += 12 * 3600 + 1
    second = Device(tmp_path, clock)
    assert second.audit.stamp.session_id != old_session
    assert second.audit.session.location is None
    (closed,) = reports(tmp_path)
    assert closed["session_id"] == old_session and closed["interrupted"] is True
    assert closed["counts"]["verified"] == 1
    assert closed["ended_at"] == "2026-11-18T11:06:40.000Z"  # its last scan, not the restart
    assert open_rooms(tmp_path / "state" / "rooms") == []


def test_a_room_just_inside_the_window_resumes(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock)
    first.scan("LOC:Storage B", "IT-1")
    first.power_cut()
    clock.now += 12 * 3600 - 1
    assert Device(tmp_path, clock).audit.resumed == 1


def test_a_clock_that_went_back_does_not_close_the_room(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock)
    first.scan("LOC:Storage B", "IT-1")
    first.power_cut()
    clock.now -= 30 * 24 * 3600  # booted without network: the clock is a month behind
    assert Device(tmp_path, clock).audit.resumed == 1


def test_a_kill_between_report_saved_and_room_closed_gives_one_report(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, location="Storage B")
    first.scan("IT-1")
    journal = first.audit.journal.path
    kept = journal.read_bytes()
    report = first.stop()
    journal.write_bytes(kept)  # as if killed after the report was saved
    # The register has not taken the report yet: it is still on the device.
    assert (tmp_path / "state" / "reports" / f"report-{report['session_id']}.json").exists()

    second = Device(tmp_path, clock)
    assert second.audit.stamp.session_id != report["session_id"]
    assert not journal.exists()
    assert [r["session_id"] for r in reports(tmp_path)] == [report["session_id"]]


def test_a_sighting_queued_but_not_yet_journaled_is_counted_after_the_kill(
        tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, location="Storage B")
    first.scan("IT-1")
    journal = first.audit.journal.path
    before = journal.read_bytes()
    first.scan("IT-2")
    journal.write_bytes(before)  # killed after the queue append, before the journal's
    first.power_cut()

    second = Device(tmp_path, clock)
    assert second.audit.session.counts["verified"] == 2
    assert len(open_rooms(tmp_path / "state" / "rooms")[0].sightings) == 2


def test_a_torn_last_line_is_cut_and_the_rest_resumed(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, location="Storage B")
    first.scan("IT-1", "IT-2")
    journal = first.audit.journal.path
    first.power_cut()
    data = journal.read_bytes()
    journal.write_bytes(data + b'{"type":"sighting","wall":1,"rec')
    queue = SightingQueue(tmp_path / "state")  # the torn scan never reached the queue
    queue.close()

    second = Device(tmp_path, clock)
    assert second.audit.session.counts["verified"] == 2
    assert journal.read_bytes() == data + b'{"type":"resumed","wall":1795000000.0}\n'


def test_a_journal_with_a_damaged_header_is_set_aside_not_deleted(tmp_path: Path) -> None:
    clock = VirtualClock()
    rooms = tmp_path / "state" / "rooms"
    rooms.mkdir(parents=True)
    (rooms / "room-x.jsonl").write_bytes(b"\x00\x00garbage\n")
    device = Device(tmp_path, clock)
    assert device.audit.resumed == 0
    assert (rooms / "room-x.jsonl.damaged").exists()


def test_a_session_that_saw_nothing_leaves_no_journal_and_no_report(tmp_path: Path) -> None:
    device = Device(tmp_path, VirtualClock())
    assert device.stop() is None
    assert not (tmp_path / "state" / "rooms").exists() or not any(
        (tmp_path / "state" / "rooms").iterdir())
    assert reports(tmp_path) == []


# -- stop signals, on the real command ---------------------------------------------------------

CONFIG = """\
[device]
id = "hh-1"
[audit]
technician = "ana"
repeat_window = 0
[display]
backend = "none"
[register]
manifest = "expected.csv"
outbox = "out"
[queue]
path = "state"
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                    signal.SIGQUIT], ids=lambda s: signal.Signals(s).name)
def test_each_stop_signal_writes_one_report_and_exits_0(tmp_path: Path, signum: int) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", "c.toml"],
                               cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"LOC:Storage B\nIT-1\nIT-4\n")
        process.stdin.flush()
        acknowledged = [process.stdout.readline() for _ in range(2)]
        assert all(line.startswith(b"[feedback]") for line in acknowledged)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err
    (report,) = reports(tmp_path)
    assert report["counts"]["verified"] == 1 and report["counts"]["mislocated"] == 1
    assert report["interrupted"] is False
    assert not list((tmp_path / "state" / "rooms").glob("room-*"))


def test_a_service_stopped_with_on_stop_keep_resumes_the_room_at_the_next_start(
        tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "c.toml").write_text(CONFIG.replace('repeat_window = 0\n',
                                                    'repeat_window = 0\non_stop = "keep"\n'),
                                     encoding="utf-8")

    def run(lines: bytes, scans: int, signum: int | None) -> subprocess.CompletedProcess:
        process = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", "c.toml"],
                                   cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(lines)
            process.stdin.flush()
            for _ in range(scans):
                assert process.stdout.readline().startswith(b"[feedback]")
            if signum is None:
                process.stdin.close()
                process.wait(timeout=60)
            else:
                process.send_signal(signum)
                process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return process

    first = run(b"LOC:Storage B\nIT-1\n", 1, signal.SIGTERM)
    assert first.returncode == 0
    assert reports(tmp_path) == []  # kept, not ended
    assert len(list((tmp_path / "state" / "rooms").glob("room-*.jsonl"))) == 1
    second = run(b"IT-4\n", 1, None)  # no room label: the kept room goes on
    assert second.returncode == 0
    (report,) = reports(tmp_path)
    assert report["counts"]["verified"] == 1 and report["counts"]["mislocated"] == 1
    assert report["resumed"] == 1 and report["interrupted"] is False
