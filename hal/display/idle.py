"""Burn-in care for an OLED: dim after a while without a new frame, switch off after longer.

An OLED pixel lit for hours wears out before its neighbours and leaves a ghost of the
screen that stayed longest, the idle screen of a handheld left on a desk. So after
``dim_after`` seconds without :meth:`IdleDimmer.show` or :meth:`IdleDimmer.wake` the panel's
contrast drops to :data:`DIMMED_CONTRAST`; after ``blank_after`` seconds the panel is
switched off. The next frame, or any input the loop passes on as :meth:`IdleDimmer.wake`
(a button press), brings it back at full contrast.

Time comes from an injectable monotonic clock. :meth:`IdleDimmer.tick` takes the step
that is due; a watcher thread calls it when the next step falls due, so that the loop
need not (the loop may call it too). Every use of the panel, from the loop or from the
watcher, holds one lock, so the bus never sees two conversations interleaved.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from PIL import Image

from hal.display.base import Display
from hal.display.oled import OledDisplay

DIMMED_CONTRAST = 0
"""The contrast of a dimmed panel: the lowest it has (still readable indoors)."""


class Lit(enum.Enum):
    """How the panel is lit."""

    FULL = "full"
    DIMMED = "dimmed"
    OFF = "off"


class IdleDimmer(Display):
    """Wraps a panel and dims, then switches it off, when nothing new is shown for a while.

    Args:
        panel: the open panel; closed by :meth:`close`.
        dim_after: seconds without a frame or input before dimming; 0 never dims.
        blank_after: seconds before switching the panel off; 0 never switches it off.
        clock: monotonic seconds.
        watch: start the watcher thread that takes each step when it falls due; tests
            leave it off and call :meth:`tick` with their own times.

    Raises:
        ValueError: a negative time, or ``blank_after`` not after ``dim_after``.
    """

    def __init__(self, panel: OledDisplay, *, dim_after: float = 60.0,
                 blank_after: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 watch: bool = True) -> None:
        if dim_after < 0 or blank_after < 0:
            raise ValueError("display dim_after and blank_after must be 0 or more seconds")
        if dim_after and blank_after and blank_after <= dim_after:
            raise ValueError(f"display blank_after ({blank_after} s) must be longer than"
                             f" dim_after ({dim_after} s)")
        self.panel = panel
        self.dim_after = dim_after
        self.blank_after = blank_after
        self._clock = clock
        self._lock = threading.Condition()
        self._last = clock()
        self.lit = Lit.FULL
        self._closed = False
        self._watcher: threading.Thread | None = None
        if watch and (dim_after or blank_after):
            self._watcher = threading.Thread(target=self._watch, name="display-idle",
                                             daemon=True)
            self._watcher.start()

    @property
    def headless(self) -> bool:
        """True once the panel stopped answering."""
        return self.panel.headless

    def show(self, image: Image.Image, caption: str = "") -> None:
        """Show the frame, then light the panel fully if it was dimmed or off."""
        with self._lock:
            self.panel.show(image, caption)
            self._restore()

    def wake(self) -> None:
        """Light the panel fully again, with the frame it shows (input arrived)."""
        with self._lock:
            if not self._closed:
                self._restore()

    def _restore(self) -> None:
        self._last = self._clock()
        if self.lit is not Lit.FULL:
            self.panel.set_contrast(self.panel.contrast)
            if self.lit is Lit.OFF:
                self.panel.switch_on()
            self.lit = Lit.FULL
        self._lock.notify()

    def tick(self, now: float | None = None) -> None:
        """Dim or switch off the panel if it has been idle long enough by ``now``.

        Args:
            now: monotonic seconds; the clock's time when None.
        """
        with self._lock:
            if not self._closed:
                self._step(self._clock() if now is None else now)

    def _step(self, now: float) -> None:
        idle = now - self._last
        if self.blank_after and idle >= self.blank_after and self.lit is not Lit.OFF:
            self.panel.switch_off()
            self.lit = Lit.OFF
        elif self.dim_after and idle >= self.dim_after and self.lit is Lit.FULL:
            self.panel.set_contrast(DIMMED_CONTRAST)
            self.lit = Lit.DIMMED

    def _due_in(self) -> float | None:
        """Seconds until the next step, or None when no step is left before the next frame."""
        idle = self._clock() - self._last
        if self.dim_after and self.lit is Lit.FULL:
            return max(0.0, self.dim_after - idle)
        if self.blank_after and self.lit is not Lit.OFF:
            return max(0.0, self.blank_after - idle)
        return None

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                due = self._due_in()
                if due is None or due > 0:
                    self._lock.wait(due)
                else:
                    self._step(self._clock())

    def close(self) -> None:
        """Stop the watcher, then blank, switch off and release the panel. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        self.panel.close()
