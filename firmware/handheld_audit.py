"""The handheld audit: each read becomes a durable sighting, then a verdict on screen.

Order matters and is the product's promise: parse, judge, write the sighting to the
durable queue, and only then count it and give feedback. A scan that cannot be saved is
shown as an error and not counted, so the screen never claims more than the disk holds.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from firmware import screens
from firmware.audit_intake import IntakeAndRelabel
from firmware.audit_resume import RoomResume
from firmware.audit_rooms import RoomLifecycle
from firmware.audit_settings import Settings
from firmware.inventory import Inventory
from firmware.intake_rules import IntakeGatherer
from firmware.mode import ScanningMode
from firmware.readers import RepeatFilter
from firmware.scan_path import BurstEnd, Judged, ScanPath
from firmware.signals import Event, signal_for
from firmware.sightings import make_sighting, verdict_fields
from firmware.tags import Tag, TagKind, TagRejected, parse_read, payload_text, symbology_from_aim
from firmware.verdicts import Verdict, VerdictKind
from hal.buttons.base import Press
from hal.clock import Clock
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.read import Read
from hal.text import terminal_safe
from sync.intake_tags import DeviceTags
from sync.pending_reports import PendingReports
from sync.queue import SightingStore
from sync.register import Register
from sync.sync_status import SyncStatus

__all__ = ["BURST_SHOWN_ONE_BY_ONE", "HandheldAudit", "Settings"]

log = logging.getLogger(__name__)


BURST_SHOWN_ONE_BY_ONE = 3
"""A burst of more RFID reads than this is shown as one running count with one signal.

Only EPC reads (a UHF reader inventorying a shelf) are counted this way: labels scanned
by hand or seen by the camera are each shown, however quickly they come."""

# The verdict whose signal a burst gives: the one that most needs the technician.
_URGENCY = (VerdictKind.RECOVERED, VerdictKind.AMBIGUOUS, VerdictKind.MISLOCATED,
            VerdictKind.UNREGISTERED, VerdictKind.RETIRED, VerdictKind.REJECTED,
            VerdictKind.VERIFIED, VerdictKind.REPEAT)


class HandheldAudit(RoomLifecycle, RoomResume, IntakeAndRelabel, ScanningMode):
    """One technician walking rooms: a session per room, a report per session.

    A room starts from the configuration or from a scanned ``LOC:<room>`` label; a label
    of another room ends the current room's session (its report is written) and starts
    the next. Rooms are compared ignoring case and spacing, and take the register's
    spelling. A room the register does not know needs a second scan of its label within
    ``room_confirm_window`` seconds (a typo'd or foreign label must not end a room); any
    other scan in between cancels it.

    The open room is durable (:mod:`firmware.room`): after a power cut or a kill, the
    next start resumes it — same session, same counts — unless it has been left for
    longer than ``resume_within``; then it is closed with a report marked
    ``interrupted``. Every session that counted a sighting gets exactly one report.

    It is the audit's rules on the scan path (:class:`firmware.scan_path.ScanPath`): a
    read is a verdict (or a room label), the sighting goes to the queue and the room's
    journal, and a burst of EPC reads is shown as one running count.

    Its parts, one module each: the room from start to report
    (:class:`firmware.audit_rooms.RoomLifecycle`), the rooms a kill left
    (:class:`firmware.audit_resume.RoomResume`) and the labels made on the spot
    (:class:`firmware.audit_intake.IntakeAndRelabel`).
    """

    session_noun = "room"
    resumable = True
    journal_required = True

    def __init__(self, settings: Settings, inventory: Inventory, queue: SightingStore,
                 register: Register, reports: PendingReports, display: Display,
                 feedback: Feedback, clock: Clock, *, rooms: Path | None = None,
                 on_room_end: Callable[[], None] | None = None,
                 sync_status: Callable[[], SyncStatus] | None = None,
                 intake_tags: DeviceTags | None = None,
                 label_url: Callable[[str], str] | None = None, label_line: str = "") -> None:
        super().__init__()
        self.intake = IntakeGatherer(settings.intake_timeout)
        self.intake_tags = intake_tags
        self.label_url = label_url  # set when a printer is configured
        self.label_line = label_line
        self._relabel_armed: float | None = None  # when a RELABEL label was scanned (mono)
        self._relabel_tag: str | None = None  # the judged scan's asset tag to print
        self.settings = settings
        self.inventory = inventory
        self.queue = queue
        self.register = register
        self.pending_reports = reports
        self.display = display
        self.feedback = feedback
        self.clock = clock
        self.on_room_end = on_room_end
        self.sync_status = sync_status
        self.repeats = RepeatFilter(settings.repeat_window)
        self.path: ScanPath[Verdict] = ScanPath(self, queue, clock)
        self._unconfirmed: tuple[str, float] | None = None
        self.rooms = rooms if rooms is not None else reports.directory.parent / "rooms"
        self.labels = reports.directory.parent / "labels"  # stocktaker label's print jobs
        self.resumed = 0
        self._show_resumed = False
        self.campaign = settings.campaign
        location = settings.location
        if location is not None:
            known = inventory.room_named(location)
            if known is None:
                log.warning("audit.location %r is not a room the register knows", location)
            location = known or " ".join(location.split())
        live = self._settle_interrupted_rooms()
        if live is not None:
            self._resume(live)
        else:
            self._begin(location)

    # The audit's rules on the scan path ---------------------------------------------

    def begin_burst(self) -> None:
        """Count tentatively: a burst's verdicts count once it is durable."""
        self.session.begin()

    def end_burst(self) -> None:
        """Undo only what an exception left uncommitted."""
        self.session.rollback()

    def judge(self, read: Read) -> Judged[Verdict] | BurstEnd | None:
        """A read's verdict and sighting (counted tentatively), a room label (entered once
        the reads before it are durable), or None (a repeat)."""
        try:
            tag: Tag | None = parse_read(read, tag_pattern=self.settings.tag_pattern,
                                         cards=self.settings.cards)
            rejection = None
        except TagRejected as exc:
            tag, rejection = None, exc.reason
        key = (tag.kind, tag.value) if tag else read.payload
        if not self.repeats.admit(read.source, key, read.at):
            self.drop_repeat(read)
            return None
        if tag is not None and tag.kind is TagKind.CAMPAIGN:
            self._tag_campaign(tag.value)
            return None
        if tag is not None and tag.kind is TagKind.INTAKE and self.settings.intake:
            return self._start_intake
        if tag is not None and tag.kind is TagKind.RELABEL:
            return self._arm_relabel
        relabel = self._relabel_armed is not None
        self._relabel_armed = None  # one-shot: the next scan, whatever it is
        if tag is not None and tag.kind is TagKind.LOCATION:
            self.repeats.restart(read.source, key)  # an asset read again here is new here
            label = tag.value

            def enter_room() -> None:
                self._close_intake()
                self._relabel_armed = None
                self._enter_room(label)
                self.session.begin()
            return enter_room
        self._unconfirmed = None
        if tag is not None and tag.aim and read.symbology == "UNKNOWN":
            read = dataclasses.replace(read, symbology=symbology_from_aim(tag.aim) or "UNKNOWN")
        payload = payload_text(read.payload)
        verdict = (self.session.judge(tag) if tag is not None
                   else self.session.rejection(payload, rejection or "not a tag"))
        if self.intake.gathering:
            if verdict.asset is None and verdict.kind is not VerdictKind.AMBIGUOUS:
                return self._gather(payload)
            self.intake.close()  # a known asset: not an intake, its verdict as usual
            log.info("intake dropped: %s is in the register", terminal_safe(verdict.label))
        self.session.count(verdict, tag)
        if relabel and verdict.asset is not None and verdict.kind is not VerdictKind.AMBIGUOUS:
            self._relabel_tag = verdict.asset.asset_tag
        elif relabel:
            log.info("relabel: %s names no single asset, nothing printed",
                     terminal_safe(verdict.label))
        sighting = make_sighting(self.stamp, read, payload, tag, self.clock,
                                 **verdict_fields(verdict), campaign=self.campaign)
        if (self.settings.intake and verdict.kind is VerdictKind.UNREGISTERED
                and read.symbology != "EPC"):
            # the reads after it (in this burst too) are gathered as the same asset
            self.intake.start(self.clock.mono(), sighting.payload)
        return Judged(read.source, key, verdict, sighting)

    def not_kept(self, burst: list[Judged[Verdict]]) -> None:
        """Count none of a burst that could not be saved; its reads may come again."""
        self.session.rollback()
        self.intake.close()  # an intake its unknown label started is not begun either
        self._relabel_tag = None
        for judged in burst:
            self.repeats.forget(judged.source, judged.key)

    def kept(self, burst: list[Judged[Verdict]]) -> None:
        """Count a durable burst, then show it: each verdict, or a burst of EPC reads as
        one running count with the signal of the verdict that most needs the technician."""
        self.session.commit()
        if not burst:
            return
        self._show_resumed = False
        for judged in burst:
            self.sightings.append(judged.sighting)
        progress = self.session.progress()
        if len(burst) > BURST_SHOWN_ONE_BY_ONE and all(
                judged.sighting.symbology == "EPC" for judged in burst):
            counts = Counter(judged.outcome.kind for judged in burst)
            overdue = sum(judged.outcome.overdue for judged in burst)
            self.show(screens.burst_screen(counts, progress, overdue=overdue),
                      f"burst {len(burst)}")
            self.signal(signal_for(min(counts, key=_URGENCY.index)))
            self._relabel()
            return
        for judged in burst:
            verdict = judged.outcome
            self.show(screens.verdict_screen(verdict, progress),
                       f"{verdict.kind.value} {verdict.label}")
            self.signal(signal_for(verdict.kind))
        self._show_intake()
        self._relabel()

    def show_idle(self) -> None:
        """Show the idle screen (see :meth:`show_progress`)."""
        self.show_progress()

    def show_progress(self) -> None:
        """Show the idle screen: the room and verified of expected."""
        progress = self.session.progress()
        sync = self.sync_status() if self.sync_status is not None else None
        caption = f"{'resumed' if self._show_resumed else 'room'} {progress.location or '?'}"
        self.show(screens.progress_screen(progress, resumed=self._show_resumed,
                                          status=sync.line() if sync is not None else None),
                  caption)
        self.showing_idle(sync, self.clock.mono())

    def place(self) -> str | None:
        """The room being audited (None before its label is scanned)."""
        return self.session.location

    def press(self, press: Press) -> None:
        """A button: ``end`` ends the room, ``next`` confirms a new room (or shows progress).

        After ``end`` the next room's label starts the next session.
        """
        log.info("button %s", press.button)
        if self.intake.gathering and press.button in ("end", "next"):
            self._close_intake()
            return
        if (press.button == "next" and self._unconfirmed is None and self.settings.intake):
            self._start_intake()
            return
        if press.button == "end":
            self._unconfirmed = None
            if self.finish_room() is not None:
                self._begin(None)
            else:
                self.show_progress()
            return
        if press.button == "next" and self._unconfirmed is not None:
            label, self._unconfirmed = self._unconfirmed[0], None
            self._go_to(" ".join(label.split()))
            return
        self.signal(signal_for(Event.BUTTON))
        self.show_progress()

    def tick(self) -> None:
        """Timers while nothing is scanned: an intake left alone closes, the idle screen
        follows the sync's state."""
        if self.intake.expired(self.clock.mono()):
            self._close_intake()
        if (self._relabel_armed is not None
                and self.clock.mono() - self._relabel_armed >= self.settings.intake_timeout):
            self._relabel_armed = None
            log.info("relabel: no scan in time, disarmed")
            self.show_progress()
        self.refresh_idle(self.sync_status, self.clock.mono())
