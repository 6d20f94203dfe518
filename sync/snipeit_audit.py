"""A sighting as a Snipe-IT audit, exactly once: the note, the activity log, one audit call.

- A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one
  ``POST /hardware/audit`` whose note carries the scan time, room, technician, device and
  the marker ``stocktaker sighting <uuid>`` (Snipe-IT takes no audit time from a client).
  With ``register.move_mislocated`` a mislocated asset's location is updated too.
- Audits are not idempotent in Snipe-IT (every call logs one more audit), so before an
  audit is sent the activity report is read for the sighting's marker: once per room
  session and process, and again for each sighting whose earlier audit call ended without
  a clear answer (timeout, reset, 5xx, unreadable body). A sighting found there is
  answered ``duplicate`` and not audited again. The same read finds the session's bulk
  audits (see :mod:`sync.snipeit_bulk_audit`) by asset.
"""

from __future__ import annotations

import html
import re
from typing import Any

from sync.errors import RegisterUnavailable
from sync.register import ItemResult, ItemStatus
from sync.sighting import Sighting
from sync.snipeit_api import SnipeItApi, Throttled, error_message
from sync.snipeit_assets import SnipeItAssets
from sync.snipeit_bulk import session_in_bulk_note
from sync.snipeit_notes import audit_details, clock_remark, note_text

__all__ = ["AUDIT_VERDICTS", "MARKER", "SAFE_ID", "SnipeItAudits", "audit_note",
           "sighting_in_note"]

AUDIT_VERDICTS = frozenset({"verified", "mislocated", "recovered"})
"""Verdicts sent to Snipe-IT as an audit; the others stay in the room's report only."""

MARKER = "stocktaker sighting"
"""Starts the part of every audit note that names the sighting: ``stocktaker sighting <uuid>``."""

# Sighting and session ids go into notes and activity-report searches as they are: the
# report HTML-escapes the search and renders notes as Markdown, which leaves only letters,
# digits and '-' untouched.
SAFE_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
"""A sighting or session id that can be written into a note and searched for."""
_MARKER_RE = re.compile(re.escape(MARKER) + r" ([A-Za-z0-9-]{8,64})")


def audit_note(sighting: Sighting) -> str:
    """The note of the audit a sighting becomes.

    Snipe-IT records the server's time as the audit time and takes none from the client,
    so the scan time goes into the note, with the marker that makes the audit findable
    (``stocktaker sighting <uuid>``), the session, room, technician and device.
    """
    parts = [f"{MARKER} {sighting.sighting_id}"]
    if SAFE_ID.fullmatch(sighting.session_id):
        parts.append(f"session {sighting.session_id}")
    scanned = note_text(sighting.wall_time) or "at an unknown time"
    parts.append(f"scanned {scanned}{clock_remark(sighting)}")
    return "; ".join(parts + audit_details(sighting))


def sighting_in_note(note: str | None) -> str | None:
    """The sighting id an audit note (as the activity report shows it) names, or None."""
    if not note:
        return None
    match = _MARKER_RE.search(html.unescape(note))
    return match[1] if match else None


class SnipeItAudits:
    """Audits one sighting at a time, and knows which are in Snipe-IT already.

    Args:
        api: the requests.
        assets: asset ids and rooms.
        move_mislocated: ``register.move_mislocated``.

    Attributes:
        audited: sighting ids known to be audited (answered here, or found in the log).
        bulk_done: session id -> asset ids bulk-audited in that session.
        uncertain_sessions: sessions whose bulk call ended unclearly: read the log again.
    """

    def __init__(self, api: SnipeItApi, assets: SnipeItAssets, move_mislocated: bool) -> None:
        self.api = api
        self.assets = assets
        self.move_mislocated = move_mislocated
        self.audited: set[str] = set()
        self.bulk_done: dict[str, set[int]] = {}
        self.uncertain_sessions: set[str] = set()
        self._uncertain: set[str] = set()    # an audit call ended unclearly: look first
        self._sessions_read: set[str] = set()  # sessions whose audits were read from the log
        self._looked_up: set[str] = set()    # sightings looked up one by one, not found

    def push_one(self, sighting: Sighting) -> ItemResult:
        """One sighting of an :data:`AUDIT_VERDICTS` verdict as a result: accepted
        (audited now), duplicate (in the log already) or rejected.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached, failed or throttled; the log
                is read before the sighting is audited again.
        """
        sighting_id, verdict = sighting.sighting_id, sighting.verdict
        if not SAFE_ID.fullmatch(sighting_id):
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              "sighting id cannot be written into an audit note (use a UUID)")
        tag = sighting.asset_tag
        if tag is None or not tag.strip():
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"a {verdict} sighting"
                              " without an asset tag")
        session = sighting.session_id
        if self.already_audited(sighting_id, session):
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "already audited")
        if self.bulk_done.get(session):
            asset_id = self.assets.asset_ids({tag}, set()).get(tag.casefold())
            if asset_id in self.bulk_done[session]:
                return ItemResult(sighting_id, ItemStatus.DUPLICATE,
                                  "already audited in this session (bulk audit)")
        return self._audit(sighting, tag)

    def already_audited(self, sighting_id: str, session: str) -> bool:
        """Whether the sighting's audit is in Snipe-IT already, reading the log if needed."""
        if sighting_id in self.audited:
            return True
        if session in self.uncertain_sessions:
            # A bulk call of this session ended unclearly: its audits may be in the log.
            self._read_session(session)
            self.uncertain_sessions.discard(session)
            if sighting_id in self.audited:
                return True
        if sighting_id in self._uncertain:
            found = sighting_id in self.audited_sightings(sighting_id)
            self._uncertain.discard(sighting_id)
        elif SAFE_ID.fullmatch(session):
            if session in self._sessions_read:
                return False
            # One read finds every audit of the room sent by an earlier process (killed,
            # or cut off from the network before it heard the answer).
            self._read_session(session)
            return sighting_id in self.audited
        elif sighting_id in self._looked_up:
            return False
        else:
            found = sighting_id in self.audited_sightings(sighting_id)
            self._looked_up.add(sighting_id)
        if found:
            self.audited.add(sighting_id)
        return found

    def audited_sightings(self, search: str) -> set[str]:
        """The sighting ids of every audit whose note contains ``search``, from the log.

        Raises:
            RegisterUnavailable, RegisterError: the activity report could not be read.
        """
        rows = self.api.list_all("/reports/activity", {
            "search": search, "action_type": "audit", "sort": "id", "order": "asc"})
        return {sid for row in rows if (sid := sighting_in_note(row.get("note"))) is not None}

    def found_in_log(self, sighting_id: str) -> bool:
        """Whether any activity-log note (check-out, check-in, audit) names the sighting."""
        rows = self.api.list_all("/reports/activity", {"search": sighting_id, "sort": "id",
                                                       "order": "asc"})
        return any(sighting_in_note(row.get("note")) == sighting_id for row in rows)

    def _read_session(self, session: str) -> None:
        """Read every audit of ``session`` from the log: per-sighting and bulk ones."""
        rows = self.api.list_all("/reports/activity", {
            "search": session, "action_type": "audit", "sort": "id", "order": "asc"})
        done = self.bulk_done.setdefault(session, set())
        for row in rows:
            sighting = sighting_in_note(row.get("note"))
            if sighting is not None:
                self.audited.add(sighting)
            elif session_in_bulk_note(row.get("note")) == session:
                item = row.get("item")
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    done.add(item["id"])
        self._sessions_read.add(session)

    def _audit(self, sighting: Sighting, tag: str) -> ItemResult:
        sighting_id = sighting.sighting_id
        room = sighting.location
        location, problem = self.assets.room(room) if room else (None, None)
        body: dict[str, Any] = {"asset_tag": tag, "note": audit_note(sighting)}
        if location is not None:
            body["location_id"] = location
            if sighting.verdict == "mislocated" and self.move_mislocated:
                body["update_location"] = 1
        try:
            data = self.api.read("POST", "/hardware/audit", body=body)
            if not isinstance(data, dict) or data.get("status") not in ("success", "error"):
                raise RegisterUnavailable("POST /hardware/audit: not a Snipe-IT answer:"
                                          f" {str(data)[:200]}")
        except Throttled:
            raise
        except RegisterUnavailable:
            # The audit may have been logged before the answer was lost: look before
            # sending it again.
            self._uncertain.add(sighting_id)
            raise
        message = error_message(data)
        if message is not None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
        self.audited.add(sighting_id)
        return ItemResult(sighting_id, ItemStatus.ACCEPTED, problem)
