"""A campaign's reports as reconciliation reads them: one :class:`Audit` per report, each
scan that makes an item an :class:`AuditSighting`, each intake an item of category ``new``.

What the items and rooms become is :mod:`sync.reconcile`'s; this module reads a report's
fields and skips (with a note) what is of an unexpected shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sync.campaign import parse_instant, report_campaign

__all__ = ["Audit", "AuditSighting", "ITEM_VERDICTS", "LABEL_VERDICTS", "text_or_none"]

ITEM_VERDICTS = frozenset({"verified", "mislocated", "recovered", "retired", "unregistered",
                           "ambiguous"})
"""Report verdicts that make an item; repeats and rejected labels do not."""
LABEL_VERDICTS = frozenset({"unregistered", "ambiguous"})
"""Verdicts whose item is the label's text, not an asset."""
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a string, else None."""
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class AuditSighting:
    """One scan of a report that makes an item: ``key`` is ``asset:<tag>`` or, for a label
    the register does not know or finds ambiguous, ``label:<payload>``."""

    key: str
    verdict: str
    room: str
    session_id: str
    device_id: str | None
    technician: str | None
    at: str | None
    payload: str | None
    source: str | None
    recorded_location: str | None

    def shown(self) -> dict[str, Any]:
        """The sighting as the reconciliation lists it under its item."""
        return {"room": self.room, "session_id": self.session_id, "device_id": self.device_id,
                "technician": self.technician, "at": self.at, "verdict": self.verdict,
                "payload": self.payload, "reader": self.source,
                "recorded_location": self.recorded_location}


class Audit:
    """One report of the campaign."""

    def __init__(self, report: Mapping[str, Any], source: str) -> None:
        self.report = report
        self.source = source
        self.session_id = str(report["session_id"])
        self.room = " ".join(str(report["location"]).split())
        self.interrupted = report.get("interrupted") is True
        self.ended_at = text_or_none(report.get("ended_at"))

    def order(self) -> tuple[datetime, datetime, str]:
        """Oldest first: by end, then start, then session id (a stable tie-break)."""
        return (parse_instant(self.report.get("ended_at")) or _EPOCH,
                parse_instant(self.report.get("started_at")) or _EPOCH, self.session_id)

    def summary(self) -> dict[str, Any]:
        """The audit as a room's entry lists it."""
        r = self.report
        return {"session_id": self.session_id, "source": self.source,
                "device_id": text_or_none(r.get("device_id")),
                "technician": text_or_none(r.get("technician")),
                "started_at": text_or_none(r.get("started_at")), "ended_at": self.ended_at,
                "interrupted": self.interrupted, "campaign": report_campaign(r)}

    def sightings(self, notes: list[str]) -> Iterable[tuple[AuditSighting, Mapping[str, Any]]]:
        """Each scan that makes an item, with the scan itself; the rest are skipped, those
        of an unexpected shape with a note."""
        scans = self.report.get("scans")
        if not isinstance(scans, list):
            notes.append(f"report {self.session_id}: scans is not a list, skipped")
            return
        odd = 0
        for scan in scans:
            if not isinstance(scan, Mapping):
                odd += 1
                continue
            verdict = scan.get("verdict")
            if verdict not in ITEM_VERDICTS:
                continue
            tag, payload = text_or_none(scan.get("asset_tag")), text_or_none(scan.get("payload"))
            if verdict in LABEL_VERDICTS or not tag:
                if not payload:
                    odd += 1
                    continue
                key = "label:" + payload
            else:
                key = "asset:" + tag
            r = self.report
            yield (AuditSighting(key, str(verdict), self.room, self.session_id,
                                 text_or_none(r.get("device_id")),
                                 text_or_none(r.get("technician")),
                                 text_or_none(scan.get("at")), payload,
                                 text_or_none(scan.get("source")),
                                 text_or_none(scan.get("recorded_location"))), scan)
        if odd:
            notes.append(f"report {self.session_id}: {odd} scan(s) of an unexpected shape skipped")

    def intakes(self, room: str, notes: list[str]) -> list[dict[str, Any]]:
        """The report's intakes as items of category ``new``, each once."""
        intakes = self.report.get("intakes")
        if not isinstance(intakes, list):
            return []
        items = []
        for intake in intakes:
            intake_id = (text_or_none(intake.get("intake_id"))
                         if isinstance(intake, Mapping) else None)
            if intake is None or not intake_id:
                notes.append(f"report {self.session_id}: an intake of an unexpected shape"
                             " skipped")
                continue
            identifiers = intake.get("identifiers")
            identifiers = dict(identifiers) if isinstance(identifiers, Mapping) else {}
            label = text_or_none(intake.get("unknown_label")) or ", ".join(
                f"{kind} {value}" for kind, value in identifiers.items())
            items.append({
                "key": "intake:" + intake_id, "asset_tag": text_or_none(intake.get("asset_tag")),
                "label": label or None, "name": "",
                "serial": text_or_none(identifiers.get("serial")) or "", "category": "new",
                "room": room, "from": None, "to": None, "expected": False, "candidates": [],
                "needs_look": False,
                "sightings": [{"room": room, "session_id": self.session_id,
                               "device_id": text_or_none(self.report.get("device_id")),
                               "technician": text_or_none(self.report.get("technician")),
                               "at": text_or_none(intake.get("at")), "verdict": "intake",
                               "payload": label, "reader": None, "recorded_location": None,
                               "used": True}]})
        return items

    def ghosts(self, notes: list[str]) -> list[Mapping[str, Any]]:
        """The report's ghosts (expected, not seen) that name an asset tag."""
        ghosts = self.report.get("ghosts")
        if not isinstance(ghosts, list):
            return []
        good = [g for g in ghosts if isinstance(g, Mapping) and text_or_none(g.get("asset_tag"))]
        if len(good) != len(ghosts):
            notes.append(f"report {self.session_id}: {len(ghosts) - len(good)} ghost(s) of an"
                         " unexpected shape skipped")
        return good
