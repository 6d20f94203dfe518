"""Snipe-IT's bulk audit (``POST /api/v1/hardware/audit/bulk``): notes, groups and answers.

One bulk request audits many assets with the same details: one ``note``, one
``location_id``, one ``update_location``. Sightings are therefore grouped by everything
their note and body would say (:func:`group_key`), and each group is sent as one request
(or a few, when the server takes fewer ids at a time).

A bulk note cannot name every sighting it stands for, so a bulk audit is recognised in the
activity log by its session instead: the note starts with
``stocktaker bulk audit of session <session-id>`` and the log row names the asset
(``item.id``). A sighting of asset *A* in session *S* is already audited when the log holds
a bulk audit of session *S* for asset *A* (see ``docs/snipeit.md``, "Exactly once").
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sync.sighting import Sighting
from sync.snipeit_notes import audit_details, clock_remark, note_text

__all__ = ["BULK_MARKER", "BulkAnswer", "bulk_note", "group_key",
           "message_text", "parse_bulk_answer", "session_in_bulk_note"]

BULK_MARKER = "stocktaker bulk audit of session"
"""Starts every bulk audit note: ``stocktaker bulk audit of session <session-id>``."""

_BULK_RE = re.compile(re.escape(BULK_MARKER) + r" ([A-Za-z0-9-]{8,64})")


def group_key(sighting: Sighting, location_id: int | None,
              update_location: bool) -> tuple[Any, ...]:
    """What sightings must share to go into one bulk request: the body and the note."""
    return (sighting.session_id, sighting.location, location_id, update_location,
            sighting.technician, sighting.device_id, sighting.verdict,
            sighting.recorded_location, clock_remark(sighting))


def bulk_note(records: Sequence[Sighting], batch_id: str) -> str:
    """The note of one bulk audit of ``records`` (all of one :func:`group_key`).

    It carries the session marker, the request's own id (``batch``), how many sightings it
    stands for and the span of their scan times, and the room, technician, device and
    verdict they share.
    """
    first = records[0]
    times = sorted(note_text(r.wall_time) for r in records if r.wall_time)
    parts = [f"{BULK_MARKER} {first.session_id}", f"batch {batch_id}"]
    if not times:
        scanned = "scanned at an unknown time"
    elif times[0] == times[-1]:
        scanned = f"scanned {times[0]}"
    else:
        scanned = f"scanned {times[0]} to {times[-1]}"
    count = f"{len(records)} sighting{'s' if len(records) != 1 else ''}"
    parts.append(f"{count} {scanned}{clock_remark(first)}")
    return "; ".join(parts + audit_details(first))


def session_in_bulk_note(note: str | None) -> str | None:
    """The session id a bulk audit note (as the activity report shows it) names, or None."""
    if not note:
        return None
    match = _BULK_RE.search(html.unescape(note))
    return match[1] if match else None


class BulkAnswer:
    """A bulk audit answer: ``{status, messages, results: [{id, status, messages, payload}]}``.

    Attributes:
        status: ``success``, ``partial`` or ``error``.
        rows: each result row by asset id.
        message: the request's own message (a request-level error: ``results`` empty).
        ids_refused: the request was refused for its ``ids`` (e.g. too many of them).
    """

    def __init__(self, status: str, rows: dict[int, Mapping[str, Any]], message: str,
                 ids_refused: bool) -> None:
        self.status = status
        self.rows = rows
        self.message = message
        self.ids_refused = ids_refused

    @property
    def refused_whole(self) -> bool:
        """The request was refused before any row was processed."""
        return self.status == "error" and not self.rows


def parse_bulk_answer(data: Any) -> BulkAnswer | None:
    """The bulk answer in ``data``, or None when ``data`` is not one (no ``results`` list)."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return None
    status = data.get("status")
    if status not in ("success", "partial", "error"):
        return None
    rows: dict[int, Mapping[str, Any]] = {}
    for row in data["results"]:
        if isinstance(row, dict):
            try:
                # A missing id (None) raises TypeError like any other non-number.
                rows[int(row.get("id"))] = row  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
    messages = data.get("messages")
    ids_refused = isinstance(messages, dict) and "ids" in messages
    return BulkAnswer(status, rows, message_text(messages), ids_refused)


def message_text(messages: Any) -> str:
    """One line from Snipe-IT's ``messages`` (a string or ``{field: [texts]}``), unescaped."""
    if isinstance(messages, dict):
        parts = []
        for field, value in messages.items():
            texts = value if isinstance(value, list) else [value]
            parts.append(f"{field}: {' '.join(str(t) for t in texts)}")
        return html.unescape("; ".join(parts)) or "error"
    return html.unescape(str(messages)) if messages not in (None, "") else "error"

