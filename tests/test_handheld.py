"""The handheld loop's promises: durable before feedback, nothing lost when the way out fails."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from hal.buttons.base import Press

from firmware.handheld_audit import HandheldAudit, Settings
from firmware.identity import IdentityRules, register_sites
from firmware.inventory import Asset, Inventory
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.engine import SyncEngine
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports

ASSETS = [Asset("IT-1", "S1", "Laptop", "Storage B", id=1),
          Asset("IT-2", "S2", "Dock", "Storage B", id=2)]


class FixedClock:
    def wall(self) -> float: return 1795000000.0
    def mono(self) -> float: return 12.5
    def boot_id(self) -> str: return "boot-1"
    def synced(self) -> bool: return True


@pytest.fixture
def parts(tmp_path: Path):
    (tmp_path / "expected.csv").write_text(
        "asset_tag,serial,name,location,status,assigned_to,id\n"
        "IT-1,S1,Laptop,Storage B,,,1\nIT-2,S2,Dock,Storage B,,,2\n")
    queue = SightingQueue(tmp_path / "state")
    display = TerminalDisplay(stream=io.StringIO())
    feedback = TerminalFeedback(stream=io.StringIO())
    yield tmp_path, queue, display, feedback
    queue.close()


def audit_with(tmp_path: Path, queue, display, feedback) -> HandheldAudit:
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    return HandheldAudit(Settings("hh-1", "ana", "Storage B", 2.0, DEFAULT_TAG_PATTERN),
                         Inventory(register.expected_assets()), queue, register,
                         PendingReports(tmp_path / "state" / "reports"), display, feedback,
                         FixedClock())


def scan(text: str, at: float = 0.0) -> Read:
    return Read(text.encode(), "UNKNOWN", "stdin", at)


def test_the_sighting_is_queued_before_the_screen_shows_the_verdict(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    shown_with_queue_length = []
    real_show = display.show
    display.show = lambda image, caption="": (shown_with_queue_length.append(len(queue)),
                                              real_show(image, caption))
    audit.handle(scan("IT-1"))
    audit.handle(scan("]C0IT-2", at=5.0))
    assert shown_with_queue_length == [1, 2]
    record = queue.pending()[1]
    assert record["symbology"] == "CODE128" and record["tag"]["aim"] == "]C0"
    assert record["wall_time"] == "2026-11-18T11:06:40.000Z" and record["boot_id"] == "boot-1"
    assert feedback.signals == ["verified", "verified"]


def test_a_full_disk_shows_not_saved_and_counts_nothing(parts, monkeypatch) -> None:
    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    assert audit.handle(scan("IT-1")) is None
    monkeypatch.undo()
    assert display.frames[-1].caption == "error"
    assert feedback.signals[-1] == "error"
    assert audit.session.scanned == 0 and len(queue) == 0
    # Scanned again at once (within the repeat window): it counts now.
    assert audit.handle(scan("IT-1", at=0.5)).kind.value == "verified"
    assert audit.session.counts["verified"] == 1 and len(queue) == 1


def test_an_unwritable_outbox_keeps_everything_until_the_next_sync(parts) -> None:
    tmp_path, queue, display, feedback = parts
    woken = []
    audit = audit_with(tmp_path, queue, display, feedback)
    audit.on_room_end = lambda: woken.append(True)
    audit.handle(scan("IT-1"))
    audit.handle(scan("IT-7", at=5.0))
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
    (tmp_path / "out").write_text("the USB stick is gone")  # the outbox is not a folder now

    report = audit.finish_room()
    assert woken == [True]  # the room's end asks the sync to run now
    engine = SyncEngine(queue, audit.register, audit.pending_reports, FixedClock())
    failed = engine.run_once()

    assert failed.error is not None and failed.left == 2
    assert len(queue) == 2
    assert [p.name for p, _ in audit.pending_reports.items()] == [
        f"report-{report['session_id']}.json"]

    (tmp_path / "out").unlink()
    (tmp_path / "out").mkdir()
    done = engine.run_once()
    assert (done.error, done.sent, done.reports, done.left) == (None, 2, 1, 0)
    assert len(queue) == 0 and audit.pending_reports.items() == []
    lines = (tmp_path / "out" / "sightings-hh-1.jsonl").read_text().splitlines()
    assert len(lines) == 2
    published = json.loads((tmp_path / "out" / f"report-{report['session_id']}.json").read_text())
    assert published["counts"]["unregistered"] == 1 and published["counts"]["ghost"] == 1


class SteppingClock(FixedClock):
    """A clock whose monotonic time the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def mono(self) -> float:
        return self.now


def rooms_audit(tmp_path: Path, queue, display, feedback, clock, location=None) -> HandheldAudit:
    (tmp_path / "expected.csv").write_text(
        "asset_tag,location\nIT-1,Storage B\nIT-2,Storage  b\nIT-3,Storage A\n")
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    return HandheldAudit(Settings("hh-1", "ana", location, 0.0, DEFAULT_TAG_PATTERN, 10.0),
                         Inventory(register.expected_assets()), queue, register,
                         PendingReports(tmp_path / "state" / "reports"), display, feedback,
                         clock)


def test_a_known_room_matches_whatever_its_case_and_spacing(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = rooms_audit(tmp_path, queue, display, feedback, SteppingClock(), "STORAGE   B")
    assert audit.session.location == "Storage B" and len(audit.session.expected) == 2
    audit.handle(scan("LOC:storage b"))
    audit.handle(scan("IT-2"))
    assert audit.reports == [] and audit.session.counts["verified"] == 1


def test_an_unknown_room_needs_a_second_scan_within_the_window(parts) -> None:
    tmp_path, queue, display, feedback = parts
    clock = SteppingClock()
    audit = rooms_audit(tmp_path, queue, display, feedback, clock, "Storage B")
    first_session = audit.stamp.session_id

    audit.handle(scan("LOC:Storage C"))
    assert audit.session.location == "Storage B" and audit.reports == []
    assert display.frames[-1].caption == "new room? Storage C"
    assert feedback.signals[-1] == "confirm"

    clock.now += 11  # too late: asks again
    audit.handle(scan("LOC:Storage C"))
    assert audit.session.location == "Storage B"

    clock.now += 4
    audit.handle(scan("LOC:storage  c"))
    assert audit.session.location == "Storage C" and audit.stamp.session_id != first_session
    assert [r["location"] for r in audit.reports] == ["Storage B"]


def test_any_other_scan_cancels_an_unconfirmed_room(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = rooms_audit(tmp_path, queue, display, feedback, SteppingClock(), "Storage B")
    audit.handle(scan("LOC:Stroage B"))
    assert audit.inventory.closest_rooms("Stroage B") == ["Storage B", "Storage A"]
    audit.handle(scan("IT-1"))
    audit.handle(scan("LOC:Stroage B"))
    assert audit.session.location == "Storage B" and audit.reports == []
    assert audit.session.counts["verified"] == 1


def test_id_labels_without_an_id_column_are_unregistered_and_warned_about(parts) -> None:
    tmp_path, queue, display, feedback = parts
    (tmp_path / "expected.csv").write_text("asset_tag,location\nIT-1,Storage B\n")
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    rules = IdentityRules(sites=register_sites("https://assets.example.com", []))
    audit = HandheldAudit(Settings("hh-1", "ana", "Storage B", 2.0, DEFAULT_TAG_PATTERN),
                          Inventory(register.expected_assets(), rules=rules), queue, register,
                          PendingReports(tmp_path / "state" / "reports"), display, feedback,
                          FixedClock())
    verdict = audit.handle(scan("https://assets.example.com/hardware/1"))
    assert verdict.kind.value == "unregistered"
    assert verdict.reason == "the expected inventory has no id column"
    report = audit.finish_room()
    assert report["unregistered"][0]["reason"] == "the expected inventory has no id column"
    assert any("no id column" in warning for warning in report["warnings"])
    assert report["ghosts"] == [{"asset_tag": "IT-1", "serial": "", "name": ""}]


def test_a_burst_is_saved_with_one_write_then_each_read_is_judged_and_shown(
        parts, monkeypatch) -> None:
    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    reads = [scan(tag, at=float(n)) for n, tag in enumerate(["IT-1", "IT-9", "IT-1", "IT-2"])]
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    verdicts = audit.handle_many(reads)
    monkeypatch.undo()
    assert [v.kind.value for v in verdicts] == ["verified", "unregistered", "repeat", "verified"]
    assert len(queue) == 4 and len(audit.sightings) == 4
    assert feedback.signals == ["verified", "unregistered", "repeat", "verified"]
    # the queue's segment and folder, the journal's header, folder and one append: not 4x
    assert len(synced) <= 6


def test_a_burst_of_rfid_tags_is_shown_as_one_running_count(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    epcs = ["3414257BF400000000BC6038", "E2801160600002084B5E1234",
            "3414257BF400000000BC6039", "3414257BF400000000BC603A"]
    verdicts = audit.handle_many([Read(e.encode(), "EPC", "uhf", 0.0) for e in epcs])
    assert [v.kind.value for v in verdicts] == ["unregistered", "rejected", "unregistered",
                                                "unregistered"]
    # one running count and the most urgent signal, not four flashes
    assert display.frames[-1].caption == "burst 4" and feedback.signals == ["unregistered"]


def test_a_burst_that_cannot_be_saved_counts_none_of_it(parts, monkeypatch) -> None:
    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    audit.handle(scan("IT-1"))

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    assert audit.handle_many([scan("IT-2", at=1.0), scan("IT-1", at=2.0)]) == []
    monkeypatch.undo()
    assert dict(audit.session.counts) == {"verified": 1}
    assert audit.session.progress().verified == 1 and len(queue) == 1
    assert display.frames[-1].caption == "error"
    # scanned again at once: both count now, and IT-1 is still only a repeat
    again = audit.handle_many([scan("IT-2", at=3.0), scan("IT-1", at=4.0)])
    assert [v.kind.value for v in again] == ["verified", "repeat"]


def press(button: str) -> Press:
    return Press(button, 0.0, "gpio")


def test_the_next_button_confirms_an_unknown_room(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = rooms_audit(tmp_path, queue, display, feedback, SteppingClock(), "Storage B")
    audit.handle(scan("LOC:Storage  C"))
    assert audit.session.location == "Storage B"
    audit.press(press("next"))
    assert audit.session.location == "Storage C"
    assert [r["location"] for r in audit.reports] == ["Storage B"]
    audit.press(press("next"))  # nothing to confirm: it only shows the room
    assert audit.session.location == "Storage C" and display.frames[-1].caption == "room Storage C"


def test_the_end_button_ends_the_room_and_the_next_label_begins_one(parts) -> None:
    tmp_path, queue, display, feedback = parts
    audit = rooms_audit(tmp_path, queue, display, feedback, SteppingClock(), "Storage B")
    audit.handle(scan("IT-1"))
    audit.press(press("end"))
    assert [r["location"] for r in audit.reports] == ["Storage B"]
    assert audit.reports[0]["counts"]["verified"] == 1
    assert audit.session.location is None
    audit.press(press("end"))  # nothing open: no second report
    assert len(audit.reports) == 1
    audit.handle(scan("LOC:Storage A"))
    audit.handle(scan("IT-3", at=1.0))
    assert audit.session.location == "Storage A" and audit.session.counts["verified"] == 1


def test_a_scanner_unplugged_is_shown_until_it_is_back(parts) -> None:
    from hal.read import ReaderState

    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    audit.reader_state(ReaderState("hid\x1b[2J", False, "No such device", 1.0))
    assert display.frames[-1].caption == "hid\\x1b[2J disconnected"
    assert feedback.signals[-1] == "reader_lost"
    audit.reader_state(ReaderState("hid", True, "connected again", 2.0))
    assert display.frames[-1].caption == "room Storage B"


def test_a_card_reader_number_is_matched_as_the_register_spells_it(parts) -> None:
    from firmware.cards import CardRules

    tmp_path, queue, display, feedback = parts
    (tmp_path / "expected.csv").write_text('asset_tag,location\n"142,45817",Storage B\n')
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    audit = HandheldAudit(
        Settings("hh-1", "ana", "Storage B", 2.0, DEFAULT_TAG_PATTERN,
                 cards=CardRules("decimal", "facility")),
        Inventory(register.expected_assets()), queue, register,
        PendingReports(tmp_path / "state" / "reports"), display, feedback, FixedClock())
    verdicts = audit.handle_many([Read(b"0009351929", "CARD", "card", 1.0),
                                  Read(b"12", "CARD", "card", 1.0),
                                  Read(b"12x", "CARD", "card", 1.0)])
    assert [v.kind.value for v in verdicts] == ["verified", "unregistered", "rejected"]
    assert queue.pending()[0]["tag"]["scheme"] == "card"


def test_the_room_report_lists_the_labels_printed_during_the_audit(parts) -> None:
    from firmware.print_jobs import PrintJobs
    from firmware.printing import printer_job
    from firmware.room_report import format_report
    from hal.printer import PrinterSettings, open_printer

    tmp_path, queue, display, feedback = parts
    audit = audit_with(tmp_path, queue, display, feedback)
    now = FixedClock().wall()
    jobs = PrintJobs(tmp_path / "state" / "labels")
    jobs.add("IT-7", "https://assets.example.org/ht/IT-7", location="Storage B", at=now)
    jobs.add("IT-8", "https://assets.example.org/ht/IT-8", at=now)  # no room set: this one
    jobs.add("IT-9", "https://assets.example.org/ht/IT-9", location="Floor 3", at=now)
    jobs.add("IT-6", "https://assets.example.org/ht/IT-6", location="Storage B", at=now - 86400)
    printer = open_printer(PrinterSettings(backend="file", label="62",
                                             folder=tmp_path / "printed"))
    assert len(jobs.flush(printer_job(printer)).printed) == 4
    jobs.add("IT-5", "https://assets.example.org/ht/IT-5", location="Storage B", at=now)
    audit.handle(scan("IT-1"))

    report = audit.finish_room()
    assert [(label["asset_tag"], label["state"]) for label in report["labels"]] == [
        ("IT-7", "printed"), ("IT-8", "printed"), ("IT-5", "queued")]
    assert report["labels"][2]["printed_at"] is None
    text = format_report(report)
    assert "Labels printed:\n  IT-7             printed at " in text
    assert "  IT-5             queued" in text
