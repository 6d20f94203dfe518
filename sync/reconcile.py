"""Reconciliation of an audit campaign: every room's reports put together.

One implementation for every place that shows a campaign (``stocktaker reconcile``, the
receiver, a dashboard): :func:`reconcile` takes report dicts as devices write them and,
optionally, the register's expected inventory, and returns plain JSON-able data. Each
report is read by :mod:`sync.reconcile_audits`; this module makes the items and rooms.

An **item** is an asset (keyed by its asset tag) or, for a label the register does not
know or that matches several assets, the label's text. Every item is in exactly one
category, is counted in exactly one room, and lists every sighting of it in the campaign:

``found``
    expected in a room of the campaign and seen there.
``moved``
    expected in a room of the campaign, not seen there but in another room (``from``,
    ``to``: the room of its latest sighting).
``missing``
    expected, not seen anywhere, and its room has a complete audit: a true ghost after
    cross-room matching.
``not_audited``
    expected, not seen anywhere, and its room has no complete audit yet.
``out_of_scope``
    an asset the register places in a room outside the campaign (or nowhere), seen in
    one of its rooms (``from``: where the register has it).
``recovered``, ``retired``
    an asset the register records as lost, or as retired, seen in a room.
``unregistered``, ``ambiguous``
    a label unknown to the register, or matching several of its assets.
``new``
    an asset the register lacked, taken in on the spot (an intake of the report: its
    identifiers, and the tag the device gave it, if any).

A room audited more than once uses its latest complete audit (not ``interrupted``); the
others are listed as superseded and their sightings are shown but not used. A room with
only interrupted audits uses all of them and is not complete. An item seen in more than
one session is in ``multiple_sightings``; seen in more than one room, it ``needs_look``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.campaign import Campaign, name_key, report_campaign
from sync.reconcile_audits import Audit, text_or_none

__all__ = ["CATEGORIES", "EXPECTED_CATEGORIES", "ExpectedAsset", "reconcile"]

#: Every category, in the order they are shown.
CATEGORIES = ("found", "moved", "missing", "not_audited", "out_of_scope", "recovered",
              "retired", "unregistered", "ambiguous", "new")
#: The categories an expected asset can be in.
EXPECTED_CATEGORIES = ("found", "moved", "missing", "not_audited")


@dataclass(frozen=True)
class ExpectedAsset:
    """An asset the register expects in a room: active (neither retired nor lost)."""

    asset_tag: str
    location: str
    name: str = ""
    serial: str = ""


def reconcile(reports: Sequence[Mapping[str, Any]], campaign: Campaign | None = None,
              expected: Iterable[Any] | None = None, *,
              sources: Sequence[str] | None = None) -> dict[str, Any]:
    """Put a campaign's reports together.

    Args:
        reports: room reports as devices write them (``report-<session>.json``), in any
            order; those not of the campaign are listed in ``excluded``, a session given
            twice is used once.
        campaign: which reports and rooms; None takes every report given, every room.
        expected: the register's active assets (:class:`ExpectedAsset`, or any object or
            mapping with ``asset_tag``, ``location`` and optionally ``name``, ``serial``).
            Without it a room's expected assets are known only from its reports (what it
            found and its ghosts), and a room nobody audited is unknown.
        sources: where each report came from (a file name), shown with it.

    Returns:
        JSON-able data: ``campaign``, ``progress`` (``audited`` of ``rooms``),
        ``counts`` (items per category), ``rooms`` (one entry per room, with its counts
        and audits), ``items`` (each once, with its category, room and sightings),
        ``multiple_sightings`` (keys of items seen in more than one session),
        ``excluded`` (reports left out, and why) and ``notes``. Never raises on odd report
        content: what cannot be read is skipped and said in ``notes``.

    Raises:
        ValueError: ``sources`` is given and not one per report (a caller's mistake).
    """
    campaign = campaign or Campaign()
    sources = list(sources) if sources is not None else [""] * len(reports)
    if len(sources) != len(reports):
        raise ValueError(f"{len(reports)} reports but {len(sources)} sources")
    notes: list[str] = []
    excluded: list[dict[str, Any]] = []
    chosen: list[Audit] = []
    seen_sessions: set[str] = set()
    for report, source in zip(reports, sources):
        session_id = report.get("session_id") if isinstance(report, Mapping) else None
        if not isinstance(report, Mapping) or not isinstance(session_id, str) or not session_id:
            excluded.append({"session_id": None, "source": source,
                             "reason": "not an audit report (no session_id)"})
            continue
        if session_id in seen_sessions:
            excluded.append(_excluded(report, source, "the same session given again"))
            continue
        reason = campaign.selects(report)
        if reason is not None:
            excluded.append(_excluded(report, source, reason))
            continue
        seen_sessions.add(session_id)
        chosen.append(Audit(report, source))

    register = _expected_assets(expected, notes) if expected is not None else None
    rooms = _Rooms()
    if campaign.rooms is not None:
        for room in campaign.rooms:
            rooms.add(room)
    elif register is not None:
        for asset in register.values():
            rooms.add(asset.location)
    for audit in chosen:
        rooms.add(audit.room)
    if register is None and campaign.rooms is None:
        for audit in chosen:  # rooms of the register named by its assets found elsewhere
            for sighting, _ in audit.sightings([]):
                if sighting.verdict == "mislocated" and sighting.recorded_location:
                    rooms.add(sighting.recorded_location)

    by_room: dict[str, list[Audit]] = {}
    for audit in chosen:
        by_room.setdefault(name_key(audit.room), []).append(audit)
    used_sessions: set[str] = set()
    room_entries: dict[str, dict[str, Any]] = {}
    for key, name in rooms.items():
        entry, sessions = _room_entry(name, by_room.get(key, []))
        room_entries[key] = entry
        used_sessions.update(sessions)

    items = _Items()
    home: dict[str, tuple[str, ExpectedAsset | None]] = {}  # asset tag -> (room, record)
    if register is not None:
        for tag, asset in register.items():
            home[tag] = (asset.location, asset)
    for audit in sorted(chosen, key=Audit.order):
        counted = audit.session_id in used_sessions
        for sighting, scan in audit.sightings(notes):
            item = items.get(sighting.key, scan, sighting.verdict)
            item["sightings"].append({**sighting.shown(), "used": counted})
            if register is None and counted and sighting.key.startswith("asset:"):
                tag = sighting.key[len("asset:"):]
                if sighting.verdict == "verified":
                    home.setdefault(tag, (audit.room, None))
                elif sighting.verdict == "mislocated" and sighting.recorded_location:
                    home.setdefault(tag, (sighting.recorded_location, None))
        if register is None and audit.session_id in used_sessions:
            for ghost in audit.ghosts(notes):
                home.setdefault(ghost["asset_tag"], (audit.room, None))
                items.get("asset:" + ghost["asset_tag"], ghost, None)

    expected_tags = {tag for tag, (room, _) in home.items() if rooms.has(room)}
    for tag in sorted(expected_tags):
        record = home[tag][1]
        item = items.get("asset:" + tag, {"asset_tag": tag}, None)
        if record is not None:
            item["name"] = item["name"] or record.name
            item["serial"] = item["serial"] or record.serial

    result_items = []
    for _key, item in items.entries():
        used = [s for s in item["sightings"] if s["used"]]
        tag = item["asset_tag"]
        is_expected = tag is not None and tag in expected_tags
        item["expected"] = is_expected
        if is_expected:
            room = rooms.name(home[tag][0])
            _place_expected(item, room, used, room_entries[name_key(room)]["status"], rooms)
        elif not used:
            continue  # seen only in a superseded audit: the latest audit of its room did not
        else:
            _place_other(item, used, home.get(tag or "", (None, None))[0], rooms)
        rooms_seen = {name_key(s["room"]) for s in used}
        item["needs_look"] = len(rooms_seen) > 1
        result_items.append(item)

    for audit in chosen:
        if audit.session_id in used_sessions:
            result_items += audit.intakes(rooms.name(audit.room), notes)
    result_items.sort(key=lambda i: (name_key(i["room"]), CATEGORIES.index(i["category"]),
                                     i["key"]))
    counts = dict.fromkeys(CATEGORIES, 0)
    for entry in room_entries.values():
        entry["counts"] = dict.fromkeys(CATEGORIES, 0)
        entry["expected"] = 0
        entry["moved_in"] = []
    for item in result_items:
        counts[item["category"]] += 1
        entry = room_entries[name_key(item["room"])]
        entry["counts"][item["category"]] += 1
        entry["expected"] += item["expected"]
        if item["category"] == "moved":
            room_entries[name_key(item["to"])]["moved_in"].append(item["key"])
    if register is None:
        notes.append("no expected inventory given: a room's expected assets are known only from"
                     " its reports, and rooms nobody audited are unknown")
    audited = sum(e["status"] == "audited" for e in room_entries.values())
    return {
        "campaign": campaign.to_json(),
        "progress": {"audited": audited, "rooms": len(room_entries)},
        "counts": counts,
        "expected": sum(i["expected"] for i in result_items),
        "rooms": sorted(room_entries.values(), key=lambda e: name_key(e["room"])),
        "items": result_items,
        "multiple_sightings": [i["key"] for i in result_items
                               if len({s["session_id"] for s in i["sightings"]}) > 1],
        "excluded": excluded,
        "notes": notes,
    }


def _place_expected(item: dict[str, Any], room: str, used: list[dict[str, Any]],
                    room_status: str, rooms: _Rooms) -> None:
    item["room"] = room
    item["from"] = room
    at_home = [s for s in used if name_key(s["room"]) == name_key(room)]
    if at_home:
        item["category"], item["to"] = "found", room
    elif used:
        item["category"], item["to"] = "moved", rooms.name(used[-1]["room"])
    else:
        item["category"] = "missing" if room_status == "audited" else "not_audited"
        item["to"] = None


def _place_other(item: dict[str, Any], used: list[dict[str, Any]], registered: str | None,
                 rooms: _Rooms) -> None:
    last = used[-1]
    item["room"] = item["to"] = rooms.name(last["room"])
    verdict = last["verdict"]
    if verdict in ("recovered", "retired", "unregistered", "ambiguous"):
        item["category"] = verdict
        item["from"] = last.get("recorded_location")
        return
    # verified or mislocated, but not expected in any room of the campaign
    item["category"] = "out_of_scope"
    item["from"] = registered or last.get("recorded_location")


def _room_entry(name: str, audits: list[Audit]) -> tuple[dict[str, Any], set[str]]:
    """A room's entry (status, audits used and superseded) and the sessions it uses."""
    complete = [a for a in audits if not a.interrupted]
    if complete:
        latest = max(complete, key=Audit.order)
        used, status = [latest], "audited"
    elif audits:
        used, status = sorted(audits, key=Audit.order), "incomplete"
    else:
        used, status = [], "not_audited"
    superseded = [a for a in sorted(audits, key=Audit.order) if a not in used]
    note = None
    if status == "audited" and superseded:
        note = (f"audited {len(audits)} times: the latest complete audit"
                f" ({used[0].session_id}, ended {used[0].ended_at or '?'}) is used")
    elif status == "incomplete":
        note = "only interrupted audits: not complete"
    return ({"room": name, "status": status, "note": note,
             "audits": [a.summary() for a in used],
             "superseded": [a.summary() for a in superseded]},
            {a.session_id for a in used})


def _expected_assets(expected: Iterable[Any], notes: list[str]) -> dict[str, ExpectedAsset]:
    found: dict[str, ExpectedAsset] = {}
    for entry in expected:
        tag, location = _field(entry, "asset_tag"), _field(entry, "location")
        if not tag or not location:
            continue
        if tag in found:
            notes.append(f"asset tag {tag} is listed twice in the expected inventory:"
                         " the first is used")
            continue
        found[tag] = ExpectedAsset(tag, location, _field(entry, "name"), _field(entry, "serial"))
    return found


def _field(entry: Any, key: str) -> str:
    value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
    return value if isinstance(value, str) else ""


def _excluded(report: Mapping[str, Any], source: str, reason: str) -> dict[str, Any]:
    return {"session_id": report.get("session_id"), "source": source,
            "room": text_or_none(report.get("location")), "campaign": report_campaign(report),
            "reason": reason}


class _Rooms:
    """The campaign's rooms by comparison key, spelt as first given."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def add(self, name: str) -> None:
        self._names.setdefault(name_key(name), " ".join(name.split()))

    def has(self, name: str | None) -> bool:
        return name is not None and name_key(name) in self._names

    def name(self, name: str) -> str:
        return self._names.get(name_key(name), name)

    def items(self) -> list[tuple[str, str]]:
        return list(self._names.items())


class _Items:
    """Items by key, in the order first met."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}

    def get(self, key: str, scan: Mapping[str, Any], verdict: str | None) -> dict[str, Any]:
        item = self._items.get(key)
        if item is None:
            is_label = key.startswith("label:")
            item = self._items[key] = {
                "key": key, "asset_tag": None if is_label else key[len("asset:"):],
                "label": key[len("label:"):] if is_label else None,
                "name": "", "serial": "", "category": None, "room": None, "from": None,
                "to": None, "expected": False, "candidates": [], "sightings": []}
        if not item["name"] and text_or_none(scan.get("name")):
            item["name"] = scan["name"]
        if not item["serial"] and text_or_none(scan.get("serial")):
            item["serial"] = scan["serial"]
        if verdict == "ambiguous" and not item["candidates"]:
            item["candidates"] = [str(c) for c in scan.get("candidates") or []
                                  if isinstance(c, str)]
        return item

    def entries(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self._items.items())
