"""The real feedback: an active buzzer and a green and a red LED on GPIO, via gpiozero.

Patterns play on a background thread so a signal never holds up the scan loop. A new
signal cuts the pattern still playing short: the latest scan is the one that matters.
gpiozero's own ``beep(..., background=True)`` repeats one on/off pair, and the patterns
mix long and short beeps, so this module plays them on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hal.errors import DeviceError
from hal.feedback.base import Colour, Feedback, Pattern, pattern_for
from hal.feedback.signals import Signal

_log = logging.getLogger(__name__)

# LED (green, red) states per colour; amber is both LEDs (or a two-colour LED) lit.
_LED_STATES: dict[Colour, tuple[bool, bool]] = {
    "green": (True, False),
    "amber": (True, True),
    "red": (False, True),
}


class GpioFeedback(Feedback):
    """A gpiozero ``Buzzer`` and two ``LED`` s, driven from a background thread.

    Args:
        buzzer_pin: GPIO number of the active buzzer.
        green_pin: GPIO number of the green LED.
        red_pin: GPIO number of the red LED.
        pin_factory: a gpiozero pin factory (e.g. ``MockFactory()`` in tests);
            gpiozero's default factory when None.

    Raises:
        DeviceError: the pins cannot be claimed; the message says what to check.
    """

    def __init__(
        self,
        buzzer_pin: int = 18,
        green_pin: int = 23,
        red_pin: int = 24,
        *,
        pin_factory: Any = None,
    ) -> None:
        import gpiozero

        self._errors = (gpiozero.GPIOZeroError, OSError)
        self._pins = f"GPIO {buzzer_pin} (buzzer), {green_pin} (green), {red_pin} (red)"
        self._parts: list[Any] = []
        try:
            self._buzzer = self._claim(gpiozero.Buzzer, buzzer_pin, pin_factory)
            self._green = self._claim(gpiozero.LED, green_pin, pin_factory)
            self._red = self._claim(gpiozero.LED, red_pin, pin_factory)
        except self._errors as error:
            self._release()
            raise DeviceError(self._problem(error)) from error
        self._lock = threading.Condition()
        self._pending: Pattern | None = None
        self._closing = False
        self._failure: DeviceError | None = None
        self._cancel = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="feedback", daemon=True)
        self._thread.start()

    def _claim(self, kind: Any, pin: int, pin_factory: Any) -> Any:
        part = kind(pin, pin_factory=pin_factory)
        self._parts.append(part)
        return part

    def _problem(self, error: BaseException) -> str:
        import gpiozero

        if isinstance(error, gpiozero.BadPinFactory):
            return (
                "no GPIO library could be loaded for the buzzer and LEDs: install python3-lgpio "
                "(Raspberry Pi OS) or set GPIOZERO_PIN_FACTORY"
            )
        if isinstance(error, gpiozero.GPIOPinInUse):
            return (
                f"{self._pins}: a pin is already in use ({error}); "
                "check the pin numbers in the configuration"
            )
        if isinstance(error, PermissionError):
            return f"{self._pins}: permission denied; add the service user to the 'gpio' group"
        return f"{self._pins} cannot be used: {error}"

    def signal(self, signal: Signal) -> None:
        """Start the pattern for ``signal`` in the background and return at once.

        Raises:
            TypeError: ``signal`` is not a :class:`Signal`.
            DeviceError: the feedback is closed, or the previous pattern failed to play.
        """
        pattern = pattern_for(signal)
        with self._lock:
            if self._closing:
                raise DeviceError(f"the buzzer and LEDs on {self._pins} are closed")
            failure, self._failure = self._failure, None
            self._pending = pattern
            self._idle.clear()
            self._cancel.set()
            self._lock.notify()
        if failure is not None:
            raise failure

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the last pattern has finished; False if ``timeout`` passed first."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closing:
                    self._idle.set()
                    self._lock.wait()
                if self._closing:
                    return
                pattern, self._pending = self._pending, None
                assert pattern is not None  # the wait ends on a pattern or on closing
                self._cancel.clear()
            try:
                self._play(pattern)
            except self._errors as error:
                _log.warning("feedback on %s failed: %s", self._pins, error)
                failure = DeviceError(f"the buzzer and LEDs on {self._pins} failed: {error}")
                with self._lock:
                    self._failure = failure

    def _play(self, pattern: Pattern) -> None:
        if pattern.led is not None:
            green, red = _LED_STATES[pattern.led]
            self._green.value = green
            self._red.value = red
        try:
            for on, off in pattern.beeps:
                self._buzzer.on()
                # Waiting on the cancel event lets a newer signal cut this one short.
                if self._cancel.wait(on):
                    return
                self._buzzer.off()
                if off and self._cancel.wait(off):
                    return
        finally:
            self._buzzer.off()

    def close(self) -> None:
        """Stop the pattern playing, switch buzzer and LEDs off and release the pins."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._cancel.set()
            self._lock.notify()
        try:
            self._thread.join()
        finally:
            self._release()
            self._idle.set()

    def _release(self) -> None:
        for part in reversed(self._parts):
            try:
                part.off()
            except self._errors as error:
                _log.warning("could not switch off %r: %s", part, error)
            finally:
                part.close()
        self._parts.clear()
