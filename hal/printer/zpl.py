"""Zebra printers: the label as ZPL II, over raw TCP (port 9100) or a USB device file.

The artwork goes to the printer as one ``^GFA`` graphic field (uncompressed ASCII hex),
not as a ``^BQ`` QR command with ``^FD`` text: the printer then prints exactly the dots
drawn by :mod:`hal.printer.artwork`, the same picture the tests decode, on every head
resolution. The job is::

    ^XA ^PW<width> ^LL<height> ^LH0,0 ^FO0,0^GFA,<bytes>,<bytes>,<row bytes>,<hex>^FS ^PQ1 ^XZ

A job cut short (no ``^XZ``) is not printed: the printer prints a format only at its end.
"""

from __future__ import annotations

from PIL import Image

from hal.printer.artwork import LabelSize
from hal.printer.base import Printer
from hal.printer.raw import parse_address, send_device_file, send_tcp

__all__ = ["ZplPrinter", "zpl_job"]


def zpl_job(artwork: Image.Image) -> bytes:
    """The ZPL II format printing ``artwork`` once, dot for dot from the label's top left.

    A dark pixel (under 128) is a printed dot; rows are padded to whole bytes with white.
    """
    bitmap = artwork.convert("L").point(lambda v: 255 if v < 128 else 0).convert("1")
    row_bytes = (artwork.width + 7) // 8
    data = bitmap.tobytes()  # mode "1": rows packed 8 dots a byte, 1 = printed, padded
    total = len(data)
    hex_rows = data.hex().upper()
    return ("^XA\n"
            f"^PW{artwork.width}\n"
            f"^LL{artwork.height}\n"
            "^LH0,0\n"
            f"^FO0,0^GFA,{total},{total},{row_bytes},{hex_rows}^FS\n"
            "^PQ1\n"
            "^XZ\n").encode("ascii")


class ZplPrinter(Printer):
    """A Zebra (or other ZPL II) label printer at ``tcp://host[:port]`` or
    ``file:///dev/usb/lp0``."""

    kind = "zpl"

    def __init__(self, size: LabelSize, address: str, *, timeout: float = 10.0) -> None:
        super().__init__(size)
        self._scheme, self._where, self._port = parse_address(address)
        if self._scheme == "usb":
            raise ValueError(f"{address!r}: a ZPL printer on USB is reached through its"
                             " device file (file:///dev/usb/lp0)")
        self._timeout = timeout

    def job_bytes(self, artwork: Image.Image) -> bytes:
        return zpl_job(artwork)

    def send(self, job_id: str, data: bytes) -> None:
        if self._scheme == "tcp":
            send_tcp(self._where, self._port, data, self._timeout)
        else:
            send_device_file(self._where, data)
