"""A sighting as a note on its Nautobot device, exactly once.

A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one note on its device
(``POST /api/extras/notes/``) carrying the scan time, room, technician, the scanner's
device id, the Nautobot device id and the verdict. The note's ``id`` is the sighting's
UUID: a replayed sighting is refused by Nautobot itself ("Note with this Id already
exists.") and answered ``duplicate``. ``register.audited_field`` (a date custom field) and
``register.move_mislocated`` change the device first, so a replay that finds the note made
has nothing left to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sync.nautobot_api import NautobotApi
from sync.nautobot_devices import NautobotDevices, ref_id
from sync.register import ItemResult, ItemStatus
from sync.sighting import Outgoing, Sighting

__all__ = ["NOTE_VERDICTS", "DeviceNotes", "note_tags", "note_text"]

NOTE_VERDICTS = frozenset({"verified", "mislocated", "recovered"})
"""Verdicts that become a note on the device; the others stay in the room's report only."""

_FIELD_MAX = 120
_DUPLICATE_ID = "already exists"

Devices = Mapping[str, list[dict[str, Any]]]
"""A batch's devices by asset tag (:meth:`NautobotDevices.by_tags`)."""


def note_text(sighting: Sighting, device_id: str) -> str:
    """The Markdown text of the note a sighting becomes on Nautobot device ``device_id``."""
    scanned = _text(sighting.wall_time) or "an unknown time"
    if sighting.wall_time_corrected:
        scanned += " (device time corrected after clock sync)"
    elif sighting.clock_synchronized is False:
        scanned += " (device clock not synchronised)"
    verdict = _text(sighting.verdict)
    if sighting.recorded_location:
        verdict += f" (recorded in {_text(sighting.recorded_location)})"
    lines = [
        f"stocktaker sighting {sighting.sighting_id}",
        f"- scanned: {scanned}",
        f"- room: {_text(sighting.location) or '(none)'}",
        f"- technician: {_text(sighting.technician) or '(none)'}",
        f"- scanner: {_text(sighting.device_id) or '(unknown)'}",
        f"- device: {device_id}",
        f"- verdict: {verdict}",
    ]
    return "\n".join(lines)


def _text(value: Any) -> str:
    """One line of free text for a note: control characters and Markdown markup out.

    ``_`` stays (``hh_07``): Nautobot's Markdown ignores it inside words.
    """
    text = " ".join(str(value if value is not None else "").split())
    text = "".join(ch for ch in text if ch.isprintable() and ch not in "<>[]`*|\\#")
    return text if len(text) <= _FIELD_MAX else text[: _FIELD_MAX - 3] + "..."


def note_tags(records: Sequence[Outgoing]) -> list[str]:
    """The asset tags of the sightings of a batch that become notes."""
    return [record.asset_tag.strip() for record in records
            if isinstance(record, Sighting) and record.verdict in NOTE_VERDICTS
            and record.asset_tag is not None and record.asset_tag.strip()]


class DeviceNotes:
    """Makes the note (and the device changes) of one sighting.

    Args:
        api: the requests.
        devices: locations, for a mislocated device's move.
        audited_field: ``register.audited_field`` ('' or None: none).
        move_mislocated: ``register.move_mislocated``.
    """

    def __init__(self, api: NautobotApi, devices: NautobotDevices, *,
                 audited_field: str | None, move_mislocated: bool) -> None:
        self.api = api
        self.devices = devices
        self.audited_field = audited_field
        self.move_mislocated = move_mislocated

    def push_one(self, sighting: Sighting, devices: Devices) -> ItemResult:
        """One sighting of a :data:`NOTE_VERDICTS` verdict as a result: accepted (note
        made), duplicate (Nautobot has it) or rejected (with Nautobot's reason).

        Raises:
            RegisterUnavailable: Nautobot cannot be reached or failed.
            RegisterRefused: it refused the token.
        """
        sighting_id = sighting.sighting_id
        try:
            note_id = str(uuid.UUID(sighting_id))
        except ValueError:
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              "the sighting id is not a UUID (Nautobot note ids are UUIDs)")
        device, problem = _device_of(sighting, devices)
        if device is None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, problem)
        changed = self._update_device(device, sighting)
        answer = self.api.request("POST", "/extras/notes/", body={
            "id": note_id, "assigned_object_type": "dcim.device",
            "assigned_object_id": device["id"], "note": note_text(sighting, device["id"])},
            ok=(200, 201, 400, 403, 404))
        if answer.status_code in (200, 201):
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, changed)
        message = self.api.refusal(answer)
        if answer.status_code == 400 and _DUPLICATE_ID in message and "id" in message:
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "note already made")
        return ItemResult(sighting_id, ItemStatus.REJECTED, f"Nautobot: {message}")

    def _update_device(self, device: dict[str, Any], sighting: Sighting) -> str | None:
        """Set the audited date and, when configured, move a mislocated device.

        Returns what could not be done (for the result's reason), or None.
        """
        changes: dict[str, Any] = {}
        problems: list[str] = []
        field_name = self.audited_field
        day = sighting.wall_time[:10]
        fields = device.get("custom_fields")
        fields = fields if isinstance(fields, dict) else {}
        if field_name and field_name not in fields:
            # Nautobot lists every custom field of devices here, empty or not, and would
            # ignore an unknown one in a PATCH without a word.
            problems.append(f"device not updated: Nautobot has no custom field {field_name!r}"
                            " on devices (register.audited_field)")
        elif field_name and len(day) == 10:
            current = fields.get(field_name)
            if not isinstance(current, str) or current < day:
                changes["custom_fields"] = {field_name: day}
        room = sighting.location
        if sighting.verdict == "mislocated" and self.move_mislocated and room:
            location = self.devices.location_id(room)
            if location is None:
                problems.append(f"not moved: Nautobot has no single location named {room!r}")
            elif ref_id(device.get("location")) != location:
                changes["location"] = location
        if changes:
            answer = self.api.request("PATCH", f"/dcim/devices/{device['id']}/",
                                      body=changes, ok=(200, 400, 403, 404))
            if answer.status_code != 200:
                problems.append(f"device not updated: Nautobot: {self.api.refusal(answer)}")
            else:
                # The batch looked the device up once: later sightings of it in the same
                # batch must see it as it is now.
                updated = self.api.json(answer)
                if isinstance(updated, dict) and updated.get("id") == device["id"]:
                    device.clear()
                    device.update(updated)
        return "; ".join(problems) or None


def _device_of(sighting: Sighting, devices: Devices) -> tuple[dict[str, Any] | None, str]:
    """The device a sighting names (from the batch's lookup), or None and why not."""
    tag = sighting.asset_tag
    if tag is None or not tag.strip():
        return None, f"a {sighting.verdict} sighting without an asset tag"
    what = f"asset tag {tag.strip()!r}"
    rows = devices.get(tag.strip(), [])
    if not rows:
        return None, f"Nautobot has no device with {what} (deleted since the audit?)"
    if len(rows) > 1:
        return None, f"Nautobot has {len(rows)} devices with {what}: not guessing"
    return rows[0], ""
