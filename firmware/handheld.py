"""The handheld audit: each read becomes a durable sighting, then a verdict on screen.

Order matters and is the product's promise: parse, judge, write the sighting to the
durable queue, and only then count it and give feedback. A scan that cannot be saved is
shown as an error and not counted, so the screen never claims more than the disk holds.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from PIL import Image

from firmware import screens
from firmware.audit import AuditSession
from firmware.errors import DeviceError, QueueError, RegisterError
from firmware.inventory import Inventory, same_place
from firmware.readers import RepeatFilter
from firmware.report import build_report
from firmware.sightings import Clock, Sighting, Stamp, iso_utc, make_sighting
from firmware.tags import Tag, TagKind, TagRejected, parse_read, payload_text, symbology_from_aim
from firmware.verdicts import Verdict
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.read import Read
from sync.queue import SightingQueue
from sync.register import Register
from sync.reports import PendingReports

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The parts of the configuration the audit loop needs."""

    device_id: str
    technician: str
    location: str | None
    repeat_window: float
    tag_pattern: str


class HandheldAudit:
    """One technician walking rooms: a session per room, a report per session.

    A room starts from the configuration or from a scanned ``LOC:<room>`` label; a label
    of another room ends the current room's session (its report is written) and starts
    the next.
    """

    def __init__(self, settings: Settings, inventory: Inventory, queue: SightingQueue,
                 register: Register, reports: PendingReports, display: Display,
                 feedback: Feedback, clock: Clock) -> None:
        self.settings = settings
        self.inventory = inventory
        self.queue = queue
        self.register = register
        self.pending_reports = reports
        self.display = display
        self.feedback = feedback
        self.clock = clock
        self.repeats = RepeatFilter(settings.repeat_window)
        self.reports: list[dict[str, Any]] = []
        self._begin(settings.location)

    def _begin(self, location: str | None) -> None:
        self.session = AuditSession(self.inventory, location)
        self.stamp = Stamp(self.settings.device_id, str(uuid.uuid4()), location,
                           self.settings.technician)
        self.sightings: list[Sighting] = []
        self.started_at = iso_utc(self.clock.wall())
        self.clock_ok = self.clock.synced()

    def handle(self, read: Read) -> Verdict | None:
        """Take one read; returns its verdict, or None (a de-bounced repeat, a room label)."""
        try:
            tag: Tag | None = parse_read(read, tag_pattern=self.settings.tag_pattern)
            rejection = None
        except TagRejected as exc:
            tag, rejection = None, exc.reason
        key = (tag.kind, tag.value) if tag else read.payload
        if not self.repeats.admit(read.source, key, read.at):
            return None
        if tag is not None and tag.kind is TagKind.LOCATION:
            self._enter_room(tag.value)
            return None
        if tag is not None and tag.aim and read.symbology == "UNKNOWN":
            read = dataclasses.replace(read, symbology=symbology_from_aim(tag.aim) or "UNKNOWN")
        payload = payload_text(read.payload)
        verdict = (self.session.judge(tag) if tag is not None
                   else self.session.rejection(payload, rejection or "not a tag"))
        sighting = make_sighting(self.stamp, read, payload, tag, verdict, self.clock)
        try:
            self.queue.append(sighting.to_record())
        except QueueError as exc:
            log.error("sighting not saved: %s", exc)
            self.repeats.forget(read.source, key)
            self._show(screens.error_screen("NOT SAVED", f"{verdict.label}: {exc}"), "error")
            self._signal("error")
            return None
        self.session.count(verdict, tag)
        self.sightings.append(sighting)
        self._show(screens.verdict_screen(verdict, self.session.progress()),
                   f"{verdict.kind.value} {verdict.label}")
        self._signal(verdict.kind.value)
        return verdict

    def _enter_room(self, room: str) -> None:
        if self.session.location is None:
            self.session.locate(room)
            self.stamp = dataclasses.replace(self.stamp, location=room)
        elif not same_place(room, self.session.location):
            self.finish_room()
            self._begin(room)
        self.show_progress()

    def show_progress(self) -> None:
        """Show the idle screen: the room and verified of expected."""
        progress = self.session.progress()
        self._show(screens.progress_screen(progress), f"room {progress.location or '?'}")

    def finish_room(self) -> dict[str, Any] | None:
        """End the current room's session: sync its sightings, write its report.

        Returns the report, or None when the session saw nothing and had no room.
        """
        if self.session.location is None and not self.sightings:
            return None
        report = build_report(
            self.session, self.stamp, self.sightings, started_at=self.started_at,
            ended_at=iso_utc(self.clock.wall()),
            clock_synchronized=self.clock_ok and self.clock.synced(),
        )
        self.reports.append(report)
        try:
            self.pending_reports.add(report)
        except QueueError as exc:
            log.error("report not saved on the device, handing it over now: %s", exc)
            self._publish_now(report)
        self.sync()
        self._show(screens.summary_screen(self.session.summary()),
                   f"summary {self.session.location or '?'}")
        self._signal("done")
        return report

    def sync(self) -> int:
        """Hand queued sightings and pending reports to the register; returns sightings sent.

        Whatever the register refuses stays queued for the next attempt.
        """
        sent = 0
        try:
            records = self.queue.pending()
            if records:
                sent = self.register.push(records)
                self.queue.acknowledge(r["sighting_id"] for r in records)
            for path, report in self.pending_reports.items():
                self.register.publish_report(report)
                self.pending_reports.remove(path)
        except (RegisterError, QueueError) as exc:
            log.warning("sync postponed: %s", exc)
            self._show(screens.error_screen("SYNC LATER", str(exc)), "error")
        return sent

    def _publish_now(self, report: dict[str, Any]) -> None:
        try:
            self.register.publish_report(report)
        except RegisterError as exc:
            log.error("report %s lost: %s", report["session_id"], exc)
            self._show(screens.error_screen("REPORT LOST", str(exc)), "error")

    def _show(self, image: Image.Image, caption: str) -> None:
        try:
            self.display.show(image, caption)
        except DeviceError as exc:
            log.warning("display: %s", exc)

    def _signal(self, kind: str) -> None:
        try:
            self.feedback.signal(kind)
        except DeviceError as exc:
            log.warning("feedback: %s", exc)
