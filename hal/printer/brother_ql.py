"""Brother QL printers: the label as Brother raster, made and sent by the ``brother_ql``
package.

The artwork is drawn at the printer's own 300 dpi, exactly as wide as the tape's printable
dots, so ``brother_ql.conversion.convert`` never scales it: every dot is the artwork's.
Sending: ``usb://0x04f9:0x…`` through the package's ``pyusb`` backend;
``tcp://host[:port]`` and ``file:///dev/usb/lp0`` through :mod:`hal.printer.raw`, as for a
Zebra: the package's network backend connects without a timeout (which would hold the
device's loop for minutes on a printer that is off), and its ``linux_kernel`` backend
writes a job with one ``os.write``, whose short write would leave the job cut short.

A job cut short (no final print command) is not printed.
"""

from __future__ import annotations

import logging

from PIL import Image

from hal.errors import DeviceError
from hal.printer.artwork import LabelSize
from hal.printer.base import Printer, PrinterOffline
from hal.printer.raw import parse_address, send_device_file, send_tcp

__all__ = ["BROTHER_LABELS", "BrotherQLPrinter", "brother_job"]

log = logging.getLogger(__name__)
# brother_ql's conversion imports its own deprecated module, which logs a warning on import.
logging.getLogger("brother_ql.devicedependent").setLevel(logging.ERROR)

BROTHER_LABELS = ("62", "29x90")
"""The label sizes this backend prints (brother_ql's identifiers)."""


def brother_job(artwork: Image.Image, model: str, label: str) -> bytes:
    """The Brother raster instructions printing ``artwork`` once, then cutting.

    Raises:
        ValueError: an unknown model or label, or artwork of the wrong size for the label.
        DeviceError: the brother_ql package is not installed.
    """
    try:
        from brother_ql.conversion import convert
        from brother_ql.raster import BrotherQLRaster
    except ImportError:
        raise DeviceError("brother_ql is not installed: pip install"
                          " 'stocktaker[printing]'") from None

    try:
        raster = BrotherQLRaster(model)
    except Exception as exc:  # brother_ql raises its own kinds for an unknown model
        raise ValueError(f"brother_ql does not know the model {model!r}: {exc}") from None
    raster.exception_on_warning = True
    return bytes(convert(raster, [artwork.convert("L")], label, rotate="auto", cut=True,
                         compress=True,  # packbits, on the models that take it
                         dither=False, threshold=70.0, hq=True))


class BrotherQLPrinter(Printer):
    """A Brother QL label printer (QL-700, QL-820NWB…) on the network or on USB."""

    kind = "brother_ql"

    def __init__(self, size: LabelSize, address: str, *, model: str = "QL-820NWB",
                 timeout: float = 10.0) -> None:
        super().__init__(size)
        if size.name not in BROTHER_LABELS or size.dpi != 300:
            raise ValueError(f"a Brother QL prints {' or '.join(BROTHER_LABELS)} labels at"
                             f" 300 dpi, not {size.name} at {size.dpi} dpi")
        self._address = address
        self._scheme, self._where, self._port = parse_address(address)
        self._model = model
        self._timeout = timeout
        brother_job(Image.new("L", (size.width, size.height), 255), model, size.name)

    def job_bytes(self, artwork: Image.Image) -> bytes:
        return brother_job(artwork, self._model, self.size.name)

    def send(self, job_id: str, data: bytes) -> None:
        if self._scheme == "tcp":
            send_tcp(self._where, self._port, data, self._timeout)
            return
        if self._scheme == "file":
            send_device_file(self._where, data)
            return
        from brother_ql.backends import backend_factory

        name = "pyusb"
        try:
            backend = backend_factory(name)["backend_class"](self._address)
        except ImportError as exc:
            raise PrinterOffline(f"printer {self._address}: the {name} backend needs"
                                 f" {exc.name or 'a missing module'}") from None
        except Exception as exc:  # OSError, usb.core.USBError, ValueError("Device not found")
            raise PrinterOffline(f"printer {self._address} not reachable: {exc}") from None
        try:
            backend.write(data)
        except Exception as exc:
            raise PrinterOffline(f"printer {self._address}: write failed: {exc}") from None
        finally:
            backend.dispose()
