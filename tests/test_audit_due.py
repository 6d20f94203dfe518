"""Audit due dates: the register's next audit date through the adapters, on the screens and
in the room's report."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sync.asset import Asset, audit_date, audit_overdue
from firmware.audit_rules import AuditSession
from firmware.config import RegisterConfig
from firmware.errors import RegisterUnavailable
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Inventory
from firmware.room_report import format_report
from firmware.screens import progress_screen, verdict_screen
from firmware.tags import DEFAULT_TAG_PATTERN, Tag, TagKind
from firmware.verdicts import Progress, Verdict, VerdictKind
from hal.display.base import NullDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.files import FilesRegister
from sync.http import _assets
from sync.manifest import ManifestError, read_manifest
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports
from sync.snipeit import SnipeItRegister
from tests.snipeit_emulator import SnipeItEmulator
from tests.sightings import typed

TODAY = date(2026, 12, 7)


def tag(value: str) -> Tag:
    return Tag(TagKind.ASSET_TAG, value, "plain")


# -- the date itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2027-03-01", "2027-03-01"), ("2027-03-01 00:00:00", "2027-03-01"),
    (" 2027-03-01T10:20:30Z ", "2027-03-01"), ("", "")])
def test_audit_date_takes_a_date_or_a_date_and_time(text, expected):
    assert audit_date(text) == expected


@pytest.mark.parametrize("text", ["01/03/2027", "2027-02-30", "next year", "2027-3-1"])
def test_audit_date_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError, match="date"):
        audit_date(text)


def test_overdue_is_a_date_before_today_and_never_without_one():
    assert audit_overdue(Asset("A", next_audit_date="2026-12-06"), TODAY)
    assert not audit_overdue(Asset("A", next_audit_date="2026-12-07"), TODAY)  # due today
    assert not audit_overdue(Asset("A"), TODAY)
    assert not audit_overdue(Asset("A", next_audit_date="2026-01-01"), None)


# -- through the adapters -------------------------------------------------------------------------


def test_csv_snipeit_export_header(tmp_path: Path):
    path = tmp_path / "expected.csv"
    path.write_text("Asset Tag,Location,Next Audit Date\nIT-1,Store,2026-11-30\nIT-2,Store,\n")
    assert [a.next_audit_date for a in read_manifest(path)] == ["2026-11-30", ""]


def test_csv_column_named_in_register_columns(tmp_path: Path):
    path = tmp_path / "expected.csv"
    path.write_text("tag,room,Prüfung fällig\nIT-1,Store,2026-11-30 00:00:00\n")
    assets = read_manifest(path, {"asset_tag": "tag", "location": "room",
                                  "next_audit_date": "Prüfung fällig"})
    assert assets[0].next_audit_date == "2026-11-30"


def test_csv_bad_date_names_line_and_column(tmp_path: Path):
    path = tmp_path / "expected.csv"
    path.write_text("asset_tag,location,next_audit_date\nIT-1,Store,2026-11-30\n"
                    "IT-2,Store,30.11.2026\n")
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert "line 3" in str(caught.value) and "next audit date '30.11.2026' is not a date" \
        in str(caught.value)


def test_snipeit_expected_inventory_carries_next_audit_date(tmp_path: Path):
    with SnipeItEmulator("t", throttle_limit=None) as emu:
        emu.add_location("Store")
        emu.add_asset("IT-1", location="Store")
        emu.add_asset("IT-2", location="Store")
        emu.asset("IT-1").next_audit_date = "2026-11-30"
        token = tmp_path / "token"
        token.write_text("t\n")
        token.chmod(0o600)
        config = RegisterConfig(adapter="snipeit", url=emu.url, token_file=token,
                                outbox=tmp_path / "out", rate_per_minute=6000.0)
        with SnipeItRegister(config, "h") as register:
            assets = {a.asset_tag: a for a in register.expected_assets()}
    assert assets["IT-1"].next_audit_date == "2026-11-30"
    assert assets["IT-2"].next_audit_date == ""


def test_snipeit_audit_moves_the_next_audit_date(tmp_path: Path):
    """What the device reads after an audit: Snipe-IT's new date (today plus the interval)."""
    with SnipeItEmulator("t", throttle_limit=None, audit_interval=12) as emu:
        emu.add_asset("IT-1")
        emu.asset("IT-1").next_audit_date = "2020-01-01"
        token = tmp_path / "token"
        token.write_text("t\n")
        token.chmod(0o600)
        config = RegisterConfig(adapter="snipeit", url=emu.url, token_file=token,
                                outbox=tmp_path / "out", rate_per_minute=6000.0)
        with SnipeItRegister(config, "h") as register:
            register.push(typed([{"sighting_id": "0b8e4c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b",
                            "session_id": "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80",
                            "asset_tag": "IT-1", "verdict": "verified", "location": None}]))
            (asset,) = register.expected_assets()
    assert asset.next_audit_date > "2026-01-01"


def test_http_manifest_next_audit_date_is_optional():
    assets = _assets({"assets": [
        {"asset_tag": "IT-1", "next_audit_date": "2026-11-30"}, {"asset_tag": "IT-2"},
        {"asset_tag": "IT-3", "next_audit_date": None}]}, "http://r/manifest")
    assert [a.next_audit_date for a in assets] == ["2026-11-30", "", ""]
    with pytest.raises(RegisterUnavailable, match="asset 1 .* next_audit_date"):
        _assets({"assets": [{"asset_tag": "IT-1", "next_audit_date": "soon"}]}, "u")


# -- the room: verdicts, progress, report -------------------------------------------------------


INVENTORY = Inventory([
    Asset("IT-1", name="Laptop", location="Store", next_audit_date="2026-10-01"),
    Asset("IT-2", name="Dock", location="Store", next_audit_date="2026-11-01"),
    Asset("IT-3", name="Screen", location="Store", next_audit_date="2027-05-01"),
    Asset("IT-4", name="Phone", location="Lab", next_audit_date="2026-01-01"),
    Asset("IT-5", name="Printer", location="Store")])


def test_verdicts_and_progress_count_overdue_assets():
    session = AuditSession(INVENTORY, "Store", TODAY)
    assert session.progress().overdue_missing == 2
    for value in ("IT-1", "IT-3", "IT-4"):
        verdict = session.judge(tag(value))
        session.count(verdict, tag(value))
        assert verdict.overdue == (value != "IT-3")
    assert session.judge(tag("IT-4")).kind is VerdictKind.REPEAT
    progress = session.progress()
    assert (progress.verified, progress.overdue_found, progress.overdue_missing) == (2, 1, 1)


def test_without_a_date_for_today_nothing_is_overdue():
    session = AuditSession(INVENTORY, "Store")
    assert not session.judge(tag("IT-1")).overdue
    assert session.progress().overdue_missing == 0


class SyncedClock:
    def wall(self) -> float: return 1796630400.0  # 2026-12-07 in every time zone's noon band
    def mono(self) -> float: return 12.5
    def boot_id(self) -> str: return "boot-1"
    def synced(self) -> bool: return True


class UnsyncedClock(SyncedClock):
    def synced(self) -> bool: return False


class Screens(NullDisplay):
    """Keeps every frame shown."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def show(self, image, caption: str = "") -> None:
        self.frames.append(image.tobytes())


@pytest.mark.parametrize("clock", [SyncedClock(), UnsyncedClock()], ids=["synced", "unsynced"])
def test_handheld_screen_progress_and_report(tmp_path: Path, clock):
    (tmp_path / "expected.csv").write_text(
        "asset_tag,name,location,next_audit_date\nIT-1,Laptop,Store,2026-10-01\n"
        "IT-2,Dock,Store,2026-11-01\nIT-3,Screen,Store,2027-05-01\nIT-4,Phone,Lab,2026-01-01\n")
    queue = SightingQueue(tmp_path / "state")
    screen = Screens()
    try:
        register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
        audit = HandheldAudit(Settings("hh-1", "ana", "Store", 2.0, DEFAULT_TAG_PATTERN),
                              Inventory(register.expected_assets()), queue, register,
                              PendingReports(tmp_path / "state" / "reports"),
                              screen, TerminalFeedback(stream=io.StringIO()), clock)
        for value in ("IT-1", "IT-3", "IT-4"):
            audit.handle(Read(value.encode(), "UNKNOWN", "stdin", 0.0))
        audit.show_progress()
        report = audit.finish_room()
    finally:
        queue.close()
    assert report is not None
    synced = isinstance(clock, UnsyncedClock) is False
    laptop = Asset("IT-1", name="Laptop", location="Store", next_audit_date="2026-10-01",
                   origin="expected.csv, line 2")
    shown = verdict_screen(Verdict(VerdictKind.VERIFIED, "IT-1", laptop, overdue=synced),
                           Progress("Store", 1, 3))  # the footer: verified/expected only
    assert shown.tobytes() in screen.frames
    after = Progress("Store", 2, 3, *((1, 1) if synced else (0, 0)))
    assert progress_screen(after).tobytes() in screen.frames
    overdue = report["overdue"]
    if not synced:
        assert overdue == {"as_of": None, "found": [], "ghosts": []}
        return
    assert overdue["as_of"] == "2026-12-07"
    assert [(f["asset_tag"], f["verdict"]) for f in overdue["found"]] == [
        ("IT-1", "verified"), ("IT-4", "mislocated")]
    assert [g["asset_tag"] for g in overdue["ghosts"]] == ["IT-2"]
    text = format_report(report)
    assert "Overdue for audit on 2026-12-07, found:" in text
    assert "IT-4             due 2026-01-01  mislocated  Phone" in text
    assert "Overdue for audit on 2026-12-07, not seen (overdue ghosts):" in text
    assert "IT-2             due 2026-11-01" in text


def test_report_of_an_older_version_has_no_overdue_part():
    text = format_report({"session_id": "s", "counts": {}, "scans": []})
    assert "Overdue" not in text and "not as stocktaker writes it" not in text


def test_stocktaker_report_prints_the_overdue_lists(tmp_path: Path):
    report = {"session_id": "s-1", "location": "Store", "counts": {"verified": 1}, "scans": [],
              "overdue": {"as_of": "2026-12-07",
                          "found": [{"asset_tag": "IT-1", "name": "Laptop\x1b[2J",
                                     "next_audit_date": "2026-10-01", "verdict": "verified"}],
                          "ghosts": [{"asset_tag": "IT-2", "serial": "S2", "name": "Dock",
                                      "next_audit_date": "2026-11-01"}]}}
    path = tmp_path / "report-s-1.json"
    path.write_text(json.dumps(report))
    done = subprocess.run([sys.executable, "-m", "firmware", "report", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Overdue for audit on 2026-12-07, found:" in done.stdout
    assert "IT-1             due 2026-10-01  verified  Laptop" in done.stdout
    assert "\x1b" not in done.stdout  # register text made terminal-safe
    assert "IT-2             due 2026-11-01  S2             Dock" in done.stdout
