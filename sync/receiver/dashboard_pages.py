"""The dashboard's HTML pages: campaigns, a campaign's rooms, a category's items, devices.

Pages only: no data is fetched here (:mod:`sync.receiver.campaigns` does it) and no
request is read (:mod:`sync.receiver.dashboard` does it). Every text from outside (room,
campaign, device and technician names, labels, register fields) goes through
:func:`html.escape`; links are built with :func:`urllib.parse.urlencode` and escaped too.
The pages load only the dashboard's own style sheet and script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sync.reconcile import CATEGORIES
from sync.reconcile_html import CATEGORY_TITLES
from sync.reconcile_html import html_text as _e
from sync.reconcile_html import shown_time as _time

__all__ = ["BASE", "campaign_page", "index_page", "items_page", "link", "message_page"]

BASE = "/dashboard"
_STATUS = {"audited": "audited", "incomplete": "in progress or interrupted",
           "not_audited": "not yet audited"}


def link(page: str, **query: str | None) -> str:
    """The escaped URL of a dashboard page with its query (None values left out)."""
    given = {key: value for key, value in query.items() if value is not None}
    return _e(f"{BASE}/{page}" + (f"?{urlencode(given)}" if given else ""))


def _items(name: str | None, **query: str | None) -> str:
    return link("items", campaign=name, **query)


def _campaign(name: str | None) -> str:
    return link("campaign", campaign=name)


def _name(campaign: str | None) -> str:
    return f"Campaign {campaign}" if campaign is not None else "All reports"


def _page(title: str, body: Sequence[str], *, poll: str | None = None,
          poll_ms: int = 5000) -> str:
    live = f' data-poll="{poll}" data-poll-ms="{int(poll_ms)}"' if poll else ""
    script = f'<script src="{BASE}/live.js" defer></script>' if poll else ""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} · stocktaker</title>",
        f'<link rel="icon" href="{BASE}/icon.svg" type="image/svg+xml">',
        f'<link rel="stylesheet" href="{BASE}/style.css">{script}</head>',
        f"<body{live}>",
        f'<nav><a href="{BASE}/">Campaigns</a></nav>',
        *body,
        "</body></html>", ""])


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table: ``head`` plain text (escaped), each cell HTML already."""
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    return "".join(out)


def _badge(category: str) -> str:
    return f'<span class="cat {_e(category)}">{_e(CATEGORY_TITLES[category][0])}</span>'


def _bar(value: int, maximum: int, key: str = "") -> str:
    data = f' data-bar="{_e(key)}"' if key else ""
    return f'<progress value="{int(value)}" max="{max(int(maximum), 1)}"{data}></progress>'


def _devices(devices: Sequence[Mapping[str, Any]],
             none: str = "No device has been in contact yet.") -> str:
    if not devices:
        return f'<p class="muted">{_e(none)}</p>'
    rows = []
    for device in devices:
        state = device.get("state") or {}
        ok = state.get("last_sync_ok")
        rows.append([
            f"<code>{_e(device['device_id'])}</code>", _time(device.get("last_contact")),
            _e(_ago(device.get("seconds_since_contact"))),
            _e(state["queue_depth"]) if "queue_depth" in state
            else '<span class="muted">no heartbeat yet</span>', _e(state.get("dead_letters", "")),
            _e(state.get("mode") or ""), _e(state.get("room") or ""),
            "" if ok is None else ("ok" if ok else f"failed: {_e(state.get('last_sync_error'))}"),
            _e(state.get("firmware_version") or "")])
    return _table(["Device", "Last contact", "Ago", "Queue depth", "Dead letters", "Mode",
                   "Room", "Last sync", "Firmware"], rows, "devices")


def _scope(campaign: Mapping[str, Any]) -> str:
    """A campaign's rooms and period in words (HTML): "3 named rooms · 2026-12-01 to ..."."""
    rooms = campaign.get("rooms")
    where = "every room of the register" if rooms is None else (
        f"{len(rooms)} named room{'s' if len(rooms) != 1 else ''}")
    start, end = campaign.get("from"), campaign.get("to")
    if start is None and end is None:
        return _e(f"{where} · any time")
    return (f"{_e(where)} · {_day(start, '00:00:00.000') if start else 'any time'} to"
            f" {_day(end, '23:59:59.999') if end else 'any time'}")


def _day(value: str, whole_day: str) -> str:
    """An instant of a period; a bound that is a whole day's edge as its date only."""
    return _e(value[:10]) if value[11:-1] == whole_day else _time(value)


def _excluded(excluded: Sequence[Mapping[str, Any]]) -> str:
    if not excluded:
        return ""
    rows = [[f"<code>{_e(e.get('session_id') or '?')}</code>", _e(e.get("room") or ""),
             _e(e.get("reason"))] for e in excluded]
    return "<h2>Reports left out</h2>" + _table(["Session", "Room", "Why"], rows, "excluded")


def _ago(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def index_page(campaigns: Sequence[Mapping[str, Any]],
               devices: Sequence[Mapping[str, Any]]) -> str:
    """The first page: every campaign with its progress, and every device."""
    rows = []
    for c in campaigns:
        p = c["progress"]
        href = link("campaign", campaign=c["name"])
        scope = _scope(c["campaign"]) if c["name"] is not None else "every report"
        rows.append([f'<a href="{href}">{_e(_name(c["name"]))}</a>'
                     f'<br><span class="muted">{scope}</span>',
                     f'{_bar(p["audited"], p["rooms"])} <span class="n">{int(p["audited"])}'
                     f' of {int(p["rooms"])}</span> rooms',
                     f'<span class="n">{int(c["counts"]["found"])} of {int(c["expected"])}</span>',
                     f'<span class="n">{int(c["reports"])}</span>',
                     f'<span class="n">{int(c["live"])}</span>'])
    return _page("Campaigns", [
        "<h1>Audit campaigns</h1>",
        '<p class="meta">Read-only. Every number is the reconciliation of the reports the'
        " devices sent (the same as <code>stocktaker reconcile</code> over those reports).</p>",
        _table(["Campaign", "Rooms audited", "Expected assets found", "Reports",
                "Audits under way"], rows, "campaigns"),
        "<h2>Devices</h2>", _devices(devices)])


def campaign_page(name: str | None, result: Mapping[str, Any], rooms: Sequence[Mapping[str, Any]],
                  devices: Sequence[Mapping[str, Any]], poll_ms: int = 5000, *,
                  excluded: Sequence[Mapping[str, Any]] = ()) -> str:
    """A campaign: its rooms and period, progress, counts by category (each a link to its
    items), rooms, the reports of it left out and why, its devices."""
    p = result["progress"]
    found = result["counts"]["found"]
    counts = [[f'<a href="{_items(name, category=c)}">{_badge(c)}</a>',
               f'<span class="n" data-k="count-{c}">{int(result["counts"][c])}</span>',
               _e(CATEGORY_TITLES[c][1])] for c in CATEGORIES]
    room_rows = []
    for index, room in enumerate(rooms):
        under_way = ' <span class="live">audit under way</span>' if room["live"] else ""
        room_rows.append([
            f'<a href="{_items(name, room=room["room"])}">{_e(room["room"])}</a>',
            f'<span data-k="room-{index}-status">{_e(_STATUS.get(room["status"], room["status"]))}'
            f"</span>{under_way}",
            f'{_bar(room["found"], room["expected"], "room-" + str(index))} <span class="n">'
            f'<span data-k="room-{index}-found">{int(room["found"])}</span> of'
            f' <span data-k="room-{index}-expected">{int(room["expected"])}</span></span>'])
    csv_link = link("campaign.csv", campaign=name)
    return _page(_name(name), [
        f"<h1>{_e(_name(name))}</h1>",
        f'<p class="meta scope">{_scope(result["campaign"]) if name is not None else "every report"}'
        "</p>",
        f'<p class="meta">Updated <span data-k="updated">{_time(result.get("generated_at"))}'
        f'</span> · <a href="{csv_link}">CSV export</a></p>',
        f'<p class="big">{_bar(p["audited"], p["rooms"], "rooms")} <strong>'
        f'<span data-k="audited">{int(p["audited"])}</span> of'
        f' <span data-k="rooms">{int(p["rooms"])}</span></strong> rooms audited ·'
        f' <strong><span data-k="found">{int(found)}</span> of'
        f' <span data-k="expected">{int(result["expected"])}</span></strong>'
        " expected assets found</p>",
        "<h2>Discrepancies by category</h2>", _table(["Category", "Items", "Meaning"], counts,
                                                     "counts"),
        "<h2>Rooms</h2>", _table(["Room", "Status", "Found of expected"], room_rows, "rooms"),
        _excluded(excluded),
        "<h2>Devices</h2>", _devices(devices, "No device has sent a report or a sighting of"
                                     " this campaign yet.")],
        poll=link("campaign.json", campaign=name), poll_ms=poll_ms)


def items_page(name: str | None, result: Mapping[str, Any], category: str | None,
               room: str | None) -> str:
    """The items of one category and/or room, each with every sighting (who, when, where,
    which device)."""
    items = [i for i in result["items"] if (category is None or i["category"] == category)
             and (room is None or i["room"] == room)]
    what = " · ".join(x for x in (CATEGORY_TITLES[category][0] if category else None,
                                  room) if x) or "Every item"
    rows = []
    for item in items:
        asset = (f'<code class="tag">{_e(item["asset_tag"])}</code>' if item["asset_tag"]
                 else f'<code>{_e(item["label"])}</code> <span class="muted">(label)</span>')
        if item.get("candidates"):
            asset += '<br><span class="muted">matches ' + ", ".join(
                f"<code>{_e(c)}</code>" for c in item["candidates"]) + "</span>"
        where = _e(item.get("to") or "")
        if item["category"] in ("moved", "out_of_scope", "recovered") and item.get("from"):
            where = f"{_e(item['from'])} → {_e(item['to'])}"
        look = ' <span class="look">needs a look</span>' if item.get("needs_look") else ""
        rows.append([_badge(item["category"]) + look, asset, _e(item["name"]), _e(item["room"]),
                     where, _sightings(item["sightings"])])
    return _page(f"{what} · {_name(name)}", [
        f'<h1>{_e(what)}</h1><p class="meta"><a href="{_campaign(name)}">'
        f"{_e(_name(name))}</a> · {len(items)} item(s)</p>",
        _table(["Category", "Asset", "Name", "Counted in", "Where",
                "Sightings (room · time · device · technician · verdict)"], rows, "items")
        if rows else '<p class="muted">No item here.</p>'])


def _sightings(sightings: Sequence[Mapping[str, Any]]) -> str:
    if not sightings:
        return '<span class="muted">not seen</span>'
    out = []
    for s in sightings:
        unused = "" if s.get("used") else ' <span class="muted">(not used)</span>'
        out.append(f"<li>{_e(s.get('room'))} · {_time(s.get('at'))} · device"
                   f" <code>{_e(s.get('device_id'))}</code> ·"
                   f" {_e(s.get('technician') or '(no technician)')} · {_e(s.get('verdict'))}"
                   f"{unused}</li>")
    return '<ul class="sightings">' + "".join(out) + "</ul>"


def message_page(title: str, message: str) -> str:
    """A page saying one thing (a campaign not found, a bad link)."""
    return _page(title, [f"<h1>{_e(title)}</h1>", f"<p>{_e(message)}</p>"])
