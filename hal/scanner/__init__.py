"""Keyboard-wedge (HID) scanners: the real evdev backend and the stdin stand-in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from hal.errors import DeviceError
from hal.scanner.base import Scanner


def open_scanner(backend: str, *, stream: BinaryIO | None = None, device: str = "",
                 keymap: str = "us", terminator: str = "enter",
                 inter_key_timeout: float = 0.1, max_length: int = 4096,
                 source: str = "hid", symbology: str = "UNKNOWN") -> Scanner | None:
    """The scanner ``backend`` names (``stdin`` or ``evdev``), or None for ``none``.

    ``source`` and ``symbology`` are what an ``evdev`` scanner's reads carry: several
    scanners get distinct sources, and an RFID card reader reads of symbology ``CARD``.

    Raises:
        DeviceError: ``evdev`` without a device, or python-evdev missing.
    """
    if backend == "none":
        return None
    if backend == "stdin":
        from hal.scanner.stdin import StdinScanner

        return StdinScanner(stream)
    if backend == "evdev":
        from hal.scanner.evdev_scanner import HidScanner

        if not device:
            raise DeviceError("scanner.device: name the scanner (/dev/input/by-id/…,"
                              " vendor:product or its name)")
        return HidScanner(device, keymap=keymap, terminator=terminator,  # type: ignore[return-value]
                          inter_key_timeout=inter_key_timeout, max_length=max_length,
                          source=source, symbology=symbology)
    raise ValueError(f"unknown scanner backend {backend!r} (known: stdin, evdev, none)")


def report_discards(readers: Iterable[object]) -> None:
    """Have every HID scanner among ``readers`` yield its discarded scans among its reads
    (``doctor --listen``: why a scan did not come, and a terminator the scanner sends
    other than the configured one); the others are left as they are."""
    for reader in readers:
        if hasattr(reader, "report_discards"):
            reader.report_discards = True  # type: ignore[attr-defined]
