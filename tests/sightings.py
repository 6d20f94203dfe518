"""Sightings for tests: a complete queued record as the device writes it, and its typed form."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sync.intake import is_intake
from sync.sighting import Outgoing, Sighting, read_queued


def sighting_record(**changes: Any) -> dict[str, Any]:
    """A ``verified`` sighting record with every field the device writes, and ``changes``
    (a fresh UUID unless ``sighting_id`` is given)."""
    record: dict[str, Any] = {
        "sighting_id": str(uuid.uuid4()), "device_id": "hh-01",
        "session_id": "5b0c1a62-9d4e-4f57-8a2b-3c4d5e6f7a80", "location": "Storage B",
        "technician": "ana", "tag": None, "asset_tag": "IT-0001", "payload": "IT-0001",
        "symbology": "CODE128", "source": "scanner", "verdict": "verified",
        "recorded_location": None, "reason": None, "wall_time": "2026-12-07T09:15:02.120Z",
        "clock_synchronized": True, "monotonic": 1234.5,
        "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7", "firmware_version": "0.1.0",
        "candidates": [], "person": None,
    }
    record.update(changes)
    return record


def sighting(**changes: Any) -> Sighting:
    """:func:`sighting_record` as a :class:`Sighting`."""
    return Sighting.from_record(sighting_record(**changes))


def typed(records: Iterable[Mapping[str, Any] | Outgoing]) -> list[Outgoing]:
    """Records as the sync engine hands them to a register: each read as the engine reads
    a queued one (:func:`sync.sighting.read_queued`). A sighting record that names only
    the fields a test is about takes :func:`sighting_record`'s values for the others."""
    found: list[Outgoing] = []
    for record in records:
        if not isinstance(record, Mapping):
            found.append(record)
        elif is_intake(record):
            found.append(read_queued(record))
        else:
            found.append(read_queued({**sighting_record(), **record}))
    return found
