"""Labels made during an audit: an unregistered asset taken in, a known one relabelled.

An ``INTAKE`` label (or the *next* button) opens an intake: the reads that follow are the
new asset's identifiers, saved as one intake record — durable in the queue and the room's
journal before the screen says so — with a tag from the device's range and its label
queued for the printer. A ``RELABEL`` label makes the next scan's asset get a new label.

:class:`IntakeAndRelabel` is a part of :class:`firmware.handheld_audit.HandheldAudit`.
"""

from __future__ import annotations

import logging
import uuid

from firmware import __version__, screens
from firmware.audit_state import AuditState
from firmware.errors import QueueError
from firmware.print_jobs import PrintJobs
from firmware.scan_path import BurstEnd
from firmware.signals import Event, signal_for
from hal.clock import iso_utc
from hal.text import terminal_safe
from sync.intake import IntakeRecord
from sync.intake_tags import TagRangeExhausted

log = logging.getLogger(__name__)


class IntakeAndRelabel(AuditState):
    """The audit's intake and relabel (a part of the audit)."""

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
