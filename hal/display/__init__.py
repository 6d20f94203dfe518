"""The status display: choose a backend by name with :func:`open_display`.

Backends (:data:`BACKENDS`): ``oled`` (the real SSD1306, SH1106 or SSD1309 panel on I2C or
SPI, with burn-in care), ``terminal`` (the stand-in: luma's dummy device printed as text,
optionally saved as PNG) and ``none``; see :mod:`hal.display.backends`. The names of
:mod:`hal.display.base` (which needs Pillow) are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.display.backends import BACKENDS, DisplaySettings, open_display

_LAZY = {"HEIGHT", "WIDTH", "Display", "NullDisplay"}

__all__ = ["BACKENDS", "HEIGHT", "WIDTH", "Display", "DisplaySettings", "NullDisplay",
           "open_display"]


def __getattr__(name: str) -> Any:
    """Load the display's base names (and Pillow) when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("hal.display.base"), name)
    globals()[name] = value
    return value
