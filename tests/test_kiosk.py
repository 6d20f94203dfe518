"""The door kiosk: badges, decisions, offline state, visits — on stand-in hardware."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from firmware import screens
from firmware.cards import CardRules
from firmware.door_kiosk import DoorKiosk, KioskSettings
from firmware.inventory import Asset, Inventory
from firmware.kiosk_rules import (
    Direction,
    Holdings,
    KioskRules,
    Movement,
    badge_text,
    mode_label,
)
from firmware.mode import IDLE_LOOK_EVERY
from firmware.movement_log import MovementLog
from firmware.people_index import PeopleIndex
from sync.person import Person
from sync.sync_status import SyncStatus
from firmware.tags import parse_read
from hal.buttons.base import Press
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.queue import SightingQueue

ROOM = "Storage B"
ASSETS = [
    Asset("IT-1", "S1", "Laptop", ROOM, id=1),
    Asset("IT-2", "S2", "Dock", ROOM, id=2),
    Asset("IT-3", "S3", "Drill", ROOM, status="Broken", id=3),
    Asset("IT-4", "S4", "Projector", ROOM, assigned_to="Bo Berg", id=4),
    Asset("IT-5", "S5", "Scope", "Lab 2", id=5),
    Asset("IT-6", "S6", "Old PC", ROOM, status="Archived", id=6),
    Asset("IT-7", "S7", "Van key", ROOM, status="Stolen", id=7),
]
PEOPLE = [
    Person(badge="0009351929", employee_num="1001", name="Ana Lima", username="ana", id=11),
    Person(badge="", employee_num="E-2002", name="Bo Berg", username="bo", id=12),
    Person(badge="777", employee_num="3003", name="Cy Dahl", username="cy", id=13),
    Person(badge="777", employee_num="3004", name="Di Eng", username="di", id=14),
]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def wall(self) -> float:
        return 1795000000.0 + self.now

    def mono(self) -> float:
        return self.now

    def boot_id(self) -> str:
        return "boot-1"

    def synced(self) -> bool:
        return True


def tag(text: str):
    return parse_read(Read(text.encode(), "UNKNOWN", "hid", 0.0))


@pytest.fixture
def rules() -> KioskRules:
    return KioskRules(ROOM, Inventory(ASSETS))


@pytest.mark.parametrize(("label", "person", "direction", "movement", "reason"), [
    ("IT-1", PEOPLE[0], Direction.AUTO, Movement.CHECKED_OUT, None),
    ("IT-1", None, Direction.AUTO, Movement.REFUSED, "scan your badge first"),
    ("IT-4", None, Direction.AUTO, Movement.CHECKED_IN, None),
    ("IT-4", PEOPLE[0], Direction.OUT, Movement.REFUSED, "held by Bo Berg: return it first"),
    ("IT-1", PEOPLE[0], Direction.IN, Movement.REFUSED, "not checked out: already here"),
    ("IT-5", PEOPLE[0], Direction.AUTO, Movement.REFUSED, "kept in Lab 2, not here"),
    ("IT-5", PEOPLE[0], Direction.IN, Movement.REFUSED, "not checked out: it is kept in Lab 2"),
    ("IT-3", PEOPLE[0], Direction.AUTO, Movement.REFUSED, "cannot leave: Broken"),
    ("IT-6", PEOPLE[0], Direction.AUTO, Movement.REFUSED, "retired (Archived)"),
    ("IT-7", PEOPLE[0], Direction.AUTO, Movement.REFUSED, "marked Stolen: hand it to an admin"),
    ("IT-99", PEOPLE[0], Direction.AUTO, Movement.REFUSED, "not in the register"),
])
def test_each_scan_is_decided_by_the_register_state(rules, label, person, direction, movement,
                                                     reason) -> None:
    decision = rules.decide(tag(label), person, direction, Holdings(rules.inventory))
    assert (decision.movement, decision.reason) == (movement, reason)


def test_a_broken_asset_that_is_out_can_still_come_back(rules) -> None:
    broken_out = Asset("IT-8", name="Saw", location=ROOM, status="broken", assigned_to="ana")
    rules = KioskRules(ROOM, Inventory([*ASSETS, broken_out]))
    decision = rules.decide(tag("IT-8"), None, Direction.AUTO, Holdings(rules.inventory))
    assert decision.movement is Movement.CHECKED_IN and decision.holder == "ana"


def test_the_kiosks_own_events_count_over_the_cached_register(rules) -> None:
    holdings = Holdings(rules.inventory)
    out = rules.decide(tag("IT-1"), PEOPLE[0], Direction.AUTO, holdings)
    holdings.apply(out, ROOM)
    back = rules.decide(tag("IT-1"), None, Direction.AUTO, holdings)
    assert back.movement is Movement.CHECKED_IN and back.holder == "Ana Lima"
    holdings.apply(back, ROOM)
    again = rules.decide(tag("IT-4"), None, Direction.AUTO, holdings)
    holdings.apply(again, ROOM)
    assert holdings.holder(ASSETS[3]) is None and holdings.location(ASSETS[3]) == ROOM


def test_badge_and_mode_labels() -> None:
    assert badge_text("BADGE:1001") == "1001" and badge_text("badge: 42 ") == "42"
    assert badge_text("BADGE:") is None and badge_text("IT-1") is None
    assert mode_label("MODE:IN") is Direction.IN and mode_label("mode:out") is Direction.OUT
    assert mode_label("MODE:sideways") is None
    assert [Direction.AUTO.next(), Direction.OUT.next(), Direction.IN.next()] == [
        Direction.OUT, Direction.IN, Direction.AUTO]


def test_people_are_found_by_badge_then_employee_number() -> None:
    people = PeopleIndex(PEOPLE)
    assert people.by_badge("9351929").username == "ana"  # leading zeros ignored
    assert people.by_badge("e-2002").username == "bo"  # no badge: the employee number
    assert people.by_number("1001").username == "ana"
    assert people.by_badge("777") is None and "777" in people.shared


# The kiosk itself, on stand-ins ------------------------------------------------------


@pytest.fixture
def kiosk_parts(tmp_path: Path):
    queue = SightingQueue(tmp_path / "state")
    yield tmp_path, queue
    queue.close()


def open_kiosk(tmp_path: Path, queue: SightingQueue, clock: Clock, **settings) -> DoorKiosk:
    display = TerminalDisplay(stream=io.StringIO())
    feedback = TerminalFeedback(stream=io.StringIO())
    return DoorKiosk(
        KioskSettings("door-1", "storage  b", session_timeout=30.0, repeat_window=2.0,
                      cards=CardRules("decimal", "decimal"), **settings),
        Inventory(ASSETS), PeopleIndex(PEOPLE), queue, MovementLog(tmp_path / "state" / "kiosk"),
        display, feedback, clock, fetched_at=clock.wall() - 60)


def scan(text: str, at: float, source: str = "hid", symbology: str = "UNKNOWN") -> Read:
    return Read(text.encode(), symbology, source, at)


def test_badge_then_three_assets_out_and_the_visit_summary(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    clock = Clock()
    kiosk = open_kiosk(tmp_path, queue, clock)
    assert kiosk.room == ROOM  # the register's spelling
    kiosk.handle_many([scan("0009351929", 1.0, "card", "CARD")])
    decisions = kiosk.handle_many([scan("IT-1", 2.0), scan("IT-2", 2.1), scan("IT-5", 2.2)])
    assert [d.movement for d in decisions] == [Movement.CHECKED_OUT, Movement.CHECKED_OUT,
                                               Movement.REFUSED]
    records = queue.pending()
    assert [r["verdict"] for r in records] == ["checked_out", "checked_out", "refused"]
    assert records[0]["person"]["username"] == "ana" and records[0]["location"] == ROOM
    assert records[0]["session_id"] == records[1]["session_id"]
    assert [r["sighting_id"] for _, r in kiosk.movements.events()] == [
        r["sighting_id"] for r in records]
    clock.now += 31
    kiosk.tick()
    assert kiosk.visit is None and kiosk.visits[0].taken == ["IT-1", "IT-2"]
    assert kiosk.display.frames[-1].caption == "visit Ana Lima"


def test_the_idle_screen_follows_the_sync_state_not_its_age(kiosk_parts,
                                                           monkeypatch) -> None:
    tmp_path, queue = kiosk_parts
    clock = Clock()
    kiosk = open_kiosk(tmp_path, queue, clock)
    now = [SyncStatus(0, 0, 30.0, register_answered=True)]
    kiosk.sync_status = lambda: now[0]
    lines: list[str | None] = []
    real = screens.kiosk_idle_screen
    monkeypatch.setattr(screens, "kiosk_idle_screen",
                        lambda room, direction, status: lines.append(status)
                        or real(room, direction, status))
    kiosk.show_idle()
    now[0] = SyncStatus(0, 0, 90.0, register_answered=False)  # the register stopped answering
    kiosk.tick()
    assert lines == ["all sent now"]  # looked at every few seconds only
    clock.now += IDLE_LOOK_EVERY
    kiosk.tick()
    assert lines == ["all sent now", "offline 1m"]
    now[0] = SyncStatus(0, 0, 600.0, register_answered=False)
    clock.now += IDLE_LOOK_EVERY
    kiosk.tick()
    assert lines == ["all sent now", "offline 1m"]  # only older: the panel may dim
    kiosk.handle_many([scan("0009351929", clock.now, "card", "CARD")])  # a visit's screen
    now[0] = SyncStatus(0, 0, 1.0, register_answered=True)
    clock.now += IDLE_LOOK_EVERY
    kiosk.tick()
    assert lines == ["all sent now", "offline 1m"]


def test_returns_need_no_badge(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    kiosk = open_kiosk(tmp_path, queue, Clock())
    decision = kiosk.handle(scan("IT-4", 1.0))
    assert decision.movement is Movement.CHECKED_IN and decision.holder == "Bo Berg"
    assert queue.pending()[0]["person"] is None
    kiosk.press(Press("end", 2.0, "gpio"))
    assert kiosk.visits[0].label() == "Returns" and kiosk.visits[0].returned == ["IT-4"]


def test_an_unknown_or_shared_badge_is_refused_and_nothing_is_queued(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    kiosk = open_kiosk(tmp_path, queue, Clock())
    kiosk.handle(scan("BADGE:424242", 1.0))
    assert kiosk.visit is None and kiosk.display.frames[-1].caption == "badge refused 424242"
    kiosk.handle(scan("BADGE:777", 2.0))
    assert kiosk.visit is None
    kiosk.handle(scan("12x", 3.0, "card", "CARD"))
    assert kiosk.visit is None and len(queue) == 0


def test_the_next_badge_ends_the_visit_and_mode_labels_force_the_direction(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    kiosk = open_kiosk(tmp_path, queue, Clock())
    kiosk.handle(scan("BADGE:1001", 1.0))
    kiosk.handle(scan("IT-1", 1.5))
    kiosk.handle(scan("BADGE:E-2002", 2.0))
    assert kiosk.visits[0].person.username == "ana" and kiosk.visit.person.username == "bo"
    kiosk.handle(scan("MODE:IN", 3.0))
    assert kiosk.direction is Direction.IN
    refused = kiosk.handle(scan("IT-2", 4.0))
    assert refused.reason == "not checked out: already here"
    kiosk.press(Press("mode", 5.0, "gpio"))
    assert kiosk.direction is Direction.AUTO
    back = kiosk.handle(scan("IT-1", 6.0))
    assert back.movement is Movement.CHECKED_IN and back.person.username == "bo"


def test_a_restart_remembers_what_is_out_before_the_register_knows(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    clock = Clock()
    kiosk = open_kiosk(tmp_path, queue, clock)
    kiosk.handle_many([scan("BADGE:1001", 1.0), scan("IT-1", 1.1)])
    queue.acknowledge([r["sighting_id"] for r in queue.pending()])  # synced meanwhile
    again = open_kiosk(tmp_path, queue, clock)  # the cache predates the check-out
    decision = again.handle(scan("IT-1", 9.0))
    assert decision.movement is Movement.CHECKED_IN and decision.holder == "Ana Lima"


def test_a_kill_between_queue_and_log_is_repaired_at_start(kiosk_parts, monkeypatch) -> None:
    tmp_path, queue = kiosk_parts
    clock = Clock()
    kiosk = open_kiosk(tmp_path, queue, clock)
    kiosk.handle(scan("BADGE:1001", 1.0))

    def fail(records, wall):
        from firmware.errors import QueueError
        raise QueueError("disk full")

    monkeypatch.setattr(kiosk.movements, "add_many", fail)
    # The queue has it: it is counted (a second scan must not check it out twice).
    assert kiosk.handle(scan("IT-1", 2.0)).movement is Movement.CHECKED_OUT
    assert kiosk.handle(scan("IT-1", 5.0)).movement is Movement.CHECKED_IN
    monkeypatch.undo()
    again = open_kiosk(tmp_path, queue, clock)
    assert [r["verdict"] for _, r in again.movements.events()] == ["checked_out", "checked_in"]
    assert again.handle(scan("IT-1", 9.0)).reason == "scan your badge first"


def test_the_movements_report_lists_days_and_what_is_out(kiosk_parts) -> None:
    from firmware.movement_report import format_movements, parse_since

    tmp_path, queue = kiosk_parts
    clock = Clock()
    kiosk = open_kiosk(tmp_path, queue, clock)
    kiosk.handle_many([scan("BADGE:1001", 1.0), scan("IT-1", 1.1), scan("IT-2", 1.2),
                       scan("IT-5", 1.3)])
    clock.now += 86400  # the next day
    kiosk.handle(scan("IT-1", 90000.0))
    clock.now += 20 * 86400
    events = list(kiosk.movements.events())
    lines = format_movements(events, now=clock.wall(), overdue_days=14, heading="Movements")
    text = "\n".join(lines)
    assert "  OUT     IT-1  Ana Lima" in text and "  IN      IT-1  (no badge)" in text
    assert "REFUSED IT-5  Ana Lima  (kept in Lab 2, not here)" in text
    assert "Out now (1)" in text and "IT-2  Ana Lima" in text and "OVERDUE" in text
    days = [line for line in lines if line[:2] == "20"]
    assert len(days) == 2
    since = parse_since(days[1])
    later = format_movements(events, now=clock.wall(), overdue_days=30, since=since)
    assert "IT-2" in "\n".join(later) and "OVERDUE" not in "\n".join(later)
    assert sum(1 for line in later if line[:2] == "20") == 1
    with pytest.raises(ValueError, match="expected a date"):
        parse_since("30/11/2026")


def test_an_employee_number_alone_is_a_badge_unless_it_names_an_asset(kiosk_parts) -> None:
    tmp_path, queue = kiosk_parts
    kiosk = open_kiosk(tmp_path, queue, Clock())
    kiosk.handle(scan("E-2002", 1.0))
    assert kiosk.visit is not None and kiosk.visit.person.username == "bo"
    assert len(queue) == 0
    shadowed = DoorKiosk(
        KioskSettings("door-1", ROOM), Inventory([*ASSETS, Asset("1001", location=ROOM)]),
        PeopleIndex(PEOPLE), queue, MovementLog(tmp_path / "state" / "kiosk2"),
        TerminalDisplay(stream=io.StringIO()), TerminalFeedback(stream=io.StringIO()), Clock())
    decision = shadowed.handle(scan("1001", 1.0))  # asset 1001 wins over Ana's number
    assert decision is not None and decision.asset.asset_tag == "1001"
