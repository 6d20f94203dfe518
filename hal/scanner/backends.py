"""The scanner's settings (``[scanner]``), its table of backends and :func:`open_scanners`.

Backends: ``stdin`` (the stand-in: one scan per line of standard input), ``evdev`` (USB
HID keyboard-wedge scanners, grabbed through python-evdev) and ``none``
(:class:`~hal.scanner.base.NullScanner`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from hal.backends import Backend, backend_choices, choices, choose, known
from hal.checks import Finding, System, input_device
from hal.errors import DeviceError
from hal.scanner.base import NullScanner, Scanner

KEYMAPS = ("us", "uk", "de", "fr")
"""The keyboard layouts a wedge scanner may type in (see :mod:`hal.scanner.keymaps`)."""


def open_hid(device: str, *, key: str, keymap: str, terminator: str = "enter",
             inter_key_timeout: float = 0.1, max_length: int = 4096, source: str = "hid",
             symbology: str = "UNKNOWN") -> Scanner[object]:
    """A keyboard-wedge device read through evdev, its reads of ``source`` and ``symbology``.

    Raises:
        DeviceError: no device named (``key`` is the configuration key that names it),
            or python-evdev missing.
    """
    from hal.scanner.evdev_scanner import HidScanner

    if not device:
        raise DeviceError(f"{key}: name the scanner (/dev/input/by-id/…,"
                          " vendor:product or its name)")
    return HidScanner(device, keymap=keymap, terminator=terminator,
                      inter_key_timeout=inter_key_timeout, max_length=max_length,
                      source=source, symbology=symbology)


def _open_stdin(settings: ScannerSettings, *, stream: BinaryIO | None = None,
                device: str = "", source: str = "hid") -> Scanner[object]:
    from hal.scanner.stdin import StdinScanner

    return StdinScanner(stream)


def _open_evdev(settings: ScannerSettings, *, stream: BinaryIO | None = None,
                device: str = "", source: str = "hid") -> Scanner[object]:
    return open_hid(device, key="scanner.device", keymap=settings.keymap,
                    terminator=settings.terminator,
                    inter_key_timeout=settings.inter_key_timeout,
                    max_length=settings.max_length, source=source)


def _open_none(settings: ScannerSettings, *, stream: BinaryIO | None = None,
               device: str = "", source: str = "hid") -> Scanner[object]:
    return NullScanner()


def _check_stdin(settings: ScannerSettings, system: System) -> list[Finding]:
    return [Finding("scanner", "stdin", True, "scans are typed on standard input")]


def _check_evdev(settings: ScannerSettings, system: System) -> list[Finding]:
    findings: list[Finding] = []
    for number, device in enumerate(named_devices(settings), start=1):
        findings += input_device(system, "scanner" if number == 1 else f"scanner{number}",
                                 device)
    return findings


def _needs_device(value: str, settings: ScannerSettings) -> None:
    if not value.strip():
        raise ValueError("the evdev scanner needs its device: a /dev/input/by-id/… path,"
                         " vendor:product (0c2e:0b61) or its name")


BACKENDS: dict[str, Backend[Scanner[object]]] = {
    "stdin": Backend(_open_stdin, _check_stdin),
    "evdev": Backend(_open_evdev, _check_evdev, rules={"device": _needs_device}),
    "none": Backend(_open_none),
}
"""The scanner backends by name. ``open`` takes the settings and, as keywords, the
``stream`` (``stdin``), the ``device`` of this one scanner and the ``source`` its reads
carry."""

#: The backends that read several devices (``scanner.devices``), one scanner each.
SEVERAL = frozenset({"evdev"})


@dataclass(frozen=True)
class ScannerSettings:
    """``[scanner]``: the keyboard-wedge (HID) scanner.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        device: ``evdev``: the scanner (a ``/dev/input/by-id/…`` path, vendor:product or
            its name).
        devices: ``evdev``: more scanners, their reads of source ``hid2``, ``hid3``…
        keymap, terminator, inter_key_timeout, max_length: how the scanners type.
    """

    backend: str = field(default="stdin", metadata=backend_choices(BACKENDS))
    device: str = ""
    devices: list[str] = field(default_factory=list)
    keymap: str = field(default="us", metadata=choices(*KEYMAPS))
    terminator: str = field(default="enter", metadata=choices("enter", "tab"))
    inter_key_timeout: float = 0.1
    max_length: int = 4096


def named_devices(settings: ScannerSettings) -> list[str]:
    """The devices the backend reads: ``device`` then, for ``evdev``, ``devices``."""
    if settings.backend in SEVERAL:
        return [settings.device, *settings.devices]
    return [settings.device]


def open_scanners(settings: ScannerSettings, *, stream: BinaryIO | None = None
                  ) -> list[Scanner[object]]:
    """One scanner per device ``settings`` name, their reads of source ``hid``, ``hid2``…

    Args:
        settings: the ``[scanner]`` settings.
        stream: ``stdin`` only: where scans are read (standard input by default).

    Returns:
        The scanners: for ``none``, one :class:`~hal.scanner.base.NullScanner`. If one
        cannot be opened, those opened before it are closed.

    Raises:
        ValueError: unknown backend.
        DeviceError: ``evdev`` without a device, or python-evdev missing.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown scanner backend {name!r} (known: {known(BACKENDS)})"))
    opened: list[Scanner[object]] = []
    try:
        for number, device in enumerate(named_devices(settings), start=1):
            opened.append(backend.open(settings, stream=stream, device=device,
                                       source="hid" if number == 1 else f"hid{number}"))
    except BaseException:
        for scanner in opened:
            scanner.close()
        raise
    return opened
