"""``Campaign``: a named audit of several rooms over a period, by any number of devices.

A device tags each room's report with its campaign (``audit.campaign``, or a scanned
``CAMPAIGN:<name>`` label); :func:`sync.reconcile.reconcile` puts a campaign's reports
together. Names of campaigns and rooms are compared ignoring case and spacing, as rooms
are everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

__all__ = ["Campaign", "CampaignError", "name_key", "parse_instant", "report_campaign"]


class CampaignError(ValueError):
    """A campaign definition that cannot be used; the message says which part and why."""


@lru_cache(maxsize=1 << 16)
def name_key(name: str) -> str:
    """A room or campaign name as compared: case ignored, runs of white space as one space.

    Remembered: a reconciliation compares the same few hundred room names many times.
    """
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Campaign:
    """What a campaign covers.

    Attributes:
        name: the name its reports carry in ``campaign``; None takes every report given,
            whatever its campaign (a single site that never tags its sessions).
        rooms: the rooms audited; None for every room of the register (the expected
            inventory's rooms, and any room a report of the campaign audited).
        start, end: the period, inclusive, as UTC instants; a report counts when its
            ``started_at`` is within it. None: open on that side.
    """

    name: str | None = None
    rooms: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not self.name.strip():
            raise CampaignError("campaign: an empty name")
        if self.rooms is not None:
            if not self.rooms:
                raise CampaignError("campaign: an empty list of rooms (leave it out for every room)")
            if any(not isinstance(r, str) or not r.strip() for r in self.rooms):
                raise CampaignError("campaign: an empty room name")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise CampaignError("campaign: the period ends before it starts")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Campaign:
        """A campaign from plain data: ``name``, ``rooms`` (list), ``from`` and ``to``.

        ``from``/``to`` are ``YYYY-MM-DD`` days (``to`` includes its whole day, UTC) or ISO
        8601 instants; TOML dates and datetimes are taken as they are.

        Raises:
            CampaignError: an unknown key, or a value of the wrong kind.
        """
        unknown = sorted(set(data) - {"name", "rooms", "from", "to"})
        if unknown:
            raise CampaignError(f"campaign: unknown key {unknown[0]!r}"
                                " (known: name, rooms, from, to)")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise CampaignError("campaign: name must be text")
        rooms = data.get("rooms")
        if rooms is not None:
            if isinstance(rooms, str) or not isinstance(rooms, Iterable):
                raise CampaignError("campaign: rooms must be a list of room names")
            rooms = tuple(rooms)
            if not all(isinstance(r, str) for r in rooms):
                raise CampaignError("campaign: rooms must be a list of room names")
        return cls(name=name, rooms=rooms, start=_bound(data.get("from"), "from", end=False),
                   end=_bound(data.get("to"), "to", end=True))

    def covers_room(self, room: str) -> bool:
        """Whether ``room`` is one of the campaign's rooms (every room when none are named)."""
        return self.rooms is None or name_key(room) in {name_key(r) for r in self.rooms}

    def selects(self, report: Mapping[str, Any]) -> str | None:
        """Why ``report`` is not part of the campaign, or None when it is."""
        if self.name is not None:
            tagged = report_campaign(report)
            if tagged is None:
                return "not tagged with a campaign"
            if name_key(tagged) != name_key(self.name):
                return f"tagged with another campaign ({tagged})"
        location = report.get("location")
        if not isinstance(location, str) or not location.strip():
            return "no room"
        if not self.covers_room(location):
            return "a room outside the campaign"
        if self.start is not None or self.end is not None:
            started = parse_instant(report.get("started_at"))
            if started is None:
                return "no start time to place it in the campaign's period"
            if self.start is not None and started < self.start:
                return "started before the campaign's period"
            if self.end is not None and started > self.end:
                return "started after the campaign's period"
        return None

    def to_json(self) -> dict[str, Any]:
        """The campaign as JSON-able data (``from``/``to`` as ISO 8601 UTC)."""
        return {"name": self.name, "rooms": list(self.rooms) if self.rooms is not None else None,
                "from": _iso(self.start), "to": _iso(self.end)}


def report_campaign(report: Mapping[str, Any]) -> str | None:
    """The campaign a report is tagged with, or None (untagged, or not text)."""
    value = report.get("campaign")
    return value if isinstance(value, str) and value.strip() else None


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 time as written in reports (``...Z``) as an aware UTC datetime, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _bound(value: Any, key: str, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            instant = parse_instant(value)
            if instant is None:
                raise CampaignError(f"campaign: {key} {value!r} is not a date (YYYY-MM-DD)"
                                    " or an ISO 8601 time") from None
            return instant
    else:
        raise CampaignError(f"campaign: {key} must be a date (YYYY-MM-DD)")
    if end:
        return datetime.combine(day + timedelta(days=1), time(), timezone.utc) - timedelta(
            microseconds=1)
    return datetime.combine(day, time(), timezone.utc)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
