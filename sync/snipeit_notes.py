"""The free text of the notes stocktaker leaves in Snipe-IT: one line per field, capped.

Audits (one asset, or a bulk request), door-kiosk check-outs and check-ins and intakes all
write notes that a person reads in Snipe-IT's activity report and that stocktaker reads
back to find its own work (the markers). These are the pieces they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync.intake import IDENTIFIER_KINDS, INTAKE_MARKER

if TYPE_CHECKING:
    from sync.intake import IntakeRecord
    from sync.sighting import Sighting

__all__ = ["NOTE_FIELD_MAX", "audit_details", "clock_remark", "intake_note", "note_text"]

NOTE_FIELD_MAX = 120
"""The most characters one field of outside text (a room, a name) takes in a note."""


def note_text(value: Any) -> str:
    """One line of free text for a note: control characters out, length capped."""
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= NOTE_FIELD_MAX else text[: NOTE_FIELD_MAX - 3] + "..."


def clock_remark(sighting: Sighting) -> str:
    """What a note says about the device clock of a sighting ('' when it was fine)."""
    if sighting.wall_time_corrected:
        return " (device time corrected after clock sync)"
    if sighting.clock_synchronized is False:
        return " (device clock not synchronised)"
    return ""


def audit_details(sighting: Sighting) -> list[str]:
    """The parts of an audit note after the scan time: room, technician, device, verdict."""
    parts = []
    if sighting.location:
        parts.append(f"in {note_text(sighting.location)}")
    if sighting.technician:
        parts.append(f"by {note_text(sighting.technician)}")
    if sighting.device_id:
        parts.append(f"device {note_text(sighting.device_id)}")
    verdict = note_text(sighting.verdict)
    if sighting.recorded_location:
        verdict += f" (recorded in {note_text(sighting.recorded_location)})"
    parts.append(f"verdict {verdict}")
    return parts


def intake_note(intake: IntakeRecord) -> str:
    """The register note of an intake's asset: the marker (``stocktaker intake <uuid>``),
    then when, where, by whom and what was scanned; one line, each field capped."""
    scanned = f"found {note_text(intake.wall_time)}"
    if not intake.clock_synchronized:
        scanned += " (device clock not synchronised)"
    parts = [f"{INTAKE_MARKER} {intake.intake_id}", scanned, f"in {note_text(intake.location)}"]
    if intake.technician:
        parts.append(f"by {note_text(intake.technician)}")
    parts.append(f"device {note_text(intake.device_id)}")
    for kind in IDENTIFIER_KINDS:
        if kind in intake.identifiers:
            parts.append(f"{kind} {note_text(intake.identifiers[kind])}")
    if intake.unknown_label:
        parts.append(f"unknown label {note_text(intake.unknown_label)}")
    return "; ".join(parts)

