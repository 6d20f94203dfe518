"""The ``Sighting`` type on the way out: the queue's JSON read back unchanged, the clock
correction as its method, the wire's JSON as before, and unreadable records dead-lettered."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.sightings import Stamp, make_sighting
from firmware.tags import parse_read
from hal.read import Read
from sync.engine import SyncEngine
from sync.http import HttpRegister
from sync.intake import IntakeRecord
from sync.memory_register import MemoryRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports
from sync.sighting import Sighting, UnreadableRecord, read_queued
from tests.sightings import sighting_record

# Written by the code before the record type moved to sync/ (make_sighting(...).to_record()
# with the clock below, not synchronised), as the queue keeps it.
QUEUED = (
    '{"sighting_id": "771f0cc1-38f1-4f15-8a21-b16c7705b24e", "device_id": "hh-07",'
    ' "session_id": "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80", "location": "Storage B",'
    ' "technician": "ana", "tag": {"kind": "asset_tag", "value": "IT-004512", "scheme":'
    ' "plain", "aim": null, "serial": null, "gtin": null, "site": null}, "asset_tag": null,'
    ' "payload": "IT-004512", "symbology": "CODE128", "source": "camera", "verdict":'
    ' "ambiguous", "recorded_location": "Storage A", "reason": "two assets fit", "wall_time":'
    ' "2027-01-15T08:00:00.000Z", "clock_synchronized": false, "monotonic": 1000.0,'
    ' "boot_id": "b1", "firmware_version": "0.1.0", "candidates": ["IT-004512", "IT-004513"],'
    ' "person": {"id": 7, "name": "Ana \u00d6"}}')
# What that code sent for it (with monotonic 400.0) once the clock was synchronised.
SENT_CORRECTED = (
    '{"sighting_id": "771f0cc1-38f1-4f15-8a21-b16c7705b24e", "device_id": "hh-07",'
    ' "session_id": "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80", "location": "Storage B",'
    ' "technician": "ana", "tag": {"kind": "asset_tag", "value": "IT-004512", "scheme":'
    ' "plain", "aim": null, "serial": null, "gtin": null, "site": null}, "asset_tag": null,'
    ' "payload": "IT-004512", "symbology": "CODE128", "source": "camera", "verdict":'
    ' "ambiguous", "recorded_location": "Storage A", "reason": "two assets fit", "wall_time":'
    ' "2027-01-15T07:50:00.000Z", "clock_synchronized": false, "monotonic": 400.0,'
    ' "boot_id": "b1", "firmware_version": "0.1.0", "candidates": ["IT-004512", "IT-004513"],'
    ' "person": {"id": 7, "name": "Ana \u00d6"}, "wall_time_device":'
    ' "2027-01-15T08:00:00.000Z", "wall_time_corrected": true}')


class Clock:
    """Boot ``b1``, 1,000 s after boot, synchronised or not."""

    def __init__(self, synced: bool = True) -> None:
        self.is_synced = synced

    def wall(self) -> float: return 1_800_000_000.0
    def mono(self) -> float: return 1000.0
    def boot_id(self) -> str: return "b1"
    def synced(self) -> bool: return self.is_synced


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_a_new_sighting_is_written_as_before() -> None:
    read = Read(b"IT-004512", "CODE128", "camera", 0.0)
    made = make_sighting(
        Stamp("hh-07", "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80", "Storage B", "ana"), read,
        "IT-004512", parse_read(read), Clock(synced=False), verdict="ambiguous",
        asset_tag=None, recorded_location="Storage A", reason="two assets fit",
        candidates=("IT-004512", "IT-004513"), person={"id": 7, "name": "Ana Ö"})
    record = {**made.to_record(), "sighting_id": "771f0cc1-38f1-4f15-8a21-b16c7705b24e"}
    assert dumps(record) == QUEUED


def test_a_queued_record_of_the_earlier_code_reads_back_to_the_same_json(tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "q") as queue:
        queue.append(json.loads(QUEUED))
    with SightingQueue(tmp_path / "q") as queue:
        [stored] = queue.pending()
    sighting = Sighting.from_record(stored)
    assert sighting.candidates == ("IT-004512", "IT-004513")
    assert dumps(sighting.to_record()) == QUEUED


def test_an_older_record_without_candidates_or_person_reads() -> None:
    record = json.loads(QUEUED)
    del record["candidates"], record["person"]
    sighting = Sighting.from_record(record)
    assert (sighting.candidates, sighting.person) == ((), None)


def test_the_clock_correction_is_a_method_and_sends_what_was_sent_before() -> None:
    early = Sighting.from_record({**json.loads(QUEUED), "monotonic": 400.0})
    fixed = early.corrected(Clock())
    assert dumps(fixed.to_record()) == SENT_CORRECTED
    assert (fixed.wall_time, fixed.wall_time_device) == ("2027-01-15T07:50:00.000Z",
                                                          "2027-01-15T08:00:00.000Z")
    assert fixed.corrected(Clock()) is fixed  # corrected once only
    assert early.corrected(Clock(synced=False)) is early  # not synchronised yet
    other_boot = Sighting.from_record({**early.to_record(), "boot_id": "b0"})
    assert other_boot.corrected(Clock()) is other_boot
    in_time = Sighting.from_record({**early.to_record(), "clock_synchronized": True})
    assert in_time.corrected(Clock()) is in_time
    later = Sighting.from_record({**early.to_record(), "monotonic": 1001.0})
    assert later.corrected(Clock()) is later  # after now: not of this boot's clock
    assert "wall_time_corrected" not in early.to_record()


@pytest.mark.parametrize(("change", "reason"), [
    ({"verdict": None}, "field 'verdict' of a sighting record is NoneType, not text"),
    ({"monotonic": "soon"}, "field 'monotonic' of a sighting record is str, not a number"),
    ({"clock_synchronized": 1}, "field 'clock_synchronized' of a sighting record is int"),
    ({"monotonic": True}, "field 'monotonic' of a sighting record is bool"),
    ({"colour": "red"}, "unknown field 'colour' in a sighting record"),
    ({"candidates": ["IT-1", 2]}, "field 'candidates' of a sighting record holds a value"),
    ({"tag": "IT-1"}, "field 'tag' of a sighting record is str, not an object or null"),
])
def test_a_record_that_is_no_sighting_says_which_field(change: dict[str, Any],
                                                       reason: str) -> None:
    with pytest.raises(UnreadableRecord, match=reason):
        Sighting.from_record(sighting_record(**change))


def test_a_missing_field_is_named() -> None:
    record = sighting_record()
    del record["wall_time"]
    with pytest.raises(UnreadableRecord, match="a sighting record needs 'wall_time'"):
        read_queued(record)


def test_an_intake_record_reads_as_an_intake() -> None:
    intake = IntakeRecord("0b5e6c1d-8a8f-4a51-9d38-5a2f0c0e7d11", "hh-01", "s", "Storage B",
                          "ana", "2026-12-07T09:15:02.120Z", True, {"serial": "SN-1"})
    read = read_queued(intake.to_record())
    assert read == intake and (read.sighting_id, read.verdict) == (intake.intake_id, "intake")
    with pytest.raises(UnreadableRecord, match="identifier"):
        read_queued({**intake.to_record(), "identifiers": {}, "unknown_label": None})


def test_a_damaged_record_goes_to_the_dead_letters_and_the_round_goes_on(
        tmp_path: Path) -> None:
    register = MemoryRegister()
    good = [sighting_record() for _ in range(3)]
    damaged = sighting_record(monotonic="later")
    foreign = {"sighting_id": "d2c1e0b7-0000-4000-8000-000000000001", "verdict": "verified"}
    with SightingQueue(tmp_path / "q") as queue:
        queue.append_many([good[0], damaged, good[1], foreign, good[2]])
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "reports"), Clock(),
                            batch_size=2)
        result = engine.run_once()
        dead = {d["sighting_id"]: d["reason"] for d in queue.dead_letters()}
        assert (result.error, result.sent, result.dead_lettered, result.left) == (
            None, 3, 2, 0)
    assert sorted(register.stored) == sorted(r["sighting_id"] for r in good)
    assert all(isinstance(s, Sighting) for s in register.stored.values())
    assert dead == {
        damaged["sighting_id"]: "unreadable record: field 'monotonic' of a sighting record"
                                " is str, not a number",
        foreign["sighting_id"]: "unreadable record: a sighting record needs 'device_id'"}


def test_a_batch_of_nothing_but_damaged_records_empties_without_a_request(
        tmp_path: Path) -> None:
    register = MemoryRegister()
    with SightingQueue(tmp_path / "q") as queue:
        queue.append_many([sighting_record(verdict=7) for _ in range(3)])
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "reports"), Clock(),
                            batch_size=2)
        result = engine.run_once()
        assert (result.error, result.dead_lettered, result.left) == (None, 3, 0)
        assert len(queue.dead_letters()) == 3
    assert register.batches == [] and result.checked  # the register was only asked


class _Capture(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/sightings"):
            type(self).bodies.append(body)
            sightings = json.loads(body)["sightings"]
            answer = json.dumps({"results": [{"sighting_id": s["sighting_id"], "status":
                                              "accepted"} for s in sightings]}).encode()
        else:  # the heartbeat after the round
            answer = b'{"status": "recorded"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[tuple[str, list[bytes]]]:
    """A register on 127.0.0.1 that keeps every batch it is sent and accepts every sighting."""
    handler = type("Handler", (_Capture,), {"bodies": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_wire_carries_the_same_json_as_before(tmp_path: Path, capture) -> None:
    url, bodies = capture
    with SightingQueue(tmp_path / "q") as queue, \
            HttpRegister(url, "t0ken", "hh-07") as register:
        queue.append({**json.loads(QUEUED), "monotonic": 400.0})
        result = SyncEngine(queue, register, PendingReports(tmp_path / "reports"),
                            Clock()).run_once()
    assert (result.error, result.sent) == (None, 1)
    [body] = bodies
    assert json.loads(body) == {"device_id": "hh-07", "sightings": [json.loads(SENT_CORRECTED)]}
    assert dumps(json.loads(body)["sightings"][0]) == SENT_CORRECTED  # key order too
