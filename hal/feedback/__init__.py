"""Buzzer and LED feedback: choose a backend by name with :func:`open_feedback`.

Backends: ``gpio`` (the real buzzer and LEDs, through gpiozero), ``terminal`` (the
stand-in: one line of text per signal) and ``none``. Every backend takes a
:class:`Signal`; which signal a verdict gives is the firmware's choice.
"""

from __future__ import annotations

from typing import Any, TextIO

from hal.feedback.base import PATTERNS, Feedback, NullFeedback, Pattern, pattern_for
from hal.feedback.signals import Signal

__all__ = [
    "BACKENDS",
    "PATTERNS",
    "Feedback",
    "NullFeedback",
    "Pattern",
    "Signal",
    "open_feedback",
    "pattern_for",
]

BACKENDS = ("gpio", "terminal", "none")


def open_feedback(
    backend: str,
    *,
    stream: TextIO | None = None,
    buzzer_pin: int = 18,
    green_pin: int = 23,
    red_pin: int = 24,
    pin_factory: Any = None,
) -> Feedback:
    """Open the feedback ``backend`` names.

    Args:
        backend: ``gpio``, ``terminal`` or ``none``.
        stream: ``terminal`` only: where lines are printed (standard output by default).
        buzzer_pin: ``gpio`` only: GPIO number of the active buzzer.
        green_pin: ``gpio`` only: GPIO number of the green LED.
        red_pin: ``gpio`` only: GPIO number of the red LED.
        pin_factory: ``gpio`` only: a gpiozero pin factory; gpiozero's default when None.

    Returns:
        The open feedback; close it (or use it as a context manager) when done.

    Raises:
        ValueError: unknown backend.
        DeviceError: the pins cannot be claimed.
    """
    if backend == "terminal":
        from hal.feedback.terminal import TerminalFeedback

        return TerminalFeedback(stream=stream)
    if backend == "gpio":
        from hal.feedback.gpio import GpioFeedback

        return GpioFeedback(buzzer_pin, green_pin, red_pin, pin_factory=pin_factory)
    if backend == "none":
        return NullFeedback()
    raise ValueError(f"unknown feedback backend {backend!r}; choose one of {', '.join(BACKENDS)}")
