"""Label printers: choose a backend by its settings with :func:`open_printer`.

Backends (:data:`BACKENDS`, see :mod:`hal.printer.backends`): ``brother_ql`` (Brother QL
raster through the ``brother_ql`` package, network or USB), ``zpl`` (Zebra and other ZPL II
printers, raw TCP 9100 or a USB device file), ``file`` (the stand-in: each job a PNG in a
folder) and ``none`` (a null printer that keeps every job). The label itself is drawn once
by :mod:`hal.printer.artwork`; every backend prints exactly that picture. The names of
:mod:`hal.printer.artwork` and :mod:`hal.printer.base` (which need Pillow and segno) are
loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.printer.backends import BACKENDS, PrinterSettings, open_printer

_LAZY = {"LABEL_SIZES": "artwork", "LabelSize": "artwork", "LabelTooSmall": "artwork",
         "draw_label": "artwork", "label_size": "artwork", "NullPrinter": "base",
         "Printer": "base", "PrinterOffline": "base"}

__all__ = ["BACKENDS", "LABEL_SIZES", "LabelSize", "LabelTooSmall", "NullPrinter", "Printer",
           "PrinterOffline", "PrinterSettings", "draw_label", "label_size", "open_printer"]


def __getattr__(name: str) -> Any:
    """Load the artwork's and the printers' base names (and Pillow) when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hal.printer.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
