"""The receiver's campaigns: the reports devices sent, grouped by campaign, reconciled.

Every number the dashboard shows is :func:`sync.reconcile.reconcile` over the reports
stored (``PUT /reports/{session_id}``) and the receiver's manifest (its active assets are
the expected inventory), exactly as ``stocktaker reconcile`` computes it over the same
report files and the same CSV. One addition: a session whose sightings arrived but whose
report has not yet (an audit in progress) is taken as an interrupted audit of its room,
built from those sightings, so a room's progress moves while it is audited. Its campaign
is the sightings' ``campaign`` (the latest one: a ``CAMPAIGN:`` label may change it during
the room), or else the one of its device's latest report (a device keeps its campaign from
room to room); once its report arrives, the report alone counts.

Campaigns defined with ``register-server --campaigns FILE`` (:mod:`sync.campaign_file`)
are reconciled with their rooms and period, as ``stocktaker reconcile --campaign-file``
does; a campaign only named by reports covers every room of the register, at any time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sync.asset import DEFAULT_LOST_STATUSES, DEFAULT_RETIRED_STATUSES
from sync.campaign import Campaign, name_key, report_campaign
from sync.receiver.manifest import ManifestSource
from sync.receiver.store import ReceiverStore
from sync.reconcile import ExpectedAsset, reconcile

__all__ = ["CampaignBoard", "live_reports", "room_summary"]

_AUDIT_VERDICTS = frozenset({"verified", "mislocated", "recovered", "retired", "unregistered",
                             "ambiguous"})
_INACTIVE = frozenset(s.casefold() for s in DEFAULT_RETIRED_STATUSES + DEFAULT_LOST_STATUSES)
_SCAN_FIELDS = ("verdict", "asset_tag", "payload", "source", "recorded_location", "candidates")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def live_reports(rows: list[tuple[Any, ...]],
                 device_campaigns: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Interrupted audits made of the sightings of sessions without a report.

    ``rows`` are (device_id, session_id, sighting record JSON) in arrival order; records
    that are not an audit's (a door kiosk's, an intake) or name no room are left out.
    """
    sessions: dict[str, dict[str, Any]] = {}
    for device_id, session_id, text in rows:
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("verdict") not in _AUDIT_VERDICTS:
            continue
        room = _text(record.get("location"))
        report = sessions.get(session_id)
        if report is None:
            if room is None:
                continue
            report = sessions[session_id] = {
                "session_id": session_id, "device_id": device_id, "location": room,
                "technician": _text(record.get("technician")),
                "campaign": _text(record.get("campaign")) or device_campaigns.get(device_id),
                "started_at": record.get("wall_time"), "ended_at": None, "interrupted": True,
                "in_progress": True, "counts": {}, "scans": []}
        if _text(record.get("campaign")) is not None:
            report["campaign"] = record["campaign"]
        scan = {key: record.get(key) for key in _SCAN_FIELDS if key in record}
        scan["at"] = record.get("wall_time")
        report["scans"].append(scan)
    return list(sessions.values())


def room_summary(result: Mapping[str, Any], live_sessions: set[str]) -> list[dict[str, Any]]:
    """Per room: status, found and expected (its progress), and whether an audit is under
    way there (a session of ``live_sessions`` is one it uses)."""
    return [{"room": room["room"], "status": room["status"], "found": room["counts"]["found"],
             "expected": room["expected"],
             "live": any(a["session_id"] in live_sessions for a in room["audits"])}
            for room in result["rooms"]]


class CampaignBoard:
    """The campaigns of ``store``'s reports, reconciled against ``manifest``.

    ``defined`` are the campaigns of ``--campaigns FILE`` (rooms and period); any other
    name a report carries is a campaign of every room, at any time. A reconciliation is
    kept until a report, a sighting or the manifest changes.
    """

    def __init__(self, store: ReceiverStore, manifest: ManifestSource,
                 defined: Sequence[Campaign] = ()) -> None:
        self.store = store
        self.manifest = manifest
        self.defined = {name_key(c.name): c for c in defined if c.name is not None}
        self._lock = threading.Lock()
        self._stamp: Any = None
        self._data: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        self._results: dict[str | None, dict[str, Any]] = {}
        self._expected: list[ExpectedAsset] = []

    def expected(self) -> list[ExpectedAsset]:
        """The manifest's active assets (neither retired nor lost): the expected inventory."""
        return self._load()[2]

    def _load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[ExpectedAsset]]:
        manifest_stamp, assets = self.manifest.assets()
        stamp = (manifest_stamp,
                 tuple(self.store.query("SELECT count(*), max(received_at) FROM reports")[0]),
                 tuple(self.store.query("SELECT count(*), max(received_at) FROM sightings")[0]))
        with self._lock:
            if stamp == self._stamp:
                return (*self._data, self._expected)
        expected = [ExpectedAsset(a.asset_tag, a.location, a.name, a.serial) for a in assets
                    if a.status.strip().casefold() not in _INACTIVE]
        reports: list[dict[str, Any]] = []
        device_campaigns: dict[str, str | None] = {}
        for device_id, text in self.store.query(
                "SELECT device_id, report FROM reports ORDER BY received_at, session_id"):
            try:
                report = json.loads(text)
            except ValueError:
                continue
            reports.append(report)
            device_campaigns[device_id] = report_campaign(report)
        reports.sort(key=lambda r: str(r.get("session_id")))
        rows = self.store.query(
            "SELECT s.device_id, s.session_id, s.record FROM sightings s WHERE NOT EXISTS"
            " (SELECT 1 FROM reports r WHERE r.session_id = s.session_id)"
            " ORDER BY s.received_at, s.sighting_id")
        live = live_reports(rows, device_campaigns)
        with self._lock:
            self._stamp, self._data, self._results = stamp, (reports, live), {}
            self._expected = expected
        return reports, live, expected

    def names(self) -> list[str]:
        """The campaigns defined, or named by a report or an audit under way (the
        definition's spelling, else the first seen)."""
        reports, live, _ = self._load()
        names: dict[str, str] = {key: str(c.name) for key, c in self.defined.items()}
        for report in reports + live:
            name = report_campaign(report)
            if name is not None:
                names.setdefault(name_key(name), name)
        return sorted(names.values(), key=name_key)

    def campaign(self, name: str | None) -> Campaign:
        """What campaign ``name`` covers: its definition, else every room at any time."""
        return (self.defined.get(name_key(name)) if name is not None else None) \
            or Campaign(name=name)

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign defined or named by a report or an audit under way, by name,
        then None (every report): name, definition, reports, audits under way, progress."""
        reports, live, _ = self._load()
        shown: list[dict[str, Any]] = []
        for name in [*self.names(), None]:
            result = self.reconciliation(name)
            shown.append({"name": name, "campaign": result["campaign"],
                          "defined": result["defined"], "progress": result["progress"],
                          "counts": result["counts"], "expected": result["expected"],
                          "reports": sum(1 for r in reports if _of(r, name)),
                          "live": sum(1 for r in live if _of(r, name))})
        return shown

    def reconciliation(self, name: str | None) -> dict[str, Any]:
        """The reconciliation of campaign ``name`` (None: every report), with
        ``live_sessions`` (the audits under way it includes), ``devices`` (those that sent
        reports or sightings tagged with it; None for every report: all devices) and
        ``defined`` (whether ``--campaigns`` defines it)."""
        reports, live, expected = self._load()
        key = None if name is None else name_key(name)
        with self._lock:
            cached = self._results.get(key)
        if cached is not None:
            return cached
        campaign = self.campaign(name)
        result = reconcile(reports + live, campaign, expected)
        result["live_sessions"] = sorted(r["session_id"] for r in live
                                         if campaign.selects(r) is None)
        result["devices"] = None if name is None else sorted(
            {str(r.get("device_id")) for r in reports + live if _of(r, name)})
        result["defined"] = key in self.defined
        result["generated_at"] = datetime.now(timezone.utc).isoformat(
            timespec="seconds").replace("+00:00", "Z")
        with self._lock:
            self._results[key] = result
        return result


def _of(report: Mapping[str, Any], name: str | None) -> bool:
    if name is None:
        return True
    tagged = report_campaign(report)
    return tagged is not None and name_key(tagged) == name_key(name)
