"""Intake on the device: the gathering rules, the audit that records intakes, and the
real ``stocktaker run`` writing one intake record, once, even across a SIGKILL."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.handheld_audit import HandheldAudit, Settings
from firmware.intake_rules import IntakeGatherer, classify
from firmware.inventory import Inventory
from firmware.print_jobs import PrintJobs
from firmware.room_report import format_report
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.buttons.base import Press
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.files import FilesRegister
from sync.intake import IntakeRecord, is_intake
from sync.intake_tags import device_tags
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports
from tests.rooms import make_room, write_config

GTIN = "09506000134352"


# The rules, pure ------------------------------------------------------------------------

@pytest.mark.parametrize("text, gathered, expected", [
    (f"(01){GTIN}", {}, ("gtin", GTIN)),
    (f"]C101{GTIN}", {}, ("gtin", GTIN)),
    (f"(01){GTIN}(21)ABC", {}, ("gtin", GTIN)),
    ("00:1A:2B:3C:4D:5E", {}, ("mac", "00:1A:2B:3C:4D:5E")),
    ("00-1a-2b-3c-4d-5e", {}, ("mac", "00:1A:2B:3C:4D:5E")),
    ("001a2b3c4d5e", {}, ("mac", "00:1A:2B:3C:4D:5E")),
    ("00:1A-2B:3C:4D:5E", {}, ("serial", "00:1A-2B:3C:4D:5E")),  # mixed separators
    ("00:1A:2B:3C:4D", {}, ("serial", "00:1A:2B:3C:4D")),  # five pairs
    ("5CG1234XYZ", {}, ("serial", "5CG1234XYZ")),
    ("20U1S0AB00", {"serial": "5CG1234XYZ"}, ("model", "20U1S0AB00")),
    ("20U1S0AB00", {"serial": "5CG", "model": "20U"}, None),
    ("   ", {}, None),
])
def test_a_scan_on_the_asset_is_classified(text, gathered, expected) -> None:
    assert classify(text, gathered) == expected


def test_the_gatherer_opens_fills_and_closes() -> None:
    gatherer = IntakeGatherer(timeout=20.0)
    assert not gatherer.gathering and gatherer.close() is None
    gatherer.start(100.0, "IT-999")
    assert gatherer.add("5CG1234XYZ", 105.0) == "serial"
    assert not gatherer.expired(124.9) and gatherer.expired(125.0)  # from the last scan
    assert gatherer.add(f"(01){GTIN}", 110.0) == "gtin"
    assert not gatherer.current.full()
    assert gatherer.current.expected() == ["model", "mac"]
    assert gatherer.add("AA:BB:CC:DD:EE:FF", 111.0) == "mac"
    assert gatherer.current.full()
    intake = gatherer.close()
    assert intake.unknown_label == "IT-999"
    assert intake.identifiers == {"serial": "5CG1234XYZ", "gtin": GTIN,
                                  "mac": "AA:BB:CC:DD:EE:FF"}
    assert not gatherer.gathering and not gatherer.expired(1000.0)


# The audit ------------------------------------------------------------------------------

class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 50.0

    def wall(self) -> float: return 1795000000.0 + self.now
    def mono(self) -> float: return self.now
    def boot_id(self) -> str: return "boot-1"
    def synced(self) -> bool: return True


@pytest.fixture
def parts(tmp_path: Path):
    (tmp_path / "expected.csv").write_text(
        "asset_tag,serial,name,location,status,assigned_to,id\n"
        "IT-1,S1,Laptop,Storage B,,,1\nIT-2,S2,Dock,Floor 3,,,2\n")
    queue = SightingQueue(tmp_path / "state")
    yield tmp_path, queue
    queue.close()


def make_audit(tmp_path: Path, queue, clock: Clock, *, intake: bool = True,
               tag_range: str = "FIELD-0001..FIELD-0009") -> HandheldAudit:
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    return HandheldAudit(
        Settings("hh-1", "ana", "Storage B", 0.0, DEFAULT_TAG_PATTERN, intake=intake,
                 intake_timeout=20.0),
        Inventory(register.expected_assets()), queue, register,
        PendingReports(tmp_path / "state" / "reports"), TerminalDisplay(stream=io.StringIO()),
        TerminalFeedback(stream=io.StringIO()), clock,
        intake_tags=device_tags(tag_range, tmp_path / "state"))


def scan(text: str) -> Read:
    return Read(text.encode(), "UNKNOWN", "stdin", 0.0)


def press(button: str) -> Press:
    return Press(button, 0.0, "gpio")


def intakes(queue) -> list[IntakeRecord]:
    return [IntakeRecord.from_record(r) for r in queue.pending() if is_intake(r)]


def captions(audit: HandheldAudit) -> list[str]:
    return [frame.caption for frame in audit.display.frames]


START = {
    "unknown label": lambda audit: audit.handle(scan("IT-999")),
    "INTAKE label": lambda audit: audit.handle(scan("intake")),
    "next button": lambda audit: audit.press(press("next")),
}


@pytest.mark.parametrize("start", sorted(START))
def test_each_start_then_end_makes_one_record(parts, start) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    START[start](audit)
    assert audit.intake.gathering and captions(audit)[-1] == "intake 0"
    audit.handle(scan("5CG1234XYZ"))
    assert captions(audit)[-1] == "intake 1"
    audit.press(press("end"))
    [record] = intakes(queue)
    assert record.identifiers == {"serial": "5CG1234XYZ"}
    assert record.unknown_label == ("IT-999" if start == "unknown label" else None)
    assert record.location == "Storage B" and record.technician == "ana"
    assert record.asset_tag == "FIELD-0001" and record.firmware_version
    assert captions(audit)[-1] == "intake saved FIELD-0001"
    assert audit.session.location == "Storage B"  # end closed the intake, not the room
    report = audit.finish_room()
    assert [i["identifiers"] for i in report["intakes"]] == [{"serial": "5CG1234XYZ"}]
    assert "Intakes (assets the register lacks):" in format_report(report)


def test_the_record_is_durable_before_the_saved_screen(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    shown_with = []
    real_show = audit.display.show
    audit.display.show = lambda image, caption="": (
        shown_with.append((caption, len(intakes(queue)))), real_show(image, caption))
    audit.handle(scan("IT-999"))
    audit.handle(scan("5CG1234XYZ"))
    audit.press(press("end"))
    assert shown_with[-1] == ("intake saved FIELD-0001", 1)


def test_three_identifiers_close_it_by_themselves(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    audit.handle(scan("IT-999"))
    audit.handle_many([scan("5CG1234XYZ"), scan(f"(01){GTIN}"), scan("00-1a-2b-3c-4d-5e")])
    assert not audit.intake.gathering
    [record] = intakes(queue)
    assert record.identifiers == {"serial": "5CG1234XYZ", "gtin": GTIN,
                                  "mac": "00:1A:2B:3C:4D:5E"}
    audit.handle(scan("20U1S0AB00"))  # after the intake: an ordinary scan again
    assert [r["verdict"] for r in queue.pending()] == ["unregistered", "intake", "unregistered"]


def test_a_known_serial_is_that_assets_verdict_not_an_intake(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    audit.handle(scan("IT-999"))
    verdict = audit.handle(scan("S1"))
    assert verdict.kind.value == "verified" and verdict.label == "IT-1"
    assert not audit.intake.gathering and intakes(queue) == []
    assert audit.handle(scan("S2")).kind.value == "mislocated"
    audit.press(press("end"))
    assert intakes(queue) == []


def test_the_timeout_closes_it(parts) -> None:
    tmp_path, queue = parts
    clock = Clock()
    audit = make_audit(tmp_path, queue, clock)
    audit.handle(scan("IT-999"))
    clock.now += 10.0
    audit.handle(scan("5CG1234XYZ"))
    clock.now += 19.0
    audit.tick()
    assert audit.intake.gathering
    clock.now += 1.0
    audit.tick()
    assert not audit.intake.gathering and len(intakes(queue)) == 1


def test_a_room_label_closes_it_then_changes_room(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    audit.handle(scan("IT-999"))
    audit.handle(scan(f"(01){GTIN}"))
    first_room = audit.stamp.session_id
    audit.handle(scan("LOC:Floor 3"))
    [record] = intakes(queue)
    assert record.location == "Storage B" and record.session_id == first_room
    assert record.identifiers == {"gtin": GTIN}
    assert audit.session.location == "Floor 3"
    [report] = [r for _, r in audit.pending_reports.items()]
    assert [i["intake_id"] for i in report["intakes"]] == [record.intake_id]


def test_nothing_gathered_makes_no_record(parts) -> None:
    tmp_path, queue = parts
    clock = Clock()
    audit = make_audit(tmp_path, queue, clock)
    audit.handle(scan("IT-999"))
    clock.now += 30.0
    audit.tick()
    assert not audit.intake.gathering and intakes(queue) == []


def test_without_register_intake_nothing_changes(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock(), intake=False)
    audit.handle(scan("IT-999"))
    audit.handle(scan("5CG1234XYZ"))
    assert not audit.intake.gathering
    assert [r["verdict"] for r in queue.pending()] == ["unregistered", "unregistered"]
    assert audit.handle(scan("INTAKE")).kind.value == "unregistered"


# The real command -----------------------------------------------------------------------

def intake_config(folder: Path, *, printer: bool = False) -> Path:
    room = make_room(3, location="Server Room")
    room.write_manifest(folder / "expected.csv")
    config = folder / "stocktaker.toml"
    write_config(config, camera=False, scanner=True, location="Server Room", repeat_window=0)
    text = config.read_text(encoding="utf-8").replace(
        'outbox = "out/"\n',
        'outbox = "out/"\nintake = true\nintake_tag_range = "FIELD-0001..FIELD-0999"\n')
    if printer:
        text += '[printer]\nbackend = "file"\nfolder = "printed/"\n'
    config.write_text(text, encoding="utf-8")
    return config


def intake_rows(folder: Path) -> list[dict]:
    with (folder / "out" / "intake-hh-test.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("printer", [False, True])
def test_stocktaker_run_records_an_intake(tmp_path: Path, printer: bool) -> None:
    config = intake_config(tmp_path, printer=printer)
    lines = ["IT-999999", "5CG1234XYZ", f"(01){GTIN}"]

    done = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                          input="\n".join(lines).encode() + b"\n", capture_output=True,
                          timeout=300, cwd=tmp_path)

    assert done.returncode == 0, done.stderr.decode()
    [row] = intake_rows(tmp_path)
    assert row["Serial Number"] == "5CG1234XYZ" and row["Asset Tag"] == "FIELD-0001"
    assert row["Location"] == "Server Room" and "gtin " + GTIN in row["Asset Notes"]
    [report_path] = (tmp_path / "out").glob("report-*.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    [intake] = report["intakes"]
    assert intake["intake_id"] == row["Intake Id"]
    assert intake["identifiers"] == {"serial": "5CG1234XYZ", "gtin": GTIN}
    assert intake["unknown_label"] == "IT-999999"
    assert [u["payload"] for u in report["unregistered"]] == ["IT-999999"]
    assert "FIELD-0001       serial 5CG1234XYZ" in done.stdout.decode()
    assert [label["asset_tag"] for label in report["labels"]] == (["FIELD-0001"] if printer
                                                                  else [])


def test_an_intake_survives_a_kill_once(tmp_path: Path) -> None:
    config = intake_config(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        # three identifiers close the intake by themselves; then wait for its screen
        proc.stdin.write(f"IT-999999\n5CG1234XYZ\n(01){GTIN}\n00:1A:2B:3C:4D:5E\n".encode())
        proc.stdin.flush()
        seen = b""
        deadline = time.monotonic() + 240
        while b"intake saved FIELD-0001" not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, seen.decode(errors="replace")[-2000:]
            seen += chunk
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()

    done = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                          input=b"", capture_output=True, timeout=300, cwd=tmp_path)

    assert done.returncode == 0, done.stderr.decode()
    [row] = intake_rows(tmp_path)
    assert row["Asset Tag"] == "FIELD-0001" and row["Serial Number"] == "5CG1234XYZ"
    [report_path] = (tmp_path / "out").glob("report-*.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert [i["intake_id"] for i in report["intakes"]] == [row["Intake Id"]]
    assert report["resumed"] == 1


def test_with_a_printer_the_new_tag_s_label_is_queued_and_reported(parts) -> None:
    tmp_path, queue = parts
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    audit = HandheldAudit(
        Settings("hh-1", "ana", "Storage B", 0.0, DEFAULT_TAG_PATTERN, intake=True),
        Inventory(register.expected_assets()), queue, register,
        PendingReports(tmp_path / "state" / "reports"), TerminalDisplay(stream=io.StringIO()),
        TerminalFeedback(stream=io.StringIO()), Clock(),
        intake_tags=device_tags("FIELD-0001..FIELD-0009", tmp_path / "state"),
        label_url=lambda tag: f"https://assets.example/ht/{tag}", label_line="ACME")
    audit.handle(scan("IT-999"))
    audit.handle(scan("5CG1234XYZ"))
    audit.press(press("end"))
    [job] = PrintJobs(tmp_path / "state" / "labels").jobs()
    assert (job.tag, job.url, job.line, job.state) == (
        "FIELD-0001", "https://assets.example/ht/FIELD-0001", "ACME", "queued")
    assert job.location == "Storage B"
    report = audit.finish_room()
    assert [label["asset_tag"] for label in report["labels"]] == ["FIELD-0001"]
    assert [i["asset_tag"] for i in report["intakes"]] == ["FIELD-0001"]


@pytest.mark.parametrize("text", ["INTAKE", "intake", "]Q1INTAKE", " Intake "])
def test_an_intake_label_is_read_as_one(text) -> None:
    from firmware.tags import TagKind, parse_read

    assert parse_read(scan(text)).kind is TagKind.INTAKE
    assert parse_read(scan("INTAKE-7")).kind is not TagKind.INTAKE
