"""What the ``nautobot`` adapter reads from Nautobot: devices as assets, devices by asset
tag, locations by name.

The expected inventory is the devices of the locations in ``register.locations`` (each
with its child locations; ``/api/dcim/devices/?location=…``, paged), or every device when
the list is empty. Each becomes an :class:`~sync.asset.Asset` with its asset tag, serial,
name, location and status; devices without an asset tag are left out (logged): a
sighting names its device by tag.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sync.asset import Asset
from sync.nautobot_api import NautobotApi

__all__ = ["NautobotDevices", "ref_id"]

log = logging.getLogger(__name__)

_TAGS_PER_REQUEST = 100


class NautobotDevices:
    """Nautobot's devices and locations, with the locations this process looked up.

    Args:
        api: the requests.
    """

    def __init__(self, api: NautobotApi) -> None:
        self.api = api
        self._locations: dict[str, str | None] = {}

    def in_locations(self, locations: Sequence[str]) -> list[Asset]:
        """The devices of ``locations`` (and their child locations), or all when empty.

        Raises:
            RegisterUnavailable: Nautobot cannot be reached now, or the list kept
                changing while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        scopes: list[str | None] = [*locations] or [None]
        found: dict[str, Asset] = {}
        untagged: set[str] = set()
        for location in scopes:
            params = {"depth": "1"} if location is None else {"depth": "1", "location": location}
            for row in self.api.list_all("/dcim/devices/", params):
                asset = _asset(row)
                if asset is not None:
                    found.setdefault(asset.origin, asset)
                elif isinstance(row.get("id"), str):
                    untagged.add(row["id"])
        if untagged:
            log.warning("%d Nautobot devices have no asset tag and are not in the expected"
                        " inventory", len(untagged))
        return list(found.values())

    def by_tags(self, tags: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Nautobot's devices for each asset tag: exact first, else ignoring case.

        One request per 100 tags (the filter takes many values), and one more for the
        tags not found exactly; a tag that names no device maps to an empty list.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`in_locations`.
        """
        wanted = list(dict.fromkeys(tags))
        found: dict[str, list[dict[str, Any]]] = {tag: [] for tag in wanted}
        # depth 0: related objects as ids, which is all a note and a PATCH need (and
        # Nautobot serialises it faster than depth 1).
        for row in self._rows_for("asset_tag", wanted):
            if row.get("asset_tag") in found:
                found[row["asset_tag"]].append(row)
        loose = [tag for tag in wanted if not found[tag]]
        by_case: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows_for("asset_tag__ie", loose):
            if isinstance(row.get("asset_tag"), str):
                by_case.setdefault(row["asset_tag"].casefold(), []).append(row)
        for tag in loose:
            found[tag] = by_case.get(tag.casefold(), [])
        return found

    def _rows_for(self, filter_name: str, values: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(values), _TAGS_PER_REQUEST):
            rows += self.api.list_all("/dcim/devices/", {
                filter_name: values[start:start + _TAGS_PER_REQUEST]})
        return rows

    def location_id(self, name: str) -> str | None:
        """The id of the Nautobot location named ``name``, or None (none, or several).

        Raises:
            RegisterUnavailable, RegisterError: the lookup failed (nothing is cached).
        """
        if name not in self._locations:
            rows = self.api.list_all("/dcim/locations/", {"name": name})
            ids = [row["id"] for row in rows if isinstance(row.get("id"), str)]
            self._locations[name] = ids[0] if len(ids) == 1 else None
        return self._locations[name]


def ref_id(value: Any) -> str | None:
    """The id of a related object, whether given as an object or a bare id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _ref_name(value: Any) -> str:
    """The name of a related object (``depth=1``): ``name``, else ``display``."""
    if isinstance(value, dict):
        for key in ("name", "display", "model"):
            if isinstance(name := value.get(key), str):
                return name
    return ""


def _asset(row: dict[str, Any]) -> Asset | None:
    """An :class:`Asset` from Nautobot's device object (asked with ``depth=1``)."""
    device_id = row.get("id")
    if not isinstance(device_id, str):
        return None
    tag = found if isinstance(found := row.get("asset_tag"), str) else ""
    serial = found if isinstance(found := row.get("serial"), str) else ""
    if not tag.strip():
        return None  # the sighting names its device by asset tag
    return Asset(
        asset_tag=tag,
        serial=serial,
        name=found if isinstance(found := row.get("name"), str) else "",
        location=_ref_name(row.get("location")),
        status=_ref_name(row.get("status")),
        origin=f"Nautobot device {device_id}",
    )
