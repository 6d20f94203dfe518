"""Keyboard-wedge (HID) scanners: the real evdev backend and the stdin stand-in.

The backends are chosen with :func:`open_scanners` from the table :data:`BACKENDS`
(see :mod:`hal.scanner.backends`).
"""

from __future__ import annotations

from collections.abc import Iterable

from hal.scanner.backends import BACKENDS, ScannerSettings, open_scanners
from hal.scanner.base import NullScanner, Scanner

__all__ = ["BACKENDS", "NullScanner", "Scanner", "ScannerSettings", "open_scanners",
           "report_discards"]


def report_discards(readers: Iterable[object]) -> None:
    """Have every HID scanner among ``readers`` yield its discarded scans among its reads
    (``doctor --listen``: why a scan did not come, and a terminator the scanner sends
    other than the configured one); the others are left as they are."""
    for reader in readers:
        if hasattr(reader, "report_discards"):
            reader.report_discards = True
