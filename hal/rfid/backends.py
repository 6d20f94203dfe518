"""The UHF RFID reader's settings (``[rfid]``), its table of backends and :func:`open_rfid`.

Backends: ``serial`` (:class:`~hal.rfid.serial_uhf.SerialUhfReader`: a reader on a serial
port printing one EPC per line) and ``none`` (:class:`NullRfid`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hal.backends import Absent, Backend, backend_choices, choose, known
from hal.checks import Finding, System, serial_port
from hal.read import Read
from hal.resource import Resource


class NullRfid(Resource, Absent):
    """The ``none`` backend: no UHF reader fitted; :meth:`reads` ends at once."""

    name = "none"

    def reads(self) -> Iterator[Read]:
        """Nothing to yield."""
        return iter(())


def _open_serial(settings: RfidSettings) -> Any:
    from hal.rfid.serial_uhf import SerialUhfReader

    return SerialUhfReader(settings.port, settings.baudrate, window=settings.window)


def _open_none(settings: RfidSettings) -> Any:
    return NullRfid()


def _check_serial(settings: RfidSettings, system: System) -> list[Finding]:
    return [serial_port(system, settings.port)]


BACKENDS: dict[str, Backend[Any]] = {
    "serial": Backend(_open_serial, _check_serial),
    "none": Backend(_open_none),
}
"""The UHF reader backends by name."""


@dataclass(frozen=True)
class RfidSettings:
    """``[rfid]``: a serial UHF RFID reader reporting EPCs.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        port: ``serial``: a device path or a pyserial URL.
        baudrate: ``serial``: the reader's line speed.
        window: seconds within which a repeated EPC is the same read.
    """

    backend: str = field(default="none", metadata=backend_choices(BACKENDS))
    port: str = "/dev/ttyUSB0"
    baudrate: int = 115200
    window: float = 2.0


def open_rfid(settings: RfidSettings) -> Any:
    """Open the UHF reader ``settings.backend`` names.

    Returns:
        A reader with ``reads()`` and ``close()``: a
        :class:`~hal.rfid.serial_uhf.SerialUhfReader`, or a :class:`NullRfid` for ``none``.

    Raises:
        ValueError: unknown backend.
        DeviceError: the port cannot be opened.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown rfid backend {name!r} (known: {known(BACKENDS)})"))
    return backend.open(settings)
