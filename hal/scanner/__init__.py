"""Keyboard-wedge (HID) scanners: the real evdev backend and the stdin stand-in."""

from __future__ import annotations

from typing import BinaryIO

from hal.scanner.base import Scanner


def open_scanner(backend: str, *, stream: BinaryIO | None = None) -> Scanner | None:
    """The scanner ``backend`` names (``stdin``), or None for ``none``."""
    if backend == "none":
        return None
    if backend == "stdin":
        from hal.scanner.stdin import StdinScanner

        return StdinScanner(stream)
    raise ValueError(f"unknown scanner backend {backend!r} (known: stdin, none)")
