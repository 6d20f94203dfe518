"""The handheld audit: each read becomes a durable sighting, then a verdict on screen.

Order matters and is the product's promise: parse, judge, write the sighting to the
durable queue, and only then count it and give feedback. A scan that cannot be saved is
shown as an error and not counted, so the screen never claims more than the disk holds.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from firmware import __version__, screens
from firmware.audit_rules import AuditSession
from firmware.cards import CardRules
from firmware.errors import QueueError, RegisterError
from firmware.intake_rules import IntakeGatherer
from firmware.inventory import Inventory, same_place
from firmware.mode import ScanningMode
from firmware.room import OpenRoom, RoomJournal, open_rooms, remove_journal
from firmware.readers import RepeatFilter
from firmware.print_jobs import PrintJobs, labels_for_report
from firmware.room_report import build_report
from firmware.signals import Event, signal_for
from firmware.scan_path import BurstEnd, Judged, ScanPath
from hal.clock import Clock, iso_utc
from firmware.sightings import Stamp, make_sighting, verdict_fields
from sync.sighting import Sighting
from sync.status import SyncStatus
from firmware.tags import Tag, TagKind, TagRejected, parse_read, payload_text, symbology_from_aim
from firmware.verdicts import Verdict, VerdictKind
from hal.buttons.base import Press
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.read import Read
from hal.text import terminal_safe
from sync.queue import SightingStore
from sync.intake import IntakeRecord, is_intake
from sync.intake_tags import DeviceTags, TagRangeExhausted
from sync.register import Register
from sync.pending_reports import PendingReports

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The parts of the configuration the audit loop needs."""

    device_id: str
    technician: str
    location: str | None
    repeat_window: float
    tag_pattern: str
    room_confirm_window: float = 10.0
    resume_within: float = 12 * 3600.0
    """Seconds since its last scan within which an interrupted room is resumed."""
    cards: CardRules = CardRules()
    """How the RFID card reader types card numbers and how the register spells them."""
    campaign: str | None = None
    """The audit campaign reports are tagged with until a ``CAMPAIGN:`` label changes it."""
    intake: bool = False
    """Whether an unregistered asset can be taken in on the spot (``register.intake``)."""
    intake_timeout: float = 20.0
    """Seconds without a scan after which an intake being gathered closes."""


BURST_SHOWN_ONE_BY_ONE = 3
"""A burst of more RFID reads than this is shown as one running count with one signal.

Only EPC reads (a UHF reader inventorying a shelf) are counted this way: labels scanned
by hand or seen by the camera are each shown, however quickly they come."""

# The verdict whose signal a burst gives: the one that most needs the technician.
_URGENCY = (VerdictKind.RECOVERED, VerdictKind.AMBIGUOUS, VerdictKind.MISLOCATED,
            VerdictKind.UNREGISTERED, VerdictKind.RETIRED, VerdictKind.REJECTED,
            VerdictKind.VERIFIED, VerdictKind.REPEAT)


class HandheldAudit(ScanningMode):
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

    def _today(self) -> date | None:
        """The device's local date, for audits due; None while its clock is not synchronised."""
        return datetime.fromtimestamp(self.clock.wall()).date() if self.clock.synced() else None

    def _begin(self, location: str | None) -> None:
        self.session = AuditSession(self.inventory, location, self._today())
        self.stamp = Stamp(self.settings.device_id, str(uuid.uuid4()), location,
                           self.settings.technician)
        self.sightings: list[Sighting] = []
        self.intakes: list[dict[str, Any]] = []
        wall = self.clock.wall()
        self.started_at = iso_utc(wall)
        self.clock_ok = self.clock.synced()
        self.resumed = 0
        self._dropped_before = self.repeat_reads_dropped
        self.journal = RoomJournal(self.rooms, self.stamp.session_id, {
            "device_id": self.stamp.device_id, "technician": self.stamp.technician,
            "location": location, "started_at": self.started_at,
            "clock_synchronized": self.clock_ok, "wall": wall, "campaign": self.campaign})

    def _settle_interrupted_rooms(self) -> OpenRoom | None:
        """Deal with the journals a kill left: returns the room to resume, if any.

        A room whose report was saved before the kill only loses its journal; the
        newest room, left for less than ``resume_within``, is resumed; every other one
        is closed with an ``interrupted`` report.
        """
        rooms = open_rooms(self.rooms)
        reported = {report.get("session_id") for _, report in self.pending_reports.items()}
        queued = self._queued_by_session({r.session_id for r in rooms})
        now = self.clock.wall()
        live = None
        for room in rooms:
            if room.session_id in reported:
                remove_journal(room.path)
                continue
            self._take_queued(room, queued.get(room.session_id, []))
            # A clock that went back (no RTC, no network yet) is no reason to close a room.
            fresh = now - room.last_wall <= self.settings.resume_within
            if room is rooms[-1] and fresh and room.device_id == self.settings.device_id:
                live = room
            else:
                self._close_interrupted(room)
        return live

    def _queued_by_session(self, sessions: set[str]) -> dict[str, list[dict[str, Any]]]:
        by_session: dict[str, list[dict[str, Any]]] = {}
        if sessions:
            for record in self.queue.iter_pending():
                if record.get("session_id") in sessions:
                    by_session.setdefault(record["session_id"], []).append(record)
        return by_session

    def _take_queued(self, room: OpenRoom, queued: list[dict[str, Any]]) -> None:
        """Add the room's sightings that were queued but not yet journaled when it was killed."""
        known = {r.get("sighting_id") for r in room.sightings}
        missing = [r for r in queued if r.get("sighting_id") not in known]
        if not missing:
            return
        journal = RoomJournal(self.rooms, room.session_id, {})
        try:
            for record in missing:
                journal.add(record, room.last_wall)
                room.sightings.append(record)
        finally:
            journal.close()
        log.info("room %s: %d queued sighting(s) added to its journal", room.session_id,
                 len(missing))

    def _replayed(self, room: OpenRoom) -> tuple[AuditSession, list[Sighting]]:
        session = AuditSession(self.inventory, room.location, self._today())
        sightings = []
        for record in room.sightings:
            if is_intake(record):
                continue
            try:
                sighting = Sighting.from_record(record)
                session.recount(record)
            except (TypeError, ValueError) as exc:
                log.error("room %s: a journal record could not be replayed: %s",
                          room.session_id, exc)
                continue
            sightings.append(sighting)
        return session, sightings

    def _resume(self, room: OpenRoom) -> None:
        self.session, self.sightings = self._replayed(room)
        self.intakes = [r for r in room.sightings if is_intake(r)]
        self.stamp = Stamp(room.device_id, room.session_id, room.location, room.technician)
        self.started_at = room.started_at
        self.clock_ok = room.clock_synchronized
        self.resumed = room.resumed + 1
        self.campaign = room.campaign if room.campaign is not None else self.settings.campaign
        self._dropped_before = self.repeat_reads_dropped
        self.journal = RoomJournal(self.rooms, room.session_id, {})
        try:
            self.journal.mark_resumed(self.clock.wall())
        except QueueError as exc:
            log.warning("room %s: resume not recorded: %s", room.session_id, exc)
        self._show_resumed = True
        log.info("resumed room %r (session %s): %d scans so far", room.location,
                 room.session_id, len(self.sightings))

    def _close_interrupted(self, room: OpenRoom) -> None:
        session, sightings = self._replayed(room)
        if not sightings:
            remove_journal(room.path)
            return
        report = build_report(
            session, Stamp(room.device_id, room.session_id, room.location, room.technician),
            sightings, started_at=room.started_at, ended_at=iso_utc(room.last_wall),
            clock_synchronized=room.clock_synchronized, interrupted=True, resumed=room.resumed,
            campaign=room.campaign,
            labels=labels_for_report(self.labels, room.location, room.started_at,
                                     iso_utc(room.last_wall)),
            intakes=[r for r in room.sightings if is_intake(r)])
        self.reports.append(report)
        if self._save_report(report):
            remove_journal(room.path)
        log.warning("room %r (session %s) was left open too long: closed as interrupted",
                    room.location, room.session_id)

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

    def _relabel(self) -> None:
        """Queue the label a ``RELABEL`` label asked for, once its scan is durable."""
        tag, self._relabel_tag = self._relabel_tag, None
        if tag is None:
            return
        if self._queue_label(tag, self.clock.wall()):
            self.show(screens.label_screen(tag, "asked"), f"relabel {tag}")
            return
        self.show(screens.error_screen("NOT SAVED", f"label {tag}: print it with"
                                       " stocktaker label"), "error")
        self.signal(signal_for(Event.ERROR))

    def _tag_campaign(self, name: str) -> None:
        """A ``CAMPAIGN:<name>`` label: this room and the next ones belong to campaign ``name``."""
        try:
            self.journal.tag_campaign(name, self.clock.wall())
        except QueueError as exc:
            log.error("campaign not saved: %s", exc)
            self.show(screens.error_screen("NOT SAVED", f"campaign {name}: {exc}"), "error")
            self.signal(signal_for(Event.ERROR))
            return
        self.campaign = name
        log.info("campaign %s", terminal_safe(name))
        self.show_progress()

    def _enter_room(self, label: str) -> None:
        room = self.inventory.room_named(label) or self._confirmed(label)
        if room is not None:
            self._go_to(room)

    def _go_to(self, room: str) -> None:
        """Make ``room`` the current room: locate this session, or end it and begin anew."""
        if self.session.location is None:
            try:
                self.journal.locate(room, self.clock.wall())
            except QueueError as exc:
                log.error("room not saved: %s", exc)
                self.show(screens.error_screen("NOT SAVED", f"room {room}: {exc}"), "error")
                self.signal(signal_for(Event.ERROR))
                return
            self.session.locate(room)
            self.stamp = dataclasses.replace(self.stamp, location=room)
        elif not same_place(room, self.session.location):
            self.finish_room()
            self._begin(room)
        self.show_progress()

    def _confirmed(self, label: str) -> str | None:
        """An unknown room's name on the second scan of its label within the window, else None.

        The name is spelt as on the first scan, with runs of spaces made one.
        """
        if self.session.location is not None and same_place(label, self.session.location):
            return self.session.location
        now = self.clock.mono()
        window = self.settings.room_confirm_window
        pending, self._unconfirmed = self._unconfirmed, None
        if window == 0:
            return " ".join(label.split())
        if pending is not None and same_place(pending[0], label) and now - pending[1] <= window:
            return " ".join(pending[0].split())
        self._unconfirmed = (label, now)
        self.show(screens.new_room_screen(label, self.inventory.closest_rooms(label)),
                   f"new room? {label}")
        self.signal(signal_for(Event.CONFIRM))
        return None

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

    def end(self, *, keep: bool = False) -> None:
        """The device stops: keep the room for the next start (``audit.on_stop = "keep"``)
        or finish it (its report is written)."""
        if keep:
            self.keep_room()
        else:
            self.finish_room()

    def keep_room(self) -> None:
        """Stop without ending the room: its journal stays, and the next start resumes it.

        For a device stopped by its service manager (a shutdown, an update): the room
        goes on after the restart, and one report is written when it really ends.
        """
        self.journal.close()
        log.info("room %s kept: the next start resumes it",
                 terminal_safe(self.session.location or "(none yet)"))

    def finish_room(self) -> dict[str, Any] | None:
        """End the current room's session: sync its sightings, write its report.

        Returns the report, or None when the session saw nothing and had no room.
        """
        self._close_intake()
        self._relabel_armed = None
        if self.session.location is None and not self.sightings:
            self.journal.delete()
            return None
        ended_at = iso_utc(self.clock.wall())
        report = build_report(
            self.session, self.stamp, self.sightings, started_at=self.started_at,
            ended_at=ended_at,
            clock_synchronized=self.clock_ok and self.clock.synced(), resumed=self.resumed,
            repeat_reads_dropped=self.repeat_reads_dropped - self._dropped_before,
            campaign=self.campaign,
            labels=labels_for_report(self.labels, self.session.location, self.started_at,
                                     ended_at),
            intakes=self.intakes,
        )
        self.reports.append(report)
        if self._save_report(report):
            try:
                self.journal.delete()
            except QueueError as exc:  # the next start finds the saved report and drops it
                log.warning("room journal not removed: %s", exc)
        else:
            self.journal.close()
        if self.on_room_end is not None:
            self.on_room_end()
        self.show(screens.summary_screen(self.session.summary()),
                   f"summary {self.session.location or '?'}")
        self.signal(signal_for(Event.DONE))
        return report

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

    # Intake: an asset the register does not know, taken in on the spot ----------------

    def _start_intake(self) -> None:
        """Open an intake (an ``INTAKE`` label, the *next* button): one already open is
        closed (and saved) first."""
        self._close_intake()
        if self.session.location is None:
            self.show(screens.error_screen("NO ROOM", "scan a room label (LOC:<room>)"
                                           " before an intake"), "error")
            self.signal(signal_for(Event.ERROR))
            return
        self.intake.start(self.clock.mono())
        self._show_intake()

    def _gather(self, payload: str) -> BurstEnd:
        """Take a read as one of the open intake's identifiers (shown, or saved when the
        intake is full, once the reads before it are durable)."""
        kind = self.intake.add(payload, self.clock.mono())
        log.info("intake: %s %s", kind or "not taken", terminal_safe(payload))

        def shown() -> None:
            current = self.intake.current
            if current is not None and current.full():
                self._close_intake()
            elif current is not None:
                self._show_intake()
        return shown

    def _show_intake(self) -> None:
        current = self.intake.current
        if current is not None:
            self.show(screens.intake_screen(current.identifiers, current.expected(),
                                            unknown_label=current.unknown_label),
                      f"intake {len(current.identifiers)}")

    def _close_intake(self) -> None:
        """Close the open intake: an intake record, durable in the queue and the room's
        journal before the screen says so; nothing when nothing was gathered."""
        intake = self.intake.close()
        if intake is None:
            return
        if not intake.identifiers or self.session.location is None:
            log.info("intake closed with nothing gathered: no record")
            self.show_progress()
            return
        tag = None
        if self.intake_tags is not None:
            try:
                tag = self.intake_tags.take()
            except (TagRangeExhausted, OSError) as exc:
                log.error("intake: no tag from the device's range, the register gives one:"
                          " %s", exc)
        wall = self.clock.wall()
        record = IntakeRecord(
            str(uuid.uuid4()), self.stamp.device_id, self.stamp.session_id,
            self.session.location, self.stamp.technician, iso_utc(wall), self.clock.synced(),
            intake.identifiers, intake.unknown_label, tag, __version__).to_record()
        error = self.path.store([record], self.journal, wall)
        if error is not None:
            intake.last = self.clock.mono()
            self.intake.current = intake  # kept open: end or the timeout tries again
            self.show(screens.error_screen("NOT SAVED", f"intake: {error}"), "error")
            self.signal(signal_for(Event.ERROR))
            return
        self.intakes.append(record)
        log.info("intake %s saved: %s", record["sighting_id"],
                 terminal_safe(", ".join(f"{k} {v}" for k, v in intake.identifiers.items())))
        label = tag is not None and self.label_url is not None and self._queue_label(tag, wall)
        self.show(screens.intake_saved_screen(tag, len(intake.identifiers), label=label),
                  f"intake saved {tag or ''}".rstrip())
        self.signal(signal_for(Event.DONE))

    def _queue_label(self, tag: str, wall: float) -> bool:
        """Queue the label of an intake's new tag (the label spooler prints it); False
        when the job could not be saved (``stocktaker label TAG`` prints it later)."""
        assert self.label_url is not None
        try:
            PrintJobs(self.labels).add(tag, self.label_url(tag), self.label_line,
                                       location=self.session.location, at=wall)
        except QueueError as exc:
            log.error("label %s not queued (print it with stocktaker label): %s", tag, exc)
            return False
        log.info("label %s queued", tag)
        return True

    def _arm_relabel(self) -> None:
        """A ``RELABEL`` label: the next scan's asset gets a new label (printer needed)."""
        if self.label_url is None:
            self.show(screens.error_screen("NO PRINTER", "no printer configured"), "error")
            self.signal(signal_for(Event.ERROR))
            return
        self._relabel_armed = self.clock.mono()
        log.info("relabel armed: scan the asset")
        self.show(screens.error_screen("RELABEL", "scan the asset to relabel"),
                  "relabel armed")
        self.signal(signal_for(Event.CONFIRM))

    def _save_report(self, report: dict[str, Any]) -> bool:
        """Keep the report on the device, or hand it over at once; False when neither worked.

        When it returns False the room's journal must stay: the next start rebuilds the
        report from it.
        """
        try:
            self.pending_reports.add(report)
            return True
        except QueueError as exc:
            log.error("report not saved on the device, handing it over now: %s", exc)
        try:
            self.register.publish_report(report)
            return True
        except RegisterError as exc:
            log.error("report %s not written; the room's journal keeps it: %s",
                      report["session_id"], exc)
            self.show(screens.error_screen("REPORT LATER", str(exc)), "error")
            return False
