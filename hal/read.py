"""``Read``: one raw payload as a reader delivered it, before any meaning is given to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Read:
    """A raw read from a camera, HID scanner or RFID reader.

    Attributes:
        payload: the bytes the reader delivered, untouched (no decoding, no stripping).
        symbology: what kind of code it came from (``QR``, ``CODE128``, ``EAN13``...);
            ``UNKNOWN`` when the reader cannot tell (a keyboard-wedge scanner).
        source: the reader's name as configured (``camera``, ``stdin``...).
        at: the reader's monotonic time of the read, in seconds. Only reads from the
            same source are ever compared by time.
    """

    payload: bytes
    symbology: str
    source: str
    at: float


@dataclass(frozen=True)
class ReaderState:
    """A reader came or went while the device runs (a scanner unplugged, plugged back).

    Readers that can lose their device and wait for it yield these among their reads,
    so the loop can tell the technician why nothing scans.

    Attributes:
        source: the reader's name, as its reads carry it.
        connected: True when the device is back (or first found), False when it went away.
        detail: what happened, in a few words (``No such device``).
        at: the reader's monotonic time.
    """

    source: str
    connected: bool
    detail: str
    at: float
