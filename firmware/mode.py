"""What every mode of the device shares: the scan path, the screen, the readers' news.

A mode (the handheld audit, the door kiosk) is the rules plugged into the scan path
(:mod:`firmware.scan_path`: judged, durable, then shown); around it, every mode shows and
sounds the same way — a display or buzzer failing never stops scanning — says a reader
lost or unplugged once, and keeps its idle screen in step with the sync.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from firmware import screens
from firmware.errors import DeviceError, QueueError
from firmware.scan_path import ScanPath
from firmware.signals import Event, signal_for
from sync.sync_status import SyncStatus
from hal.buttons.base import Press
from hal.display.base import Display
from hal.feedback.base import Feedback
from hal.feedback.signals import Signal
from hal.read import Read, ReaderState
from hal.text import terminal_safe

log = logging.getLogger(__name__)

IDLE_LOOK_EVERY = 5.0
"""Seconds between two looks at the sync's state while the idle screen shows."""


class ScanningMode:
    """The parts of a mode that do not depend on what a scan means.

    A subclass is the rules of :class:`~firmware.scan_path.ScanRules` (it sets
    ``self.path = ScanPath(self, queue, clock)``), sets ``display`` and ``feedback``,
    and defines :meth:`show_idle`, :meth:`press`, :meth:`tick`, :meth:`end` and
    :meth:`place`.
    """

    session_noun = "session"
    """What a stop ends or keeps, as the log says it ("room", "visit")."""
    resumable = False
    """Whether a stop may keep the session for the next start to resume (``audit.on_stop``)."""

    def __init__(self) -> None:
        self.repeat_reads_dropped = 0
        self.reports: list[dict[str, Any]] = []
        self._idle_state: tuple[Any, ...] | None = None  # None: another screen shows
        self._idle_looked = 0.0

    path: ScanPath[Any]
    display: Display
    feedback: Feedback
    repeat_reads_dropped: int
    """Reads dropped since the start as repeats within ``audit.repeat_window``."""
    reports: list[dict[str, Any]]
    """The audit reports written since the start, oldest first (none at a kiosk)."""

    @property
    def scans(self) -> Counter[str]:
        """Scans saved since the start, per verdict (for the health textfile)."""
        return self.path.scans

    def handle(self, read: Read) -> Any:
        """Take one read; returns what was made of it, or None (a repeat, a room label, a
        badge, or not saved)."""
        taken = self.path.take([read])
        return taken[0] if taken else None

    def handle_many(self, reads: Sequence[Read]) -> list[Any]:
        """Take a burst of reads (a UHF reader reports dozens a second) along the scan path:
        judged in order, made durable together, then counted and shown."""
        return self.path.take(reads)

    def show_idle(self) -> None:
        """Show what the device shows while waiting for a scan."""
        raise NotImplementedError

    def end(self, *, keep: bool = False) -> None:
        """The device stops: end the session (or, with ``keep`` and :attr:`resumable`,
        keep it for the next start)."""
        raise NotImplementedError

    def place(self) -> str | None:
        """Where the device is, as the health textfile says it."""
        raise NotImplementedError

    def press(self, press: Press) -> None:
        """A button was pressed."""
        raise NotImplementedError

    def tick(self) -> None:
        """Timers while nothing is scanned (called at least every :data:`firmware.loop.TICK`)."""
        raise NotImplementedError

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
