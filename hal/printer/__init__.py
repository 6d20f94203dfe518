"""Label printers: choose a backend by name with :func:`open_printer`.

Backends: ``brother_ql`` (Brother QL raster through the ``brother_ql`` package, network or
USB), ``zpl`` (Zebra and other ZPL II printers, raw TCP 9100 or a USB device file) and
``file`` (the stand-in: each job a PNG in a folder). The label itself is drawn once by
:mod:`hal.printer.artwork`; every backend prints exactly that picture.
"""

from __future__ import annotations

from pathlib import Path

from hal.printer.artwork import LABEL_SIZES, LabelSize, LabelTooSmall, draw_label, label_size
from hal.printer.base import Printer, PrinterOffline

__all__ = ["BACKENDS", "LABEL_SIZES", "LabelSize", "LabelTooSmall", "Printer", "PrinterOffline",
           "draw_label", "label_size", "open_printer"]

BACKENDS = ("brother_ql", "zpl", "file")


def open_printer(
    backend: str,
    *,
    label: str,
    dpi: int = 300,
    address: str = "",
    model: str = "QL-820NWB",
    folder: Path | None = None,
    timeout: float = 10.0,
) -> Printer:
    """Open the printer ``backend`` names, loaded with ``label`` stock at ``dpi``.

    Args:
        backend: ``brother_ql``, ``zpl`` or ``file``.
        label: the label size: ``62`` or ``29x90`` (Brother), ``2x1in`` (Zebra).
        dpi: the head's resolution: 300 (Brother), 203 or 300 (Zebra).
        address: ``brother_ql`` and ``zpl``: ``tcp://host[:port]`` (port 9100 by default),
            ``file:///dev/usb/lp0``, or for ``brother_ql`` also ``usb://0x04f9:0x209d``.
        model: ``brother_ql`` only: the printer model as brother_ql names it.
        folder: ``file`` only: where the labels are written.
        timeout: seconds to wait for a network printer to answer.

    Returns:
        The printer; nothing is sent or opened until a job is.

    Raises:
        ValueError: unknown backend, label size, model or address.
    """
    size = label_size(label, dpi)
    if backend == "brother_ql":
        from hal.printer.brother_ql import BrotherQLPrinter

        return BrotherQLPrinter(size, address, model=model, timeout=timeout)
    if backend == "zpl":
        from hal.printer.zpl import ZplPrinter

        if size.name != "2x1in":
            raise ValueError(f"a ZPL printer is set up here for 2x1in labels, not {label}")
        return ZplPrinter(size, address, timeout=timeout)
    if backend == "file":
        from hal.printer.folder import FolderPrinter

        if folder is None:
            raise ValueError("the file printer needs a folder")
        return FolderPrinter(size, folder)
    raise ValueError(f"unknown printer backend {backend!r}; choose one of {', '.join(BACKENDS)}")
