"""Seeding and reading the test Nautobot through its REST API (what an admin would click).

``Seeder`` makes a location type that may hold devices, locations, a manufacturer, a
device type, a role and devices (bulk), the ``last_audited`` custom field, and reads
notes and devices back for the tests' assertions.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests

API_VERSION = "3.2"


class Seeder:
    """An admin's API session on the test Nautobot.

    Args:
        url: the Nautobot address.
        token: an API token with write permission.
    """

    def __init__(self, url: str, token: str) -> None:
        self.api = url.rstrip("/") + "/api"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}",
                                     "Accept": f"application/json; version={API_VERSION}"})
        self._ids: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        """Close the connections."""
        self.session.close()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One API call; raises AssertionError with Nautobot's answer unless 2xx."""
        # Generous: a bulk create of many devices on the development server takes tens of
        # seconds when the machine is busy; this is set-up, not what is measured.
        answer = self.session.request(method, self.api + path, json=body, params=params,
                                      timeout=300)
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
        return answer.json() if answer.content else None

    def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a paged list."""
        rows: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, limit=1000, offset=len(rows), **params)
            rows += page["results"]
            if not page.get("next"):
                return rows

    def _get_or_create(self, path: str, lookup: dict[str, Any], body: dict[str, Any]) -> str:
        key = (path, repr(sorted(lookup.items())))
        if key not in self._ids:
            found = self.call("GET", path, **lookup)["results"]
            self._ids[key] = found[0]["id"] if found else self.call("POST", path, body)["id"]
        return self._ids[key]

    # -- the objects a device needs --------------------------------------------------------

    def location(self, name: str) -> str:
        """The id of location ``name`` (a "Room" type that may hold devices), made if new."""
        room_type = self._get_or_create("/dcim/location-types/", {"name": "Room"}, {
            "name": "Room", "content_types": ["dcim.device"]})
        return self._get_or_create("/dcim/locations/", {"name": name}, {
            "name": name, "location_type": room_type, "status": self.status("Active")})

    def status(self, name: str) -> str:
        """The id of status ``name`` (Nautobot makes Active, Decommissioning... itself)."""
        return self._get_or_create("/extras/statuses/", {"name": name}, {
            "name": name, "content_types": ["dcim.device", "dcim.location"]})

    def device_type(self) -> str:
        """The id of one server model."""
        maker = self._get_or_create("/dcim/manufacturers/", {"name": "Acme"}, {"name": "Acme"})
        return self._get_or_create("/dcim/device-types/", {"model": "R740"}, {
            "manufacturer": maker, "model": "R740", "u_height": 2})

    def role(self) -> str:
        """The id of the "Server" device role."""
        return self._get_or_create("/extras/roles/", {"name": "Server"}, {
            "name": "Server", "content_types": ["dcim.device"]})

    def audited_field(self, key: str = "last_audited") -> None:
        """A date custom field ``key`` on devices, made if new."""
        # The custom-field list has no ``key`` filter: look through it.
        if not any(row.get("key") == key for row in self.every("/extras/custom-fields/")):
            self.call("POST", "/extras/custom-fields/", {
                "key": key, "label": key.replace("_", " ").capitalize(), "type": "date",
                "content_types": ["dcim.device"]})

    def devices(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Make devices in one bulk call; each spec: asset_tag, serial, location, status."""
        body = [{"name": spec.get("name") or f"srv-{uuid.uuid4().hex[:10]}",
                 "asset_tag": spec.get("asset_tag"), "serial": spec.get("serial", ""),
                 "location": self.location(spec["location"]),
                 "status": self.status(spec.get("status", "Active")),
                 "device_type": self.device_type(), "role": self.role()} for spec in specs]
        made: list[dict[str, Any]] = []
        for start in range(0, len(body), 100):
            made += self.call("POST", "/dcim/devices/", body[start:start + 100])
        return made

    # -- reading back ----------------------------------------------------------------------

    def notes_of(self, device_id: str) -> list[dict[str, Any]]:
        """The notes on one device."""
        return self.every("/extras/notes/", assigned_object_id=device_id)

    def note(self, note_id: str) -> dict[str, Any] | None:
        """The note with id ``note_id``, or None."""
        answer = self.session.get(f"{self.api}/extras/notes/{note_id}/", timeout=60)
        return answer.json() if answer.status_code == 200 else None

    def device(self, device_id: str) -> dict[str, Any]:
        """One device, with related objects one level deep."""
        return self.call("GET", f"/dcim/devices/{device_id}/", depth=1)

    def delete_device(self, device_id: str) -> None:
        """Delete one device."""
        answer = self.session.delete(f"{self.api}/dcim/devices/{device_id}/", timeout=60)
        assert answer.status_code == 204, answer.text
