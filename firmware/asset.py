"""``Asset``: one record of the asset register, as every register adapter delivers it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RETIRED_STATUSES = ("archived", "retired", "disposed")
DEFAULT_LOST_STATUSES = ("lost", "stolen")


@dataclass(frozen=True)
class Asset:
    """One asset as the register records it."""

    asset_tag: str
    serial: str = ""
    name: str = ""
    location: str = ""
    status: str = ""
    assigned_to: str = ""
    id: int | None = None
    origin: str = ""
    """Where the record came from, for messages (``expected.csv, line 5``)."""


MAX_ID_DIGITS = 18
"""Most digits a register id may have (it must fit a signed 64-bit integer)."""

ASSET_COLUMNS = ("asset_tag", "serial", "name", "location", "status", "assigned_to", "id")
"""The register fields a record may carry (the keys of ``[register.columns]``)."""
