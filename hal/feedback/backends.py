"""Feedback's settings (``[feedback]``), its table of backends and :func:`open_feedback`.

Backends: ``terminal`` (the stand-in: one line of text per signal), ``gpio`` (the real
buzzer and LEDs, through gpiozero) and ``none`` (:class:`~hal.feedback.base.NullFeedback`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from hal.backends import Backend, all_gpio, backend_choices, choose, known
from hal.checks import Finding, System, gpio
from hal.feedback.base import Feedback, NullFeedback


def _open_terminal(settings: FeedbackSettings, *, stream: TextIO | None = None,
                   pin_factory: Any = None) -> Feedback:
    from hal.feedback.terminal import TerminalFeedback

    return TerminalFeedback(stream=stream)


def _open_gpio(settings: FeedbackSettings, *, stream: TextIO | None = None,
               pin_factory: Any = None) -> Feedback:
    from hal.feedback.gpio import GpioFeedback

    return GpioFeedback(settings.buzzer_pin, settings.green_pin, settings.red_pin,
                        pin_factory=pin_factory)


def _open_none(settings: FeedbackSettings, *, stream: TextIO | None = None,
               pin_factory: Any = None) -> Feedback:
    return NullFeedback()


def _check_gpio(settings: FeedbackSettings, system: System) -> list[Finding]:
    return [gpio(system, "feedback", f"buzzer GPIO{settings.buzzer_pin},"
                 f" LEDs GPIO{settings.green_pin}/GPIO{settings.red_pin}")]


BACKENDS: dict[str, Backend[Feedback]] = {
    "terminal": Backend(_open_terminal),
    "gpio": Backend(_open_gpio, _check_gpio, uses_gpio=all_gpio),
    "none": Backend(_open_none),
}
"""The feedback backends by name."""


@dataclass(frozen=True)
class FeedbackSettings:
    """``[feedback]``: buzzer and LEDs.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        buzzer_pin, green_pin, red_pin: ``gpio`` only: the GPIO numbers of the active
            buzzer, the green LED and the red LED.
    """

    backend: str = field(default="terminal", metadata=backend_choices(BACKENDS))
    buzzer_pin: int = 18
    green_pin: int = 23
    red_pin: int = 24


def open_feedback(settings: FeedbackSettings, *, stream: TextIO | None = None,
                  pin_factory: Any = None) -> Feedback:
    """Open the feedback ``settings.backend`` names.

    Args:
        settings: the ``[feedback]`` settings.
        stream: ``terminal`` only: where lines are printed (standard output by default).
        pin_factory: ``gpio`` only: a gpiozero pin factory; gpiozero's default when None.

    Returns:
        The open feedback (a :class:`~hal.feedback.base.NullFeedback` for ``none``); close
        it (or use it as a context manager) when done.

    Raises:
        ValueError: unknown backend.
        DeviceError: the pins cannot be claimed.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown feedback backend {name!r}; choose one of {known(BACKENDS)}"))
    return backend.open(settings, stream=stream, pin_factory=pin_factory)
