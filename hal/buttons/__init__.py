"""The device's buttons (end room, next/confirm, mode): choose a backend with :func:`open_buttons`.

Backends: ``gpio`` (push buttons read by gpiozero), ``terminal`` (function keys typed on
standard input, which the stdin scanner yields as presses: see :mod:`hal.buttons.keys`)
and ``none``.
"""

from __future__ import annotations

from typing import Any

from hal.buttons.base import BUTTONS, Buttons, NoButtons, Press, PressQueue

__all__ = ["BACKENDS", "BUTTONS", "Buttons", "NoButtons", "Press", "PressQueue", "open_buttons"]

BACKENDS = ("gpio", "terminal", "none")


def open_buttons(backend: str, *, end_pin: int = 5, next_pin: int = 6, mode_pin: int = 13,
                 bounce: float = 0.05, pin_factory: Any = None) -> Buttons:
    """Open the buttons ``backend`` names.

    Args:
        backend: ``gpio``, ``terminal`` or ``none``.
        end_pin, next_pin, mode_pin: ``gpio`` only: the GPIO number of each button.
        bounce: ``gpio`` only: seconds of contact bounce to ignore.
        pin_factory: ``gpio`` only: a gpiozero pin factory; gpiozero's default when None.

    Returns:
        The open buttons; close them (or use them as a context manager) when done.
        ``terminal`` and ``none`` yield no presses of their own.

    Raises:
        ValueError: unknown backend.
        DeviceError: the pins cannot be claimed.
    """
    if backend == "gpio":
        from hal.buttons.gpio import GpioButtons

        pins = {"end": end_pin, "next": next_pin, "mode": mode_pin}
        return GpioButtons(pins, bounce=bounce, pin_factory=pin_factory)
    if backend in ("terminal", "none"):
        return NoButtons()
    raise ValueError(f"unknown buttons backend {backend!r}; choose one of {', '.join(BACKENDS)}")
