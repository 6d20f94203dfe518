"""A room's audit report: built from the finished session, read back and printed for a
person (``stocktaker report``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sync.asset import Asset
from firmware.audit_rules import AuditSession
from firmware.errors import ConfigError
from firmware.identity import NO_ID_COLUMN
from firmware.sightings import Stamp
from sync.sighting import Sighting
from firmware.text import terminal_safe
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
    interrupted: bool = False,
    resumed: int = 0,
    repeat_reads_dropped: int = 0,
    campaign: str | None = None,
    labels: Sequence[dict[str, Any]] = (),
    intakes: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The report of one room's audit, as written to ``report-<session_id>.json``.

    ``clock_synchronized`` is True only if the wall clock was NTP-synchronised at the
    start, at every scan and at the end: otherwise the times are the device's best guess.
    ``interrupted`` marks a room closed at start because it was left open too long after
    a power cut (``ended_at`` is then its last scan); ``resumed`` counts how often the
    room was resumed after one. ``repeat_reads_dropped`` counts the reads dropped as repeats
    within ``audit.repeat_window`` since the room was opened or last resumed.
    ``campaign`` names the audit campaign the session is part of (None: none).
    ``labels`` are the asset labels asked for during the audit
    (:func:`firmware.print_jobs.labels_for_report`); ``intakes`` the intake records
    (:class:`sync.intake.IntakeRecord`) made in the room: assets the register lacked.
    """
    counts = {key: session.counts[key] for key in COUNT_KEYS}
    ghosts = session.ghosts()
    counts["ghost"] = len(ghosts)
    by_tag = {a.asset_tag: a for a in session.inventory.assets}

    def of(verdict: VerdictKind) -> list[Sighting]:
        return [s for s in sightings if s.verdict == verdict.value]

    return {
        "session_id": stamp.session_id,
        "device_id": stamp.device_id,
        "location": session.location,
        "technician": stamp.technician,
        "campaign": campaign,
        "started_at": started_at,
        "ended_at": ended_at,
        "clock_synchronized": clock_synchronized and all(s.clock_synchronized for s in sightings),
        "interrupted": interrupted,
        "resumed": resumed,
        "repeat_reads_dropped": repeat_reads_dropped,
        "expected": len(session.expected),
        "counts": counts,
        "ghosts": [{"asset_tag": a.asset_tag, "serial": a.serial, "name": a.name} for a in ghosts],
        "mislocated": [{"asset_tag": s.asset_tag, "recorded_location": s.recorded_location}
                       for s in of(VerdictKind.MISLOCATED)],
        "unregistered": [{"payload": s.payload, "symbology": s.symbology, "reason": s.reason}
                         for s in of(VerdictKind.UNREGISTERED)],
        "recovered": [_recovered(s, by_tag.get(s.asset_tag or "")) for s in of(VerdictKind.RECOVERED)],
        "ambiguous": [{"payload": s.payload, "symbology": s.symbology,
                       "candidates": [_candidate(t, by_tag.get(t)) for t in s.candidates]}
                      for s in of(VerdictKind.AMBIGUOUS)],
        "overdue": _overdue(session, sightings, ghosts, by_tag),
        "warnings": _warnings(session, sightings),
        "labels": [dict(label) for label in labels],
        "intakes": [{"intake_id": i.get("sighting_id"), "asset_tag": i.get("asset_tag"),
                     "identifiers": dict(i.get("identifiers") or {}),
                     "unknown_label": i.get("unknown_label"), "at": i.get("wall_time")}
                    for i in intakes],
        "scans": [{"sighting_id": s.sighting_id, "asset_tag": s.asset_tag, "verdict": s.verdict,
                   **_register_fields(by_tag.get(s.asset_tag or "")),
                   "source": s.source, "at": s.wall_time, "payload": s.payload,
                   "symbology": s.symbology, "recorded_location": s.recorded_location,
                   "reason": s.reason, "gtin": (s.tag or {}).get("gtin"),
                   "candidates": list(s.candidates),
                   # what a later correction of a time taken before NTP needs
                   "clock_synchronized": s.clock_synchronized, "monotonic": s.monotonic,
                   "boot_id": s.boot_id} for s in sightings],
    }


def _register_fields(asset: Asset | None) -> dict[str, str]:
    """The register's serial and name of a scan's asset (empty for a label it does not know)."""
    return {"serial": asset.serial if asset else "", "name": asset.name if asset else ""}


_FOUND = (VerdictKind.VERIFIED.value, VerdictKind.MISLOCATED.value, VerdictKind.RECOVERED.value)


def _overdue(session: AuditSession, sightings: Sequence[Sighting], ghosts: Sequence[Asset],
             by_tag: dict[str, Asset]) -> dict[str, Any]:
    """Assets whose audit was overdue on the session's date: found here, and ghosts."""
    found: dict[str, dict[str, Any]] = {}
    for sighting in sightings:
        asset = by_tag.get(sighting.asset_tag or "")
        if sighting.verdict in _FOUND and asset is not None and session.overdue(asset):
            found.setdefault(asset.asset_tag, {
                "asset_tag": asset.asset_tag, "name": asset.name,
                "next_audit_date": asset.next_audit_date, "verdict": sighting.verdict})
    return {
        "as_of": session.today.isoformat() if session.today is not None else None,
        "found": list(found.values()),
        "ghosts": [{"asset_tag": a.asset_tag, "serial": a.serial, "name": a.name,
                    "next_audit_date": a.next_audit_date}
                   for a in ghosts if session.overdue(a)],
    }


def _recovered(sighting: Sighting, asset: Asset | None) -> dict[str, Any]:
    return {"asset_tag": sighting.asset_tag, "name": asset.name if asset else "",
            "status": asset.status if asset else "",
            "recorded_location": sighting.recorded_location}


def _candidate(asset_tag: str, asset: Asset | None) -> dict[str, Any]:
    if asset is None:
        return {"asset_tag": asset_tag, "serial": "", "name": "", "location": ""}
    return {"asset_tag": asset.asset_tag, "serial": asset.serial, "name": asset.name,
            "location": asset.location}


def _warnings(session: AuditSession, sightings: Sequence[Sighting]) -> list[str]:
    """What the report's reader should know about the register data behind its verdicts.

    Shared identifiers are listed when they concern this room's expected assets or an
    asset scanned here; the register-wide list is in the log at start.
    """
    concerned = {a.asset_tag for a in session.expected}
    for s in sightings:
        concerned.update(s.candidates)
        if s.asset_tag:
            concerned.add(s.asset_tag)
    found = [w.message() for w in session.inventory.index.warnings
             if any(a.asset_tag in concerned for a in w.assets)]
    if any(s.reason == NO_ID_COLUMN for s in sightings):
        found.append("register URL labels (.../hardware/<id>) were scanned, but the expected"
                     " inventory has no id column: they count as unregistered")
    return found


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report JSON file written by stocktaker.

    Only the top level is checked here (an object with ``session_id``, ``counts`` and
    ``scans``): :func:`format_report` shows whatever is below it as far as it can.

    Raises:
        ConfigError: the file is missing, unreadable, over 16 MiB, not UTF-8 JSON, or not
            a stocktaker report (exit code 2, as for any input file).
    """
    path = Path(path)
    limit = 16 * 1024 * 1024  # a room's report is tens of kilobytes
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such report file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the report: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: over {limit >> 20} MiB, not a stocktaker audit report")
    try:
        report = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a stocktaker audit report"
                          f" (byte {exc.start} is not UTF-8 text)") from None
    # ValueError: not JSON, or an integer too long; RecursionError: nested too deeply.
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a stocktaker audit report (not JSON: {exc})") from None
    if not isinstance(report, dict):
        raise ConfigError(f"{path}: not a stocktaker audit report (not a JSON object)")
    missing = [key for key in ("session_id", "counts", "scans") if key not in report]
    if missing:
        raise ConfigError(f"{path}: not a stocktaker audit report (no {', '.join(missing)})")
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of a report for a terminal or an e-mail.

    Every value is shown through :func:`firmware.text.terminal_safe`: a report holds text
    from labels and from the register. A part of an unexpected shape (a report edited by
    hand, or damaged) is shown as far as it goes and named in a last line; this never
    raises.
    """
    notes: list[str] = []
    if not isinstance(report, dict):
        notes.append("the report is not a JSON object")
        report = {}
    counts = _part(report, "counts", dict, notes)
    lines = [
        f"Audit of {_show(report.get('location'), '(no room)')}"
        f" by {_show(report.get('technician'), '(unknown)')}"
        f" on {_show(report.get('device_id'), '(unknown)')}",
        f"  session {_show(report.get('session_id'), '?')}",
        f"  {_show(report.get('started_at'), '?')} -> {_show(report.get('ended_at'), '?')}"
        + ("" if report.get("clock_synchronized") is True else "  (device clock not synchronised)"),
    ]
    if isinstance(report.get("campaign"), str) and report["campaign"]:
        lines.append(f"  campaign {_show(report['campaign'])}")
    if report.get("interrupted") is True:
        lines.append("  (interrupted: closed after a power cut)")
    resumed = report.get("resumed")
    if type(resumed) is int and resumed > 0:
        lines.append(f"  resumed {_show(resumed)} time{'' if resumed == 1 else 's'}"
                     " after an interruption")
    elif resumed is not None and not (type(resumed) is int and resumed == 0):
        notes.append("resumed is not a count")
    dropped = report.get("repeat_reads_dropped")
    if type(dropped) is int and dropped > 0:
        lines.append(f"  {_show(dropped)} read{'' if dropped == 1 else 's'} of the same label"
                     " within audit.repeat_window taken as one")
    elif dropped is not None and not (type(dropped) is int and dropped == 0):
        notes.append("repeat_reads_dropped is not a count")
    lines += [
        f"  verified {_show(counts.get('verified', 0))} of {_show(report.get('expected', 0))}"
        " expected",
        "  " + "  ".join(f"{_show(k)} {_show(counts.get(k, 0))}" for k in _count_keys(counts)),
    ]
    if ghosts := _entries(report, "ghosts", "asset_tag", notes):
        lines.append("Ghosts (expected here, not seen):")
        lines += [f"  {_show(g.get('asset_tag')):<16} {_show(g.get('serial')):<14}"
                  f" {_show(g.get('name'))}" for g in ghosts]
    if mislocated := _entries(report, "mislocated", "asset_tag", notes):
        lines.append("Mislocated (register says elsewhere):")
        lines += [f"  {_show(m.get('asset_tag')):<16} registered at"
                  f" {_show(m.get('recorded_location'), '(none)')}" for m in mislocated]
    if unregistered := _entries(report, "unregistered", "payload", notes):
        lines.append("Unregistered (unknown to the register):")
        lines += [f"  {_show(u.get('payload')):<30} {_show(u.get('symbology'))}"
                  + (f"  ({_show(u['reason'])})" if u.get("reason") else "")
                  for u in unregistered]
    if recovered := _entries(report, "recovered", "asset_tag", notes):
        lines.append("Recovered (the register records them as lost):")
        lines += [f"  {_show(r.get('asset_tag')):<16} {_show(r.get('name'))}"
                  f"  status {_show(r.get('status'), '(none)')}, registered at"
                  f" {_show(r.get('recorded_location'), '(none)')}" for r in recovered]
    if ambiguous := _entries(report, "ambiguous", "payload", notes):
        lines.append("Ambiguous (the label matches several assets):")
        for entry in ambiguous:
            lines.append(f"  {_show(entry.get('payload')):<30} {_show(entry.get('symbology'))}")
            lines += [f"    {_show(c.get('asset_tag')):<16} {_show(c.get('serial')):<14}"
                      f" {_show(c.get('name'))}  at {_show(c.get('location'), '(none)')}"
                      for c in _entries(entry, "candidates", "asset_tag", notes)]
    overdue = _part(report, "overdue", dict, notes)
    as_of = f" on {_show(overdue['as_of'])}" if overdue.get("as_of") else ""
    if found := _entries(overdue, "found", "asset_tag", notes):
        lines.append(f"Overdue for audit{as_of}, found:")
        lines += [f"  {_show(f.get('asset_tag')):<16} due {_show(f.get('next_audit_date'), '?'):<10}"
                  f"  {_show(f.get('verdict'))}  {_show(f.get('name'))}" for f in found]
    if late_ghosts := _entries(overdue, "ghosts", "asset_tag", notes):
        lines.append(f"Overdue for audit{as_of}, not seen (overdue ghosts):")
        lines += [f"  {_show(g.get('asset_tag')):<16} due {_show(g.get('next_audit_date'), '?'):<10}"
                  f"  {_show(g.get('serial')):<14} {_show(g.get('name'))}" for g in late_ghosts]
    scans = _entries(report, "scans", "payload", notes)
    if rejected := [s for s in scans if s.get("verdict") == "rejected"]:
        lines.append("Rejected labels:")
        lines += [f"  {_show(s.get('payload')):<30} {_show(s.get('reason'))}" for s in rejected]
    if labels := _entries(report, "labels", "asset_tag", notes):
        lines.append("Labels printed:")
        lines += [f"  {_show(label.get('asset_tag')):<16} {_show(label.get('state'))}"
                  + (f" at {_show(label['printed_at'])}" if label.get("printed_at") else "")
                  for label in labels]
    if intakes := _entries(report, "intakes", "intake_id", notes):
        lines.append("Intakes (assets the register lacks):")
        lines += [f"  {_show(i.get('asset_tag'), '(register gives a tag)'):<16} "
                  + ", ".join(f"{_show(kind)} {_show(value)}" for kind, value
                              in (i.get("identifiers") or {}).items()
                              if isinstance(i.get("identifiers"), dict))
                  + (f"; label {_show(i['unknown_label'])}" if i.get("unknown_label") else "")
                  for i in intakes]
    warnings = report.get("warnings")
    if isinstance(warnings, str):
        warnings = [warnings]
    if warnings := _part({"warnings": warnings}, "warnings", list, notes):
        lines.append("Warnings:")
        lines += [f"  {_show(w)}" for w in warnings]
    if notes:
        lines.append(f"(not as stocktaker writes it, shown as far as possible: {'; '.join(notes)})")
    return "\n".join(lines)


def _show(value: Any, default: str = "") -> str:
    """A report value as one safe line; ``default`` for a missing or empty one."""
    if value is None or (isinstance(value, str) and not value):
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return terminal_safe(value)


def _part(report: dict[str, Any], key: str, kind: type, notes: list[str]) -> Any:
    """``report[key]`` if it is of ``kind`` (dict or list), else an empty one and a note."""
    value = report.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        notes.append(f"{_show(key)} is not {'an object' if kind is dict else 'a list'}")
        return kind()
    return value


def _entries(report: dict[str, Any], key: str, main: str, notes: list[str]) -> list[dict]:
    """The objects listed under ``key``; anything else in the list is shown as its ``main``."""
    entries = _part(report, key, list, notes)
    odd = sum(not isinstance(entry, dict) for entry in entries)
    if odd:
        notes.append(f"{odd} of the {_show(key)} entries are not objects")
    return [entry if isinstance(entry, dict) else {main: entry} for entry in entries]


def _count_keys(counts: dict[str, Any]) -> list[str]:
    """The counts shown after ``verified``: the original six always, newer ones when present."""
    always = ("mislocated", "unregistered", "retired", "repeat", "rejected", "ghost")
    known = [key for key in COUNT_KEYS if key != "verified" and (key in always or key in counts)]
    return known + [key for key in counts if key not in COUNT_KEYS]
