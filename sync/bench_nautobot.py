"""``stocktaker bench nautobot``: 1,000 sightings synced to a real Nautobot as notes.

Run it against a **test** Nautobot (``python tests/nautobot/server.py start`` makes one):
it creates a location ``stocktaker bench <id>`` (type ``stocktaker bench``) with one device
per sighting, reads them back as the expected inventory, pushes one verified sighting per
device through :class:`~sync.nautobot.NautobotRegister` in batches as the sync engine
sends them, checks that every sighting left exactly one note (by the note ids), pushes the
first batch again (all duplicates), then deletes what it created.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import requests

from sync.settings import RegisterSettings
from sync.bench_sightings import audit_sighting
from sync.nautobot import NautobotRegister
from sync.nautobot_api import API_VERSION, api_base
from sync.register import ItemStatus
from sync.web import read_token

__all__ = ["bench_nautobot"]


class _Admin:
    """The few API calls that set the bench's devices up and clear them away."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.api = api_base(url)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}",
                                     "Accept": f"application/json; version={API_VERSION}"})

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.session.request(method, self.api + path, json=body, params=params,
                                      timeout=self.timeout)
        if not answer.ok:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status_code}"
                               f" {' '.join(answer.text.split())[:300]}")
        return answer.json() if answer.content else None

    def one(self, path: str, lookup: dict[str, Any], body: dict[str, Any]) -> str:
        found = self.call("GET", path, **lookup)["results"]
        object_id: str = found[0]["id"] if found else self.call("POST", path, body)["id"]
        return object_id


def bench_nautobot(url: str, token_file: Path, sightings: int = 1000,
                   batch_size: int = 50, timeout: float = 60.0) -> list[str]:
    """Sync ``sightings`` sightings to the Nautobot at ``url`` and time it.

    Returns:
        The printed lines: the inventory read, the sync rate, the duplicates check.

    Raises:
        RuntimeError: setting the bench's devices up failed (the message has Nautobot's).
    """
    admin = _Admin(url, read_token(token_file), timeout)
    run = uuid.uuid4().hex[:8]
    active = admin.one("/extras/statuses/", {"name": "Active"},
                       {"name": "Active", "content_types": ["dcim.device", "dcim.location"]})
    kind = admin.one("/dcim/location-types/", {"name": "stocktaker bench"},
                     {"name": "stocktaker bench", "content_types": ["dcim.device"]})
    room = f"stocktaker bench {run}"
    location = admin.call("POST", "/dcim/locations/", {"name": room, "location_type": kind,
                                                       "status": active})["id"]
    maker = admin.one("/dcim/manufacturers/", {"name": "stocktaker bench"},
                      {"name": "stocktaker bench"})
    model = admin.one("/dcim/device-types/", {"model": "bench-1u"},
                      {"manufacturer": maker, "model": "bench-1u", "u_height": 1})
    role = admin.one("/extras/roles/", {"name": "stocktaker bench"},
                     {"name": "stocktaker bench", "content_types": ["dcim.device"]})
    devices: list[dict[str, Any]] = []
    try:
        started = time.monotonic()
        for start in range(0, sightings, 250):
            devices += admin.call("POST", "/dcim/devices/", [
                {"name": f"bench-{run}-{n:05d}", "asset_tag": f"B{run}-{n:05d}",
                 "location": location, "status": active, "device_type": model, "role": role}
                for n in range(start, min(sightings, start + 250))])
        seeded = time.monotonic() - started
        config = RegisterSettings(adapter="nautobot", url=url, token_file=token_file,
                                timeout=timeout, locations=[room])
        records = [audit_sighting(run, room, d["asset_tag"], "2026-11-30T09:15:02.120Z")
                   for d in devices]
        with NautobotRegister(config, "bench") as register:
            started = time.monotonic()
            inventory = register.expected_assets()
            read = time.monotonic() - started
            answers = []
            started = time.monotonic()
            for start in range(0, len(records), batch_size):
                answers += register.push(records[start:start + batch_size])
            pushed = time.monotonic() - started
            replay = register.push(records[:batch_size])
        notes = _count_notes(admin, [r.sighting_id for r in records])
        accepted = sum(a.status is ItemStatus.ACCEPTED for a in answers)
        duplicates = sum(a.status is ItemStatus.DUPLICATE for a in replay)
        return [
            f"nautobot: {len(devices)} devices made in {seeded:.1f} s; expected inventory of"
            f" {len(inventory)} read in {read:.2f} s",
            f"nautobot: {len(records)} sightings synced in {pushed:.1f} s:"
            f" {len(records) / pushed:.1f} sightings/s ({pushed / len(records) * 1000:.0f} ms"
            f" each, batches of {batch_size}); accepted {accepted}",
            f"nautobot: notes made {notes} (one per sighting: {notes == len(records)});"
            f" first batch sent again: {duplicates} of {len(replay)} answered duplicate",
        ]
    finally:
        for start in range(0, len(devices), 250):
            admin.call("DELETE", "/dcim/devices/",
                       [{"id": d["id"]} for d in devices[start:start + 250]])
        admin.call("DELETE", f"/dcim/locations/{location}/")
        admin.session.close()


def _count_notes(admin: _Admin, note_ids: list[str]) -> int:
    """How many notes with these ids Nautobot holds."""
    found = 0
    for start in range(0, len(note_ids), 100):
        found += admin.call("GET", "/extras/notes/", id=note_ids[start:start + 100],
                            limit=1)["count"]
    return found
