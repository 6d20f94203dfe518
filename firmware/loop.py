"""The device loop: reads from every reader, handed to the mode in the order they came.

One loop serves both modes. The mode (:class:`firmware.handheld_audit.HandheldAudit`, the door
kiosk) decides what a scan means, makes it durable and only then shows it; the loop only
gathers input, keeps the mode's timers running while nothing is scanned, and holds the
stop signals while the mode works, so a SIGTERM never cuts a scan in half.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from firmware.readers import ReaderFailed, merge_read_bursts
from firmware.stopping import StopSignals
from hal.buttons.base import Press
from hal.read import Read, ReaderState

TICK = 0.5
"""Seconds without input after which the mode's timers run anyway."""


class Mode(Protocol):
    """What the loop needs of a mode."""

    def handle_many(self, reads: list[Read]) -> object:
        """Judge, save durably, then show a burst of reads, in order."""

    def reader_state(self, state: ReaderState) -> None:
        """A reader lost or found its device."""

    def reader_failed(self, failure: ReaderFailed) -> None:
        """A reader stopped for good; the others go on."""

    def press(self, press: Press) -> None:
        """A button was pressed."""

    def tick(self) -> None:
        """Run timers (screen dimming, timeouts, the watchdog); called at least every TICK."""


def run_loop(mode: Mode, streams: Sequence[Iterable[object]], stop: StopSignals, *,
             buttons: Iterable[object] | None = None,
             close_buttons: Callable[[], None] | None = None,
             close_readers: Callable[[], None] | None = None,
             on_turn: Callable[[], None] | None = None) -> None:
    """Feed the mode everything the readers give until they all end or a stop arrives.

    Args:
        mode: what decides.
        streams: the readers' iterators.
        stop: the stop signals, held while the mode works.
        buttons: the buttons' presses, fed like reads; they never end on their own,
            so ``close_buttons`` is called once every reader has ended.
        close_buttons: ends ``buttons``.
        close_readers: ends every stream (closes the readers); called, with
            ``close_buttons``, when the loop ends early (a stop signal), after which the
            reader threads are joined: none is left inside a read.
        on_turn: called after every turn (the watchdog ping, the service status).

    Raises:
        firmware.stopping.StopRequested: a stop signal arrived (between two bursts).
    """
    streams = list(streams)
    if buttons is not None:
        left = _Countdown(len(streams), close_buttons or (lambda: None))
        streams = [left.watch(stream) for stream in streams] + [buttons]
    # What is loaded by now lives as long as the loop: keep it out of the collector's
    # full passes, whose pauses would otherwise show in the time to feedback.
    gc.freeze()

    def stop_readers() -> None:
        if close_readers is not None:
            close_readers()
        if close_buttons is not None:
            close_buttons()

    # closing(): a stop raised between two bursts ends the readers now, not when the
    # collector gets to the generator.
    with contextlib.closing(merge_read_bursts(
            streams, on_failure=mode.reader_failed, tick=TICK,
            stop_readers=stop_readers if close_readers is not None else None)) as bursts:
        for burst in bursts:
            with stop.held():
                dispatch(mode, burst)
                mode.tick()
                if on_turn is not None:
                    on_turn()


class _Countdown:
    """Calls ``done`` once every watched stream has ended (or failed)."""

    def __init__(self, count: int, done: Callable[[], None]) -> None:
        self._left = count
        self._done = done
        self._lock = threading.Lock()
        if count == 0:
            done()

    def watch(self, stream: Iterable[object]) -> Iterator[object]:
        try:
            yield from stream
        finally:
            with self._lock:
                self._left -= 1
                last = self._left == 0
            if last:
                self._done()


def dispatch(mode: Mode, items: list[object]) -> None:
    """Hand a burst to the mode: runs of reads together, other events one by one, in order."""
    reads: list[Read] = []
    for item in items:
        if isinstance(item, Read):
            reads.append(item)
            continue
        if reads:
            mode.handle_many(reads)
            reads = []
        if isinstance(item, ReaderState):
            mode.reader_state(item)
        elif isinstance(item, Press):
            mode.press(item)
    if reads:
        mode.handle_many(reads)
