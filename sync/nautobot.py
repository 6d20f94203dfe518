"""The ``nautobot`` register adapter: Nautobot's REST API (``/api``), for data-centre audits.

- The expected inventory is the devices of the locations in ``register.locations`` (each
  with its child locations; ``/api/dcim/devices/?location=…``, paged 1,000 at a time), or
  every device when the list is empty. Each becomes an :class:`~sync.asset.Asset` with
  its asset tag, serial, name, location and status.
- A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one **note** on its
  device (``POST /api/extras/notes/``) carrying the scan time, room, technician, the
  scanner's device id, the Nautobot device id and the verdict. The note's ``id`` is the
  sighting's UUID: a replayed sighting is refused by Nautobot itself ("Note with this Id
  already exists.") and answered ``duplicate``, so each sighting leaves one note however
  often it is sent, with no search of earlier notes.
- Labels are matched to devices on the scanner, by the identity rules (asset tag or
  serial, with Nautobot's own comparison: serials ignore case). Devices without an asset
  tag are left out of the expected inventory (logged): the sighting names its device by
  tag, and it is found again by that tag when sent (exact, then ignoring case). A device
  deleted meanwhile is a dead letter with the reason.
- ``register.audited_field`` names a date custom field (e.g. ``last_audited``) set to the
  scan's date, never moved backwards; ``register.move_mislocated`` moves a mislocated
  device to the room where it was found. Both happen before the note, so a replay that
  finds the note made has nothing left to do.
- Other verdicts are not notes: they are answered as accepted and stay in the room's report.
  Nautobot keeps no reports: :meth:`NautobotRegister.publish_report` writes them into the
  outbox folder, as the ``files`` adapter does.
- Check-out and check-in (the kiosk) are not DCIM concepts; the configuration refuses
  any mode but ``handheld`` with this adapter.
- Intake records (unregistered assets) are refused: a Nautobot device needs a device
  type, role and location that a scan cannot tell, so the configuration refuses
  ``register.intake = true`` with this adapter, and an intake record that reaches it
  anyway is a dead letter saying so (never answered accepted and lost).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import requests

from hal.errors import ConfigError
from sync.errors import RegisterError, RegisterRefused, RegisterUnavailable
from sync.asset import Asset
from sync.intake import INTAKE_VERDICT
from sync.register import ItemResult, ItemStatus, OutboxReports, Register
from sync.web import RegisterClient, read_token

if TYPE_CHECKING:
    from sync.settings import RegisterSettings

__all__ = ["API_VERSION", "NOTE_VERDICTS", "NautobotRegister", "api_base", "note_text"]

log = logging.getLogger(__name__)

API_VERSION = "3.2"
"""The REST API version asked for (``Accept: application/json; version=3.2``)."""

NOTE_VERDICTS = frozenset({"verified", "mislocated", "recovered"})
"""Verdicts that become a note on the device; the others stay in the room's report only."""

PAGE_LIMIT = 250
"""Devices per page: well under Nautobot's ``MAX_PAGE_SIZE`` (1,000), so that each page
comes back within ``register.timeout`` even from a busy server (1,000 devices with their
nested objects took over 10 s from a loaded one)."""

_FIELD_MAX = 120
_DUPLICATE_ID = "already exists"


def api_base(url: str) -> str:
    """The API root for ``register.url``: the Nautobot address with ``/api``."""
    url = url.rstrip("/")
    return url if url.endswith("/api") else url + "/api"


def note_text(record: Mapping[str, Any], device_id: str) -> str:
    """The Markdown text of the note a sighting becomes on Nautobot device ``device_id``."""
    scanned = _text(record.get("wall_time")) or "an unknown time"
    if record.get("wall_time_corrected"):
        scanned += " (device time corrected after clock sync)"
    elif record.get("clock_synchronized") is False:
        scanned += " (device clock not synchronised)"
    verdict = _text(record.get("verdict"))
    if record.get("recorded_location"):
        verdict += f" (recorded in {_text(record['recorded_location'])})"
    lines = [
        f"stocktaker sighting {record['sighting_id']}",
        f"- scanned: {scanned}",
        f"- room: {_text(record.get('location')) or '(none)'}",
        f"- technician: {_text(record.get('technician')) or '(none)'}",
        f"- scanner: {_text(record.get('device_id')) or '(unknown)'}",
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


class NautobotRegister(OutboxReports, Register):
    """A Nautobot server as the register of a data centre's devices.

    Args:
        config: ``[register]``; ``url`` and ``token_file`` are required.
        device_id: this scanner's id (names its files in the outbox folder and its notes).
        session: the HTTP session (tests); one is made when None.

    Raises:
        ConfigError: ``register.url`` or ``register.token_file`` is missing, or the token
            file is unusable.
    """

    def __init__(self, config: RegisterSettings, device_id: str, *,
                 session: requests.Session | None = None) -> None:
        if not config.url:
            raise ConfigError("register.url: the nautobot adapter needs the Nautobot address"
                              " (e.g. \"https://nautobot.example.com\")")
        if config.token_file is None:
            raise ConfigError("register.token_file: the nautobot adapter needs a file holding"
                              " a Nautobot API token (chmod 600)")
        token = read_token(config.token_file)
        session = session or requests.Session()
        # Nautobot's token scheme is "Token", not "Bearer"; the client adds no other.
        session.headers["Authorization"] = f"Token {token}"
        self.config = config
        self.device_id = device_id
        self.client = RegisterClient(api_base(config.url), None, timeout=config.timeout,
                                     rate_per_minute=config.rate_per_minute, session=session)
        self.client.session.headers["Accept"] = f"application/json; version={API_VERSION}"
        self._lock = threading.Lock()
        self._locations: dict[str, str | None] = {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # -- the Register interface --------------------------------------------------------

    def expected_assets(self) -> list[Asset]:
        """The devices of ``register.locations`` (and their child locations), or all.

        Raises:
            RegisterUnavailable: Nautobot cannot be reached now, or the list kept
                changing while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        scopes: list[str | None] = [*self.config.locations] or [None]
        found: dict[str, Asset] = {}
        untagged: set[str] = set()
        for location in scopes:
            params = {"depth": "1"} if location is None else {"depth": "1", "location": location}
            for row in self._list_all("/dcim/devices/", params):
                asset = _asset(row)
                if asset is not None:
                    found.setdefault(asset.origin, asset)
                elif isinstance(row.get("id"), str):
                    untagged.add(row["id"])
        if untagged:
            log.warning("%d Nautobot devices have no asset tag and are not in the expected"
                        " inventory", len(untagged))
        return list(found.values())

    def push(self, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Make a note on the device of each verified, mislocated or recovered sighting.

        Returns one result per record: ``accepted`` (note made, or not a note: the reason
        says ``not a note: <verdict>``), ``duplicate`` (Nautobot has the sighting's note
        already) or ``rejected`` (no such device, or Nautobot refused the note; the reason
        carries its message).

        Raises:
            ValueError: a record has no string ``sighting_id``.
            RegisterUnavailable: Nautobot cannot be reached or failed; notes made before
                are refused as duplicates when the batch is sent again.
            RegisterError: it refused the batch as a whole (token, permission).
        """
        with self._lock:
            devices = self.devices_by_tags(_note_tags(records))
            return [self._push_one(record, devices) for record in records]

    def check(self) -> None:
        """Prove Nautobot answers and takes the token, cheaply: one device of the list
        (``GET /api/dcim/devices/?limit=1``). ``/api/status/`` would not do: it answers
        without a token.

        Raises:
            RegisterUnavailable: Nautobot cannot be reached now.
            RegisterRefused: the token was refused (Nautobot answers 403 "Invalid token").
            RegisterError: it answered, but not with a Nautobot list.
        """
        answer = self.client.request("GET", "/dcim/devices/",
                                     params={"limit": 1, "depth": 0}, ok=(200, 403))
        if answer.status_code == 403:
            self._refusal(answer)  # raises RegisterRefused with Nautobot's reason
        data = self.client.json(answer)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise RegisterError(f"GET {answer.url}: not a Nautobot list ({str(data)[:200]})")

    # -- lookups -------------------------------------------------------------------------

    def devices_by_tags(self, tags: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Nautobot's devices for each asset tag: exact first, else ignoring case.

        One request per 100 tags (the filter takes many values), and one more for the
        tags not found exactly; a tag that names no device maps to an empty list.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`expected_assets`.
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
        for start in range(0, len(values), 100):
            rows += self._list_all("/dcim/devices/", {filter_name: values[start:start + 100]})
        return rows

    def location_id(self, name: str) -> str | None:
        """The id of the Nautobot location named ``name``, or None (none, or several).

        Raises:
            RegisterUnavailable, RegisterError: the lookup failed (nothing is cached).
        """
        if name not in self._locations:
            rows = self._list_all("/dcim/locations/", {"name": name})
            ids = [row["id"] for row in rows if isinstance(row.get("id"), str)]
            self._locations[name] = ids[0] if len(ids) == 1 else None
        return self._locations[name]

    # -- sending one sighting ----------------------------------------------------------

    def _push_one(self, record: Mapping[str, Any],
                  devices: Mapping[str, list[dict[str, Any]]]) -> ItemResult:
        sighting_id = record.get("sighting_id") if isinstance(record, Mapping) else None
        if not isinstance(sighting_id, str) or not sighting_id:
            raise ValueError("every record needs a non-empty string 'sighting_id'")
        verdict = record.get("verdict")
        if verdict == INTAKE_VERDICT:
            return ItemResult(sighting_id, ItemStatus.REJECTED, "Nautobot takes no intake"
                              " records: add the device in Nautobot (its type, role and"
                              " location are not known from a scan)")
        if verdict not in NOTE_VERDICTS:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, f"not a note: {verdict}")
        try:
            note_id = str(uuid.UUID(sighting_id))
        except ValueError:
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              "the sighting id is not a UUID (Nautobot note ids are UUIDs)")
        device, problem = _device_of(record, devices)
        if device is None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, problem)
        changed = self._update_device(device, record)
        answer = self.client.request("POST", "/extras/notes/", body={
            "id": note_id, "assigned_object_type": "dcim.device",
            "assigned_object_id": device["id"], "note": note_text(record, device["id"])},
            ok=(200, 201, 400, 403, 404))
        if answer.status_code in (200, 201):
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, changed)
        message = self._refusal(answer)
        if answer.status_code == 400 and _DUPLICATE_ID in message and "id" in message:
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "note already made")
        return ItemResult(sighting_id, ItemStatus.REJECTED, f"Nautobot: {message}")

    def _update_device(self, device: dict[str, Any], record: Mapping[str, Any]) -> str | None:
        """Set the audited date and, when configured, move a mislocated device.

        Returns what could not be done (for the result's reason), or None.
        """
        changes: dict[str, Any] = {}
        problems: list[str] = []
        field_name = self.config.audited_field
        day = str(record.get("wall_time") or "")[:10]
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
        room = record.get("location")
        if (record.get("verdict") == "mislocated" and self.config.move_mislocated
                and isinstance(room, str) and room):
            location = self.location_id(room)
            if location is None:
                problems.append(f"not moved: Nautobot has no single location named {room!r}")
            elif _ref_id(device.get("location")) != location:
                changes["location"] = location
        if changes:
            answer = self.client.request("PATCH", f"/dcim/devices/{device['id']}/",
                                         body=changes, ok=(200, 400, 403, 404))
            if answer.status_code != 200:
                problems.append(f"device not updated: Nautobot: {self._refusal(answer)}")
            else:
                # The batch looked the device up once: later sightings of it in the same
                # batch must see it as it is now.
                updated = self.client.json(answer)
                if isinstance(updated, dict) and updated.get("id") == device["id"]:
                    device.clear()
                    device.update(updated)
        return "; ".join(problems) or None

    # -- HTTP ------------------------------------------------------------------------------

    def _refusal(self, answer: requests.Response) -> str:
        """Nautobot's message for a 400/403/404; a bad token stops the whole batch."""
        try:
            data = answer.json()
        except ValueError:
            data = answer.text[:200]
        message = _message(data)
        if answer.status_code == 403:
            if "token" in message.lower():
                raise RegisterRefused(f"Nautobot refused the token ({message}): put a valid"
                                    " API token in register.token_file")
            raise RegisterRefused(f"Nautobot refused: {message} (give the token's user the"
                                  " permission)")
        return message

    def _list_all(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a paged ``{count, next, results}`` list.

        A count that changes between pages (a device added or deleted meanwhile) starts
        the read again, up to three times.
        """
        for _ in range(4):
            rows: list[dict[str, Any]] = []
            count: int | None = None
            while True:
                answer = self.client.request("GET", path, params={
                    **params, "limit": PAGE_LIMIT, "offset": len(rows)}, ok=(200, 400, 403))
                if answer.status_code != 200:
                    raise RegisterError(f"GET {path}: Nautobot: {self._refusal(answer)}")
                data = self.client.json(answer)
                if (not isinstance(data, dict) or not isinstance(data.get("results"), list)
                        or not isinstance(data.get("count"), int)):
                    raise RegisterError(f"GET {path}: not a Nautobot list ({str(data)[:200]})")
                page = [row for row in data["results"] if isinstance(row, dict)]
                if count is None:
                    count = data["count"]
                elif data["count"] != count:
                    break  # changed while read: start again
                rows.extend(page)
                if len(rows) >= count or not page or not data.get("next"):
                    return rows
        raise RegisterUnavailable(f"GET {path}: the list kept changing while it was read")


def _note_tags(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The asset tags of the sightings of a batch that become notes."""
    tags = []
    for record in records:
        if not isinstance(record, Mapping):
            continue  # refused with the reason when its turn comes
        tag = record.get("asset_tag")
        if record.get("verdict") in NOTE_VERDICTS and isinstance(tag, str) and tag.strip():
            tags.append(tag.strip())
    return tags


def _device_of(record: Mapping[str, Any], devices: Mapping[str, list[dict[str, Any]]]
               ) -> tuple[dict[str, Any] | None, str]:
    """The device a sighting names (from the batch's lookup), or None and why not."""
    tag = record.get("asset_tag")
    if not isinstance(tag, str) or not tag.strip():
        return None, f"a {record.get('verdict')} sighting without an asset tag"
    what = f"asset tag {tag.strip()!r}"
    rows = devices.get(tag.strip(), [])
    if not rows:
        return None, f"Nautobot has no device with {what} (deleted since the audit?)"
    if len(rows) > 1:
        return None, f"Nautobot has {len(rows)} devices with {what}: not guessing"
    return rows[0], ""


def _message(data: Any) -> str:
    """Nautobot's error body as one line: ``detail``, or ``field: message`` pairs."""
    if isinstance(data, dict):
        if "detail" in data and len(data) == 1:
            return str(data["detail"])
        parts = []
        for key, value in data.items():
            texts = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {' '.join(str(t) for t in texts)}")
        return "; ".join(parts) or "refused"
    if isinstance(data, list):
        return " ".join(str(item) for item in data) or "refused"
    return " ".join(str(data).split()) or "refused"


def _ref_id(value: Any) -> str | None:
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
