"""RFID readers: UHF (EPC Gen2) readers that report the EPCs of the tags in their field."""

from __future__ import annotations

from hal.rfid.serial_uhf import SerialUhfReader

__all__ = ["SerialUhfReader"]
