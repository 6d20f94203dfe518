"""What the ``snipeit`` adapter looks up in Snipe-IT: assets, their ids, rooms and users.

- The expected inventory is every asset (``GET /hardware``, paged 500 at a time, then once
  more with ``status=Archived``, which the plain list hides).
- An asset is found by tag (``/hardware/bytag/<tag>``, or the list filter for a tag that
  cannot go into a URL path), by serial or by id; audits need Snipe-IT's asset ids, which
  are kept per process and found room by room, tag by tag, or from the whole list.
- A room is a Snipe-IT location: from ``register.location_ids``, else looked up by name.
- People are Snipe-IT's users (``GET /users``); they have no badge field.
- Snipe-IT sends its strings HTML-escaped: every name is unescaped here.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from sync.asset import Asset, audit_date
from sync.errors import RegisterError
from sync.person import Person
from sync.snipeit_api import SnipeItApi, error_message, list_page

__all__ = ["ROOM_LISTS_MAX", "TAG_LOOKUPS_MAX", "SnipeItAssets", "asset_of_row"]

log = logging.getLogger(__name__)

TAG_LOOKUPS_MAX = 20
"""Asset ids missing after the room's list are looked up one tag at a time up to this many;
more than that, the whole asset list is read once."""

ROOM_LISTS_MAX = 8
"""Rooms whose asset lists are read for asset ids before the whole list is read instead
(ten pages hold 5,000 assets: a site audit stops paying one list per room)."""

# Tags and serials that can go into a URL path as they are. Anything else ('/', '?', '#',
# '%', spaces, non-ASCII) is looked up through the list filter: an encoded slash (%2F) is
# refused by Apache's default configuration before Snipe-IT sees it.
_PATH_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")


class SnipeItAssets:
    """Snipe-IT's assets, locations and users, with what this process learnt of them.

    Args:
        api: the requests.
        location_ids: ``register.location_ids`` (room name -> Snipe-IT location id).
    """

    def __init__(self, api: SnipeItApi, location_ids: Mapping[str, int]) -> None:
        self.api = api
        self.location_ids = location_ids
        self._rooms: dict[str, tuple[int | None, str | None]] = {}
        self._ids: dict[str, int] = {}       # asset tag (casefolded) -> Snipe-IT id
        self._listed: set[int | None] = set()  # location ids whose assets were listed

    def all_assets(self) -> list[Asset]:
        """Every asset of the register, archived ones included (deleted ones are not).

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or the list kept changing
                while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        params = {"sort": "id", "order": "asc"}
        rows: list[dict[str, Any]] = []
        # The plain list hides assets whose status is archived; they are asked for apart.
        for extra in ({}, {"status": "Archived"}):
            rows += self.api.list_all("/hardware", {**params, **extra})
        assets = _distinct(rows)
        self._remember_ids(assets)
        return assets

    def check(self) -> None:
        """One asset of the list (``GET /hardware?limit=1``): the token and ``assets.view``.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or throttled.
            RegisterRefused: the token was refused (401, 403).
            RegisterError: it answered with an error, or not as Snipe-IT would.
        """
        data = self.api.read("GET", "/hardware", params={"limit": 1})
        message = error_message(data)
        if message is not None:
            raise RegisterError(f"GET /hardware: Snipe-IT: {message}")
        list_page("/hardware", data)

    def people(self) -> list[Person]:
        """Snipe-IT's users as people (badge empty: found by ``employee_num``).

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now.
            RegisterError: it refused (token, permission ``users.view``).
        """
        rows = self.api.list_all("/users", {"sort": "id", "order": "asc"})
        people = []
        for row in rows:
            if not isinstance(row.get("id"), int):
                continue
            people.append(Person(
                badge="", employee_num=_plain(row.get("employee_num")),
                name=_plain(row.get("name")), username=_plain(row.get("username")),
                id=row["id"], origin=f"Snipe-IT user {row['id']}"))
        return people

    def by_tag(self, tag: str) -> Asset | None:
        """The asset with asset tag ``tag``, or None.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`all_assets`; also when
                several assets carry the tag.
        """
        if _PATH_SAFE.fullmatch(tag):
            data = self.api.read("GET", f"/hardware/bytag/{quote(tag, safe='')}")
            if error_message(data) is not None:
                return None
            if isinstance(data, dict) and isinstance(data.get("rows"), list):
                rows = data["rows"]
            else:
                rows = [data]
        else:
            rows = self.api.list_all("/hardware", {"asset_tag": tag})
            if not rows:
                rows = self.api.list_all("/hardware", {"asset_tag": tag, "status": "Archived"})
        assets = [a for a in map(asset_of_row, rows) if a is not None]
        if len(assets) > 1:
            exact = [a for a in assets if a.asset_tag == tag]
            if len(exact) != 1:
                raise RegisterError(f"Snipe-IT has {len(assets)} assets with tag {tag!r}")
            assets = exact
        return assets[0] if assets else None

    def by_serial(self, serial: str) -> list[Asset]:
        """Every asset with serial number ``serial`` (Snipe-IT allows repeats), maybe none.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`all_assets`.
        """
        if _PATH_SAFE.fullmatch(serial):
            rows = self.api.list_all(f"/hardware/byserial/{quote(serial, safe='')}", {},
                                     missing_ok=True)
        else:
            rows = self.api.list_all("/hardware", {"serial": serial})
            rows += self.api.list_all("/hardware", {"serial": serial, "status": "Archived"})
        return _distinct(rows)

    def by_id(self, asset_id: int) -> Asset | None:
        """The asset with Snipe-IT id ``asset_id`` (deleted ones included), or None.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`all_assets`.
        """
        data = self.api.read("GET", f"/hardware/{int(asset_id)}")
        if error_message(data) is not None:
            return None
        return asset_of_row(data)

    def asset_ids(self, tags: set[str], locations: set[int]) -> dict[str, int]:
        """Snipe-IT ids of asset ``tags`` (by casefolded tag); tags it lacks are left out.

        Known ids come from memory (the expected inventory read by this process included);
        the rest from the list of the rooms' assets (one read per room and process, for the
        first :data:`ROOM_LISTS_MAX` rooms), then tag by tag, or from the whole list when
        many are left or many rooms were listed.
        """
        def missing() -> set[str]:
            return {t for t in tags if t.casefold() not in self._ids}

        for location in sorted(locations):
            if not missing():
                break
            if len(self._listed) >= ROOM_LISTS_MAX and None not in self._listed:
                break  # a site walked room by room: the whole list costs fewer requests
            if location not in self._listed:
                self._remember_ids(map(asset_of_row, self.api.list_all(
                    "/hardware", {"location_id": location, "sort": "id", "order": "asc"})))
                self._listed.add(location)
        if (len(missing()) > TAG_LOOKUPS_MAX or len(self._listed) >= ROOM_LISTS_MAX
                and missing()) and None not in self._listed:
            self.all_assets()
            self._listed.add(None)
        for tag in sorted(missing()):
            asset = self.by_tag(tag)
            if asset is not None:
                self._remember_ids([asset])
        return {t.casefold(): self._ids[t.casefold()] for t in tags
                if t.casefold() in self._ids}

    def _remember_ids(self, assets: Iterable[Asset | None]) -> None:
        for asset in assets:
            if asset is not None and asset.id is not None:
                self._ids[asset.asset_tag.casefold()] = asset.id

    def room(self, room: str) -> tuple[int | None, str | None]:
        """The location id of ``room`` and, when there is none, why (for the result).

        ``register.location_ids`` is used first (exact, then ignoring case); otherwise the
        name is looked up (``/locations?name=``), once per process.

        Raises:
            RegisterUnavailable, RegisterError: the lookup failed (nothing is cached).
        """
        cached = self._rooms.get(room)
        if cached is not None:
            return cached
        configured = self.location_ids
        if room in configured:
            found: tuple[int | None, str | None] = (int(configured[room]), None)
        else:
            by_case = [v for k, v in configured.items() if k.casefold() == room.casefold()]
            if len(by_case) == 1:
                found = (int(by_case[0]), None)
            else:
                found = self._look_up_room(room)
        self._rooms[room] = found
        return found

    def _look_up_room(self, room: str) -> tuple[int | None, str | None]:
        rows = self.api.list_all("/locations", {"name": room})
        named = [(row.get("id"), html.unescape(str(row.get("name") or ""))) for row in rows
                 if isinstance(row, dict) and isinstance(row.get("id"), int)]
        exact = [i for i, name in named if name == room]
        loose = [i for i, name in named if name.casefold() == room.casefold()]
        ids = exact or loose
        if len(ids) == 1:
            return ids[0], None
        if ids:
            problem = (f"audited without location: {len(ids)} Snipe-IT locations are named"
                       f" {room!r} (set register.location_ids)")
        else:
            problem = (f"audited without location: Snipe-IT has no location named {room!r}"
                       " (add it, or map it in register.location_ids)")
        log.warning("%s", problem)
        return None, problem


def _distinct(rows: list[dict[str, Any]]) -> list[Asset]:
    """The assets of ``rows``, each once (an archived one can be in both passes)."""
    found: dict[int | str, Asset] = {}
    for asset in map(asset_of_row, rows):
        if asset is not None:
            found.setdefault(asset.id if asset.id is not None else asset.asset_tag, asset)
    return list(found.values())


def asset_of_row(row: Any) -> Asset | None:
    """An :class:`Asset` from Snipe-IT's asset object (its strings are HTML-escaped), or
    None when it is none (no asset tag)."""
    if not isinstance(row, dict) or not isinstance(row.get("asset_tag"), str):
        return None
    tag = html.unescape(row["asset_tag"])
    if not tag:
        return None
    asset_id = row.get("id") if isinstance(row.get("id"), int) else None
    return Asset(
        asset_tag=tag,
        serial=_name(row.get("serial")),
        name=_name(row.get("name")),
        location=_name(row.get("location")) or _name(row.get("rtd_location")),
        status=_name(row.get("status_label")),
        assigned_to=_name(row.get("assigned_to")),
        id=asset_id,
        origin=f"Snipe-IT asset {asset_id}" if asset_id is not None else "Snipe-IT",
        next_audit_date=_next_audit(row.get("next_audit_date")),
    )


def _next_audit(value: Any) -> str:
    """``next_audit_date`` (``{"date": "Y-m-d", "formatted": ...}`` or null) as ``Y-m-d``."""
    text = value.get("date") if isinstance(value, dict) else value
    try:
        return audit_date(text) if isinstance(text, str) else ""
    except ValueError:
        return ""


def _plain(value: Any) -> str:
    """A text field of Snipe-IT's (HTML-escaped), or '' when it is not text."""
    return html.unescape(value).strip() if isinstance(value, str) else ""


def _name(value: Any) -> str:
    """The text of a field that is a string or a ``{id, name}`` object."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("username")
    return html.unescape(value) if isinstance(value, str) else ""
