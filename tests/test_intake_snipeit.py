"""Intake records in Snipe-IT: the ``snipeit`` adapter against the emulator on loopback
(create, model by model number or GTIN or unknown, validation errors, replays, tags)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.config import RegisterConfig
from firmware.errors import RegisterUnavailable
from sync.engine import Backoff, SyncEngine
from sync.intake import IntakeRecord
from sync.queue import SightingQueue
from sync.register import ItemStatus
from sync.snipeit import SnipeItRegister
from sync.pending_reports import PendingReports
from sync.snipeit_intake import gtin14
from tests.snipeit_emulator import SnipeItEmulator
from tests.test_kiosk_sync import FixedClock
from tests.sightings import typed

TOKEN = "snipe-intake-token"


@pytest.fixture
def emulator() -> Iterator[SnipeItEmulator]:
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=3) as emu:
        emu.add_location("Storage B")
        emu.add_model("Unknown model", category="Unsorted")
        emu.add_model("ThinkPad T14 Gen 4", "21HD003MGE", manufacturer="Lenovo")
        emu.add_model("Catalyst 9200L", "4006381333931", category="Switches")
        emu.add_asset("IT-1", serial="PF3XYZ01", location="Storage B")
        yield emu


def register(emu: SnipeItEmulator, tmp_path: Path, **keys: Any) -> SnipeItRegister:
    token = tmp_path / "snipe.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return SnipeItRegister(RegisterConfig(adapter="snipeit", url=emu.url, token_file=token,
                                          outbox=tmp_path / "out", timeout=2.0,
                                          rate_per_minute=6000.0, intake=True, **keys),
                           "handheld-07")


def intake(tag: str | None = "FIELD-0001", room: str = "Storage B",
           **identifiers: str) -> dict[str, Any]:
    return IntakeRecord(
        intake_id=str(uuid.uuid4()), device_id="handheld-07", session_id=str(uuid.uuid4()),
        location=room, technician="Ana & Ben", wall_time="2026-12-07T09:15:02Z",
        clock_synchronized=True, identifiers=identifiers or {"serial": "SN-NEW-1"},
        unknown_label="IT-77?" if tag else None, asset_tag=tag,
        firmware_version="1.4.0").to_record()


def test_an_intake_becomes_a_pending_asset_in_the_room(emulator: SnipeItEmulator,
                                                      tmp_path: Path) -> None:
    record = intake(serial="SN-NEW-1", mac="00:1a:2b:3c:4d:5e")
    with register(emulator, tmp_path) as snipe:
        [result] = snipe.push(typed([record]))
    assert result.status is ItemStatus.ACCEPTED, result.reason
    assert "created as FIELD-0001" in (result.reason or "")
    asset = emulator.asset("FIELD-0001")
    assert emulator.statuses[asset.status_id].name == "Pending"
    assert emulator.models[asset.model_id].name == "Unknown model"
    assert asset.serial == "SN-NEW-1"
    assert asset.location_id == asset.rtd_location_id == emulator.location_named("Storage B")
    assert asset.notes.startswith(f"stocktaker intake {record['sighting_id']}; found"
                                  " 2026-12-07T09:15:02Z; in Storage B; by Ana & Ben")
    assert "mac 00:1a:2b:3c:4d:5e" in asset.notes and "unknown label IT-77?" in asset.notes


def test_the_model_is_found_by_model_number_or_gtin(emulator: SnipeItEmulator,
                                                    tmp_path: Path) -> None:
    by_number = intake("FIELD-0002", model="21hd003mge", serial="S-2")
    by_gtin = intake("FIELD-0003", gtin="04006381333931", serial="S-3")
    unknown = intake("FIELD-0004", gtin="09999999999999", model="XYZ", serial="S-4")
    with register(emulator, tmp_path) as snipe:
        results = snipe.push(typed([by_number, by_gtin, unknown]))
    assert [r.status for r in results] == [ItemStatus.ACCEPTED] * 3
    names = [emulator.models[emulator.asset(t).model_id].name
             for t in ("FIELD-0002", "FIELD-0003", "FIELD-0004")]
    assert names == ["ThinkPad T14 Gen 4", "Catalyst 9200L", "Unknown model"]
    assert "model unknown" in (results[2].reason or "")
    assert gtin14("4006381333931") == gtin14("04006381333931") == "04006381333931"
    assert gtin14("21HD003MGE") is None


def test_snipeit_auto_increment_tags_an_intake_without_a_tag(tmp_path: Path) -> None:
    with SnipeItEmulator(TOKEN, throttle_limit=None, auto_increment=True,
                         auto_increment_prefix="AUTO-") as emu:
        emu.add_model("Unknown model")
        emu.add_location("Storage B")
        with register(emu, tmp_path) as snipe:
            results = snipe.push(typed([intake(None, serial="A-1"), intake(None, serial="A-2")]))
        assert [r.status for r in results] == [ItemStatus.ACCEPTED] * 2
        assert emu.asset("AUTO-00001").serial == "A-1"
        assert emu.asset("AUTO-00002").serial == "A-2"
        assert "created as AUTO-00002" in (results[1].reason or "")


def test_snipeits_validation_errors_reject_the_intake_with_its_message(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    untagged = intake(None, serial="V-1")  # auto-increment is off
    taken = intake("IT-1", serial="V-2")   # another asset has this tag
    with register(emulator, tmp_path) as snipe:
        results = snipe.push(typed([untagged, taken]))
    assert [r.status for r in results] == [ItemStatus.REJECTED] * 2
    assert results[0].reason == "Snipe-IT: asset_tag: The asset tag field is required."
    assert results[1].reason == "Snipe-IT: asset_tag: The asset tag must be unique."
    assert len(emulator.assets) == 1


def test_missing_status_or_unknown_model_is_rejected_with_the_key_to_set(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    with register(emulator, tmp_path, intake_status="Field intake") as snipe:
        [result] = snipe.push(typed([intake()]))
    assert result.status is ItemStatus.REJECTED
    assert "no status label 'Field intake'" in (result.reason or "")
    with register(emulator, tmp_path, intake_unknown_model="To identify") as snipe:
        [result] = snipe.push(typed([intake()]))
    assert result.status is ItemStatus.REJECTED
    assert "register.intake_unknown_model" in (result.reason or "")
    assert len(emulator.assets) == 1


def test_a_serial_snipeit_knows_is_a_conflict_not_a_new_asset(emulator: SnipeItEmulator,
                                                              tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        [result] = snipe.push(typed([intake(serial="pf3xyz01")]))
    assert result.status is ItemStatus.CONFLICT
    assert result.register_side is not None and result.register_side["asset_tag"] == "IT-1"
    assert len(emulator.assets) == 1


def test_a_replay_after_a_lost_answer_is_a_duplicate(emulator: SnipeItEmulator,
                                                     tmp_path: Path) -> None:
    record = intake("FIELD-0009", serial="R-1")
    emulator.inject("drop", method="POST", path="/api/v1/hardware", apply=True)
    with register(emulator, tmp_path) as snipe:
        with pytest.raises(RegisterUnavailable):
            snipe.push(typed([record]))
    assert len(emulator.assets_noted(record["sighting_id"])) == 1
    with register(emulator, tmp_path) as snipe:  # a new process: nothing in memory
        [result] = snipe.push(typed([record]))
        [again] = snipe.push(typed([record]))
    assert result.status is ItemStatus.DUPLICATE and again.status is ItemStatus.DUPLICATE
    assert result.reason == "already created as FIELD-0009"
    assert len(emulator.assets_noted(record["sighting_id"])) == 1


def test_intakes_ride_the_queue_and_engine_unchanged(emulator: SnipeItEmulator,
                                                     tmp_path: Path) -> None:
    good, bad = intake("FIELD-0010", serial="Q-1"), intake("IT-1", serial="Q-2")
    with SightingQueue(tmp_path / "state", seal_after=0.0) as queue, \
            register(emulator, tmp_path) as snipe:
        queue.append(good)
        queue.append(bad)
        engine = SyncEngine(queue, snipe, PendingReports(tmp_path / "reports"), FixedClock(),
                            backoff=Backoff(base=0.01))
        result = engine.run_once()
        assert len(queue) == 0
        [dead] = queue.dead_letters()
    assert result.dead_lettered == 1
    assert dead["sighting_id"] == bad["sighting_id"]
    assert "The asset tag must be unique." in dead["reason"]
    assert emulator.asset("FIELD-0010").serial == "Q-1"


def test_a_room_snipeit_lacks_creates_the_asset_without_location_and_says_so(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        [result] = snipe.push(typed([intake("FIELD-0020", room="Shed 9", serial="L-1")]))
    assert result.status is ItemStatus.ACCEPTED
    assert "created without location: Snipe-IT has no location named 'Shed 9'" in (
        result.reason or "")
    assert emulator.asset("FIELD-0020").location_id is None
    assert "in Shed 9" in emulator.asset("FIELD-0020").notes


def test_the_emulator_refuses_a_create_as_snipeit_does(tmp_path: Path) -> None:
    """``Asset::$rules`` with en-US messages, on HTTP 200 error envelopes."""
    import requests

    with SnipeItEmulator(TOKEN, throttle_limit=None, unique_serial=True) as emu:
        emu.add_asset("IT-1", serial="S-1")
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

        def create(**body: Any) -> tuple[int, Any]:
            answer = requests.post(f"{emu.url}/api/v1/hardware", json=body, headers=headers,
                                   timeout=10)
            return answer.status_code, answer.json()

        status, data = create()
        assert status == 200 and data["status"] == "error" and data["payload"] is None
        assert data["messages"] == {
            "model_id": ["The model id field is required."],
            "status_id": ["The status id field is required."],
            "asset_tag": ["The asset tag field is required."]}
        _, data = create(model_id=99, status_id=1, asset_tag="it-1", serial="s-1")
        assert data["messages"] == {"model_id": ["The selected model id is invalid."],
                                    "asset_tag": ["The asset tag must be unique."],
                                    "serial": ["The serial must be unique."]}
        status, data = create(model_id=1, status_id=2, asset_tag="IT-2", notes="n")
        assert (status, data["status"], data["messages"]) == (
            200, "success", "Asset created successfully. :)")
        assert data["payload"]["asset_tag"] == "IT-2" and data["payload"]["model_id"] == 1
        listed = requests.get(f"{emu.url}/api/v1/hardware", params={"search": "n"},
                              headers=headers, timeout=10).json()
        assert [row["asset_tag"] for row in listed["rows"]] == ["IT-2"]
