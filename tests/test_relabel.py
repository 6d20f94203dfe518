"""Relabelling on the handheld: a RELABEL label, then the asset's scan queues its label."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Inventory
from firmware.print_jobs import PrintJobs
from firmware.tags import DEFAULT_TAG_PATTERN, TagKind, parse_read
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from sync.files import FilesRegister
from sync.pending_reports import PendingReports
from sync.queue import SightingQueue
from tests.test_intake_flow import Clock, captions, intake_config, scan


@pytest.fixture
def parts(tmp_path: Path):
    (tmp_path / "expected.csv").write_text(
        "asset_tag,serial,name,location,status,assigned_to,id\n"
        "IT-1,S1,Laptop,Storage B,,,1\nIT-2,S2,Dock,Floor 3,,,2\n")
    queue = SightingQueue(tmp_path / "state")
    yield tmp_path, queue
    queue.close()


def make_audit(tmp_path: Path, queue, clock: Clock, *, printer: bool = True) -> HandheldAudit:
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    return HandheldAudit(
        Settings("hh-1", "ana", "Storage B", 0.0, DEFAULT_TAG_PATTERN, intake_timeout=20.0),
        Inventory(register.expected_assets()), queue, register,
        PendingReports(tmp_path / "state" / "reports"), TerminalDisplay(stream=io.StringIO()),
        TerminalFeedback(stream=io.StringIO()), clock,
        label_url=(lambda tag: f"https://assets.example/ht/{tag}") if printer else None,
        label_line="ACME")


def jobs(tmp_path: Path) -> list:
    return PrintJobs(tmp_path / "state" / "labels").jobs()


def test_a_relabel_label_is_read_as_one() -> None:
    assert parse_read(scan(" relabel ")).kind is TagKind.RELABEL
    assert parse_read(scan("RELABEL-1")).kind is not TagKind.RELABEL


def test_armed_then_a_known_serial_queues_its_tag_s_label(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    audit.handle(scan("RELABEL"))
    assert audit.handle(scan("S1")).kind.value == "verified"
    [job] = jobs(tmp_path)
    assert (job.tag, job.url, job.state) == ("IT-1", "https://assets.example/ht/IT-1", "queued")
    assert captions(audit)[-2:] == ["verified IT-1", "relabel IT-1"]
    audit.handle(scan("S2"))  # one-shot: the next scan prints nothing
    assert len(jobs(tmp_path)) == 1
    report = audit.finish_room()
    assert [label["asset_tag"] for label in report["labels"]] == ["IT-1"]
    assert report["counts"]["verified"] == 1
    assert [r["verdict"] for r in queue.pending()][:1] == ["verified"]


def test_armed_then_an_unknown_label_prints_nothing(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock())
    audit.handle(scan("RELABEL"))
    assert audit.handle(scan("NOPE-404")).kind.value == "unregistered"
    assert jobs(tmp_path) == []


def test_without_a_printer_it_is_an_error_and_nothing_is_armed(parts) -> None:
    tmp_path, queue = parts
    audit = make_audit(tmp_path, queue, Clock(), printer=False)
    audit.handle(scan("RELABEL"))
    assert captions(audit)[-1] == "error"
    audit.handle(scan("S1"))
    assert jobs(tmp_path) == []


def test_the_timeout_disarms_it(parts) -> None:
    tmp_path, queue = parts
    clock = Clock()
    audit = make_audit(tmp_path, queue, clock)
    audit.handle(scan("RELABEL"))
    clock.now += 20.0
    audit.tick()
    audit.handle(scan("S1"))
    assert jobs(tmp_path) == []


def test_stocktaker_run_prints_a_relabel_once(tmp_path: Path) -> None:
    config = intake_config(tmp_path, printer=True)
    # the running spooler takes queued labels every sync.interval seconds
    config.write_text(config.read_text(encoding="utf-8") + "[sync]\ninterval = 0.2\n",
                      encoding="utf-8")
    with (tmp_path / "expected.csv").open(newline="", encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Location"] == "Server Room")
    tag, serial = row["Asset Tag"], row["Serial"]
    proc = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        proc.stdin.write(f"RELABEL\n{serial}\n".encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 240
        while not any(job.state == "printed" for job in jobs(tmp_path)):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the label was not printed"
            time.sleep(0.2)
        proc.stdin.close()
        assert proc.wait(timeout=240) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    printed = list((tmp_path / "printed").iterdir())
    assert len(printed) == 1, printed
    [job] = jobs(tmp_path)
    assert job.tag == tag and job.state == "printed"
    [report_path] = (tmp_path / "out").glob("report-*.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert [label["asset_tag"] for label in report["labels"]] == [tag]
    assert report["counts"]["verified"] == 1
