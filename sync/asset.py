"""``Asset``: one record of the asset register, as every register adapter delivers it, and how
its fields compare (rooms by :func:`room_key`, audit dates by :func:`audit_date`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

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
    next_audit_date: str = ""
    """When the register wants the asset audited next (``YYYY-MM-DD``, Snipe-IT's
    ``next_audit_date``); '' when the register has no date for it."""


MAX_ID_DIGITS = 18
"""Most digits a register id may have (it must fit a signed 64-bit integer)."""

ASSET_COLUMNS = ("asset_tag", "serial", "name", "location", "status", "assigned_to", "id",
                 "next_audit_date")
"""The register fields a record may carry (the keys of ``[register.columns]``)."""

_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?")


def audit_date(text: str) -> str:
    """The ``YYYY-MM-DD`` date of a register's next-audit value ('' for '').

    Accepts a date, or a date and time (``2027-03-01 00:00:00``, as Snipe-IT writes it):
    the time is dropped.

    Raises:
        ValueError: not a date of the calendar in that form.
    """
    text = text.strip()
    if not text:
        return ""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(match[1]).isoformat()
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date of the calendar") from None


def audit_overdue(asset: Asset, today: date | None) -> bool:
    """Whether ``asset``'s audit is overdue on ``today``: its next audit date has passed.

    False when either is unknown (no date in the register, no trustworthy today).
    """
    if today is None or not asset.next_audit_date:
        return False
    try:
        return date.fromisoformat(asset.next_audit_date) < today
    except ValueError:
        return False


def room_key(name: str) -> str:
    """A room name as compared: case ignored, runs of white space as one space, outer ones gone."""
    return " ".join(name.split()).casefold()


def same_place(a: str, b: str) -> bool:
    """True when two location names name the same room (case and spacing ignored)."""
    return room_key(a) == room_key(b)
