"""A campaign's reconciliation as one self-contained HTML page.

The page needs nothing else: CSS inline, no script, no font, image or link to load, so it
opens from a USB stick on a machine without network. Every text from outside (labels,
names, rooms, devices, technicians, the campaign's name) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import re
from html import escape
from typing import Any

from sync.reconcile import CATEGORIES

__all__ = ["CATEGORY_TITLES", "reconciliation_html"]

#: How each category is named on the page, and what it means.
CATEGORY_TITLES: dict[str, tuple[str, str]] = {
    "found": ("Found", "expected in the room and seen there"),
    "moved": ("Moved", "expected in the room, seen in another room of the campaign"),
    "missing": ("Missing", "expected, not seen anywhere; the room has a complete audit"),
    "not_audited": ("Not yet audited", "expected, not seen; the room has no complete audit"),
    "out_of_scope": ("Out of scope", "registered in a room outside the campaign, seen here"),
    "recovered": ("Recovered", "recorded as lost in the register, seen here"),
    "retired": ("Retired", "recorded as retired in the register, seen here"),
    "unregistered": ("Unregistered", "a label the register does not know"),
    "ambiguous": ("Ambiguous", "a label matching several assets of the register"),
    "new": ("New", "an asset the register lacked, taken in on the spot (an intake)"),
}

CATEGORY_CSS = """
.cat{display:inline-block;padding:1px 7px;border-radius:9px;font-size:13px;white-space:nowrap;
color:#fff}
.found{background:#2f8f46}.moved{background:#c77700}.missing{background:#c62828}
.not_audited{background:#7b8691}.out_of_scope{background:#6a4fb3}.recovered{background:#1f6fb2}
.retired{background:#6d5d4b}.unregistered{background:#d4571c}.ambiguous{background:#9a7d00}
.new{background:#00796b}
"""
"""The style of a category's coloured label, shared by this page and the live dashboard."""

_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z")

_STATUS = {"audited": "audited", "incomplete": "incomplete (interrupted)",
           "not_audited": "not yet audited"}

_CSS = CATEGORY_CSS + """
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2228;
max-width:1100px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #d5dae0;
padding-bottom:4px}h3{font-size:16px;margin:16px 0 6px}
.meta{color:#59636e;margin:0 0 12px}
.bar{background:#e6e9ed;border-radius:6px;height:14px;width:100%;max-width:420px;overflow:hidden}
.bar span{display:block;height:100%;background:#2f8f46}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #e3e6ea}
th{background:#f3f5f7;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;width:4em}
.status-audited{color:#2f8f46;font-weight:600}.status-incomplete{color:#c77700;font-weight:600}
.status-not_audited{color:#7b8691;font-weight:600}
.look{color:#c62828;font-weight:600}
.sightings{margin:0;padding-left:16px}.muted{color:#7b8691}
code{font-family:ui-monospace,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
code.tag{white-space:nowrap}
.note{background:#fff6e0;border-left:4px solid #c77700;padding:4px 8px;margin:6px 0}
"""


def reconciliation_html(result: Mapping[str, Any]) -> str:
    """The reconciliation (from :func:`sync.reconcile.reconcile`) as a complete HTML page."""
    campaign = result.get("campaign") or {}
    name = campaign.get("name")
    title = f"Campaign {name}" if name else "Audit campaign"
    items = {item["key"]: item for item in result.get("items", ())}
    progress = result.get("progress") or {"audited": 0, "rooms": 0}
    share = 100 * progress["audited"] // progress["rooms"] if progress["rooms"] else 0
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no network: forbid every load, allow only the inline style
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        ' style-src \'unsafe-inline\'">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(_scope(campaign))}</p>',
        f"<p><strong>{progress['audited']} of {progress['rooms']}</strong> rooms audited"
        f" ({share}%)</p>",
        f'<div class="bar"><span style="width:{share}%"></span></div>',
        "<h2>Summary</h2>",
        _counts_table(result.get("counts") or {}),
    ]
    double = [items[k] for k in result.get("multiple_sightings", ()) if k in items]
    look = [item for item in double if item.get("needs_look")]
    if look:
        parts.append("<h2>Seen in more than one room: needs a look</h2>")
        parts.append(_items_table(look, show_room=True))
    moved = [item for item in items.values() if item["category"] == "moved"]
    if moved:
        parts.append("<h2>Moved assets</h2>")
        parts.append(_table(["Asset", "Name", "From", "To", "Last seen"],
                            [[_asset(i), _e(i["name"]), _e(i["from"]), _e(i["to"]),
                              _sighting(i["sightings"][-1])] for i in moved]))
    parts.append("<h2>Rooms</h2>")
    in_room: dict[str, list[Mapping[str, Any]]] = {}
    for item in items.values():
        in_room.setdefault(item["room"], []).append(item)
    for room in result.get("rooms", ()):
        parts.append(_room(room, in_room.get(room["room"], []),
                           [items[k] for k in room.get("moved_in", ()) if k in items]))
    if double and len(double) > len(look):
        parts.append("<h2>Seen in more than one audit of the same room</h2>")
        parts.append(_items_table([i for i in double if not i.get("needs_look")],
                                  show_room=True))
    if result.get("excluded"):
        parts.append("<h2>Reports left out</h2>")
        parts.append(_table(["Report", "Room", "Campaign", "Why"],
                            [[_e(e.get("source") or e.get("session_id") or "?"),
                              _e(e.get("room")), _e(e.get("campaign")), _e(e.get("reason"))]
                             for e in result["excluded"]]))
    if result.get("notes"):
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{_e(note)}</li>" for note in result["notes"]]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def html_text(value: Any) -> str:
    """Outside text (a label, a register field) as HTML text or an attribute's value."""
    return "" if value is None else escape(str(value), quote=True)


def shown_time(value: Any) -> str:
    """A report's ISO 8601 UTC time shown to a person: ``2026-12-07 04:13:47 UTC``."""
    if not isinstance(value, str):
        return "?"
    match = _ISO.fullmatch(value)
    return html_text(f"{match[1]} {match[2]} UTC" if match else value)


_e = html_text
_time = shown_time


def _scope(campaign: Mapping[str, Any]) -> str:
    rooms = campaign.get("rooms")
    where = ", ".join(rooms) if rooms else "every room of the register"
    start = _day(campaign.get("from"), "T00:00:00.000Z")
    end = _day(campaign.get("to"), "T23:59:59.999Z")
    when = "" if start is None and end is None else f"; from {start or '…'} to {end or '…'}"
    return f"Rooms: {where}{when}"


def _day(value: Any, whole_day: str) -> str | None:
    """A period bound: its day when it is a whole day's bound, else the time."""
    if not isinstance(value, str):
        return None
    return value[:-len(whole_day)] if value.endswith(whole_day) else value


def _badge(category: str) -> str:
    return f'<span class="cat {_e(category)}">{_e(CATEGORY_TITLES[category][0])}</span>'


def _counts_table(counts: Mapping[str, int]) -> str:
    return _table(["Category", "Items", "Meaning"],
                  [[_badge(c), f'<span class="n">{int(counts.get(c, 0))}</span>',
                    _e(CATEGORY_TITLES[c][1])] for c in CATEGORIES], numeric=(1,))


def _asset(item: Mapping[str, Any]) -> str:
    if item.get("asset_tag"):
        return f'<code class="tag">{_e(item["asset_tag"])}</code>'
    return f'<code>{_e(item.get("label"))}</code> <span class="muted">(label)</span>'


def _sighting(s: Mapping[str, Any]) -> str:
    unused = "" if s.get("used") else ' <span class="muted">(earlier audit, not used)</span>'
    return (f"{_e(s.get('room'))} · {_time(s.get('at'))} · device {_e(s.get('device_id'))}"
            f" · {_e(s.get('technician') or '(no technician)')}{unused}")


def _sightings(sightings: Sequence[Mapping[str, Any]]) -> str:
    if not sightings:
        return '<span class="muted">not seen</span>'
    return '<ul class="sightings">' + "".join(f"<li>{_sighting(s)}</li>" for s in sightings) + "</ul>"


def _where(item: Mapping[str, Any]) -> str:
    if item["category"] in ("moved", "out_of_scope", "recovered") and item.get("from"):
        return f"{_e(item['from'])} → {_e(item['to'])}"
    return _e(item.get("to") or "")


def _items_table(items: Sequence[Mapping[str, Any]], *, show_room: bool = False) -> str:
    head = ["Category", "Asset", "Name", "Where"] + (["Counted in"] if show_room else [])
    rows = []
    for item in items:
        look = ' <span class="look">needs a look</span>' if item.get("needs_look") else ""
        row = [_badge(item["category"]) + look, _asset(item) + _candidates(item),
               _e(item["name"]), _where(item)]
        if show_room:
            row.append(_e(item["room"]))
        rows.append(row + [_sightings(item["sightings"])])
    return _table(head + ["Sightings (room · time · device · technician)"], rows)


def _candidates(item: Mapping[str, Any]) -> str:
    if not item.get("candidates"):
        return ""
    return '<br><span class="muted">matches ' + ", ".join(
        f"<code>{_e(c)}</code>" for c in item["candidates"]) + "</span>"


def _room(room: Mapping[str, Any], items: list[Mapping[str, Any]],
          moved_in: list[Mapping[str, Any]]) -> str:
    status = room["status"]
    parts = [f"<h3>{_e(room['room'])} — <span class=\"status-{_e(status)}\">"
             f"{_e(_STATUS.get(status, status))}</span></h3>"]
    if room.get("note"):
        parts.append(f'<p class="note">{_e(room["note"])}</p>')
    for audit in room.get("audits", ()):
        parts.append(f'<p class="meta">Audit {_audit(audit)}</p>')
    for audit in room.get("superseded", ()):
        parts.append(f'<p class="meta muted">Superseded audit {_audit(audit)}</p>')
    counts = room.get("counts") or {}
    shown = [c for c in CATEGORIES if counts.get(c)]
    if shown:
        parts.append('<p class="meta">' + " · ".join(
            f"{_badge(c)} {int(counts[c])}" for c in shown) + "</p>")
    if items:
        parts.append(_items_table(items))
    elif not moved_in:
        parts.append('<p class="muted">Nothing expected or seen here is known.</p>')
    if moved_in:
        parts.append("<p>Moved here from other rooms (counted in their rooms):</p>")
        parts.append(_items_table(moved_in, show_room=True))
    return "\n".join(parts)


def _audit(audit: Mapping[str, Any]) -> str:
    text = (f"{_time(audit.get('started_at'))} → {_time(audit.get('ended_at'))}"
            f" by {_e(audit.get('technician') or '(no technician)')}"
            f" on device {_e(audit.get('device_id') or '?')}"
            f" <span class=\"muted\">(session {_e(audit.get('session_id'))}")
    if audit.get("source"):
        text += f", {_e(audit['source'])}"
    text += ")</span>"
    if audit.get("interrupted"):
        text += " <strong>interrupted</strong>"
    return text


def _table(head: Sequence[str], rows: Sequence[Sequence[str]],
           numeric: Sequence[int] = ()) -> str:
    """A table; ``head`` is plain text (escaped), every cell already HTML."""
    out = ["<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
