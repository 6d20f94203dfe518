"""The device's buttons (end room, next/confirm, mode): choose a backend with :func:`open_buttons`.

Backends (:data:`BACKENDS`): ``gpio`` (push buttons read by gpiozero), ``terminal``
(function keys typed on standard input, which the stdin scanner yields as presses: see
:mod:`hal.buttons.keys`) and ``none``; see :mod:`hal.buttons.backends`.
"""

from __future__ import annotations

from hal.buttons.backends import BACKENDS, ButtonsSettings, open_buttons
from hal.buttons.base import BUTTONS, Buttons, NoButtons, NullButtons, Press, PressQueue

__all__ = ["BACKENDS", "BUTTONS", "Buttons", "ButtonsSettings", "NoButtons", "NullButtons",
           "Press", "PressQueue", "open_buttons"]
