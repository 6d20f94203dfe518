"""The audit report: built from a finished session, printed for a person."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firmware.audit import AuditSession
from firmware.errors import StocktakerError
from firmware.sightings import Sighting, Stamp
from firmware.verdicts import VerdictKind

COUNT_KEYS = tuple(k.value for k in VerdictKind) + ("ghost",)


def build_report(
    session: AuditSession,
    stamp: Stamp,
    sightings: Sequence[Sighting],
    *,
    started_at: str,
    ended_at: str,
    clock_synchronized: bool,
) -> dict[str, Any]:
    """The report of one room's audit, as written to ``report-<session_id>.json``.

    ``clock_synchronized`` is True only if the wall clock was NTP-synchronised at the
    start, at every scan and at the end: otherwise the times are the device's best guess.
    """
    counts = {key: session.counts[key] for key in COUNT_KEYS}
    ghosts = session.ghosts()
    counts["ghost"] = len(ghosts)
    return {
        "session_id": stamp.session_id,
        "device_id": stamp.device_id,
        "location": session.location,
        "technician": stamp.technician,
        "started_at": started_at,
        "ended_at": ended_at,
        "clock_synchronized": clock_synchronized and all(s.clock_synchronized for s in sightings),
        "expected": len(session.expected),
        "counts": counts,
        "ghosts": [{"asset_tag": a.asset_tag, "serial": a.serial, "name": a.name} for a in ghosts],
        "mislocated": [{"asset_tag": s.asset_tag, "recorded_location": s.recorded_location}
                       for s in sightings if s.verdict == VerdictKind.MISLOCATED.value],
        "unregistered": [{"payload": s.payload, "symbology": s.symbology}
                         for s in sightings if s.verdict == VerdictKind.UNREGISTERED.value],
        "scans": [{"sighting_id": s.sighting_id, "asset_tag": s.asset_tag, "verdict": s.verdict,
                   "source": s.source, "at": s.wall_time, "payload": s.payload,
                   "symbology": s.symbology, "recorded_location": s.recorded_location,
                   "reason": s.reason} for s in sightings],
    }


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report JSON file written by stocktaker.

    Raises:
        StocktakerError: the file is missing, not JSON, or not a stocktaker report.
    """
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StocktakerError(f"{path}: no such report file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StocktakerError(f"{path}: not a readable report: {exc}") from None
    if not isinstance(report, dict) or not {"session_id", "counts", "scans"} <= report.keys():
        raise StocktakerError(f"{path}: not a stocktaker audit report")
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of a report for a terminal or an e-mail."""
    counts = report.get("counts", {})
    lines = [
        f"Audit of {report.get('location') or '(no room)'}"
        f" by {report.get('technician') or '(unknown)'} on {report.get('device_id')}",
        f"  session {report.get('session_id')}",
        f"  {report.get('started_at')} -> {report.get('ended_at')}"
        + ("" if report.get("clock_synchronized") else "  (device clock not synchronised)"),
        f"  verified {counts.get('verified', 0)} of {report.get('expected', 0)} expected",
        "  " + "  ".join(f"{k} {counts.get(k, 0)}" for k in COUNT_KEYS if k != "verified"),
    ]
    if report.get("ghosts"):
        lines.append("Ghosts (expected here, not seen):")
        lines += [f"  {g['asset_tag']:<16} {g.get('serial') or '':<14} {g.get('name') or ''}"
                  for g in report["ghosts"]]
    if report.get("mislocated"):
        lines.append("Mislocated (register says elsewhere):")
        lines += [f"  {m['asset_tag']:<16} registered at {m.get('recorded_location') or '(none)'}"
                  for m in report["mislocated"]]
    if report.get("unregistered"):
        lines.append("Unregistered (unknown to the register):")
        lines += [f"  {u['payload']:<30} {u.get('symbology') or ''}" for u in report["unregistered"]]
    rejected = [s for s in report.get("scans", []) if s.get("verdict") == "rejected"]
    if rejected:
        lines.append("Rejected labels:")
        lines += [f"  {s.get('payload')!s:<30} {s.get('reason') or ''}" for s in rejected]
    return "\n".join(lines)
