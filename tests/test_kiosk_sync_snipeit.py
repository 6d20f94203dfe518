"""Door-kiosk scenarios end to end: kiosks' queues and engines, the ``snipeit`` adapter and
the Snipe-IT emulator on loopback (users, check-out, check-in, conflicts, lost answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.config import RegisterConfig
from sync.person import Person
from sync.queue import read_status
from sync.register import ItemStatus
from sync.snipeit import SnipeItRegister
from tests.snipeit_emulator import SnipeItEmulator
from tests.test_kiosk_sync import Kiosk, event
from tests.sightings import typed

TOKEN = "snipe-kiosk-token"


@pytest.fixture
def emulator() -> Iterator[SnipeItEmulator]:
    with SnipeItEmulator(TOKEN, throttle_limit=None, max_results=2) as emu:
        storage = emu.add_location("Storage B")
        office = emu.add_location("Office 2")
        emu.add_user("ana", "Ana", "Lopes & Co", office, employee_num="E-100")
        emu.add_user("ben", "Ben", "Ode", None, employee_num="E-101")
        emu.add_user("cleo", "Cleo", "Park", office)
        for tag in ("IT-1", "IT-2", "IT-3"):
            emu.add_asset(tag, name="Laptop", location=storage, rtd_location=storage)
        yield emu


def register(emu: SnipeItEmulator, tmp_path: Path, device: str = "kiosk-1") -> SnipeItRegister:
    token = tmp_path / f"{device}.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return SnipeItRegister(RegisterConfig(adapter="snipeit", url=emu.url, token_file=token,
                                          outbox=tmp_path / "out", timeout=2.0,
                                          rate_per_minute=6000.0), device)


def person(emu: SnipeItEmulator, username: str) -> Person:
    user = next(u for u in emu.users.values() if u.username == username)
    return Person("", user.employee_num, f"{user.first_name} {user.last_name}", username,
                  user.id)


def test_people_are_snipeit_users_read_page_by_page(emulator: SnipeItEmulator,
                                                    tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        people = snipe.people()
    assert [(p.username, p.employee_num, p.badge) for p in people] == [
        ("admin", "", ""), ("ana", "E-100", ""), ("ben", "E-101", ""), ("cleo", "", "")]
    assert people[1].name == "Ana Lopes & Co" and people[1].id == 2  # unescaped
    pages = emulator.requests_to("/api/v1/users")
    assert [r.query.get("offset") for r in pages] == ["0", "2"]


def test_check_out_and_check_in_map_to_snipeit(emulator: SnipeItEmulator,
                                               tmp_path: Path) -> None:
    ana = person(emulator, "ana")
    out = event("checked_out", "IT-1", ana, wall_time="2026-11-24T09:15:02.120Z")
    back = event("checked_in", "IT-1", None, room="Office 2")
    refused = event("refused", None, None, reason="no badge")
    with register(emulator, tmp_path) as snipe:
        results = snipe.push(typed([out, refused]))
        asset = emulator.asset("IT-1")
        assert asset.assigned_user == ana.id and asset.last_checkout == "2026-11-24 09:15:02"
        assert asset.location_id == emulator.location_named("Office 2")  # the user's
        results += snipe.push(typed([back]))
    assert [r.status for r in results] == [ItemStatus.ACCEPTED] * 3
    assert asset.assigned_user is None and asset.location_id == emulator.location_named(
        "Office 2")
    assert emulator.entries_by_sighting("checkout") == {out["sighting_id"]: 1}
    assert emulator.entries_by_sighting("checkin from") == {back["sighting_id"]: 1}
    [posted] = emulator.requests_to("/api/v1/hardware/", "POST")[:1]
    assert posted.path.endswith("/checkout")
    assert len(emulator.requests_to("/api/v1/hardware/", "POST")) == 2  # refusal: no call


def test_a_check_out_to_a_user_without_location_clears_the_location(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        snipe.push(typed([event("checked_out", "IT-2", person(emulator, "ben"))]))
    assert emulator.asset("IT-2").location_id is None


def test_two_kiosks_offline_check_out_one_asset_one_conflict_nothing_lost(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    ana, ben = person(emulator, "ana"), person(emulator, "ben")
    one = Kiosk(tmp_path / "kiosk-1", register(emulator, tmp_path, "kiosk-1"))
    two = Kiosk(tmp_path / "kiosk-2", register(emulator, tmp_path, "kiosk-2"))
    emulator.inject("500", times=2, path="/api/v1/hardware")  # the register is down
    took = event("checked_out", "IT-3", ana, device="kiosk-1")
    also = event("checked_out", "IT-3", ben, device="kiosk-2")
    one.scan(took)
    two.scan(also)
    assert one.engine.run_once().error is not None
    assert two.engine.run_once().error is not None
    try:
        assert one.engine.run_once().sent == 1
        second = two.engine.run_once()
        assert (second.sent, second.conflicts, second.left) == (0, 1, 0)
        [conflict] = two.queue.conflicts()
        assert conflict["record"]["person"]["username"] == "ben"
        assert conflict["register_side"]["holder"]["username"] == "ana"
        assert conflict["register_side"]["location"] == "Office 2"
        assert "checked out to Ana Lopes & Co in Snipe-IT" in conflict["reason"]
        assert two.engine.run_once().conflicts == 0
    finally:
        one.close()
        two.close()
    assert emulator.entries_by_sighting("checkout") == {took["sighting_id"]: 1}
    assert read_status(tmp_path / "kiosk-2")["conflicts"] == 1


def test_an_asset_archived_meanwhile_is_a_conflict(emulator: SnipeItEmulator,
                                                   tmp_path: Path) -> None:
    emulator.asset("IT-2").status_id = emulator.status_id("Archived")
    with register(emulator, tmp_path) as snipe:
        [result] = snipe.push(typed([event("checked_out", "IT-2", person(emulator, "ana"))]))
    assert result.status is ItemStatus.CONFLICT
    assert result.register_side is not None and result.register_side["status"] == "Archived"
    assert result.register_side["holder"] is None
    assert emulator.entries_by_sighting("checkout") == {}


@pytest.mark.parametrize("verdict", ["checked_out", "checked_in"])
def test_a_lost_answer_is_a_duplicate_on_the_retry_not_a_second_move(
        emulator: SnipeItEmulator, tmp_path: Path, verdict: str) -> None:
    ana = person(emulator, "ana")
    kiosk = Kiosk(tmp_path / "kiosk", register(emulator, tmp_path))
    try:
        if verdict == "checked_in":
            kiosk.scan(event("checked_out", "IT-1", ana))
            assert kiosk.engine.run_once().sent == 1
        record = event(verdict, "IT-1", ana if verdict == "checked_out" else None)
        kiosk.scan(record)
        action = "checkout" if verdict == "checked_out" else "checkin"
        emulator.inject("drop", apply=True, method="POST", path="/api/v1/hardware/")
        assert kiosk.engine.run_once().error is not None and len(kiosk.queue) == 1
        retry = kiosk.engine.run_once()
        assert (retry.sent, retry.duplicates, retry.conflicts, retry.left) == (0, 1, 0, 0)
    finally:
        kiosk.close()
    kind = "checkout" if action == "checkout" else "checkin from"
    assert emulator.entries_by_sighting(kind)[record["sighting_id"]] == 1


def test_a_check_in_of_an_asset_not_checked_out_is_a_conflict_unless_it_is_here(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        here, elsewhere = snipe.push(typed([event("checked_in", "IT-1", None, room="Storage B"),
                                      event("checked_in", "IT-2", None, room="Office 2")]))
    assert here.status is ItemStatus.ACCEPTED and here.reason == "already checked in here"
    assert elsewhere.status is ItemStatus.CONFLICT
    assert elsewhere.register_side is not None
    assert elsewhere.register_side["location"] == "Storage B"


def test_unknown_assets_and_people_without_a_user_id_are_rejected(
        emulator: SnipeItEmulator, tmp_path: Path) -> None:
    with register(emulator, tmp_path) as snipe:
        unknown, nobody = snipe.push(typed([
            event("checked_out", "IT-404", person(emulator, "ana")),
            event("checked_out", "IT-1", Person("77", "E-9", "Guest"))]))
    assert unknown.status is nobody.status is ItemStatus.REJECTED
    assert "no asset 'IT-404'" in str(unknown.reason)
    assert "no Snipe-IT user id" in str(nobody.reason)
