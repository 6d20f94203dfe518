"""The rooms a kill or a power cut left open, settled at the audit's start.

A room whose report was saved before the kill only loses its journal; the newest room,
left for less than ``audit.resume_within``, is resumed (same session, same counts); every
other one is closed with a report marked ``interrupted``. Sightings that reached the queue
but not the room's journal are added to the journal first.

:class:`RoomResume` is a part of :class:`firmware.handheld_audit.HandheldAudit`.
"""

from __future__ import annotations

import logging
from typing import Any

from firmware.audit_state import AuditState
from firmware.audit_rules import AuditSession
from firmware.errors import QueueError
from firmware.print_jobs import labels_for_report
from firmware.room import OpenRoom, RoomJournal, open_rooms, remove_journal
from firmware.room_report import build_report
from firmware.sightings import Stamp
from hal.clock import iso_utc
from sync.intake import is_intake
from sync.sighting import Sighting

log = logging.getLogger(__name__)


class RoomResume(AuditState):
    """Settle the interrupted rooms and resume the live one (a part of the audit)."""

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
