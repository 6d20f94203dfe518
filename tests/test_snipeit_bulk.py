"""Snipe-IT's bulk audit (``POST /hardware/audit/bulk``), the adapter and the emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from firmware.config import RegisterConfig, config_from_dict
from firmware.errors import RegisterUnavailable
from sync.bench_snipeit import bench_snipeit_handover
from sync.snipeit import SnipeItRegister
from sync.snipeit_bulk import (
    BULK_MARKER,
    bulk_note,
    parse_bulk_answer,
    session_in_bulk_note,
)
from tests.snipeit_emulator import SnipeItEmulator
from sync.sighting import Sighting
from tests.sightings import typed

TOKEN = "snipe-bulk-token-51d0"
SESSION = "9a3e1c55-2b7d-4e08-9f61-0c2d3e4f5a6b"
SHELF = 40


@pytest.fixture
def emulator() -> Iterator[SnipeItEmulator]:
    """A newer Snipe-IT (with the bulk audit): two rooms, a shelf of assets in Storage B."""
    with SnipeItEmulator(TOKEN, throttle_limit=None) as emu:
        storage = emu.add_location("Storage B")
        emu.add_location("Lab 2")
        for n in range(SHELF):
            emu.add_asset(f"IT-{n:04d}", location=storage, rtd_location=storage)
        emu.add_asset("LAB-1", location="Lab 2")
        emu.add_asset("GONE-1", location=storage, deleted=True)
        yield emu


def config(emu: SnipeItEmulator, tmp_path: Path, **changes: Any) -> RegisterConfig:
    token = tmp_path / "snipeit.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    settings: dict[str, Any] = {"adapter": "snipeit", "url": emu.url, "token_file": token,
                                "outbox": tmp_path / "out", "timeout": 2.0,
                                "rate_per_minute": 6000.0}
    return RegisterConfig(**{**settings, **changes})


def record(asset_tag: str | None, verdict: str = "verified", location: str | None = "Storage B",
           session: str = SESSION, **extra: Any) -> dict[str, Any]:
    """A sighting record as the queue holds it."""
    return {"sighting_id": str(uuid.uuid4()), "device_id": "handheld-07", "session_id": session,
            "location": location, "technician": "Zoë Ångström", "tag": None,
            "asset_tag": asset_tag, "payload": asset_tag or "??", "symbology": "EPC",
            "source": "uhf", "verdict": verdict, "recorded_location": None, "reason": None,
            "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True,
            "monotonic": 12.5, "boot_id": "b", "firmware_version": "0.1.0", **extra}


def shelf(count: int = SHELF, **extra: Any) -> list[dict[str, Any]]:
    return [record(f"IT-{n:04d}", **extra) for n in range(count)]


def statuses(results: list[Any]) -> list[str]:
    return [r.status.value for r in results]


def bulk_requests(emu: SnipeItEmulator) -> list[Any]:
    return emu.requests_to("/api/v1/hardware/audit/bulk", "POST")


def once_per_asset(emu: SnipeItEmulator, tags: list[str]) -> bool:
    audits = emu.audits_by_asset()
    return all(audits[emu.asset(tag).id] == 1 for tag in tags) and \
        sum(audits.values()) == len(set(tags))


# -- the adapter ---------------------------------------------------------------------------


def test_a_shelf_is_audited_in_one_request(emulator, tmp_path):
    sightings = shelf()
    with SnipeItRegister(config(emulator, tmp_path), "handheld-07") as register:
        results = register.push(typed(sightings))
    assert statuses(results) == ["accepted"] * SHELF
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])
    # The probe (no ids), the session's audits, the room's id, the room's assets, the audit.
    paths = [(r.method, r.path) for r in emulator.requests]
    assert paths == [("POST", "/api/v1/hardware/audit/bulk"),
                     ("GET", "/api/v1/reports/activity"), ("GET", "/api/v1/locations"),
                     ("GET", "/api/v1/hardware"), ("POST", "/api/v1/hardware/audit/bulk")]
    entry = emulator.audit_entries()[0]
    assert session_in_bulk_note(entry.note) == SESSION
    assert f"{SHELF} sightings scanned 2026-11-24T09:15:02.120Z" in entry.note
    assert "in Storage B; by Zoë Ångström; device handheld-07; verdict verified" in entry.note
    assert entry.location_id == emulator.location_named("Storage B")


def test_a_batch_of_one(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert statuses(register.push(typed([record("IT-0003")]))) == ["accepted"]
    assert emulator.audits_by_asset() == {emulator.asset("IT-0003").id: 1}
    assert "; 1 sighting scanned " in emulator.audit_entries()[0].note


def test_more_ids_than_the_server_takes_are_sent_in_halves(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, bulk_max_ids=4) as emu:
        emu.add_location("Storage B")
        for n in range(10):
            emu.add_asset(f"IT-{n:04d}", location="Storage B")
        sightings = shelf(10)
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            assert statuses(register.push(typed(sightings))) == ["accepted"] * 10
            sizes = [len(json_ids(r)) for r in bulk_requests(emu)]
            # the probe, 10 and 5 refused, then halves of 2 (the last one 1 is what is left)
            assert sizes == [0, 10, 5, 2, 2, 2, 2, 2]
            later = str(uuid.uuid4())
            more = [record(f"IT-{n:04d}", session=later) for n in range(3)]
            register.push(typed(more))
            assert [len(json_ids(r)) for r in bulk_requests(emu)][8:] == [2, 1]
        audits = emu.audits_by_asset()
        assert [audits[emu.asset(f"IT-{n:04d}").id] for n in range(10)] == [2] * 3 + [1] * 7


def json_ids(request: Any) -> list[Any]:
    return request.body_json.get("ids") or []


def test_groups_by_room_verdict_and_location_update(emulator, tmp_path):
    sightings = [record("IT-0001"), record("IT-0002", "mislocated", location="Lab 2"),
                 record("IT-0003", "mislocated", location="Lab 2"),
                 record("LAB-1", location="Lab 2"), record("IT-0004")]
    cfg = config(emulator, tmp_path, move_mislocated=True)
    with SnipeItRegister(cfg, "h") as register:
        assert statuses(register.push(typed(sightings))) == ["accepted"] * 5
    bodies = [r.body_json for r in bulk_requests(emulator)][1:]
    lab = emulator.location_named("Lab 2")
    assert sorted((len(b["ids"]), b.get("location_id"), b.get("update_location"))
                  for b in bodies) == [(1, lab, None), (2, emulator.location_named("Storage B"),
                                                        None), (2, lab, 1)]
    assert emulator.asset("IT-0002").location_id == lab  # moved
    assert emulator.asset("IT-0001").location_id != lab
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])


def test_a_row_snipeit_refuses_is_rejected_with_its_message(emulator, tmp_path):
    emulator.asset("IT-0002").invalid = {"_snipeit_mac_2": ["The MAC field format is invalid."]}
    sightings = shelf(4) + [record("NOPE-9")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        results = register.push(typed(sightings))
    assert statuses(results) == ["accepted", "accepted", "rejected", "accepted", "rejected"]
    assert results[2].reason == "Snipe-IT: _snipeit_mac_2: The MAC field format is invalid."
    assert results[4].reason == "Snipe-IT: Asset does not exist."
    assert emulator.audits_by_asset()[emulator.asset("IT-0002").id] == 0
    assert len(emulator.audit_entries()) == 3


def test_an_asset_deleted_after_its_id_was_read_is_a_partial_answer(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed([record("IT-0000")]))  # the room's ids are read here
        emulator.asset("IT-0005").deleted_at = 1.0
        results = register.push(typed([record("IT-0004"), record("IT-0005"), record("IT-0006")]))
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert results[1].reason == "Snipe-IT: Asset does not exist."


def test_pushed_twice_and_seen_twice_is_audited_once(emulator, tmp_path):
    sightings = shelf(5)
    again = record("IT-0001")  # the same asset seen again in the same session
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        first = register.push(typed(sightings + [again]))
        second = register.push(typed(sightings + [again]))
    assert statuses(first) == ["accepted"] * 5 + ["duplicate"]
    assert statuses(second) == ["duplicate"] * 6
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])


def test_a_new_process_finds_the_bulk_audits_of_the_session(emulator, tmp_path):
    sightings = shelf(6)
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed(sightings[:4]))
    # A new process (the first one was killed before the queue heard the answer).
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        results = register.push(typed(sightings))
        also = register.push(typed([record("IT-0002")]))  # a later sighting of an audited asset
    assert statuses(results) == ["duplicate"] * 4 + ["accepted"] * 2
    assert statuses(also) == ["duplicate"]
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])


FAULTS = [("500", False), ("500", True), ("drop", False), ("drop", True),
          ("garbage", False), ("garbage", True), ("slow", True)]


@pytest.mark.parametrize(("kind", "apply"), FAULTS)
def test_an_outage_in_a_bulk_request_audits_nothing_twice(emulator, tmp_path, kind, apply):
    sightings = shelf(8)
    with SnipeItRegister(config(emulator, tmp_path, timeout=0.3), "h") as register:
        register.push(typed(sightings[:2]))
        emulator.inject(kind, method="POST", path="/api/v1/hardware/audit/bulk", apply=apply,
                        delay=0.8)
        with pytest.raises(RegisterUnavailable):
            register.push(typed(sightings[2:]))
        assert len(emulator.audit_entries()) == (8 if apply else 2)
        if kind == "slow":  # no answer in time: smaller requests from now on
            assert register.bulk.max_ids == 3
        results = register.push(typed(sightings))
    assert statuses(results) == ["duplicate"] * 2 + (
        ["duplicate"] * 6 if apply else ["accepted"] * 6)
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])
    # The session's audits were read again before anything was sent again.
    assert len(emulator.requests_to("/api/v1/reports/activity")) == 2


def test_throttled_bulk_request_applied_nothing_and_is_sent_again(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=4, throttle_window=30.0) as emu:
        emu.add_location("Storage B")
        for n in range(6):
            emu.add_asset(f"IT-{n:04d}", location="Storage B")
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            with pytest.raises(RegisterUnavailable, match="429"):
                register.push(typed(shelf(6)))  # probe, room, list, log, then 429
            assert emu.audit_entries() == []
            with emu._lock:
                emu._window.clear()  # the minute is over
            assert statuses(register.push(typed(shelf(6)))) == ["accepted"] * 6
        assert sum(emu.audits_by_asset().values()) == 6


def test_an_older_server_gets_one_audit_per_asset_found_out_once(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, bulk_audit=False) as emu:
        emu.add_location("Storage B")
        for n in range(4):
            emu.add_asset(f"IT-{n:04d}", location="Storage B")
        sightings = shelf(4)
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            assert statuses(register.push(typed(sightings[:2]))) == ["accepted"] * 2
            assert statuses(register.push(typed(sightings))) == ["duplicate"] * 2 + ["accepted"] * 2
        assert [r.status for r in bulk_requests(emu)] == [404]
        assert len(emu.requests_to("/api/v1/hardware/audit", "POST")) == 1 + 4
        assert emu.audits_by_sighting() == {s["sighting_id"]: 1 for s in sightings}


def test_bulk_audit_switched_off_in_the_configuration(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path, bulk_audit=False), "h") as register:
        register.push(typed(shelf(3)))
    assert bulk_requests(emulator) == []
    assert len(emulator.audit_entries()) == 3


def test_per_asset_audits_of_a_session_are_not_sent_again_in_bulk(tmp_path):
    """A server upgraded between two runs: what went one by one is found by its marker."""
    with SnipeItEmulator(TOKEN, throttle_limit=None, bulk_audit=False) as emu:
        emu.add_location("Storage B")
        for n in range(4):
            emu.add_asset(f"IT-{n:04d}", location="Storage B")
        sightings = shelf(4)
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            register.push(typed(sightings[:3]))
        emu.bulk_audit = True
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            assert statuses(register.push(typed(sightings))) == ["duplicate"] * 3 + ["accepted"]
        assert sum(emu.audits_by_asset().values()) == 4


def test_bulk_audits_of_a_session_are_not_sent_again_one_by_one(emulator, tmp_path):
    """A server downgraded between two runs: the per-asset way reads the bulk audits too."""
    sightings = shelf(4)
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed(sightings[:3]))
    emulator.bulk_audit = False
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert statuses(register.push(typed(sightings))) == ["duplicate"] * 3 + ["accepted"]
    assert once_per_asset(emulator, [s["asset_tag"] for s in sightings])


def test_other_verdicts_and_unsafe_sessions_take_the_other_ways(emulator, tmp_path):
    sightings = [record("IT-0001"), record(None, "unregistered"),
                 record("IT-0002", session="not a uuid!")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        results = register.push(typed(sightings))
    assert statuses(results) == ["accepted", "accepted", "accepted"]
    assert [len(r.body_json["ids"]) for r in bulk_requests(emulator)] == [0, 1]
    assert len(emulator.requests_to("/api/v1/hardware/audit", "POST")) == 2 + 1


# -- the note, the marker, the answer ---------------------------------------------------------


def test_bulk_note_spans_the_scan_times_and_names_the_session():
    rows = [record("A", wall_time="2026-11-24T09:16:00.000Z", clock_synchronized=False),
            record("B", wall_time="2026-11-24T09:15:00.000Z", clock_synchronized=False)]
    note = bulk_note([Sighting.from_record(r) for r in rows], "b-1234-5678")
    assert note.startswith(f"{BULK_MARKER} {SESSION}; batch b-1234-5678; 2 sightings scanned"
                           " 2026-11-24T09:15:00.000Z to 2026-11-24T09:16:00.000Z (device"
                           " clock not synchronised); in Storage B")
    # as the activity report shows it: escaped HTML
    assert session_in_bulk_note(note.replace("ö", "&ouml;")) == SESSION
    assert session_in_bulk_note("stocktaker sighting 1234-5678-9abc") is None


def test_parse_bulk_answer_tells_bulk_answers_from_others():
    assert parse_bulk_answer({"status": "error", "messages": "404 endpoint not found",
                              "payload": None}) is None
    answer = parse_bulk_answer({"status": "partial", "messages": "1 asset(s) audited",
                                "results": [{"id": "7", "status": "success"},
                                            {"id": 8, "status": "error"}]})
    assert answer is not None and set(answer.rows) == {7, 8} and not answer.refused_whole
    refused = parse_bulk_answer({"status": "error", "results": [],
                                 "messages": {"ids": ["The ids field is required."]}})
    assert refused is not None and refused.refused_whole and refused.ids_refused


# -- the emulator follows the real endpoint -------------------------------------------------


def post(emu: SnipeItEmulator, body: Any, path: str = "/api/v1/hardware/audit/bulk") -> Any:
    return requests.post(emu.url + path, data=json.dumps(body), timeout=5, headers={
        "Authorization": f"Bearer {TOKEN}", "Accept": "application/json",
        "Content-Type": "application/json"})


def test_emulator_bulk_rows_in_order_repeats_once_unknown_as_error_rows(emulator):
    a, b = emulator.asset("IT-0001").id, emulator.asset("IT-0002").id
    answer = post(emulator, {"ids": [b, a, b, 99999], "note": "n"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["status"] == "partial"
    assert [(r["id"], r["status"]) for r in data["results"]] == [
        (b, "success"), (a, "success"), (99999, "error")]
    assert data["results"][2]["payload"] is None
    assert data["results"][0]["payload"]["asset_tag"] == "IT-0002"
    assert emulator.audits_by_asset() == {a: 1, b: 1}


@pytest.mark.parametrize("body", [{"note": "no ids"}, {"ids": []}, {"ids": "1,2"}])
def test_emulator_bulk_without_ids_is_refused_on_http_200(emulator, body):
    data = post(emulator, body).json()
    assert data["status"] == "error" and "ids" in data["messages"] and data["results"] == []
    assert emulator.audit_entries() == []


def test_emulator_bulk_all_rows_failing_is_error_and_bad_dates_refuse_all(emulator):
    assert post(emulator, {"ids": [99998, 99999]}).json()["status"] == "error"
    data = post(emulator, {"ids": [1], "next_audit_date": "soon"}).json()
    assert data["messages"] == {"next_audit_date":
                                ["The next audit date field must be a valid date."]}
    assert emulator.audit_entries() == []


def test_emulator_bulk_counts_once_against_the_throttle(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=2, throttle_window=30.0) as emu:
        ids = [emu.add_asset(f"T-{n}") for n in range(50)]
        assert post(emu, {"ids": ids}).json()["status"] == "success"
        assert post(emu, {"ids": ids}).status_code == 200
        assert post(emu, {"ids": ids}).status_code == 429
        assert sum(emu.audits_by_asset().values()) == 100


def test_an_older_emulator_has_no_bulk_route(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, bulk_audit=False) as emu:
        answer = post(emu, {"ids": [1]})
        assert answer.status_code == 404
        assert answer.json()["messages"] == "404 endpoint not found"


# -- the bench ------------------------------------------------------------------------------


def test_bench_handover_puts_bulk_and_per_asset_side_by_side():
    lines = bench_snipeit_handover(shelf=12, site=30, rooms=3, rate_per_minute=6000)
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], r[3]) for r in rows] == [("shelf", "bulk"), ("shelf", "per"),
                                            ("site", "bulk"), ("site", "per")]
    assert rows[0][4] == "5"  # probe, log, room, room list, one bulk audit
    assert int(rows[1][5]) == 12 + 2  # log, room, then one audit per tag
    assert all(r[-2:] == ["0", "0"] for r in rows)  # none twice, none missed


@pytest.mark.parametrize(("register", "batch"), [
    ({"adapter": "snipeit"}, 500), ({"adapter": "snipeit", "batch_size": 50}, 50),
    ({"adapter": "files"}, 50)])
def test_snipeit_sends_batches_of_500_unless_told(tmp_path, register, batch):
    token = tmp_path / "t"
    token.write_text("x\n")
    token.chmod(0o600)
    settings = {**register, "url": "https://assets.example.com", "token_file": str(token)}
    assert config_from_dict({"register": settings}, tmp_path).register.batch_size == batch


def test_emulator_bulk_validates_each_row_as_the_single_audit(emulator):
    a, b = emulator.asset("IT-0001").id, emulator.asset("IT-0002").id
    emulator.asset("IT-0002").invalid = {"serial": ["The serial must be unique."]}
    data = post(emulator, {"ids": [a, b], "location_id": 9999, "update_location": 1}).json()
    assert data["status"] == "error"
    assert [r["messages"] for r in data["results"]] == [
        {"location_id": ["The selected location id is invalid."]},
        {"serial": ["The serial must be unique."]}]
    lab = emulator.location_named("Lab 2")
    data = post(emulator, {"ids": [a, b], "location_id": lab, "update_location": "1"}).json()
    assert data["status"] == "partial" and emulator.asset("IT-0001").location_id == lab
    single = post(emulator, {"asset_tag": "IT-0002"}, "/api/v1/hardware/audit").json()
    assert single["status"] == "error" and single["messages"] == data["results"][1]["messages"]
