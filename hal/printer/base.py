"""What every label printer backend is: job bytes from artwork, and a send that either
hands the whole job to the printer or says the printer is offline."""

from __future__ import annotations

import abc

from PIL import Image

from hal.backends import Absent
from hal.errors import DeviceError
from hal.printer.artwork import LabelSize

__all__ = ["NullPrinter", "Printer", "PrinterOffline"]


class PrinterOffline(DeviceError):
    """The printer cannot be reached now (off, unplugged, out of the network): the job is
    kept and sent again later."""


class Printer(abc.ABC):
    """A label printer of one kind, set to one label size.

    Attributes:
        size: the label stock and resolution the printer is loaded with.
        kind: the backend's name as configured (``brother_ql``, ``zpl``, ``file``,
            ``none``).
    """

    kind = ""

    def __init__(self, size: LabelSize) -> None:
        self.size = size

    @abc.abstractmethod
    def job_bytes(self, artwork: Image.Image) -> bytes:
        """What the printer receives to print ``artwork`` (of :attr:`size`) once."""

    @abc.abstractmethod
    def send(self, job_id: str, data: bytes) -> None:
        """Hand one whole job to the printer.

        Args:
            job_id: the job's id (the stand-in uses it as its file name; the printers
                themselves take no job ids).
            data: what :meth:`job_bytes` returned.

        Raises:
            PrinterOffline: the printer could not be reached, or the connection broke
                before the whole job was handed over.
        """

    def close(self) -> None:
        """Let go of anything held open (nothing by default)."""
        return None

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullPrinter(Absent, Printer):
    """No printer fitted (``backend = "none"``): a job is drawn as for any printer, and
    every send says the printer is offline, so nothing queued is lost: the jobs print
    once a printer is configured."""

    kind = "none"

    def job_bytes(self, artwork: Image.Image) -> bytes:
        return b""

    def send(self, job_id: str, data: bytes) -> None:
        raise PrinterOffline("no label printer is configured")
