"""Whole scenarios through the real CLI against a real Nautobot (tests/nautobot/server.py).

- a handheld audit of a server room (``stocktaker run`` with labels on standard input),
  then ``stocktaker sync``: notes checked through Nautobot's API;
- ``stocktaker sync`` SIGKILLed between Nautobot's answer and the queue's acknowledgement
  (a loopback proxy kills it once Nautobot has made the note), then run again: no note twice;
- Nautobot's web server stopped in the middle of a sync and started again: every
  sighting arrives once;
- a bad token: nothing leaves the queue, the message says what to fix;
- a device deleted before the sync: a dead letter with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from firmware import __version__
from sync.sighting import Sighting
from sync.queue import SightingQueue, read_status
from tests.nautobot.proxy import KillingProxy
from tests.nautobot.seed import Seeder
from tests.nautobot.server import NautobotServer

pytestmark = pytest.mark.nautobot

ROOT = Path(__file__).resolve().parents[1]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def write_config(folder: Path, url: str, token_file: Path, *, locations: list[str],
                 location: str | None = None, batch_size: int = 50) -> Path:
    lines = ['[device]', 'id = "hh-dc1"', 'mode = "handheld"',
             '[audit]', 'technician = "ana"', 'repeat_window = 0']
    if location:
        lines.append(f'location = "{location}"')
    lines += ['[camera]', 'backend = "none"', '[scanner]', 'backend = "stdin"',
              '[display]', 'backend = "none"', '[feedback]', 'backend = "none"',
              '[register]', 'adapter = "nautobot"', f'url = "{url}"',
              f'token_file = "{token_file}"', f'locations = {json.dumps(locations)}',
              'audited_field = "last_audited"', f'batch_size = {batch_size}',
              'timeout = 60',  # a development server on a shared machine can be slow
              'outbox = "out/"', '[queue]', 'path = "state/"']
    path = folder / "stocktaker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stocktaker(*args: str, config: Path, stdin: bytes = b"",
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "firmware", *args, "--config", str(config)],
                          input=stdin, capture_output=True, timeout=timeout, cwd=config.parent,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def start_sync(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "firmware", "sync", "--config", str(config)],
                            cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def queue_sightings(state: Path, devices: list[dict[str, Any]], room: str) -> list[str]:
    """Queue one verified sighting per device, as the handheld would; returns their ids."""
    records = [Sighting(
        sighting_id=str(uuid.uuid4()), device_id="hh-dc1", session_id="s-dc1", location=room,
        technician="ana", tag={"kind": "plain", "value": d["asset_tag"]},
        asset_tag=d["asset_tag"], payload=d["asset_tag"], symbology="CODE128", source="stdin",
        verdict="verified", recorded_location=None, reason=None,
        wall_time="2026-11-30T09:15:02.120Z", clock_synchronized=True, monotonic=1.0,
        boot_id="b", firmware_version=__version__).to_record() for d in devices]
    with SightingQueue(state) as queue:
        queue.append_many(records)
    return [r["sighting_id"] for r in records]


def assert_one_note_each(seeder: Seeder, devices: list[dict[str, Any]], ids: list[str]) -> None:
    for device, sighting_id in zip(devices, ids, strict=True):
        notes = seeder.notes_of(device["id"])
        assert [n["id"] for n in notes] == [sighting_id], device["asset_tag"]


def test_a_whole_server_room_audit_is_synced_as_notes(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    room, next_door = unique("Server Room "), unique("Server Room ")
    here = seeder.devices([{"asset_tag": unique("DC-"), "serial": unique("SN"), "location": room}
                           for _ in range(6)])
    there = seeder.devices([{"asset_tag": unique("DC-"), "location": next_door}])[0]
    config = write_config(tmp_path, nautobot_server.url, nautobot_server.token_file,
                          locations=[room, next_door], location=room)
    # Three tags and one serial label of this room, one device of the room next door,
    # one tag Nautobot does not know; two devices of the room are never scanned.
    labels = [here[0]["asset_tag"], here[1]["asset_tag"], here[2]["asset_tag"].lower(),
              here[3]["serial"], there["asset_tag"], "DC-NOT-IN-NAUTOBOT"]

    audit = stocktaker("run", config=config, stdin="\n".join(labels).encode() + b"\n")
    synced = stocktaker("sync", config=config)

    assert audit.returncode == 0, audit.stderr
    assert synced.returncode == 0, synced.stderr + synced.stdout
    report = json.loads(next((tmp_path / "out").glob("report-*.json")).read_text())
    assert report["counts"]["verified"] == 4 and report["counts"]["mislocated"] == 1
    assert report["counts"]["unregistered"] == 1
    assert sorted(g["asset_tag"] for g in report["ghosts"]) == sorted(
        [here[4]["asset_tag"], here[5]["asset_tag"]])
    sighting_of = {s["asset_tag"]: s["sighting_id"] for s in report["scans"] if s["asset_tag"]}
    for device in here[:4]:
        notes = seeder.notes_of(device["id"])
        assert [n["id"] for n in notes] == [sighting_of[device["asset_tag"]]]
        assert "verdict: verified" in notes[0]["note"]
        assert f"room: {room}" in notes[0]["note"] and "technician: ana" in notes[0]["note"]
        assert seeder.device(device["id"])["custom_fields"]["last_audited"] is not None
    moved = seeder.notes_of(there["id"])
    assert [n["id"] for n in moved] == [sighting_of[there["asset_tag"]]]
    assert f"verdict: mislocated (recorded in {next_door})" in moved[0]["note"]
    assert seeder.device(there["id"])["location"]["name"] == next_door  # not moved: off
    for ghost in here[4:]:
        assert seeder.notes_of(ghost["id"]) == []
    status = read_status(tmp_path / "state")
    assert status["queued"] == 0 and status["dead_letters"] == 0


def test_a_sync_killed_after_nautobot_answered_leaves_no_second_note(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    room = unique("Hall ")
    devices = seeder.devices([{"asset_tag": unique("DC-"), "location": room} for _ in range(12)])
    ids = queue_sightings(tmp_path / "state", devices, room)
    with KillingProxy(nautobot_server.url) as proxy:
        config = write_config(tmp_path, proxy.url, nautobot_server.token_file,
                              locations=[room], batch_size=5)
        child = start_sync(config)
        proxy.arm(child.pid, 7)  # batch 1 (5) acknowledged; killed after the 2nd of batch 2
        child.communicate(timeout=120)
        assert child.returncode == -9 and proxy.killed == child.pid
        assert seeder.note(ids[6]) is not None and seeder.note(ids[7]) is None
        assert read_status(tmp_path / "state")["queued"] == 7

        again = stocktaker("sync", config=config)

    assert again.returncode == 0, again.stderr + again.stdout
    assert "sent 5, already there 2, refused 0" in again.stdout
    assert_one_note_each(seeder, devices, ids)
    assert read_status(tmp_path / "state")["queued"] == 0


def test_nautobot_stopped_mid_sync_and_started_again_gets_everything_once(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    room = unique("Hall ")
    devices = seeder.devices([{"asset_tag": unique("DC-"), "location": room} for _ in range(80)])
    ids = queue_sightings(tmp_path / "state", devices, room)
    config = write_config(tmp_path, nautobot_server.url, nautobot_server.token_file,
                          locations=[room], batch_size=20)
    child = start_sync(config)
    try:
        deadline = time.monotonic() + 120
        while seeder.note(ids[25]) is None:  # in the second batch
            assert child.poll() is None and time.monotonic() < deadline, "sync ended early"
            time.sleep(0.05)
        nautobot_server.stop_web()
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if not any(c.name == "nautobot" for c in nautobot_server.children):
            nautobot_server.start_web()
    assert child.returncode == 4 and b"stopped:" in out
    with SightingQueue(tmp_path / "state") as queue:
        queued = [r["sighting_id"] for r in queue.iter_pending()]
    assert 0 < len(queued) < 80
    # The batch in flight when Nautobot stopped: its notes made so far were never heard of.
    made_unheard = [i for i in queued if seeder.note(i) is not None]

    again = stocktaker("sync", config=config)

    assert again.returncode == 0, again.stderr + again.stdout
    assert f"already there {len(made_unheard)}, refused 0" in again.stdout
    assert_one_note_each(seeder, devices, ids)
    assert read_status(tmp_path / "state")["queued"] == 0


def test_a_bad_token_keeps_everything_queued_and_says_what_to_fix(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    room = unique("Hall ")
    devices = seeder.devices([{"asset_tag": unique("DC-"), "location": room} for _ in range(3)])
    queue_sightings(tmp_path / "state", devices, room)
    token = tmp_path / "token"
    token.write_text("f" * 40 + "\n")
    token.chmod(0o600)
    config = write_config(tmp_path, nautobot_server.url, token, locations=[room])

    done = stocktaker("sync", config=config)

    assert done.returncode == 4
    assert ("stopped: Nautobot refused the token (Invalid token): put a valid API token in"
            " register.token_file") in done.stdout
    status = read_status(tmp_path / "state")
    assert status["queued"] == 3 and status["dead_letters"] == 0
    for device in devices:
        assert seeder.notes_of(device["id"]) == []


def test_a_device_deleted_before_the_sync_is_a_dead_letter_with_the_reason(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    room = unique("Hall ")
    devices = seeder.devices([{"asset_tag": unique("DC-"), "location": room} for _ in range(3)])
    ids = queue_sightings(tmp_path / "state", devices, room)
    seeder.delete_device(devices[1]["id"])
    config = write_config(tmp_path, nautobot_server.url, nautobot_server.token_file,
                          locations=[room])

    done = stocktaker("sync", config=config)
    status_text = stocktaker("queue", "status", config=config)

    assert done.returncode == 0, done.stderr + done.stdout
    assert "sent 2, already there 0, refused 1" in done.stdout
    with SightingQueue(tmp_path / "state") as queue:
        dead = queue.dead_letters()
    assert [d["sighting_id"] for d in dead] == [ids[1]]
    reason = (f"Nautobot has no device with asset tag {devices[1]['asset_tag']!r}"
              " (deleted since the audit?)")
    assert json.dumps(dead[0]).find("deleted since the audit") > 0
    assert reason in status_text.stdout
    assert [n["id"] for n in seeder.notes_of(devices[0]["id"])] == [ids[0]]
