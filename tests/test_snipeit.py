"""The ``snipeit`` register adapter against the Snipe-IT emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from firmware.config import RegisterConfig
from firmware.errors import ConfigError, RegisterError, RegisterUnavailable
from sync.bench_snipeit import bench_snipeit
from sync.register import ItemStatus
from sync.registers import open_register
from sync.snipeit import SnipeItRegister
from sync.snipeit_api import DEFAULT_RETRY_AFTER, api_base
from sync.snipeit_audit import AUDIT_VERDICTS, sighting_in_note
from tests.snipeit_emulator import SnipeItEmulator, php_e
from tests.sightings import typed

TOKEN = "snipe-test-token-7f3a"
SESSION = "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80"


@pytest.fixture
def emulator() -> Iterator[SnipeItEmulator]:
    """A running emulator with three rooms and a few assets; stopped however the test ends."""
    with SnipeItEmulator(TOKEN, throttle_limit=None) as emu:
        storage = emu.add_location("Storage B")
        office = emu.add_location("Büro 3.14")
        emu.add_location("Lab 2")
        ana = emu.add_user("ana", "Ana", "Lopes", office)
        emu.add_asset("IT-0001", serial="SN-1", name="Laptop 14 \"Pro\" & dock",
                      location=storage, rtd_location=storage)
        emu.add_asset("IT-0002", serial="SN-2", name="Monitor", location=office,
                      rtd_location=storage, assigned_user=ana)
        emu.add_asset("IT-0003", serial="SN-1", name="Laptop", rtd_location=office)
        emu.add_asset("IT-0004", serial="SN-4", name="Old PC", status="Archived",
                      location=storage)
        emu.add_asset("IT-0005", serial="SN-5", name="Phone", status="Lost/Stolen",
                      location=office)
        emu.add_asset("IT-0006", serial="SN-6", name="Gone", deleted=True, location=storage)
        emu.add_asset("LAB/7?b", serial="S/N 7", name="Scope", location="Lab 2")
        emu.add_asset("LAB/8", serial="SN-8", name="Archived scope", status="Archived",
                      location="Lab 2")
        yield emu


def token_file(tmp_path: Path, token: str = TOKEN, mode: int = 0o600) -> Path:
    path = tmp_path / "snipeit.token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def config(emu: SnipeItEmulator, tmp_path: Path, **changes: Any) -> RegisterConfig:
    if "token_file" not in changes:
        changes["token_file"] = token_file(tmp_path)
    # These tests are about the per-asset audit; the bulk audit has test_snipeit_bulk.py.
    settings: dict[str, Any] = {"adapter": "snipeit", "url": emu.url, "outbox": tmp_path / "out",
                                "timeout": 2.0, "rate_per_minute": 6000.0, "bulk_audit": False}
    return RegisterConfig(**{**settings, **changes})


def record(asset_tag: str | None, verdict: str = "verified", location: str | None = "Storage B",
           session: str = SESSION, **extra: Any) -> dict[str, Any]:
    """A sighting record as the queue holds it."""
    return {"sighting_id": str(uuid.uuid4()), "device_id": "handheld-07", "session_id": session,
            "location": location, "technician": "Zoë Ångström", "tag": None,
            "asset_tag": asset_tag, "payload": asset_tag or "??", "symbology": "QR",
            "source": "camera", "verdict": verdict, "recorded_location": None, "reason": None,
            "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True,
            "monotonic": 12.5, "boot_id": "b", "firmware_version": "0.1.0", **extra}


def statuses(results: list[Any]) -> list[str]:
    return [r.status.value for r in results]


# -- configuration and token -----------------------------------------------------------------


def test_open_register_builds_the_snipeit_adapter(emulator, tmp_path):
    with open_register(config(emulator, tmp_path), "handheld-07") as register:
        assert isinstance(register, SnipeItRegister)
        assert register.api.client.base_url == emulator.url + "/api/v1"


@pytest.mark.parametrize(("changes", "key"), [({"url": None}, "register.url"),
                                              ({"token_file": None}, "register.token_file")])
def test_missing_url_or_token_file_names_the_key(emulator, tmp_path, changes, key):
    with pytest.raises(ConfigError, match=key):
        open_register(config(emulator, tmp_path, **changes), "handheld-07")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_token_file_readable_by_others_is_refused(emulator, tmp_path, mode):
    cfg = config(emulator, tmp_path, token_file=token_file(tmp_path, mode=mode))
    with pytest.raises(ConfigError, match="register.token_file: .* readable by others"):
        SnipeItRegister(cfg, "handheld-07")
    assert emulator.requests == []


def test_token_file_missing_is_refused(emulator, tmp_path):
    with pytest.raises(ConfigError, match="register.token_file: .* not found"):
        SnipeItRegister(config(emulator, tmp_path, token_file=tmp_path / "none"), "h")


def test_api_base_accepts_the_site_or_the_api_address():
    assert api_base("https://assets.example.com/") == "https://assets.example.com/api/v1"
    assert api_base("https://example.com/snipe") == "https://example.com/snipe/api/v1"
    assert api_base("https://example.com/snipe/api/v1/") == "https://example.com/snipe/api/v1"


def test_wrong_token_is_a_refusal_not_a_retry(emulator, tmp_path):
    cfg = config(emulator, tmp_path, token_file=token_file(tmp_path, "not-the-token"))
    with SnipeItRegister(cfg, "handheld-07") as register:
        with pytest.raises(RegisterError, match="refused the token") as caught:
            register.expected_assets()
        assert not isinstance(caught.value, RegisterUnavailable)
        with pytest.raises(RegisterError, match="401"):
            register.push(typed([record("IT-0001")]))
    assert emulator.audit_entries() == []
    assert set(emulator.statuses_seen()) == {401}


def test_emulator_answers_401_json_or_a_login_redirect(emulator):
    plain = requests.get(emulator.url + "/api/v1/hardware", allow_redirects=False, timeout=5)
    assert (plain.status_code, plain.headers["Location"]) == (302, "/login")
    wants_json = requests.get(emulator.url + "/api/v1/hardware", timeout=5,
                              headers={"Accept": "application/json"})
    assert wants_json.status_code == 401
    assert wants_json.json() == {"error": "Unauthorized or unauthenticated."}


def test_requests_carry_json_headers_and_the_device(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "handheld-07") as register:
        register.push(typed([record("IT-0001")]))
    (entry,) = emulator.audit_entries()
    # Snipe-IT records "api" only for a Content-Type, Accept exactly JSON and a bearer token.
    assert entry.action_source == "api"
    assert entry.user_agent.startswith("stocktaker/")


# -- lookups -------------------------------------------------------------------------------


def test_lookup_by_tag_unescapes_snipeit_strings(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        asset = register.asset_by_tag("IT-0001")
    assert asset is not None
    assert (asset.asset_tag, asset.serial, asset.name, asset.location, asset.status, asset.id) \
        == ("IT-0001", "SN-1", 'Laptop 14 "Pro" & dock', "Storage B", "Ready to Deploy", 1)
    assert [r.path for r in emulator.requests] == ["/api/v1/hardware/bytag/IT-0001"]


def test_unknown_tag_is_none_though_snipeit_answers_200(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert register.asset_by_tag("IT-9999") is None
        assert register.asset_by_tag("IT-0006") is None  # deleted
    assert set(emulator.statuses_seen()) == {200}


@pytest.mark.parametrize("tag", ["LAB/7?b", "LAB/8"])
def test_tags_with_slash_or_question_mark_use_the_list_filter(emulator, tmp_path, tag):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        asset = register.asset_by_tag(tag)
    assert asset is not None and asset.asset_tag == tag and asset.location == "Lab 2"
    assert all(r.path == "/api/v1/hardware" for r in emulator.requests)
    assert emulator.requests[0].query["asset_tag"] == tag
    assert not any("%2f" in r.raw_path.lower() for r in emulator.requests)
    if tag == "LAB/8":  # archived: hidden by the plain list, found with status=Archived
        assert [r.query.get("status") for r in emulator.requests] == [None, "Archived"]


def test_lookup_by_serial_gives_every_asset_with_it(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert sorted(a.asset_tag for a in register.assets_by_serial("SN-1")) \
            == ["IT-0001", "IT-0003"]
        assert register.assets_by_serial("nope") == []
        (scope,) = register.assets_by_serial("S/N 7")
        assert scope.asset_tag == "LAB/7?b"
    assert not any("%2f" in r.raw_path.lower() for r in emulator.requests)


def test_lookup_by_serial_pages_through_byserial(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=3) as emu:
        for n in range(8):
            emu.add_asset(f"T-{n}", serial="SAME")
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            found = register.assets_by_serial("SAME")
        assert sorted(a.asset_tag for a in found) == [f"T-{n}" for n in range(8)]
        assert len(emu.requests_to("/api/v1/hardware/byserial/SAME")) == 3


def test_lookup_by_id(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert register.asset_by_id(2).asset_tag == "IT-0002"
        assert register.asset_by_id(999) is None


# -- the expected inventory -------------------------------------------------------------------


def test_expected_assets_maps_snipeit_fields(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assets = {a.asset_tag: a for a in register.expected_assets()}
    assert sorted(assets) == ["IT-0001", "IT-0002", "IT-0003", "IT-0004", "IT-0005",
                              "LAB/7?b", "LAB/8"]  # archived in, deleted out
    assert assets["IT-0002"].assigned_to == "Ana Lopes"
    assert assets["IT-0002"].location == "Büro 3.14"  # current, not default, location
    assert assets["IT-0003"].location == "Büro 3.14"  # no current location: the default one
    assert assets["IT-0004"].status == "Archived"
    assert assets["IT-0005"].status == "Lost/Stolen"
    assert assets["IT-0001"].serial == "SN-1"


@pytest.mark.parametrize("max_results", [500, 100])
def test_expected_assets_pages_through_everything(tmp_path, max_results):
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=max_results) as emu:
        room = emu.add_location("Storage B")
        for n in range(1234):
            emu.add_asset(f"IT-{n:05d}", serial=f"S{n}", location=room,
                          status="Archived" if n % 100 == 7 else "Ready to Deploy")
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            assets = register.expected_assets()
        tags = [a.asset_tag for a in assets]
        assert len(tags) == len(set(tags)) == 1234
        pages = emu.requests_to("/api/v1/hardware")
        plain = [r for r in pages if "status" not in r.query]
        # The adapter asks for 500; a server with a lower maximum gives less, silently.
        assert len(plain) == -(-1221 // max_results)  # 13 of the 1234 are archived
        assert {r.query["limit"] for r in pages} == {"500"}
        assert [int(r.query["offset"]) for r in plain] == list(range(0, 1221, max_results))


def test_assets_added_while_paging_restart_the_read(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=10) as emu:
        for n in range(25):
            emu.add_asset(f"IT-{n:03d}")
        added: list[int] = []

        def add_one_after_the_first_page(request):
            if request.query.get("offset") == "0" and not added:
                added.append(emu.add_asset("IT-NEW"))

        emu.on_request = add_one_after_the_first_page
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            tags = sorted(a.asset_tag for a in register.expected_assets())
        assert tags == sorted([f"IT-{n:03d}" for n in range(25)] + ["IT-NEW"])
        offsets = [r.query["offset"] for r in emu.requests_to("/api/v1/hardware")
                   if "status" not in r.query]
        assert offsets == ["0", "10", "0", "10", "20"]


def test_error_envelope_on_200_is_an_error(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        with pytest.raises(RegisterError, match="Snipe-IT: Asset does not exist."):
            register.api.list_all("/hardware/byserial/nope", {})
        with pytest.raises(RegisterError, match="404 endpoint not found"):
            register.api.list_all("/no/such/list", {})
    assert [r.status for r in emulator.requests] == [200, 404]


# -- audits -----------------------------------------------------------------------------------


def test_audit_with_a_configured_location_id(emulator, tmp_path):
    storage = emulator.location_named("Storage B")
    cfg = config(emulator, tmp_path, location_ids={"Storage B": storage})
    sightings = [record("IT-0001"), record("IT-0003")]
    with SnipeItRegister(cfg, "handheld-07") as register:
        assert statuses(register.push(typed(sightings))) == ["accepted", "accepted"]
    assert emulator.requests_to("/api/v1/locations") == []
    entries = emulator.audit_entries()
    assert [e.location_id for e in entries] == [storage, storage]
    assert emulator.audits_by_sighting() == {s["sighting_id"]: 1 for s in sightings}
    assert emulator.asset("IT-0001").last_audit_date is not None


def test_audit_looks_the_room_up_once(emulator, tmp_path):
    office = emulator.location_named("Büro 3.14")
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed([record("IT-0002", location="büro 3.14")]))
        register.push(typed([record("IT-0001", location="büro 3.14")]))
    lookups = emulator.requests_to("/api/v1/locations")
    assert len(lookups) == 1 and lookups[0].query["name"] == "büro 3.14"
    assert [e.location_id for e in emulator.audit_entries()] == [office, office]


def test_audit_in_a_room_snipeit_does_not_know(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        (result,) = register.push(typed([record("IT-0001", location="Cellar")]))
    assert result.status is ItemStatus.ACCEPTED
    assert "no location named 'Cellar'" in result.reason
    (entry,) = emulator.audit_entries()
    assert entry.location_id is None and "in Cellar" in entry.note


@pytest.mark.parametrize("move", [True, False])
def test_mislocated_moves_only_when_configured(emulator, tmp_path, move):
    storage, office = emulator.location_named("Storage B"), emulator.location_named("Büro 3.14")
    cfg = config(emulator, tmp_path, move_mislocated=move)
    sightings = [record("IT-0002", "mislocated", recorded_location="Büro 3.14"),
                 record("IT-0003", "verified")]
    with SnipeItRegister(cfg, "h") as register:
        assert statuses(register.push(typed(sightings))) == ["accepted", "accepted"]
    assert emulator.asset("IT-0002").location_id == (storage if move else office)
    assert emulator.asset("IT-0003").location_id is None  # verified never moves anything
    assert [e.location_id for e in emulator.audit_entries()] == [storage, storage]
    assert "verdict mislocated (recorded in Büro 3.14)" in emulator.audit_entries()[0].note


def test_audit_note_carries_time_people_and_marker(emulator, tmp_path):
    sighting = record("IT-0005", "recovered", clock_synchronized=False,
                      technician="Zoë\nÅngström *lead*")
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed([sighting]))
    (entry,) = emulator.audit_entries()
    # Written out by hand: the note's documented form (docs/snipeit.md), parts in this
    # order, the technician's line break folded to a space.
    assert entry.note == (
        f"stocktaker sighting {sighting['sighting_id']}; session {SESSION};"
        " scanned 2026-11-24T09:15:02.120Z (device clock not synchronised); in Storage B;"
        " by Zoë Ångström *lead*; device handheld-07; verdict recovered")
    # As the activity report shows it (escaped HTML), the marker is still found.
    assert sighting_in_note(php_e(entry.note)) == sighting["sighting_id"]


@pytest.mark.parametrize("verdict", ["unregistered", "rejected", "ambiguous", "repeat",
                                     "retired"])
def test_other_verdicts_are_not_audits(emulator, tmp_path, verdict):
    assert verdict not in AUDIT_VERDICTS
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        (result,) = register.push(typed([record("IT-0001" if verdict != "unregistered" else None,
                                          verdict)]))
    assert (result.status, result.reason) == (ItemStatus.ACCEPTED, f"not an audit: {verdict}")
    assert emulator.requests == []


def test_one_refused_asset_does_not_stop_the_batch(emulator, tmp_path):
    sightings = [record("IT-0001"), record("IT-4040"), record("IT-0006"), record("IT-0003")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        results = register.push(typed(sightings))
    assert statuses(results) == ["accepted", "rejected", "rejected", "accepted"]
    assert results[1].reason == "Snipe-IT: Asset does not exist."
    assert len(emulator.audit_entries()) == 2


def test_validation_error_on_200_is_a_rejection(emulator, tmp_path):
    cfg = config(emulator, tmp_path, location_ids={"Storage B": 999}, move_mislocated=True)
    with SnipeItRegister(cfg, "h") as register:
        (result,) = register.push(typed([record("IT-0002", "mislocated")]))
    assert result.status is ItemStatus.REJECTED
    assert result.reason == "Snipe-IT: location_id: The selected location id is invalid."
    assert emulator.audit_entries() == []


def test_archived_and_checked_out_assets_are_audited(emulator, tmp_path):
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        assert statuses(register.push(typed([record("IT-0002"), record("IT-0005", "recovered")]))) \
            == ["accepted", "accepted"]


def test_pushed_twice_is_audited_once(emulator, tmp_path):
    sightings = [record("IT-0001"), record("IT-0003", "mislocated")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        register.push(typed(sightings))
        searches = len(emulator.requests_to("/api/v1/reports/activity"))
        assert statuses(register.push(typed(sightings + sightings[:1]))) == ["duplicate"] * 3
        assert len(emulator.requests_to("/api/v1/reports/activity")) == searches
    assert emulator.audits_by_sighting() == {s["sighting_id"]: 1 for s in sightings}


def test_a_new_process_finds_earlier_audits_in_the_activity_log(emulator, tmp_path):
    done, fresh = [record("IT-0001"), record("IT-0002")], [record("IT-0003")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as first:
        first.push(typed(done))
    with SnipeItRegister(config(emulator, tmp_path), "h") as second:
        assert statuses(second.push(typed(done + fresh))) == ["duplicate", "duplicate", "accepted"]
    searches = emulator.requests_to("/api/v1/reports/activity")
    # One read of the room's session per process, not one per sighting.
    assert [r.query["search"] for r in searches] == [SESSION, SESSION]
    assert {r.query["action_type"] for r in searches} == {"audit"}
    assert sum(emulator.audits_by_sighting().values()) == 3


def test_sessions_unfit_for_a_search_are_checked_per_sighting(emulator, tmp_path):
    done = [record("IT-0001", session="room 1/2026")]
    with SnipeItRegister(config(emulator, tmp_path), "h") as first:
        first.push(typed(done))
    with SnipeItRegister(config(emulator, tmp_path), "h") as second:
        assert statuses(second.push(typed(done))) == ["duplicate"]
    searches = emulator.requests_to("/api/v1/reports/activity")
    assert [r.query["search"] for r in searches] == [done[0]["sighting_id"]] * 2


def test_session_read_pages_through_the_activity_report(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=10) as emu:
        emu.add_location("Storage B")
        for n in range(35):
            emu.add_asset(f"IT-{n}")
        sightings = [record(f"IT-{n}") for n in range(35)]
        with SnipeItRegister(config(emu, tmp_path), "h") as first:
            first.push(typed(sightings))
        with SnipeItRegister(config(emu, tmp_path), "h") as second:
            assert statuses(second.push(typed(sightings))) == ["duplicate"] * 35
        assert len(emu.audit_entries()) == 35


def test_publish_report_writes_into_the_outbox(emulator, tmp_path):
    report = {"session_id": SESSION, "device_id": "handheld-07", "location": "Storage B",
              "scans": [{"sighting_id": "s1", "verdict": "verified", "asset_tag": "IT-0001"}],
              "ghosts": []}
    with SnipeItRegister(config(emulator, tmp_path), "handheld-07") as register:
        paths = register.publish_report(report)
    assert paths == [str(tmp_path / "out" / f"report-{SESSION}.json"),
                     str(tmp_path / "out" / f"report-{SESSION}.csv")]
    assert all(Path(p).is_file() for p in paths)
    assert emulator.requests == []


# -- faults ---------------------------------------------------------------------------------------


FAULTS = [("500", False), ("500", True), ("drop", False), ("drop", True),
          ("garbage", False), ("garbage", True), ("slow", True)]


@pytest.mark.parametrize(("kind", "apply"), FAULTS)
def test_unclear_audit_failure_is_retried_without_doubling(emulator, tmp_path, kind, apply):
    sightings = [record("IT-0001"), record("IT-0002"), record("IT-0003")]
    cfg = config(emulator, tmp_path, timeout=0.3)
    with SnipeItRegister(cfg, "h") as register:
        register.push(typed(sightings[:1]))  # the session is read, the room looked up
        emulator.inject(kind, method="POST", path="/api/v1/hardware/audit", apply=apply,
                        delay=0.8)
        with pytest.raises(RegisterUnavailable):
            register.push(typed(sightings[1:]))
        assert len(emulator.audit_entries()) == (2 if apply else 1)
        results = register.push(typed(sightings))
    assert statuses(results) == ["duplicate", "duplicate" if apply else "accepted", "accepted"]
    assert emulator.audits_by_sighting() == {s["sighting_id"]: 1 for s in sightings}
    # The sighting whose answer was lost was looked up before it was sent again.
    lookups = [r.query["search"] for r in emulator.requests_to("/api/v1/reports/activity")]
    assert lookups == [SESSION, sightings[1]["sighting_id"]]


def test_slow_answer_within_the_timeout_is_fine(emulator, tmp_path):
    emulator.inject("slow", method="POST", apply=True, delay=0.3)
    with SnipeItRegister(config(emulator, tmp_path, timeout=2.0), "h") as register:
        started = time.monotonic()
        assert statuses(register.push(typed([record("IT-0001")]))) == ["accepted"]
    assert time.monotonic() - started >= 0.3


def test_connection_reset_before_the_answer_reaches_the_client(emulator, tmp_path):
    emulator.inject("drop", method="POST", apply=True)
    with SnipeItRegister(config(emulator, tmp_path), "h") as register:
        with pytest.raises(RegisterUnavailable, match="cannot reach"):
            register.push(typed([record("IT-0001")]))
    assert 0 in emulator.statuses_seen()


@pytest.mark.parametrize(("kind", "apply"), [("500", False), ("drop", False),
                                             ("garbage", False), ("slow", False)])
def test_read_failures_are_unavailable(emulator, tmp_path, kind, apply):
    emulator.inject(kind, method="GET", path="/api/v1/hardware", apply=apply, delay=0.8)
    with SnipeItRegister(config(emulator, tmp_path, timeout=0.3), "h") as register:
        with pytest.raises(RegisterUnavailable):
            register.expected_assets()
        assert len(register.expected_assets()) == 7


def test_random_faults_everywhere_still_audit_each_sighting_once(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=None) as emu:
        emu.add_location("Storage B")
        emu.add_location("Lab 2")
        for n in range(60):
            emu.add_asset(f"IT-{n}")
        sessions = [str(uuid.uuid4()) for _ in range(3)]
        sightings = [record(f"IT-{n}", "mislocated" if n % 7 == 0 else "verified",
                            location="Lab 2" if n % 2 else "Storage B",
                            session=sessions[n % 3]) for n in range(60)]
        sightings.append(record(None, "unregistered"))
        emu.chaos(0.25, seed=11, delay=0.5, kinds=FAULTS)
        done: dict[str, str] = {}
        failures = 0
        cfg = config(emu, tmp_path, timeout=0.25)
        register = SnipeItRegister(cfg, "h")
        try:
            for _ in range(400):
                pending = [s for s in sightings if s["sighting_id"] not in done]
                if not pending:
                    break
                try:
                    results = register.push(typed(pending[:10]))
                except RegisterUnavailable:
                    failures += 1
                    if failures % 5 == 0:  # now and then a fresh process
                        register.close()
                        register = SnipeItRegister(cfg, "h")
                    continue
                done.update((r.sighting_id, r.status.value) for r in results)
        finally:
            register.close()
        emu.chaos(0)
        assert len(done) == len(sightings)
        assert failures >= 10
        audits = emu.audits_by_sighting()
        assert audits == {s["sighting_id"]: 1 for s in sightings if s["asset_tag"]}
        assert "duplicate" in done.values()  # some were applied, then their answer lost
        assert sum(n for (_, applied), n in emu.faults_fired.items() if applied) > 0


# -- the request limit ----------------------------------------------------------------------------


def test_429_with_retry_after(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=3, throttle_window=30.0) as emu:
        emu.add_asset("IT-1")
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            for _ in range(3):
                register.asset_by_tag("IT-1")
            with pytest.raises(RegisterUnavailable, match="429") as caught:
                register.asset_by_tag("IT-1")
        assert 28 <= caught.value.retry_after <= 30
        assert emu.statuses_seen()[429] == 1


def test_429_without_retry_after_waits_a_minute(tmp_path):
    with SnipeItEmulator(TOKEN, throttle_limit=2, throttle_window=30.0,
                         retry_after_header=False) as emu:
        emu.add_asset("IT-1")
        emu.add_location("Storage B")
        with SnipeItRegister(config(emu, tmp_path), "h") as register:
            sighting = record("IT-1")
            with pytest.raises(RegisterUnavailable, match="429") as caught:
                register.push(typed([sighting]))  # session read, room lookup, then the audit
            assert caught.value.retry_after == DEFAULT_RETRY_AFTER
            assert emu.audit_entries() == []
            emu.throttle_limit = None
            assert statuses(register.push(typed([sighting]))) == ["accepted"]
        # A throttled audit was never run: no lookup of the sighting before sending it again.
        assert [r.query["search"] for r in emu.requests_to("/api/v1/reports/activity")] \
            == [SESSION]


def test_client_limit_keeps_under_snipeit_limit(tmp_path):
    """Snipe-IT's default limit with the adapter at the same configured rate: no 429.

    Scaled 10x to keep the test short: the emulator allows 120 requests per 6-second window
    (Snipe-IT: 120 per 60 s) and ``register.rate_per_minute`` is 1200 (the device default:
    120). The proportion of client rate to server limit is the one in the field; the
    unscaled run is ``sync.bench_snipeit.bench_snipeit``.
    """
    with SnipeItEmulator(TOKEN, throttle_limit=120, throttle_window=6.0) as emu:
        emu.add_location("Storage B")
        for n in range(250):
            emu.add_asset(f"IT-{n}")
        sightings = [record(f"IT-{n}") for n in range(250)]
        cfg = config(emu, tmp_path, rate_per_minute=1200.0)
        results = []
        with SnipeItRegister(cfg, "h") as register:
            started = time.monotonic()
            for start in range(0, len(sightings), 50):
                results += register.push(typed(sightings[start:start + 50]))
            elapsed = time.monotonic() - started
        assert emu.statuses_seen() == {200: 252}
        assert statuses(results) == ["accepted"] * 250
        assert emu.audits_by_sighting() == {s["sighting_id"]: 1 for s in sightings}
        assert emu.max_requests_in(6.0) <= 120
        per_minute = 252 / elapsed * 60
        assert 1200 * 0.85 <= per_minute <= 1200


def test_bench_reports_rate_and_exactly_once(tmp_path):
    lines = bench_snipeit(sightings=30, rate_per_minute=3000, limit_per_minute=3000)
    assert "32 requests" in lines[0] and "requests/min" in lines[0]
    assert "HTTP 429 0, refused 0, audited twice 0, not audited 0" in lines[1]
