"""What every mode of the device shares: durable before shown, and the readers' news.

A mode (the handheld audit, the door kiosk) decides what a scan means. The path around
that decision is the same for both and lives here: the burst's records go to the
sighting queue and to the mode's own journal (one write and one fsync each) before
anything is shown or sounded; a display or buzzer failing never stops scanning; a reader
lost or unplugged is said on screen once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from PIL import Image

from firmware import screens
from firmware.errors import DeviceError, QueueError
from firmware.service import scan_log_line
from firmware.signals import Event, signal_for
from firmware.status import SyncStatus
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.feedback.signals import Signal
from hal.read import Read, ReaderState
from hal.text import terminal_safe
from sync.queue import SightingQueue

log = logging.getLogger(__name__)
scan_log = logging.getLogger("stocktaker.scan")
"""One line per saved scan (see :func:`firmware.service.scan_log_line`), at INFO."""

IDLE_LOOK_EVERY = 5.0
"""Seconds between two looks at the sync's state while the idle screen shows."""


class Journal(Protocol):
    """A mode's own durable record of what it counted (a room's journal, the movement log)."""

    def add_many(self, records: Sequence[Mapping[str, Any]], wall: float) -> None:
        """Append records with one write and one fsync; QueueError when it cannot."""


class ScanningMode:
    """The parts of a mode that do not depend on what a scan means.

    Subclasses set ``display``, ``feedback`` and ``queue`` and define :meth:`show_idle`.
    """

    def __init__(self) -> None:
        self.scans = Counter()
        self.repeat_reads_dropped = 0
        self._idle_state: tuple[Any, ...] | None = None  # None: another screen shows
        self._idle_looked = 0.0

    display: Display
    feedback: Feedback
    queue: SightingQueue
    scans: Counter[str]
    """Scans saved since the start, per verdict (for the health textfile)."""
    repeat_reads_dropped: int
    """Reads dropped since the start as repeats within ``audit.repeat_window``."""

    def show_idle(self) -> None:
        """Show what the device shows while waiting for a scan."""
        raise NotImplementedError

    def store(self, records: Sequence[Mapping[str, Any]], journal: Journal, wall: float, *,
              journal_required: bool = True) -> QueueError | None:
        """Make a burst durable in the queue, then in ``journal``; the error when it failed.

        When the queue refuses, nothing is kept. When only the journal refuses, the
        queue has the records (they will reach the register, and the mode's next start
        adds them back to the journal from the queue): with ``journal_required`` the
        mode counts nothing now; without, it counts them as saved.
        """
        try:
            self.queue.append_many(records)
        except QueueError as exc:
            log.error("%d scan(s) not saved: %s", len(records), exc)
            return exc
        try:
            journal.add_many(records, wall)
        except QueueError as exc:
            if journal_required:
                log.error("%d scan(s) not saved: %s", len(records), exc)
                return exc
            log.error("%d scan(s) queued but not in the journal (repaired at the next"
                      " start): %s", len(records), exc)
        logged = scan_log.isEnabledFor(logging.INFO)  # the line costs a URL parse: skip it unread
        for record in records:
            self.scans[str(record.get("verdict"))] += 1
            if logged:
                scan_log.info("%s", scan_log_line(record))
        return None

    def drop_repeat(self, read: Read) -> None:
        """A read dropped as a repeat within ``audit.repeat_window``: counted, logged at debug."""
        self.repeat_reads_dropped += 1
        log.debug("read %s from %s dropped: the same within audit.repeat_window",
                  terminal_safe(read.payload.decode("utf-8", "backslashreplace")),
                  terminal_safe(read.source))

    def not_saved(self, what: str, error: QueueError) -> None:
        """Tell the person a scan was not saved (it was not counted either)."""
        self.show(screens.error_screen("NOT SAVED", f"{what}: {error}"), "error")
        self.signal(signal_for(Event.ERROR))

    def reader_failed(self, failure: Exception) -> None:
        """A reader stopped (a camera gone, a port unplugged): say so once; the others go on."""
        log.error("a reader stopped, the others go on: %s", failure)
        self.show(screens.error_screen("READER LOST", str(failure)), "error")
        self.signal(signal_for(Event.READER_LOST))

    def reader_state(self, state: ReaderState) -> None:
        """A scanner unplugged (said until it is back) or plugged back in."""
        name = terminal_safe(state.source)
        if state.connected:
            log.info("reader %s connected again", name)
            self.show_idle()
            return
        log.warning("reader %s disconnected: %s", name, terminal_safe(state.detail))
        self.show(screens.error_screen("NO SCANNER", f"{name} disconnected: plug it back in"),
                  f"{name} disconnected")
        self.signal(signal_for(Event.READER_LOST))

    def showing_idle(self, sync: SyncStatus | None, now: float) -> None:
        """The idle screen now shows ``sync``'s line (called by :meth:`show_idle`)."""
        self._idle_state = sync.state() if sync is not None else ()
        self._idle_looked = now

    def refresh_idle(self, sync_status: Callable[[], SyncStatus] | None, now: float) -> None:
        """Redraw the idle screen when the sync's state changed since it was drawn: the
        register stopped or started answering, the queue drained. Looked at every
        :data:`IDLE_LOOK_EVERY` seconds; a new age alone ("5m" to "6m") redraws nothing,
        so an idle OLED still dims."""
        if (self._idle_state is None or sync_status is None
                or now - self._idle_looked < IDLE_LOOK_EVERY):
            return
        self._idle_looked = now
        if sync_status().state() != self._idle_state:
            self.show_idle()

    def show(self, image: Image.Image, caption: str) -> None:
        """Show a screen; a failing display is logged, never raised."""
        self._idle_state = None
        try:
            self.display.show(image, caption)
        except DeviceError as exc:
            log.warning("display: %s", exc)

    def signal(self, signal: Signal) -> None:
        """Sound a signal; a failing buzzer is logged, never raised."""
        try:
            self.feedback.signal(signal)
        except DeviceError as exc:
            log.warning("feedback: %s", exc)
