"""A report carries its campaign: ``audit.campaign``, a ``CAMPAIGN:<name>`` label, resumes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from firmware.config import load_config
from firmware.errors import ConfigError
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Inventory
from firmware.room_report import format_report
from firmware.tags import DEFAULT_TAG_PATTERN, Tag, TagKind, TagRejected, parse_read
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.receiver.protocol import check_report
from sync.pending_reports import PendingReports
from tests.test_resume import MANIFEST, VirtualClock, reports


class Device:
    def __init__(self, folder: Path, clock: VirtualClock, campaign: str | None = None,
                 resume_within: float = 12 * 3600.0) -> None:
        (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
        self.queue = SightingQueue(folder / "state")
        register = FilesRegister(folder / "expected.csv", folder / "out", "hh-1")
        self.audit = HandheldAudit(
            Settings("hh-1", "ana", None, 0.0, DEFAULT_TAG_PATTERN, 10.0, resume_within,
                     campaign=campaign),
            Inventory(register.expected_assets()), self.queue, register,
            PendingReports(folder / "state" / "reports"), TerminalDisplay(stream=io.StringIO()),
            TerminalFeedback(stream=io.StringIO()), clock)

    def scan(self, *lines: str) -> None:
        for line in lines:
            self.audit.handle(Read(line.encode(), "UNKNOWN", "stdin", 0.0))

    def power_cut(self) -> None:
        self.audit.journal.close()
        self.queue.close()

    def stop(self) -> dict | None:
        report = self.audit.finish_room()
        self.queue.close()
        return report


@pytest.mark.parametrize("text, tag", [
    ("CAMPAIGN:Q4 2026", Tag(TagKind.CAMPAIGN, "Q4 2026", "campaign")),
    ("campaign:  Floor  2 ", Tag(TagKind.CAMPAIGN, "Floor 2", "campaign")),
    ("]Q1CAMPAIGN:Site-7", Tag(TagKind.CAMPAIGN, "Site-7", "campaign", aim="]Q1")),
])
def test_campaign_labels(text: str, tag: Tag) -> None:
    assert parse_read(Read(text.encode(), "QR", "camera", 0.0)) == tag


@pytest.mark.parametrize("text, reason", [
    ("CAMPAIGN:", "campaign label without a campaign name"),
    ("CAMPAIGN:Q4\u202e", "control character U+202E in label"),
])
def test_bad_campaign_labels(text: str, reason: str) -> None:
    with pytest.raises(TagRejected, match=re.escape(reason)):
        parse_read(Read(text.encode(), "QR", "camera", 0.0))


def test_the_configured_campaign_tags_every_report(tmp_path: Path) -> None:
    device = Device(tmp_path, VirtualClock(), campaign="Q4")
    device.scan("LOC:Storage B", "IT-1", "LOC:Storage A", "IT-4")
    device.stop()
    assert [(r["location"], r["campaign"]) for r in reports(tmp_path)] in (
        [("Storage B", "Q4"), ("Storage A", "Q4")], [("Storage A", "Q4"), ("Storage B", "Q4")])


def test_a_campaign_label_tags_the_open_room_and_the_next_ones(tmp_path: Path) -> None:
    device = Device(tmp_path, VirtualClock(), campaign="Old")
    device.scan("LOC:Storage B", "IT-1", "CAMPAIGN:Floor 2", "IT-2", "LOC:Storage A", "IT-4")
    assert device.audit.reports[0]["campaign"] == "Floor 2"
    assert device.audit.reports[0]["counts"]["verified"] == 2  # the label is no scan
    assert not any("CAMPAIGN" in str(s["payload"]) for s in device.audit.reports[0]["scans"])
    report = device.stop()
    assert report is not None and report["campaign"] == "Floor 2"
    assert check_report(report, report["session_id"])["campaign"] == "Floor 2"
    assert "\n  campaign Floor 2\n" in format_report(report)


def test_no_campaign_is_null(tmp_path: Path) -> None:
    device = Device(tmp_path, VirtualClock())
    device.scan("LOC:Storage B", "IT-1")
    report = device.stop()
    assert report is not None and report["campaign"] is None


@pytest.mark.parametrize("when", ["before the first scan", "after a scan"])
def test_the_campaign_survives_a_power_cut(tmp_path: Path, when: str) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, campaign="Old")
    if when == "before the first scan":
        first.scan("CAMPAIGN:Q4", "LOC:Storage B", "IT-1")
    else:
        first.scan("LOC:Storage B", "IT-1", "CAMPAIGN:Q4")
    first.power_cut()
    clock.now += 600
    second = Device(tmp_path, clock, campaign="Old")
    second.scan("IT-2")
    report = second.stop()
    assert report is not None and report["campaign"] == "Q4" and report["resumed"] == 1


def test_a_room_closed_as_interrupted_keeps_its_campaign(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, resume_within=3600.0)
    first.scan("CAMPAIGN:Q4", "LOC:Storage B", "IT-1")
    first.power_cut()
    clock.now += 2 * 3600
    second = Device(tmp_path, clock, resume_within=3600.0)
    closed = second.audit.reports[0]
    assert closed["interrupted"] is True and closed["campaign"] == "Q4"
    second.power_cut()


def test_audit_campaign_key(tmp_path: Path) -> None:
    path = tmp_path / "stocktaker.toml"
    path.write_text('[audit]\ncampaign = "Q4 2026"\n', encoding="utf-8")
    assert load_config(path).audit.campaign == "Q4 2026"
    path.write_text('[audit]\ncampaign = " "\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="audit.campaign.*empty campaign name"):
        load_config(path)


def test_a_campaign_label_names_no_asset(tmp_path: Path) -> None:
    from firmware.identity import Outcome

    inventory = Inventory([])
    found = inventory.resolve(Tag(TagKind.CAMPAIGN, "IT-1", "campaign"))
    assert found.outcome is Outcome.UNKNOWN and found.reason == "a campaign label names no asset"


def test_rooms_after_a_resumed_room_keep_its_campaign(tmp_path: Path) -> None:
    clock = VirtualClock()
    first = Device(tmp_path, clock, campaign="Old")
    first.scan("CAMPAIGN:Q4", "LOC:Storage B", "IT-1")
    first.power_cut()
    clock.now += 600
    second = Device(tmp_path, clock, campaign="Old")
    second.scan("LOC:Storage A", "IT-4")
    report = second.stop()
    assert report is not None and report["location"] == "Storage A"
    assert [r["campaign"] for r in second.audit.reports] == ["Q4", "Q4"]
