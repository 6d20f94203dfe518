"""Intake records at the reference receiver (``http``) and in the outbox (``files``)."""

from __future__ import annotations

import csv
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from sync.files import FilesRegister
from sync.http import HttpRegister
from sync.intake import IntakeRecord
from sync.intake_csv import INTAKE_COLUMNS
from sync.register import ItemStatus
from tests.test_receiver import TOKEN, call, post_batch, running_receiver
from tests.sightings import typed

# The English labels and aliases of Snipe-IT's asset importer (app/Livewire/Importer.php,
# $assets_fields and $aliases_fields) that an "Assets" import maps by themselves.
IMPORTER_HEADERS = {"asset tag", "model name", "model number", "category", "manufacturer",
                    "serial number", "status", "location", "asset notes", "asset name"}


def intake(device: str = "hh-01", tag: str | None = "FIELD-0001", **identifiers: str
           ) -> dict[str, Any]:
    return IntakeRecord(
        intake_id=str(uuid.uuid4()), device_id=device, session_id="s-7",
        location="Storage B", technician="Ana", wall_time="2026-12-07T09:15:02Z",
        clock_synchronized=False, identifiers=identifiers or {"serial": "SN-1"},
        unknown_label=None, asset_tag=tag).to_record()


def test_the_receiver_keeps_intakes_once_and_lists_them(tmp_path: Path) -> None:
    first, second = intake(serial="SN-1", gtin="04006381333931"), intake(tag=None, mac="aa")
    with running_receiver(tmp_path / "r") as receiver:
        register = HttpRegister(receiver.url, TOKEN, "hh-01", rate_per_minute=6000)
        with register:
            results = register.push(typed([first, second]))
            again = register.push(typed([first]))
        assert [r.status for r in results] == [ItemStatus.ACCEPTED] * 2
        assert again[0].status is ItemStatus.DUPLICATE
        answer = call(receiver.address, "GET", "/api/v1/intakes")
        assert answer.status == 200
        listed = answer.json()["intakes"]
        assert [item["intake"] for item in listed] == [first, second]
        assert all(item["received_at"].endswith("Z") for item in listed)
        assert call(receiver.address, "GET", "/api/v1/intakes", token=None).status == 401
        db = receiver.db
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT intake_id, seq, location, asset_tag FROM intakes"
                            " ORDER BY seq").fetchall()
    conn.close()
    assert rows == [(first["sighting_id"], 1, "Storage B", "FIELD-0001"),
                    (second["sighting_id"], 2, "Storage B", None)]


def test_the_receiver_rejects_a_malformed_intake_with_the_reason(tmp_path: Path) -> None:
    no_room = {**intake(), "location": None}
    odd_kind = {**intake(), "identifiers": {"imei": "35-209900-176148-1"}}
    nothing = {**intake(), "identifiers": {}, "unknown_label": None}
    with running_receiver(tmp_path / "r") as receiver:
        answer = post_batch(receiver.address, [no_room, odd_kind, nothing, intake()])
        listed = call(receiver.address, "GET", "/api/v1/intakes").json()["intakes"]
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 3 + ["accepted"]
    assert results[0]["reason"] == "an intake needs the room it was found in as location"
    assert results[1]["reason"].startswith('identifiers: unknown kind "imei"')
    assert results[2]["reason"] == ("an intake needs at least one identifier or the"
                                    " unknown label")
    assert len(listed) == 1


def test_files_writes_an_intake_csv_snipeits_importer_maps(tmp_path: Path) -> None:
    tagged = intake(serial="SN-1", model="21HD003MGE")
    untagged = intake(tag=None, serial="=HYPERLINK(1)")
    files = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-01",
                          intake_status="Pending", intake_unknown_model="To identify")
    first = files.push(typed([tagged, untagged]))
    again = files.push(typed([tagged]))
    assert [r.status for r in first] == [ItemStatus.ACCEPTED] * 2
    assert again[0].status is ItemStatus.DUPLICATE
    path = tmp_path / "out" / "intake-hh-01.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        headers = reader.fieldnames or []
    assert tuple(headers) == INTAKE_COLUMNS
    assert {h.casefold() for h in headers} - IMPORTER_HEADERS == {"intake id"}
    assert len(rows) == 2
    assert rows[0]["Asset Tag"] == "FIELD-0001" and rows[0]["Model Name"] == "21HD003MGE"
    assert rows[0]["Model Number"] == "21HD003MGE" and rows[0]["Status"] == "Pending"
    assert rows[0]["Location"] == "Storage B" and rows[0]["Serial Number"] == "SN-1"
    assert rows[0]["Asset Notes"].startswith(f"stocktaker intake {tagged['sighting_id']};"
                                             " found 2026-12-07T09:15:02Z (device clock not")
    assert rows[1]["Asset Tag"] == "" and rows[1]["Model Name"] == "To identify"
    assert rows[1]["Serial Number"] == "'=HYPERLINK(1)"  # never run as a formula
    assert [r["Intake Id"] for r in rows] == [tagged["sighting_id"], untagged["sighting_id"]]


def test_a_receiver_database_of_the_previous_schema_gains_the_intake_table(
        tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE sightings (sighting_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,"
            " session_id TEXT NOT NULL, received_at TEXT NOT NULL, record TEXT NOT NULL);"
            "INSERT INTO sightings VALUES ('old-1', 'hh-01', 's', '2026-11-01T00:00:00Z', '{}');"
            "PRAGMA user_version=2;")
    conn.close()
    with running_receiver(tmp_path / "r", db=db) as receiver:
        answer = post_batch(receiver.address, [intake()])
        assert answer.json()["results"][0]["status"] == "accepted"
        assert len(call(receiver.address, "GET", "/api/v1/intakes").json()["intakes"]) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 2
    conn.close()
