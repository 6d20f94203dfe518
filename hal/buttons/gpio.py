"""The real buttons: push buttons from GPIO to ground, read by gpiozero.

gpiozero calls ``when_pressed`` on its pin library's own thread (lgpio's alert thread on
a Pi). The callback here only puts a :class:`Press` on a :class:`PressQueue`; everything
else happens in the thread that drains :meth:`GpioButtons.presses`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from hal.buttons.base import Buttons, Press, PressQueue
from hal.errors import DeviceError


class GpioButtons(Buttons):
    """One gpiozero ``Button`` per configured pin, pulled up, pressed when shorted to ground.

    Args:
        pins: GPIO number of each button, by name (``end``, ``next``, ``mode``).
        bounce: seconds of contact bounce to ignore after an edge (gpiozero's
            ``bounce_time``; 0 turns it off).
        pin_factory: a gpiozero pin factory (``MockFactory()`` in tests); gpiozero's
            default when None.
        clock: monotonic seconds for :attr:`Press.at`.

    Raises:
        DeviceError: a pin cannot be claimed; the message says what to check.
    """

    def __init__(self, pins: dict[str, int], *, bounce: float = 0.05, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import gpiozero

        self._errors = (gpiozero.GPIOZeroError, OSError)
        self._pins = ", ".join(f"GPIO {pin} ({name})" for name, pin in pins.items())
        self._clock = clock
        self._queue = PressQueue()
        self._buttons: list[Any] = []
        self._releasing = threading.Lock()  # close() may come from two threads at a stop
        try:
            for name, pin in pins.items():
                button = gpiozero.Button(pin, pull_up=True, bounce_time=bounce or None,
                                         pin_factory=pin_factory)
                self._buttons.append(button)
                button.when_pressed = self._callback(name)
        except self._errors as error:
            self.close()
            raise DeviceError(self._problem(error, gpiozero)) from error

    def _callback(self, name: str) -> Callable[[], None]:
        queue, clock = self._queue, self._clock

        def pressed() -> None:
            # Runs on gpiozero's thread: hand the press over, touch nothing else.
            queue.put(Press(name, clock(), "gpio"))

        return pressed

    def _problem(self, error: BaseException, gpiozero: Any) -> str:
        if isinstance(error, gpiozero.BadPinFactory):
            return ("no GPIO library could be loaded for the buttons: install python3-lgpio"
                    " (Raspberry Pi OS) or set GPIOZERO_PIN_FACTORY")
        if isinstance(error, gpiozero.GPIOPinInUse):
            return f"buttons on {self._pins}: a pin is already in use ({error})"
        if isinstance(error, PermissionError):
            return (f"buttons on {self._pins}: permission denied; add the service user to"
                    " the 'gpio' group")
        return f"buttons on {self._pins} cannot be used: {error}"

    def presses(self) -> Iterator[Press]:
        """Yield each press as it arrives, blocking in between, until :meth:`close`."""
        return self._queue.drain()

    def close(self) -> None:
        """Release the pins and end :meth:`presses`. Safe to call twice."""
        self._queue.close()
        with self._releasing:
            buttons, self._buttons = self._buttons, []
        for button in buttons:
            button.when_pressed = None
            button.close()
