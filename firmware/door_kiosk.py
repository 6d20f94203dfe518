"""The door kiosk: who takes what out of a storage room, and what comes back.

A fixed device at the door. A person scans their badge, then their items; each item is
checked out to them, checked in, or refused (:mod:`firmware.kiosk_rules` decides). Every
decision is saved — in the sighting queue (for the register) and in the movement log (the
kiosk's own memory, :mod:`firmware.movement_log`) — before it is shown or sounded. The visit
ends after ``session_timeout`` seconds without a scan, at the next badge, or with the end
button; the screen then lists what was taken and returned.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware import screens
from firmware.cards import CardNumberError, CardRules
from firmware.identity import Outcome
from firmware.inventory import Inventory
from firmware.kiosk_rules import (
    DEFAULT_BLOCKED_STATUSES,
    MOVEMENTS,
    Decision,
    Direction,
    Holdings,
    KioskRules,
    Movement,
    badge_text,
    mode_label,
)
from firmware.mode import ScanningMode
from firmware.movement_log import MovementLog
from firmware.people_index import PeopleIndex
from sync.person import Person, person_key
from firmware.readers import RepeatFilter
from firmware.signals import Event, signal_for
from firmware.scan_path import BurstEnd, Judged, ScanPath
from hal.clock import Clock
from firmware.sightings import Stamp, make_sighting
from sync.sighting import Sighting
from sync.sync_status import SyncStatus
from firmware.tags import Tag, TagKind, TagRejected, parse_read, payload_text
from hal.buttons.base import Press
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.read import Read
from hal.text import terminal_safe
from sync.queue import SightingStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KioskSettings:
    """The parts of the configuration the kiosk needs."""

    device_id: str
    room: str
    session_timeout: float = 30.0
    repeat_window: float = 2.0
    tag_pattern: str = r".+"
    cards: CardRules = CardRules()
    blocked_statuses: tuple[str, ...] = DEFAULT_BLOCKED_STATUSES


@dataclass
class Visit:
    """One person's time at the door (or a run of returns without a badge)."""

    session_id: str
    person: Person | None
    last: float
    taken: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)

    def label(self) -> str:
        """Who, as the summary names them."""
        return self.person.label() if self.person is not None else "Returns"


class DoorKiosk(ScanningMode):
    """The kiosk mode: badges, decisions, durable events, screens.

    It is the kiosk's rules on the scan path (:class:`firmware.scan_path.ScanPath`): a read
    is a decision (or a badge, a ``MODE:`` label), the sighting goes to the queue and the
    movement log, and each decision is shown with the visit's running counts.

    Args:
        settings: the kiosk's settings.
        inventory: the register's assets (the cached copy when offline).
        people: who may take assets.
        queue: the sighting queue.
        movements: the kiosk's movement log.
        display, feedback: the screen and the buzzer/LEDs.
        clock: time.
        fetched_at: wall time the inventory was fetched from the register: the kiosk's own
            events since then (and those still queued) are counted over it.
        sync_status: the sync line for the idle screen.
    """

    session_noun = "visit"
    journal_required = False
    """The queue is what reaches the register: once it holds a check-out, the kiosk must
    count it, or a second scan would check the asset out twice."""

    def __init__(self, settings: KioskSettings, inventory: Inventory, people: PeopleIndex,
                 queue: SightingStore, movements: MovementLog, display: Display,
                 feedback: Feedback, clock: Clock, *, fetched_at: float | None = None,
                 sync_status: Callable[[], SyncStatus] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.room = inventory.room_named(settings.room) or " ".join(settings.room.split())
        if inventory.room_named(settings.room) is None:
            log.warning("kiosk.location %r is not a room the register knows", settings.room)
        self.rules = KioskRules(self.room, inventory, settings.blocked_statuses)
        self.people = people
        self.queue = queue
        self.movements = movements
        self.display = display
        self.feedback = feedback
        self.clock = clock
        self.sync_status = sync_status
        self.repeats = RepeatFilter(settings.repeat_window)
        self.direction = Direction.AUTO
        self.visit: Visit | None = None
        self.visits: deque[Visit] = deque(maxlen=100)
        """The latest visits that ended, newest last (for tests and logs)."""
        self.holdings = Holdings.replayed(inventory, self._own_events(fetched_at))
        self.path: ScanPath[Decision] = ScanPath(self, queue, clock)

    def _own_events(self, fetched_at: float | None) -> list[dict[str, Any]]:
        """This kiosk's events the cached inventory may not show yet, oldest first.

        Events still queued but missing from the movement log (a kill between the two
        writes) are added back to the log first.
        """
        device = self.settings.device_id
        queued = [r for r in self.queue.iter_pending()
                  if r.get("verdict") in MOVEMENTS and r.get("device_id") == device]
        events = list(self.movements.events())
        logged = {str(record.get("sighting_id")) for _, record in events}
        missing = [r for r in queued if str(r.get("sighting_id")) not in logged]
        if missing:
            log.warning("%d kiosk event(s) queued but not in the movement log: added back",
                        len(missing))
            wall = self.clock.wall()
            self.movements.add_many(missing, wall, flush=True)
            events += [(wall, record) for record in missing]
        queued_ids = {str(r.get("sighting_id")) for r in queued}
        return [record for wall, record in events
                if fetched_at is None or wall >= fetched_at
                or str(record.get("sighting_id")) in queued_ids]

    # The kiosk's rules on the scan path ---------------------------------------------

    @property
    def journal(self) -> MovementLog:
        """What the kiosk journals after the queue: its movement log."""
        return self.movements

    def begin_burst(self) -> None:
        """A visit that timed out meanwhile ends before a burst's reads count."""
        self.tick()

    def end_burst(self) -> None:
        """Nothing is counted before it is durable: nothing to undo."""

    def judge(self, read: Read) -> Judged[Decision] | BurstEnd | None:
        """A read's decision and sighting; a badge or a ``MODE:`` label (taken once the
        reads before it are durable); or None (a repeat)."""
        payload = payload_text(read.payload)
        if not self.repeats.admit(read.source, read.payload, read.at):
            self.drop_repeat(read)
            return None
        person, badge = self._badge(read, payload)
        if badge is not None:
            def take_badge() -> None:
                if self._take_badge(badge, person):
                    # Someone else now: the asset the last person just took may come back.
                    self.repeats.restart(read.source, read.payload)
            return take_badge
        direction = mode_label(payload)
        if direction is not None:
            return lambda: self._force(direction)
        return self._decide(read, payload)

    def _badge(self, read: Read, payload: str) -> tuple[Person | None, str | None]:
        """(the person, the badge text) when the read is a badge, else (None, None).

        A badge is a card on the card reader, a ``BADGE:<id>`` label, or an employee
        number alone that names no asset (an asset's tag wins over a person's number).
        """
        if read.symbology == "CARD":
            try:
                card = self.settings.cards.normalise(payload)
            except CardNumberError:
                return None, payload
            return self.people.by_badge(card), card
        badge = badge_text(payload)
        if badge is not None:
            return self.people.by_badge(badge), badge
        person = self.people.by_number(payload)
        if person is not None and not self._names_an_asset(read):
            return person, payload  # an employee number typed or scanned alone
        return None, None

    def _names_an_asset(self, read: Read) -> bool:
        try:
            tag = parse_read(read, tag_pattern=self.settings.tag_pattern,
                             cards=self.settings.cards)
        except TagRejected:
            return False
        return self.rules.inventory.resolve(tag).outcome is not Outcome.UNKNOWN

    def _decide(self, read: Read, payload: str) -> Judged[Decision]:
        person = self.visit.person if self.visit is not None else None
        try:
            tag: Tag | None = parse_read(read, tag_pattern=self.settings.tag_pattern,
                                         cards=self.settings.cards)
        except TagRejected as exc:
            tag = None
            decision = Decision(Movement.REFUSED, payload, person=person,
                                reason=f"not a label: {exc.reason}")
        else:
            if tag.kind is TagKind.LOCATION:
                decision = Decision(Movement.REFUSED, payload, person=person,
                                    reason="a room label: this kiosk is for one room")
            else:
                decision = self.rules.decide(tag, person, self.direction, self.holdings)
        return Judged(read.source, read.payload, decision,
                      self._sighting(read, payload, tag, decision))

    def _sighting(self, read: Read, payload: str, tag: Tag | None,
                  decision: Decision) -> Sighting:
        asset = decision.asset
        person = decision.person
        stamp = Stamp(self.settings.device_id,
                      self.visit.session_id if self.visit is not None else str(uuid.uuid4()),
                      self.room, person.username if person is not None else "")
        return make_sighting(
            stamp, read, payload, tag, self.clock, verdict=decision.movement.value,
            asset_tag=asset.asset_tag if asset is not None else None,
            recorded_location=(self.holdings.location(asset) or None) if asset else None,
            reason=decision.reason, person=person.to_record() if person is not None else None)

    def not_kept(self, burst: list[Judged[Decision]]) -> None:
        """Count none of a burst that could not be saved; its reads may come again."""
        for judged in burst:
            self.repeats.forget(judged.source, judged.key)

    def kept(self, burst: list[Judged[Decision]]) -> None:
        """Count each durable decision (who holds what, the visit's lists), then show it."""
        if not burst:
            return
        now = self.clock.mono()
        for judged in burst:
            decision = judged.outcome
            self.holdings.apply(decision, self.room)
            visit = self._current_visit(now)
            if decision.movement is Movement.CHECKED_OUT:
                visit.taken.append(decision.label)
            elif decision.movement is Movement.CHECKED_IN:
                visit.returned.append(decision.label)
            self._show_decision(decision, visit)

    def _current_visit(self, now: float) -> Visit:
        """The visit a decision belongs to; returns without a badge open an anonymous one."""
        if self.visit is None:
            self.visit = Visit(str(uuid.uuid4()), None, now)
        self.visit.last = now
        return self.visit

    def _take_badge(self, badge: str, person: Person | None) -> bool:
        """Begin the visit of the badge's person; False when the badge is refused."""
        shown = terminal_safe(badge)
        if person is None:
            reason = ("shared by several people" if badge and self._shared(badge)
                      else "not known to the register")
            log.warning("badge %s refused: %s", shown, reason)
            self.show(screens.badge_refused_screen(badge, reason), f"badge refused {shown}")
            self.signal(signal_for(Event.BADGE_REFUSED))
            return False
        self.end_visit()
        self.direction = Direction.AUTO
        self.visit = Visit(str(uuid.uuid4()), person, self.clock.mono())
        log.info("badge %s: %s", shown, terminal_safe(person.label()))
        self.show(screens.badge_screen(person.label(), self.direction.value),
                  f"badge {terminal_safe(person.label())}")
        self.signal(signal_for(Event.BADGE))
        return True

    def _shared(self, badge: str) -> bool:
        return person_key(badge) in self.people.shared

    def _force(self, direction: Direction) -> None:
        self.direction = direction
        if self.visit is not None:
            self.visit.last = self.clock.mono()
        log.info("direction %s", direction.value)
        self._show_visit_or_idle()
        self.signal(signal_for(Event.BUTTON))

    def press(self, press: Press) -> None:
        """Buttons: ``end`` ends the visit, ``mode`` cycles auto/out/in, ``next`` shows."""
        if press.button == "end":
            if not self.end_visit():
                self.show_idle()
            return
        if press.button == "mode":
            self._force(self.direction.next())
            return
        self._show_visit_or_idle()

    def tick(self) -> None:
        """End a visit after ``session_timeout`` seconds without a scan; the idle screen
        follows the sync's state."""
        if self.visit is not None and (self.clock.mono() - self.visit.last
                                       >= self.settings.session_timeout):
            log.info("visit timed out")
            self.end_visit()
        self.refresh_idle(self.sync_status, self.clock.mono())

    def place(self) -> str | None:
        """The kiosk's room, as the health textfile says it."""
        return f"kiosk {self.room}"

    def end(self, *, keep: bool = False) -> None:
        """The device stops: the visit ends with its summary (a kiosk's events are
        durable as they happen: there is nothing to keep)."""
        self.end_visit()

    def end_visit(self) -> bool:
        """End the current visit, showing what was taken and returned; False if none."""
        visit, self.visit = self.visit, None
        self.direction = Direction.AUTO
        if visit is None:
            return False
        self.visits.append(visit)
        log.info("visit of %s ended: %d out, %d in", terminal_safe(visit.label()),
                 len(visit.taken), len(visit.returned))
        self.show(screens.visit_summary_screen(visit.label(), visit.taken, visit.returned),
                  f"visit {terminal_safe(visit.label())}")
        self.signal(signal_for(Event.DONE))
        return True

    # Screens -------------------------------------------------------------------------

    def show_idle(self) -> None:
        """The screen that says what to do."""
        sync = self.sync_status() if self.sync_status is not None else None
        self.show(screens.kiosk_idle_screen(self.room, self.direction.value,
                                            sync.line() if sync is not None else None),
                  f"kiosk {self.room}")
        self.showing_idle(sync, self.clock.mono())

    def _show_visit_or_idle(self) -> None:
        if self.visit is None:
            self.show_idle()
            return
        person = self.visit.label()
        self.show(screens.badge_screen(person, self.direction.value),
                  f"badge {terminal_safe(person)}")

    def _show_decision(self, decision: Decision, visit: Visit) -> None:
        asset = decision.asset
        if decision.movement is Movement.CHECKED_OUT:
            detail = f"to {decision.person.label() if decision.person else '?'}"
        elif decision.movement is Movement.CHECKED_IN:
            detail = f"from {decision.holder}" if decision.holder else "to this room"
        else:
            detail = decision.reason or "cannot move"
        self.show(screens.movement_screen(
            decision.movement.value, decision.label, asset.name if asset else "", detail,
            taken=len(visit.taken), returned=len(visit.returned),
            direction=self.direction.value),
            f"{decision.movement.value} {terminal_safe(decision.label)}")
        self.signal(signal_for(decision.movement))

