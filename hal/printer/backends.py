"""The label printer's settings (``[printer]``), its table of backends and
:func:`open_printer`.

Backends: ``brother_ql`` (Brother QL raster through the ``brother_ql`` package, network or
USB), ``zpl`` (Zebra and other ZPL II printers, raw TCP 9100 or a USB device file),
``file`` (the stand-in: each job a PNG in a folder) and ``none``
(:class:`~hal.printer.base.NullPrinter`, which prints nothing and keeps every job).
Choosing and checking a backend loads no printer code (nor Pillow): that waits for
:func:`open_printer`.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hal.backends import Backend, KeyRule, backend_choices, choices, choose, known
from hal.checks import Finding, System
from hal.errors import ConfigError

if TYPE_CHECKING:  # the printers need Pillow and segno: loaded when one is opened
    from hal.printer.artwork import LabelSize
    from hal.printer.base import Printer

__all__ = ["BACKENDS", "PrinterSettings", "STOCK", "open_printer"]

STOCK: Mapping[str, tuple[tuple[str, int], ...]] = {
    "brother_ql": (("62", 300), ("29x90", 300)),
    "zpl": (("2x1in", 203), ("2x1in", 300)),
}
"""The label sizes (name, dpi) each printer kind is set up for; ``file`` and ``none``
take every one."""


def _size(settings: PrinterSettings) -> LabelSize:
    from hal.printer.artwork import label_size

    return label_size(settings.label, settings.dpi)


def _parse_address(address: str) -> tuple[str, str, int]:
    from hal.printer.raw import parse_address

    return parse_address(address)


def _open_brother_ql(settings: PrinterSettings) -> Printer:
    from hal.printer.brother_ql import BrotherQLPrinter

    return BrotherQLPrinter(_size(settings), settings.address,
                            model=settings.model, timeout=settings.timeout)


def _open_zpl(settings: PrinterSettings) -> Printer:
    from hal.printer.zpl import ZplPrinter

    size = _size(settings)
    if size.name != "2x1in":
        raise ValueError(f"a ZPL printer is set up here for 2x1in labels, not {settings.label}")
    return ZplPrinter(size, settings.address, timeout=settings.timeout)


def _open_file(settings: PrinterSettings) -> Printer:
    from hal.printer.folder import FolderPrinter

    return FolderPrinter(_size(settings), settings.folder)


def _open_none(settings: PrinterSettings) -> Printer:
    from hal.printer.base import NullPrinter

    return NullPrinter(_size(settings))


def _check_file(settings: PrinterSettings, system: System) -> list[Finding]:
    return [Finding("printer", f"file {settings.folder}", True, "the stand-in writes PNGs there")]


def _check_brother_ql(settings: PrinterSettings, system: System) -> list[Finding]:
    if not system.has_module("brother_ql"):
        return [Finding("printer", _wanted(settings), False, "brother_ql is not installed",
                        "pip install 'stocktaker[printing]'")]
    return _check_address(settings, system)


def _check_address(settings: PrinterSettings, system: System) -> list[Finding]:
    """The printer at ``printer.address``: a network printer accepts a connection (opened
    and closed, nothing sent), a device file is there and writable."""
    wanted = _wanted(settings)
    scheme, where, port = _parse_address(settings.address)
    if scheme == "tcp":
        try:
            socket.create_connection((where, port), timeout=settings.timeout).close()
        except OSError as exc:
            return [Finding("printer", wanted, False, f"not reachable: {exc.strerror or exc}",
                            "switch the printer on, check its address and that raw printing"
                            " (port 9100) is enabled")]
        return [Finding("printer", wanted, True, "accepts connections")]
    if scheme == "file":
        if not system.exists(where):
            return [Finding("printer", wanted, False, "no such device",
                            "plug the printer in and switch it on")]
        if not system.writable(where):
            return [Finding("printer", wanted, False, "permission denied",
                            f"add {system.user} to the group of {where} (lp)")]
        return [Finding("printer", wanted, True, "present")]
    return [Finding("printer", wanted, True, "checked when a label is printed")]


def _wanted(settings: PrinterSettings) -> str:
    return f"{settings.backend} {settings.address}"


def _needs_address(value: str, settings: PrinterSettings) -> None:
    """A real printer's backend needs a ``printer.address`` it can reach the printer at."""
    if not settings.address:
        raise ValueError(f"{value!r} needs printer.address (tcp://host[:port] or"
                         " file:///dev/usb/lp0)")
    try:
        scheme = _parse_address(settings.address)[0]
    except ValueError as exc:
        raise ConfigError(f"printer.address: {exc}") from None
    if scheme == "usb" and value == "zpl":
        raise ConfigError("printer.address: a ZPL printer on USB is reached through its"
                          " device file (file:///dev/usb/lp0)")


def _dpi(value: int, settings: PrinterSettings) -> None:
    if value not in (203, 300):
        raise ValueError("must be 203 or 300 (the print head's dots per inch)")


def _label(value: str, settings: PrinterSettings) -> None:
    stock = [size for kind, sizes in STOCK.items() for size in sizes
             if settings.backend in (kind, "none", "file")]
    if (value, settings.dpi) not in stock:
        sizes = ", ".join(f"{n} at {d} dpi" for n, d in stock)
        raise ValueError(f"{value} at {settings.dpi} dpi is not a label size of"
                         f" {settings.backend!r} (sizes: {sizes})")


_STOCK_RULES: dict[str, KeyRule] = {"dpi": _dpi, "label": _label}

BACKENDS: dict[str, Backend[Printer]] = {
    "none": Backend(_open_none, rules=_STOCK_RULES),
    "brother_ql": Backend(_open_brother_ql, _check_brother_ql,
                          rules={"backend": _needs_address, **_STOCK_RULES}),
    "zpl": Backend(_open_zpl, _check_address, rules={"backend": _needs_address, **_STOCK_RULES}),
    "file": Backend(_open_file, _check_file, rules=_STOCK_RULES),
}
"""The label printer backends by name."""


@dataclass(frozen=True)
class PrinterSettings:
    """``[printer]``: the label printer (``stocktaker label``).

    Attributes:
        backend: a name in :data:`BACKENDS`.
        address: ``brother_ql`` and ``zpl``: ``tcp://host[:port]`` (port 9100 by default),
            ``file:///dev/usb/lp0``, or for ``brother_ql`` also ``usb://0x04f9:0x209d``.
        model: ``brother_ql`` only: the printer model as brother_ql names it.
        dpi: the head's resolution: 300 (Brother), 203 or 300 (Zebra).
        label: the label size: ``62`` or ``29x90`` (Brother), ``2x1in`` (Zebra).
        organisation: a line printed under the tag (may be empty).
        url: the register's web address the label's QR code points into (the
            register's own URL when empty).
        folder: ``file`` only: where the labels are written.
        timeout: seconds to wait for a network printer to answer.
    """

    backend: str = field(default="none", metadata=backend_choices(BACKENDS))
    address: str = ""
    model: str = "QL-820NWB"
    dpi: int = 300
    label: str = field(default="62", metadata=choices("62", "29x90", "2x1in"))
    organisation: str = ""
    url: str = ""
    folder: Path = Path("labels")
    timeout: float = 10.0


def open_printer(settings: PrinterSettings) -> Printer:
    """Open the printer ``settings.backend`` names, loaded with ``settings.label`` stock at
    ``settings.dpi``.

    Returns:
        The printer; nothing is sent or opened until a job is. For ``none``, a
        :class:`~hal.printer.base.NullPrinter` (tell it apart with
        :func:`hal.backends.fitted`).

    Raises:
        ValueError: unknown backend, label size, model or address.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown printer backend {name!r}; choose one of {known(BACKENDS)}"))
    return backend.open(settings)
