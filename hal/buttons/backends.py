"""The buttons' settings (``[buttons]``), their table of backends and :func:`open_buttons`.

Backends: ``terminal`` (function keys typed on standard input, which the stdin scanner
yields as presses: see :mod:`hal.buttons.keys`), ``gpio`` (push buttons read by
gpiozero) and ``none`` (:class:`~hal.buttons.base.NullButtons`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hal.backends import Backend, all_gpio, backend_choices, choose, known
from hal.buttons.base import Buttons, NoButtons, NullButtons
from hal.checks import Finding, System, gpio


def _open_gpio(settings: ButtonsSettings, *, pin_factory: Any = None) -> Buttons:
    from hal.buttons.gpio import GpioButtons

    pins = {"end": settings.end_pin, "next": settings.next_pin, "mode": settings.mode_pin}
    return GpioButtons(pins, bounce=settings.bounce, pin_factory=pin_factory)


def _open_terminal(settings: ButtonsSettings, *, pin_factory: Any = None) -> Buttons:
    return NoButtons()


def _open_none(settings: ButtonsSettings, *, pin_factory: Any = None) -> Buttons:
    return NullButtons()


def _check_gpio(settings: ButtonsSettings, system: System) -> list[Finding]:
    return [gpio(system, "buttons",
                 f"GPIO{settings.end_pin}/{settings.next_pin}/{settings.mode_pin}")]


BACKENDS: dict[str, Backend[Buttons]] = {
    "terminal": Backend(_open_terminal),
    "gpio": Backend(_open_gpio, _check_gpio, uses_gpio=all_gpio),
    "none": Backend(_open_none),
}
"""The buttons backends by name."""


@dataclass(frozen=True)
class ButtonsSettings:
    """``[buttons]``: end room, next/confirm and mode buttons.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        end_pin, next_pin, mode_pin: ``gpio`` only: the GPIO number of each button.
        bounce: ``gpio`` only: seconds of contact bounce to ignore.
    """

    backend: str = field(default="terminal", metadata=backend_choices(BACKENDS))
    end_pin: int = 5
    next_pin: int = 6
    mode_pin: int = 13
    bounce: float = 0.05


def open_buttons(settings: ButtonsSettings, *, pin_factory: Any = None) -> Buttons:
    """Open the buttons ``settings.backend`` names.

    Args:
        settings: the ``[buttons]`` settings.
        pin_factory: ``gpio`` only: a gpiozero pin factory; gpiozero's default when None.

    Returns:
        The open buttons; close them (or use them as a context manager) when done.
        ``terminal`` and ``none`` yield no presses of their own.

    Raises:
        ValueError: unknown backend.
        DeviceError: the pins cannot be claimed.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown buttons backend {name!r}; choose one of {known(BACKENDS)}"))
    return backend.open(settings, pin_factory=pin_factory)
