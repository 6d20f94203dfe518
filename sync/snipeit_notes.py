"""The free text of the notes stocktaker leaves in Snipe-IT: one line per field, capped.

Audits (one asset, or a bulk request), door-kiosk check-outs and check-ins and intakes all
write notes that a person reads in Snipe-IT's activity report and that stocktaker reads
back to find its own work (the markers). These are the pieces they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NOTE_FIELD_MAX", "audit_details", "clock_remark", "note_text"]

NOTE_FIELD_MAX = 120
"""The most characters one field of outside text (a room, a name) takes in a note."""


def note_text(value: Any) -> str:
    """One line of free text for a note: control characters out, length capped."""
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= NOTE_FIELD_MAX else text[: NOTE_FIELD_MAX - 3] + "..."


def clock_remark(record: Mapping[str, Any]) -> str:
    """What a note says about the device clock of a sighting ('' when it was fine)."""
    if record.get("wall_time_corrected"):
        return " (device time corrected after clock sync)"
    if record.get("clock_synchronized") is False:
        return " (device clock not synchronised)"
    return ""


def audit_details(record: Mapping[str, Any]) -> list[str]:
    """The parts of an audit note after the scan time: room, technician, device, verdict."""
    parts = []
    if record.get("location"):
        parts.append(f"in {note_text(record['location'])}")
    if record.get("technician"):
        parts.append(f"by {note_text(record['technician'])}")
    if record.get("device_id"):
        parts.append(f"device {note_text(record['device_id'])}")
    verdict = note_text(record.get("verdict"))
    if record.get("recorded_location"):
        verdict += f" (recorded in {note_text(record['recorded_location'])})"
    parts.append(f"verdict {verdict}")
    return parts
