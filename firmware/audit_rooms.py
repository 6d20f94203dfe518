"""The audit's room, from its start to its report: begun, located, kept or finished.

A room starts from the configuration or from a scanned ``LOC:<room>`` label; a label of
another room ends the current room's session (its report is written) and starts the next.
A room the register does not know needs a second scan of its label within
``room_confirm_window`` seconds. The open room is durable (:mod:`firmware.room`): its
journal holds what the session counted until the report is saved.

:class:`RoomLifecycle` is a part of :class:`firmware.handheld_audit.HandheldAudit`; it
works on the audit's state and shows through its screen and buzzer
(:class:`firmware.mode.ScanningMode`).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import date, datetime
from typing import Any

from firmware import screens
from firmware.audit_state import AuditState
from firmware.audit_rules import AuditSession
from firmware.errors import QueueError, RegisterError
from firmware.inventory import same_place
from firmware.print_jobs import labels_for_report
from firmware.room import RoomJournal
from firmware.room_report import build_report
from firmware.signals import Event, signal_for
from firmware.sightings import Stamp
from hal.clock import iso_utc
from hal.text import terminal_safe

log = logging.getLogger(__name__)


class RoomLifecycle(AuditState):
    """The room being audited: its session, journal and report (a part of the audit)."""

    def _today(self) -> date | None:
        """The device's local date, for audits due; None while its clock is not synchronised."""
        return datetime.fromtimestamp(self.clock.wall()).date() if self.clock.synced() else None

    def _begin(self, location: str | None) -> None:
        self.session = AuditSession(self.inventory, location, self._today())
        self.stamp = Stamp(self.settings.device_id, str(uuid.uuid4()), location,
                           self.settings.technician)
        self.sightings = []
        self.intakes = []
        wall = self.clock.wall()
        self.started_at = iso_utc(wall)
        self.clock_ok = self.clock.synced()
        self.resumed = 0
        self._dropped_before = self.repeat_reads_dropped
        self.journal = RoomJournal(self.rooms, self.stamp.session_id, {
            "device_id": self.stamp.device_id, "technician": self.stamp.technician,
            "location": location, "started_at": self.started_at,
            "clock_synchronized": self.clock_ok, "wall": wall, "campaign": self.campaign})

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
