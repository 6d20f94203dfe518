"""The receiver's read-only dashboard: ``/dashboard/...`` on the same server as the device API.

Viewers sign in with HTTP Basic (:class:`~sync.receiver.viewers.ViewerFile`); the devices'
bearer token is refused here, as viewer credentials are on the device API. Every answer
carries a strict Content-Security-Policy: the pages load only the dashboard's own style
sheet and script, and may fetch only from this origin.

Pages (``campaign`` names the campaign; without it, every report):

- ``/dashboard/``: the campaigns, their period and progress, every device's last contact
  and queue depth;
- ``/dashboard/campaign?campaign=NAME``: the rooms with found of expected, the counts by
  category, the reports left out (outside its rooms or period), the devices that sent its
  reports or sightings; it polls ``campaign.json`` to update its numbers;
- ``/dashboard/items?campaign=NAME&category=CAT&room=ROOM``: the items with every sighting;
- ``/dashboard/campaign.json`` and ``/dashboard/campaign.csv``: the same data, for a
  script or a spreadsheet (the CSV of ``stocktaker reconcile --csv``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.campaign import CampaignError, name_key
from sync.reconcile import CATEGORIES
from sync.reconcile_csv import reconciliation_csv
from sync.receiver import dashboard_pages as pages
from sync.receiver.campaigns import CampaignBoard, room_summary
from sync.receiver.dashboard_assets import ICON_SVG, LIVE_JS, STYLE_CSS
from sync.receiver.viewers import ViewerFile

__all__ = ["CSP", "Dashboard", "DashboardAnswer"]

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self';"
       " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
"""The Content-Security-Policy of every dashboard answer: nothing inline, nothing from
outside."""

_HTML = "text/html; charset=utf-8"
_STATUS_TEXT = {"audited": "audited", "incomplete": "in progress or interrupted",
                "not_audited": "not yet audited"}
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z")


@dataclass
class DashboardAnswer:
    """An answer: status, body, headers (Content-Type included)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def _text(status: int, message: str, extra: dict[str, str] | None = None) -> DashboardAnswer:
    return DashboardAnswer(status, (message + "\n").encode("utf-8"),
                           {**_headers("text/plain; charset=utf-8"), **(extra or {})})


class Dashboard:
    """The dashboard over ``board``, for the viewers of ``viewers``.

    Args:
        board: the campaigns and their reconciliation.
        viewers: who may look (None: the dashboard is off, every page answers 404).
        devices: the devices' last contact and state (``ReceiverStore.devices``).
        poll_ms: how often a campaign's page asks for new numbers.
    """

    def __init__(self, board: CampaignBoard, viewers: ViewerFile | None,
                 devices: Callable[[], list[dict[str, Any]]], poll_ms: int = 5000) -> None:
        self.board = board
        self.viewers = viewers
        self.devices = devices
        self.poll_ms = poll_ms

    def answer(self, method: str, path: str, query: dict[str, list[str]],
               authorization: str | None) -> DashboardAnswer:
        """The answer to ``method path?query`` with this ``Authorization`` header."""
        if self.viewers is None:
            return _text(404, "the dashboard is off (start the receiver with --viewers FILE)")
        if self.viewers.check(authorization) is None:
            return _text(401, "viewer credentials are required",
                         {"WWW-Authenticate": 'Basic realm="stocktaker dashboard",'
                                              ' charset="UTF-8"'})
        if method not in ("GET", "HEAD"):
            return _text(405, "the dashboard is read-only", {"Allow": "GET, HEAD"})
        page = path[len(pages.BASE):].lstrip("/")
        if page == "style.css":
            return DashboardAnswer(200, STYLE_CSS.encode(), _headers("text/css; charset=utf-8"))
        if page == "icon.svg":
            return DashboardAnswer(200, ICON_SVG.encode(), _headers("image/svg+xml"))
        if page == "live.js":
            return DashboardAnswer(200, LIVE_JS.encode(),
                                   _headers("text/javascript; charset=utf-8"))
        if page == "":
            html = pages.index_page(self.board.campaigns(), self.devices())
            return DashboardAnswer(200, html.encode("utf-8"), _headers(_HTML))
        if page not in ("campaign", "campaign.json", "campaign.csv", "items"):
            return _text(404, "no such dashboard page")
        try:
            name = _one(query, "campaign")
            category, room = _one(query, "category"), _one(query, "room")
            if category is not None and category not in CATEGORIES:
                raise ValueError(f"no such category (known: {', '.join(CATEGORIES)})")
            if name is not None and name_key(name) not in map(name_key, self.board.names()):
                return _text(404, "no report names this campaign")
            result = self.board.reconciliation(name)
        except (ValueError, CampaignError) as exc:
            return _text(400, str(exc))
        rooms = [{**room, "status_text": _STATUS_TEXT.get(room["status"], room["status"])}
                 for room in room_summary(result, set(result["live_sessions"]))]
        excluded = [e for e in result["excluded"] if name is None or (
            e.get("campaign") is not None and name_key(e["campaign"]) == name_key(name))]
        if page == "campaign.json":
            data = {"campaign": name, "definition": result["campaign"],
                    "defined": result["defined"], "devices": result["devices"],
                    "excluded": excluded, "progress": result["progress"],
                    "counts": result["counts"], "expected": result["expected"],
                    "rooms": rooms, "live_sessions": result["live_sessions"],
                    "generated_at": result["generated_at"],
                    "generated_at_text": _shown_time(result["generated_at"])}
            return DashboardAnswer(200, json.dumps(data, ensure_ascii=True).encode("ascii"),
                                   _headers("application/json"))
        if page == "campaign.csv":
            filename = re.sub(r"[^A-Za-z0-9._-]", "_", name or "all-reports")[:60]
            return DashboardAnswer(200, reconciliation_csv(result), {
                **_headers("text/csv; charset=utf-8"),
                "Content-Disposition": f'attachment; filename="campaign-{filename}.csv"'})
        if page == "items":
            html = pages.items_page(name, result, category, room)
        else:
            devices = self.devices()
            if result["devices"] is not None:
                of_campaign = set(result["devices"])
                devices = [d for d in devices if d.get("device_id") in of_campaign]
            html = pages.campaign_page(name, result, rooms, devices, self.poll_ms,
                                       excluded=excluded)
        return DashboardAnswer(200, html.encode("utf-8"), _headers(_HTML))


def _one(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"{key} is given more than once")
    return values[0]


def _shown_time(value: str) -> str:
    match = _ISO.fullmatch(value)
    return f"{match[1]} {match[2]} UTC" if match else value
