"""Keyboard-wedge (HID) scanners: the real evdev backend and the stdin stand-in.

The backends are chosen with :func:`open_scanners` from the table :data:`BACKENDS`
(see :mod:`hal.scanner.backends`).
"""

from __future__ import annotations

from hal.scanner.backends import BACKENDS, ScannerSettings, open_scanners
from hal.scanner.base import NullScanner, Scanner

__all__ = ["BACKENDS", "NullScanner", "Scanner", "ScannerSettings", "open_scanners"]
