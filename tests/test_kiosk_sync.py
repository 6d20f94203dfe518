"""A door kiosk's events through the queue, the engine and the ``files`` adapter; conflicts kept.

The helpers here (:func:`event`, :class:`Kiosk`) are shared by the http and Snipe-IT
scenarios in ``test_kiosk_sync_http.py`` and ``test_kiosk_sync_snipeit.py``.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sync.person import Person
from sync.sighting import Sighting
from sync.engine import Backoff, SyncEngine, summarise
from sync.files import FilesRegister
from sync.memory_register import MemoryRegister
from sync.movements_csv import MOVEMENT_COLUMNS
from sync.queue import SightingQueue, format_status, read_status
from sync.register import ItemStatus, Register
from sync.pending_reports import PendingReports
from tests.sightings import typed

ANA = Person("0004211234", "E-100", "Ana Lopes", "ana", 7)
BEN = Person("0004215678", "E-101", "=HYPERLINK(\"x\")", "ben", 8)


class FixedClock:
    """A clock that is synchronised and never moves (the engine's status needs one)."""

    def wall(self) -> float:
        return 1_796_000_000.0

    def mono(self) -> float:
        return 100.0

    def boot_id(self) -> str:
        return "boot-1"

    def synced(self) -> bool:
        return True


def event(verdict: str, asset_tag: str | None, person: Person | None = ANA, *,
          room: str = "Storage B", device: str = "kiosk-1",
          wall_time: str = "2026-11-24T09:15:02.120Z", recorded: str | None = "Storage B",
          reason: str | None = None, session: str | None = None) -> dict[str, Any]:
    """A kiosk event record exactly as :meth:`Sighting.to_record` makes it."""
    return Sighting(
        sighting_id=str(uuid.uuid4()), device_id=device,
        session_id=session or str(uuid.uuid4()), location=room, technician="",
        tag=None if asset_tag is None else {"kind": "asset_tag", "value": asset_tag,
                                            "scheme": None, "aim": None, "serial": None,
                                            "gtin": None, "site": None},
        asset_tag=asset_tag, payload=asset_tag or "XX-??", symbology="QR", source="scanner",
        verdict=verdict, recorded_location=recorded, reason=reason, wall_time=wall_time,
        clock_synchronized=True, monotonic=1.0, boot_id="boot-1", firmware_version="0.1.0",
        person=None if person is None else person.to_record(),
    ).to_record()


class Kiosk:
    """One kiosk device: its own queue folder and sync engine against ``register``."""

    def __init__(self, directory: Path, register: Register) -> None:
        self.queue = SightingQueue(directory, seal_after=0.0)
        self.engine = SyncEngine(self.queue, register, PendingReports(directory / "reports"),
                                 FixedClock(), batch_size=10, backoff=Backoff(base=0.01))
        self.directory = directory

    def scan(self, *records: Mapping[str, Any]) -> None:
        for record in records:
            self.queue.append(record)

    def close(self) -> None:
        self.queue.close()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- files adapter ----------------------------------------------------------------------


def test_kiosk_events_go_to_jsonl_and_the_daily_movements_csv_once(tmp_path: Path) -> None:
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "out", "kiosk-1")
    out = event("checked_out", "IT-1")
    back = event("checked_in", "IT-1", None, wall_time="2026-11-25T08:00:00.000Z")
    refused = event("refused", None, None, reason="no badge")
    audit = {**event("verified", "IT-2", None), "person": None}
    batch = [out, back, refused, audit]
    assert [r.status for r in register.push(typed(batch))] == [ItemStatus.ACCEPTED] * 4
    assert [r.status for r in register.push(typed(batch))] == [ItemStatus.DUPLICATE] * 4
    lines = (tmp_path / "out" / "sightings-kiosk-1.jsonl").read_text().splitlines()
    assert [json.loads(line)["verdict"] for line in lines] == [
        "checked_out", "checked_in", "refused", "verified"]
    first = csv_rows(tmp_path / "out" / "movements-kiosk-1-2026-11-24.csv")
    assert [r["movement"] for r in first] == ["checked_out", "refused"]
    assert first[0]["username"] == "ana" and first[0]["badge"] == "0004211234"
    assert first[0]["at"] == "2026-11-24T09:15:02.120Z" and first[0]["room"] == "Storage B"
    assert first[1]["reason"] == "no badge" and first[1]["asset_tag"] == ""
    second = csv_rows(tmp_path / "out" / "movements-kiosk-1-2026-11-25.csv")
    assert [(r["movement"], r["sighting_id"]) for r in second] == [
        ("checked_in", back["sighting_id"])]
    assert list(first[0]) == list(MOVEMENT_COLUMNS)


def test_movement_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "out", "kiosk-1")
    register.push(typed([event("checked_out", "-IT-1", BEN)]))
    row = csv_rows(tmp_path / "out" / "movements-kiosk-1-2026-11-24.csv")[0]
    assert row["person_name"] == "'=HYPERLINK(\"x\")" and row["asset_tag"] == "'-IT-1"


def test_a_movement_row_lost_after_a_crash_is_written_on_the_retry(tmp_path: Path) -> None:
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "out", "kiosk-1")
    record = event("checked_out", "IT-1")
    register.push(typed([record]))
    day = tmp_path / "out" / "movements-kiosk-1-2026-11-24.csv"
    day.unlink()  # as if the CSV had not been written when the process died
    assert register.push(typed([record]))[0].status is ItemStatus.DUPLICATE
    assert [r["sighting_id"] for r in csv_rows(day)] == [record["sighting_id"]]


def test_a_damaged_movements_file_is_set_aside_not_lost(tmp_path: Path) -> None:
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "out", "kiosk-1")
    day = tmp_path / "out" / "movements-kiosk-1-2026-11-24.csv"
    day.parent.mkdir()
    day.write_text('sighting_id\n"abc\x00\n"x"y', encoding="utf-8")
    register.push(typed([event("checked_out", "IT-1")]))
    assert len(csv_rows(day)) == 1
    assert (day.parent / "movements-kiosk-1-2026-11-24.damaged.csv").read_text(
        encoding="utf-8").startswith("sighting_id\n\"abc")


# --- conflicts in the engine and the queue ---------------------------------------------


def disagreeing(*records: Mapping[str, Any]) -> MemoryRegister:
    """A register that answers each record by its asset tag: CONFLICT-*, REJECT-*, else ok."""
    register = MemoryRegister()
    for record in records:
        tag, sighting_id = str(record.get("asset_tag")), str(record["sighting_id"])
        if tag.startswith("CONFLICT"):
            register.disputes[sighting_id] = (
                f"{tag} is checked out to Zoë \x1b[31m",
                {"holder": {"name": "Zoë", "id": 3}, "status": "Ready to Deploy",
                 "location": None})
        elif tag.startswith("REJECT"):
            register.refusals[sighting_id] = "no"
    return register


def test_a_conflict_leaves_the_queue_with_both_sides_and_is_never_sent_again(
        tmp_path: Path) -> None:
    records = [event("checked_out", "IT-1"), event("checked_out", "CONFLICT-2"),
               event("checked_in", "REJECT-3", None)]
    kiosk = Kiosk(tmp_path / "state", disagreeing(*records))
    kiosk.scan(*records)
    result = kiosk.engine.run_once()
    assert (result.sent, result.conflicts, result.dead_lettered, result.left) == (1, 1, 1, 0)
    assert "conflicts 1" in summarise(result)
    [kept] = kiosk.queue.conflicts()
    assert kept["record"] == json.loads(json.dumps(records[1]))
    assert kept["register_side"]["holder"] == {"name": "Zoë", "id": 3}
    assert kept["reason"].startswith("CONFLICT-2 is checked out to") and kept["conflict_at"]
    assert kiosk.engine.run_once().sent == 0  # nothing left to send, nothing retried
    assert kiosk.engine.status().conflicts == 1 and kiosk.engine.status().dead_letters == 1
    kiosk.close()
    status = read_status(tmp_path / "state")
    assert status["conflicts"] == 1
    item = status["conflict_items"][0]
    assert (item["asset_tag"], item["person"], item["register_holder"]) == (
        "CONFLICT-2", "Ana Lopes", "Zoë")
    text = "\n".join(format_status(status))
    assert "conflicts: 1 (the register disagreed" in text
    assert f"checked_out CONFLICT-2 by Ana Lopes  {records[1]['sighting_id']}" in text


def test_conflicts_survive_a_restart_and_a_move_cut_short(tmp_path: Path) -> None:
    record = event("checked_out", "CONFLICT-1")
    kiosk = Kiosk(tmp_path / "state", disagreeing(record))
    kiosk.scan(record)
    kiosk.queue.pending()  # seals the open segment
    kiosk.engine.run_once()
    kiosk.close()
    # As if the process died after the conflict was stored but before the record left the
    # queue: put it back, and reopen.
    again = SightingQueue(tmp_path / "state")
    again.append(record)
    again.close()
    reopened = SightingQueue(tmp_path / "state")
    try:
        assert len(reopened) == 0 and len(reopened.conflicts()) == 1
        assert reopened.conflict([(record["sighting_id"], "x", None)]) == 0
    finally:
        reopened.close()


def test_conflict_takes_only_triples(tmp_path: Path) -> None:
    with SightingQueue(tmp_path) as queue:
        with pytest.raises(TypeError, match="triples"):
            queue.conflict([("id", "reason")])  # type: ignore[list-item]
