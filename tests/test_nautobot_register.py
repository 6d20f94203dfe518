"""``NautobotRegister`` against a real Nautobot (tests/nautobot/server.py): one call at a time."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from firmware.config import RegisterConfig
from firmware.errors import RegisterError, RegisterRefused, RegisterUnavailable
from sync.nautobot import NautobotRegister
from sync.register import ItemStatus
from tests.nautobot.seed import Seeder
from tests.nautobot.server import NautobotServer
from tests.sightings import typed

pytestmark = pytest.mark.nautobot


def room() -> str:
    return f"Hall {uuid.uuid4().hex[:8]}"


def tag() -> str:
    return f"DC-{uuid.uuid4().hex[:10].upper()}"


def register(server: NautobotServer, tmp_path: Path, **options: Any) -> NautobotRegister:
    # A development server on a shared machine: a generous timeout, as for any slow site.
    config = RegisterConfig(adapter="nautobot", url=server.url, token_file=server.token_file,
                            outbox=tmp_path / "out", timeout=60.0, **options)
    return NautobotRegister(config, "hh-07")


def sighting(asset_tag: str | None, location: str, verdict: str = "verified",
             **extra: Any) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "device_id": "hh-07", "session_id": "s-1",
            "location": location, "technician": "ana", "asset_tag": asset_tag,
            "verdict": verdict, "wall_time": "2026-11-30T09:15:02.120Z",
            "clock_synchronized": True, **extra}


def test_expected_inventory_is_the_devices_of_the_locations_with_their_fields(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here, there, elsewhere = room(), room(), room()
    made = seeder.devices([
        {"asset_tag": tag(), "serial": "SN-A1", "location": here, "name": "db-01"},
        {"asset_tag": tag(), "serial": "SN-A2", "location": here, "status": "Decommissioning"},
        {"asset_tag": tag(), "serial": "", "location": there},
        {"asset_tag": None, "serial": "SN-UNTAGGED", "location": here},
        {"asset_tag": tag(), "serial": "SN-X", "location": elsewhere},
    ])
    with register(nautobot_server, tmp_path, locations=[here, there]) as reg:
        assets = {a.asset_tag: a for a in reg.expected_assets()}
    assert set(assets) == {made[0]["asset_tag"], made[1]["asset_tag"], made[2]["asset_tag"]}
    first = assets[made[0]["asset_tag"]]
    assert (first.serial, first.name, first.location, first.status) == (
        "SN-A1", "db-01", here, "Active")
    assert first.origin == f"Nautobot device {made[0]['id']}"
    assert assets[made[1]["asset_tag"]].status == "Decommissioning"
    assert assets[made[2]["asset_tag"]].location == there


def test_a_location_nautobot_does_not_have_is_named(nautobot_server: NautobotServer,
                                                    tmp_path: Path) -> None:
    with register(nautobot_server, tmp_path, locations=["No Such Hall"]) as reg:
        with pytest.raises(RegisterError, match="GET /dcim/devices/: Nautobot: location: .*"
                                                "No Such Hall"):
            reg.expected_assets()


def test_expected_inventory_pages_through_more_than_one_page(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    big = room()
    seeder.devices([{"asset_tag": tag(), "location": big} for _ in range(1005)])
    with register(nautobot_server, tmp_path, locations=[big]) as reg:
        assets = reg.expected_assets()
    assert len(assets) == 1005 and len({a.asset_tag for a in assets}) == 1005


def test_a_verified_sighting_becomes_one_note_keyed_by_its_id_and_a_replay_is_a_duplicate(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here = room()
    device = seeder.devices([{"asset_tag": tag(), "location": here}])[0]
    record = sighting(device["asset_tag"], here)
    with register(nautobot_server, tmp_path) as reg:
        first = reg.push(typed([record]))
        again = reg.push(typed([record]))
    assert first[0].status is ItemStatus.ACCEPTED
    assert again[0].status is ItemStatus.DUPLICATE
    notes = seeder.notes_of(device["id"])
    assert [n["id"] for n in notes] == [record["sighting_id"]]
    text = notes[0]["note"]
    for part in ("2026-11-30T09:15:02.120Z", "technician: ana", "scanner: hh-07",
                 f"device: {device['id']}", "verdict: verified", f"room: {here}"):
        assert part in text


def test_the_audited_date_is_set_and_never_moved_backwards(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here = room()
    device = seeder.devices([{"asset_tag": tag(), "location": here}])[0]
    newer = sighting(device["asset_tag"], here, wall_time="2026-11-30T09:00:00.000Z")
    older = sighting(device["asset_tag"], here, wall_time="2026-11-02T09:00:00.000Z")
    with register(nautobot_server, tmp_path, audited_field="last_audited") as reg:
        assert [r.status for r in reg.push(typed([newer, older]))] == [ItemStatus.ACCEPTED] * 2
    assert seeder.device(device["id"])["custom_fields"]["last_audited"] == "2026-11-30"
    assert len(seeder.notes_of(device["id"])) == 2


def test_a_custom_field_nautobot_does_not_have_is_named_in_the_result(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here = room()
    device = seeder.devices([{"asset_tag": tag(), "location": here}])[0]
    with register(nautobot_server, tmp_path, audited_field="no_such_field") as reg:
        result = reg.push(typed([sighting(device["asset_tag"], here)]))[0]
    assert result.status is ItemStatus.ACCEPTED  # the note is made all the same
    assert result.reason is not None and result.reason.startswith("device not updated:")
    assert "no_such_field" in result.reason


@pytest.mark.parametrize("move", [False, True])
def test_a_mislocated_device_is_moved_only_when_configured(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path, move: bool) -> None:
    recorded, found_in = room(), room()
    seeder.location(found_in)
    device = seeder.devices([{"asset_tag": tag(), "location": recorded}])[0]
    record = sighting(device["asset_tag"], found_in, "mislocated", recorded_location=recorded)
    with register(nautobot_server, tmp_path, move_mislocated=move) as reg:
        assert reg.push(typed([record]))[0].status is ItemStatus.ACCEPTED
    where = seeder.device(device["id"])["location"]["name"]
    assert where == (found_in if move else recorded)
    note = seeder.notes_of(device["id"])[0]["note"]
    assert f"verdict: mislocated (recorded in {recorded})" in note


def test_other_verdicts_make_no_note(nautobot_server: NautobotServer, seeder: Seeder,
                                     tmp_path: Path) -> None:
    here = room()
    device = seeder.devices([{"asset_tag": tag(), "location": here}])[0]
    records = [sighting(device["asset_tag"], here, "repeat"), sighting(None, here, "unregistered")]
    with register(nautobot_server, tmp_path) as reg:
        results = reg.push(typed(records))
    assert [(r.status, r.reason) for r in results] == [
        (ItemStatus.ACCEPTED, "not a note: repeat"),
        (ItemStatus.ACCEPTED, "not a note: unregistered")]
    assert seeder.notes_of(device["id"]) == []


def test_a_device_deleted_since_the_audit_is_refused_with_the_reason(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here = room()
    gone, kept = seeder.devices([{"asset_tag": tag(), "location": here} for _ in range(2)])
    seeder.delete_device(gone["id"])
    with register(nautobot_server, tmp_path) as reg:
        results = reg.push(typed([sighting(gone["asset_tag"], here), sighting(kept["asset_tag"], here)]))
    assert results[0].status is ItemStatus.REJECTED
    assert results[0].reason == (f"Nautobot has no device with asset tag {gone['asset_tag']!r}"
                                 " (deleted since the audit?)")
    assert results[1].status is ItemStatus.ACCEPTED


def test_a_tag_differing_in_case_still_finds_its_device(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    here = room()
    device = seeder.devices([{"asset_tag": tag(), "location": here}])[0]
    with register(nautobot_server, tmp_path) as reg:
        result = reg.push(typed([sighting(device["asset_tag"].lower(), here)]))[0]
    assert result.status is ItemStatus.ACCEPTED
    assert len(seeder.notes_of(device["id"])) == 1


def test_a_bad_token_stops_the_batch_with_a_clear_message(
        nautobot_server: NautobotServer, seeder: Seeder, tmp_path: Path) -> None:
    token = tmp_path / "bad-token"
    token.write_text("0" * 40 + "\n")
    token.chmod(0o600)
    config = RegisterConfig(adapter="nautobot", url=nautobot_server.url, token_file=token)
    with NautobotRegister(config, "hh-07") as reg:
        with pytest.raises(RegisterError, match=r"Nautobot refused the token \(Invalid token\):"
                                                " put a valid API token in register.token_file"):
            reg.push(typed([sighting("DC-ANY", "Hall")]))
        with pytest.raises(RegisterError, match="Invalid token"):
            reg.expected_assets()


def test_the_check_is_one_device_and_needs_a_token_nautobot_takes(
        nautobot_server: NautobotServer, tmp_path: Path) -> None:
    with register(nautobot_server, tmp_path) as reg:
        reg.check()
    token = tmp_path / "bad-token"
    token.write_text("0" * 40 + "\n")
    token.chmod(0o600)
    config = RegisterConfig(adapter="nautobot", url=nautobot_server.url, token_file=token,
                            timeout=60.0)
    with NautobotRegister(config, "hh-07") as reg, \
            pytest.raises(RegisterRefused, match=r"Nautobot refused the token \(Invalid"):
        reg.check()


def test_a_server_out_of_reach_is_unavailable(tmp_path: Path,
                                              nautobot_server: NautobotServer) -> None:
    from tests.nautobot.server import free_ports

    config = RegisterConfig(adapter="nautobot", url=f"http://127.0.0.1:{free_ports(1)[0]}",
                            token_file=nautobot_server.token_file, timeout=2)
    with NautobotRegister(config, "hh-07") as reg, pytest.raises(RegisterUnavailable):
        reg.push(typed([sighting("DC-ANY", "Hall")]))


def test_reports_go_to_the_outbox_folder(nautobot_server: NautobotServer, tmp_path: Path) -> None:
    report = {"session_id": "s-1", "location": "Hall", "technician": "ana", "counts": {},
              "expected": 0, "ghosts": [], "mislocated": [], "unregistered": [], "scans": []}
    with register(nautobot_server, tmp_path) as reg:
        paths = reg.publish_report(report)
    assert [Path(p).name for p in paths] == ["report-s-1.json", "report-s-1.csv"]
