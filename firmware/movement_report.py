"""``stocktaker report --movements``: who took and returned what, per day, and what is out.

Built from the kiosk's movement log (:mod:`firmware.movement_log`), so it works offline and
says only what this kiosk recorded: an asset checked out elsewhere is not in it. Times
are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sync.asset import Asset
from firmware.inventory import same_place
from hal.text import terminal_safe

_WORDS = {"checked_out": "OUT", "checked_in": "IN", "refused": "REFUSED"}


@dataclass(frozen=True)
class Outstanding:
    """An asset this kiosk checked out and has not seen back."""

    asset_tag: str
    person: str
    since: float
    overdue: bool


def _who(record: Mapping[str, Any]) -> str:
    person = record.get("person") or {}
    if not isinstance(person, Mapping):
        return "?"
    return str(person.get("name") or person.get("username") or person.get("employee_num")
               or person.get("badge") or "?")


def outstanding(events: Iterable[tuple[float, Mapping[str, Any]]], now: float,
                overdue_days: float) -> list[Outstanding]:
    """The assets whose last event here is a check-out, longest out first."""
    last: dict[str, tuple[float, Mapping[str, Any]]] = {}
    for wall, record in events:
        tag = record.get("asset_tag")
        if tag and record.get("verdict") in ("checked_out", "checked_in"):
            last[str(tag)] = (wall, record)
    out = [Outstanding(tag, _who(record), wall, now - wall > overdue_days * 86400)
           for tag, (wall, record) in last.items() if record.get("verdict") == "checked_out"]
    return sorted(out, key=lambda o: o.since)


def _duration(seconds: float) -> str:
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


def _utc(wall: float, fmt: str) -> str:
    return datetime.fromtimestamp(wall, tz=timezone.utc).strftime(fmt)


def format_movements(events: list[tuple[float, Mapping[str, Any]]], *, now: float,
                     overdue_days: float, since: float | None = None,
                     heading: str = "Movements") -> list[str]:
    """The report's lines: each day's events, then what is out now (every text escaped).

    Args:
        events: every ``(wall, record)`` of the log, in order (what is out needs them all).
        now: the current wall time.
        overdue_days: days out after which an asset is flagged.
        since: list only the days from this wall time on.
        heading: the first line.
    """
    lines = [terminal_safe(heading)]
    day = None
    shown = [(w, r) for w, r in events if since is None or w >= since]
    for wall, record in shown:
        this_day = _utc(wall, "%Y-%m-%d")
        if this_day != day:
            day = this_day
            lines += ["", this_day]
        verdict = str(record.get("verdict"))
        who = _who(record) if record.get("person") else "(no badge)"
        tag = record.get("asset_tag") or record.get("payload") or "?"
        line = f"  {_utc(wall, '%H:%M')}  {_WORDS.get(verdict, verdict):<7} {tag}  {who}"
        if verdict == "refused" and record.get("reason"):
            line += f"  ({record['reason']})"
        lines.append(terminal_safe(line))
    if not shown:
        lines += ["", "  no movements"]
    out = outstanding(events, now, overdue_days)
    lines += ["", f"Out now ({len(out)})"]
    for item in out:
        flag = "  OVERDUE" if item.overdue else ""
        lines.append(terminal_safe(
            f"  {item.asset_tag}  {item.person}  since {_utc(item.since, '%Y-%m-%d %H:%M')}"
            f"  {_duration(now - item.since)}{flag}"))
    return lines


def room_spelling(configured: str, events: Iterable[tuple[float, Mapping[str, Any]]],
                  assets: Iterable[Asset] = ()) -> str:
    """The kiosk's room as the register spells it, for the report's heading.

    The kiosk records the register's spelling in each event (the movement CSV's ``room``):
    the latest event in that room gives it; without one, the saved expected inventory;
    without that, ``configured`` with its runs of spaces made one.
    """
    for _, record in reversed(list(events)):
        location = record.get("location")
        if isinstance(location, str) and location and same_place(location, configured):
            return location
    for asset in assets:
        if asset.location and same_place(asset.location, configured):
            return asset.location
    return " ".join(configured.split())


def parse_since(text: str) -> float:
    """``--since`` as wall seconds: a date ``YYYY-MM-DD`` (UTC midnight).

    Raises:
        ValueError: not such a date.
    """
    try:
        moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a date like 2026-11-30") from None
    return moment.timestamp()
