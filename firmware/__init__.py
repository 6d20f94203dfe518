"""stocktaker: firmware for Raspberry Pi asset scanners (handheld and door kiosk)."""

__version__ = "0.1.0"
