"""The sightings the register benches send."""

from __future__ import annotations

import uuid

from sync.sighting import Sighting

__all__ = ["audit_sighting"]


def audit_sighting(session: str, room: str, asset_tag: str, wall_time: str) -> Sighting:
    """A ``verified`` sighting of ``asset_tag`` in ``room``, as the register benches send it."""
    return Sighting(
        sighting_id=str(uuid.uuid4()), device_id="bench", session_id=session, location=room,
        technician="bench", tag=None, asset_tag=asset_tag, payload=asset_tag,
        symbology="CODE128", source="bench", verdict="verified", recorded_location=None,
        reason=None, wall_time=wall_time, clock_synchronized=True, monotonic=0.0,
        boot_id="", firmware_version="")
