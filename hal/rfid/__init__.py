"""RFID readers: UHF (EPC Gen2) readers that report the EPCs of the tags in their field.

The backend is chosen with :func:`open_rfid` from the table :data:`BACKENDS` (see
:mod:`hal.rfid.backends`); pyserial is imported when a reader is opened.
"""

from __future__ import annotations

from typing import Any

from hal.rfid.backends import BACKENDS, NullRfid, RfidSettings, open_rfid

__all__ = ["BACKENDS", "NullRfid", "RfidSettings", "SerialUhfReader", "open_rfid"]


def __getattr__(name: str) -> Any:
    """Load :class:`~hal.rfid.serial_uhf.SerialUhfReader` (and pyserial) on first use."""
    if name != "SerialUhfReader":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from hal.rfid.serial_uhf import SerialUhfReader

    globals()[name] = SerialUhfReader
    return SerialUhfReader
