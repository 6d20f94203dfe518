"""The ``snipeit`` register adapter: Snipe-IT's REST API (``/api/v1``).

- The expected inventory is every asset of the register (``GET /hardware``, paged 500 at a
  time, then once more with ``status=Archived``, which the plain list hides).
- A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one audit. When the
  server has the bulk audit (``POST /hardware/audit/bulk``, Snipe-IT 8.7 and later; found
  out once per process) the audits of a batch that share their room, location update and
  note go in one request (see :mod:`sync.snipeit_bulk`); otherwise each is one
  ``POST /hardware/audit`` whose note carries the scan time, room, technician, device and
  the marker ``stocktaker sighting <uuid>``. Other verdicts are not audits: they are
  answered as accepted (so the queue lets them go) and stay in the room's report.
- Audits are not idempotent in Snipe-IT (every call logs one more audit), so before an
  audit is sent the activity report is read for the sighting's marker: once per room
  session and process, and again for each sighting whose earlier audit call ended without
  a clear answer (timeout, reset, 5xx, unreadable body). A sighting found there is
  answered ``duplicate`` and not audited again. A bulk audit is found there by its session
  and asset: in one session an asset gets one bulk audit, however often it was seen.
- Snipe-IT answers most errors with HTTP 200 and ``{"status": "error"}``; every answer's
  body is checked, not only its status code.
- A door kiosk's check-outs and check-ins become Snipe-IT check-outs to the person's user
  and check-ins to the kiosk's room; when Snipe-IT holds something else, the event is a
  conflict with Snipe-IT's side (see :mod:`sync.snipeit_kiosk`). People are Snipe-IT's
  users (``GET /users``, paged): they have no badge field, so a kiosk finds them by
  employee number.
- An intake record (an asset the audit found and Snipe-IT did not know) becomes a new
  asset, created once (see :mod:`sync.snipeit_intake`).
- Snipe-IT keeps no reports: :meth:`SnipeItRegister.publish_report` writes them into the
  outbox folder, as the ``files`` adapter does.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync.asset import Asset, audit_date
from hal.errors import ConfigError
from sync.errors import RegisterError, RegisterUnavailable
from sync.person import Person
from sync.intake import INTAKE_VERDICT
from sync.movements import KIOSK_VERDICTS
from sync.register import ItemResult, ItemStatus, OutboxReports, Register
from sync.snipeit_bulk import (
    BulkAnswer,
    bulk_note,
    group_key,
    parse_bulk_answer,
    session_in_bulk_note,
)
from sync.snipeit_intake import SnipeItIntake
from sync.snipeit_notes import audit_details, clock_remark, note_text
from sync.snipeit_kiosk import KioskMoves
from sync.web import RegisterClient, parse_retry_after, read_token

if TYPE_CHECKING:
    import requests

    from sync.settings import RegisterSettings

__all__ = ["AUDIT_VERDICTS", "MARKER", "SnipeItRegister", "api_base", "audit_note",
           "sighting_in_note"]

log = logging.getLogger(__name__)

AUDIT_VERDICTS = frozenset({"verified", "mislocated", "recovered"})
"""Verdicts sent to Snipe-IT as an audit; the others stay in the room's report only."""

MARKER = "stocktaker sighting"
"""Starts the part of every audit note that names the sighting: ``stocktaker sighting <uuid>``."""

PAGE_LIMIT = 500
"""Snipe-IT's default ``MAX_RESULTS``: a larger ``limit`` silently falls back to it."""

PACING = 0.95
"""Share of ``register.rate_per_minute`` actually used.

Snipe-IT counts requests in fixed one-minute windows (whole seconds, started by the first
request); a client spaced at exactly the limit can land one request too many in a window
when network delays bunch a few together. Five percent under the limit absorbs that.
"""

DEFAULT_RATE_PER_MINUTE = 120.0
"""Snipe-IT's default API throttle, used when ``register.rate_per_minute`` is not set."""

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to wait after a 429 that does not say (Snipe-IT 8.1.4 drops ``Retry-After``)."""

MAX_RETRY_AFTER = 120.0
"""The most a 429 may ask; Snipe-IT's window is a minute, and some versions send nonsense."""

BULK_MAX_IDS = 500
"""Most asset ids in one bulk audit. Snipe-IT sets no cap; a server that refuses a request
for its ``ids`` (or answers HTTP 413) gets halves of it, and that smaller size from then on."""

TAG_LOOKUPS_MAX = 20
"""Asset ids missing after the room's list are looked up one tag at a time up to this many;
more than that, the whole asset list is read once."""

ROOM_LISTS_MAX = 8
"""Rooms whose asset lists are read for asset ids before the whole list is read instead
(ten pages hold 5,000 assets: a site audit stops paying one list per room)."""

_BULK_PATH = "/hardware/audit/bulk"

# Sighting and session ids go into notes and activity-report searches as they are: the
# report HTML-escapes the search and renders notes as Markdown, which leaves only letters,
# digits and '-' untouched.
_SAFE_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
_MARKER_RE = re.compile(re.escape(MARKER) + r" ([A-Za-z0-9-]{8,64})")
# Tags and serials that can go into a URL path as they are. Anything else ('/', '?', '#',
# '%', spaces, non-ASCII) is looked up through the list filter: an encoded slash (%2F) is
# refused by Apache's default configuration before Snipe-IT sees it.
_PATH_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")


def api_base(url: str) -> str:
    """The API root for ``register.url``: the Snipe-IT address with ``/api/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/api/v1") else url + "/api/v1"


def audit_note(record: Mapping[str, Any]) -> str:
    """The note of the audit a sighting record becomes.

    Snipe-IT records the server's time as the audit time and takes none from the client,
    so the scan time goes into the note, with the marker that makes the audit findable
    (``stocktaker sighting <uuid>``), the session, room, technician and device.
    """
    parts = [f"{MARKER} {record['sighting_id']}"]
    session = record.get("session_id")
    if isinstance(session, str) and _SAFE_ID.fullmatch(session):
        parts.append(f"session {session}")
    scanned = note_text(record.get("wall_time")) or "at an unknown time"
    parts.append(f"scanned {scanned}{clock_remark(record)}")
    return "; ".join(parts + audit_details(record))


def sighting_in_note(note: str | None) -> str | None:
    """The sighting id an audit note (as the activity report shows it) names, or None."""
    if not note:
        return None
    match = _MARKER_RE.search(html.unescape(note))
    return match[1] if match else None



_NO_ROUTE = object()
"""What :meth:`SnipeItRegister._read` returns for a 404 or 405 it was told to expect."""
_TOO_LARGE = object()
"""What :meth:`SnipeItRegister._read` returns for a 413 it was told to expect."""


class _Throttled(RegisterUnavailable):
    """HTTP 429: the request was refused before Snipe-IT ran it (nothing was applied)."""


class SnipeItRegister(OutboxReports, Register):
    """A Snipe-IT server as the asset register.

    Args:
        config: ``[register]``; ``url`` and ``token_file`` are required.
        device_id: this device's id (names its files in the outbox folder and its audits).
        session: the HTTP session (tests); one is made when None.

    Raises:
        ConfigError: ``register.url`` or ``register.token_file`` is missing, or the token
            file is unusable (missing, empty, readable by group or others).
    """

    def __init__(self, config: RegisterSettings, device_id: str, *,
                 session: requests.Session | None = None) -> None:
        if not config.url:
            raise ConfigError("register.url: the snipeit adapter needs the Snipe-IT address"
                              " (e.g. \"https://assets.example.com\")")
        if config.token_file is None:
            raise ConfigError("register.token_file: the snipeit adapter needs a file holding"
                              " a Snipe-IT API token (chmod 600)")
        token = read_token(config.token_file)
        self.config = config
        self.device_id = device_id
        self.rate = config.rate_per_minute or DEFAULT_RATE_PER_MINUTE
        self.client = RegisterClient(api_base(config.url), token, timeout=config.timeout,
                                     rate_per_minute=self.rate * PACING, session=session)
        self._lock = threading.Lock()
        self._rooms: dict[str, tuple[int | None, str | None]] = {}
        self._audited: set[str] = set()      # known audited: answered here or in the log
        self._uncertain: set[str] = set()    # an audit call ended unclearly: look first
        self._sessions_read: set[str] = set()  # sessions whose audits were read from the log
        self._looked_up: set[str] = set()    # sightings looked up one by one, not found
        self._bulk: bool | None = None if config.bulk_audit else False  # server has it?
        self._bulk_max = BULK_MAX_IDS
        self._bulk_done: dict[str, set[int]] = {}  # session -> assets bulk-audited in it
        self._uncertain_sessions: set[str] = set()  # a bulk call ended unclearly: re-read
        self._ids: dict[str, int] = {}       # asset tag (casefolded) -> Snipe-IT id
        self._listed: set[int | None] = set()  # location ids whose assets were listed
        self._kiosk = KioskMoves(self._read, self._list_all, self._room, _error_message,
                                 MARKER, self._found_in_log)
        self._intake = SnipeItIntake(self._read, self._list_all, self._room, _error_message,
                                     config.intake_status, config.intake_unknown_model)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # -- the Register interface --------------------------------------------------------

    def expected_assets(self) -> list[Asset]:
        """Every asset of the register, archived ones included (deleted ones are not).

        ``status`` is the status label's name, ``location`` the asset's current location
        (its default location when it has none), ``assigned_to`` the name of whoever or
        whatever it is checked out to.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or the list kept changing
                while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        params = {"sort": "id", "order": "asc"}
        rows: list[dict[str, Any]] = []
        # The plain list hides assets whose status is archived; they are asked for apart.
        for extra in ({}, {"status": "Archived"}):
            rows += self._list_all("/hardware", {**params, **extra})
        assets = _distinct(rows)
        self._remember_ids(assets)
        return assets

    def push(self, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Audit each ``verified``, ``mislocated`` or ``recovered`` sighting, once.

        Audits that can go in bulk (see :meth:`_bulk_candidate`) are sent together, one
        request per group of shared details, when the server has the bulk audit; the
        others one by one.

        Returns one result per record, in order: ``accepted`` (audited now, or not an
        audit: the reason says ``not an audit: <verdict>``), ``duplicate`` (its audit is
        already in Snipe-IT's activity log; with the bulk audit, also when its asset was
        audited in the same session) or ``rejected`` (Snipe-IT refused it, e.g. "Asset
        does not exist.").

        Raises:
            ValueError: a record has no string ``sighting_id``.
            RegisterUnavailable: Snipe-IT cannot be reached, failed or throttled; audits
                done before it are remembered and found again, so the batch can be sent
                again as it is.
            RegisterError: it refused the batch as a whole (token, permission).
        """
        with self._lock:
            results: list[ItemResult | None] = [None] * len(records)
            bulk: list[int] = []
            for n, record in enumerate(records):
                if self._bulk_candidate(record):
                    bulk.append(n)
                else:
                    results[n] = self._push_one(record)
            if bulk and self._bulk_available():
                answers = self._push_bulk([records[n] for n in bulk])
            else:
                answers = [self._push_one(records[n]) for n in bulk]
            for n, answer in zip(bulk, answers):
                results[n] = answer
            return [r for r in results if r is not None]

    def check(self) -> None:
        """Prove Snipe-IT answers and takes the token, cheaply: one asset of the list
        (``GET /hardware?limit=1``), which needs the token and ``assets.view``.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or throttled.
            RegisterRefused: the token was refused (401, 403).
            RegisterError: it answered with an error, or not as Snipe-IT would.
        """
        data = self._read("GET", "/hardware", params={"limit": 1})
        message = _error_message(data)
        if message is not None:
            raise RegisterError(f"GET /hardware: Snipe-IT: {message}")
        _page("/hardware", data)

    def people(self) -> list[Person]:
        """Snipe-IT's users, as the people a door kiosk knows (``GET /users``, paged).

        Snipe-IT users have no badge field: ``badge`` is empty and a kiosk finds a person
        by ``employee_num``. Names are unescaped (Snipe-IT sends them HTML-escaped).

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now.
            RegisterError: it refused (token, permission ``users.view``).
        """
        rows = self._list_all("/users", {"sort": "id", "order": "asc"})
        people = []
        for row in rows:
            if not isinstance(row.get("id"), int):
                continue
            people.append(Person(
                badge="", employee_num=_plain(row.get("employee_num")),
                name=_plain(row.get("name")), username=_plain(row.get("username")),
                id=row["id"], origin=f"Snipe-IT user {row['id']}"))
        return people

    # -- lookups -------------------------------------------------------------------------

    def asset_by_tag(self, tag: str) -> Asset | None:
        """The asset with asset tag ``tag``, or None.

        Tags that are safe in a URL path go to ``/hardware/bytag/<tag>``; others (with
        ``/``, ``?``, ``%``, spaces...) to the list filter ``/hardware?asset_tag=``.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`expected_assets`; also when
                several assets carry the tag.
        """
        if _PATH_SAFE.fullmatch(tag):
            data = self._read("GET", f"/hardware/bytag/{quote(tag, safe='')}")
            if _error_message(data) is not None:
                return None
            if isinstance(data, dict) and isinstance(data.get("rows"), list):
                rows = data["rows"]
            else:
                rows = [data]
        else:
            rows = self._list_all("/hardware", {"asset_tag": tag})
            if not rows:
                rows = self._list_all("/hardware", {"asset_tag": tag, "status": "Archived"})
        assets = [a for a in map(_asset, rows) if a is not None]
        if len(assets) > 1:
            exact = [a for a in assets if a.asset_tag == tag]
            if len(exact) != 1:
                raise RegisterError(f"Snipe-IT has {len(assets)} assets with tag {tag!r}")
            assets = exact
        return assets[0] if assets else None

    def assets_by_serial(self, serial: str) -> list[Asset]:
        """Every asset with serial number ``serial`` (Snipe-IT allows repeats), maybe none.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`expected_assets`.
        """
        if _PATH_SAFE.fullmatch(serial):
            rows = self._list_all(f"/hardware/byserial/{quote(serial, safe='')}", {},
                                  missing_ok=True)
        else:
            rows = self._list_all("/hardware", {"serial": serial})
            rows += self._list_all("/hardware", {"serial": serial, "status": "Archived"})
        return _distinct(rows)

    def asset_by_id(self, asset_id: int) -> Asset | None:
        """The asset with Snipe-IT id ``asset_id`` (deleted ones included), or None.

        Raises:
            RegisterUnavailable, RegisterError: as for :meth:`expected_assets`.
        """
        data = self._read("GET", f"/hardware/{int(asset_id)}")
        if _error_message(data) is not None:
            return None
        return _asset(data)

    def location_id(self, room: str) -> int | None:
        """Snipe-IT's id of the location named ``room``, or None when it has none (or two).

        ``register.location_ids`` is used first; otherwise the name is looked up
        (``/locations?name=``), once per process.

        Raises:
            RegisterUnavailable, RegisterError: the lookup failed (nothing is cached).
        """
        return self._room(room)[0]

    def audited_sightings(self, search: str) -> set[str]:
        """The sighting ids of every audit whose note contains ``search``, from the log.

        Raises:
            RegisterUnavailable, RegisterError: the activity report could not be read.
        """
        rows = self._list_all("/reports/activity", {"search": search, "action_type": "audit",
                                                    "sort": "id", "order": "asc"})
        return {sid for row in rows if (sid := sighting_in_note(row.get("note"))) is not None}

    def _read_session(self, session: str) -> None:
        """Read every audit of ``session`` from the log: per-sighting and bulk ones."""
        rows = self._list_all("/reports/activity", {"search": session, "action_type": "audit",
                                                    "sort": "id", "order": "asc"})
        done = self._bulk_done.setdefault(session, set())
        for row in rows:
            sighting = sighting_in_note(row.get("note"))
            if sighting is not None:
                self._audited.add(sighting)
            elif session_in_bulk_note(row.get("note")) == session:
                item = row.get("item")
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    done.add(item["id"])
        self._sessions_read.add(session)

    def _found_in_log(self, sighting_id: str) -> bool:
        """Whether any activity-log note (check-out, check-in, audit) names the sighting."""
        rows = self._list_all("/reports/activity", {"search": sighting_id, "sort": "id",
                                                    "order": "asc"})
        return any(sighting_in_note(row.get("note")) == sighting_id for row in rows)

    # -- sending one sighting ----------------------------------------------------------

    def _push_one(self, record: Mapping[str, Any]) -> ItemResult:
        sighting_id = record.get("sighting_id") if isinstance(record, Mapping) else None
        if not isinstance(sighting_id, str) or not sighting_id:
            raise ValueError("every record needs a non-empty string 'sighting_id'")
        verdict = record.get("verdict")
        if verdict in KIOSK_VERDICTS:
            if not _SAFE_ID.fullmatch(sighting_id):
                return ItemResult(sighting_id, ItemStatus.REJECTED, "sighting id cannot be"
                                  " written into a Snipe-IT note (use a UUID)")
            return self._kiosk.push_one(sighting_id, record)
        if verdict == INTAKE_VERDICT:
            return self._intake.push_one(sighting_id, record)
        if verdict not in AUDIT_VERDICTS:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, f"not an audit: {verdict}")
        if not _SAFE_ID.fullmatch(sighting_id):
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              "sighting id cannot be written into an audit note (use a UUID)")
        tag = record.get("asset_tag")
        if not isinstance(tag, str) or not tag.strip():
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"a {verdict} sighting"
                              " without an asset tag")
        session = record.get("session_id")
        if self._already_audited(sighting_id, session):
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "already audited")
        if isinstance(session, str) and self._bulk_done.get(session):
            asset_id = self._asset_ids({tag}, set()).get(tag.casefold())
            if asset_id in self._bulk_done[session]:
                return ItemResult(sighting_id, ItemStatus.DUPLICATE,
                                  "already audited in this session (bulk audit)")
        return self._audit(sighting_id, tag, record)

    def _already_audited(self, sighting_id: str, session: Any) -> bool:
        """Whether the sighting's audit is in Snipe-IT already, reading the log if needed."""
        if sighting_id in self._audited:
            return True
        if isinstance(session, str) and session in self._uncertain_sessions:
            # A bulk call of this session ended unclearly: its audits may be in the log.
            self._read_session(session)
            self._uncertain_sessions.discard(session)
            if sighting_id in self._audited:
                return True
        if sighting_id in self._uncertain:
            found = sighting_id in self.audited_sightings(sighting_id)
            self._uncertain.discard(sighting_id)
        elif isinstance(session, str) and _SAFE_ID.fullmatch(session):
            if session in self._sessions_read:
                return False
            # One read finds every audit of the room sent by an earlier process (killed,
            # or cut off from the network before it heard the answer).
            self._read_session(session)
            return sighting_id in self._audited
        elif sighting_id in self._looked_up:
            return False
        else:
            found = sighting_id in self.audited_sightings(sighting_id)
            self._looked_up.add(sighting_id)
        if found:
            self._audited.add(sighting_id)
        return found

    def _audit(self, sighting_id: str, tag: str, record: Mapping[str, Any]) -> ItemResult:
        room = record.get("location")
        location, problem = self._room(room) if isinstance(room, str) and room else (None, None)
        body: dict[str, Any] = {"asset_tag": tag, "note": audit_note(record)}
        if location is not None:
            body["location_id"] = location
            if record.get("verdict") == "mislocated" and self.config.move_mislocated:
                body["update_location"] = 1
        try:
            data = self._read("POST", "/hardware/audit", body=body)
            if not isinstance(data, dict) or data.get("status") not in ("success", "error"):
                raise RegisterUnavailable("POST /hardware/audit: not a Snipe-IT answer:"
                                          f" {str(data)[:200]}")
        except _Throttled:
            raise
        except RegisterUnavailable:
            # The audit may have been logged before the answer was lost: look before
            # sending it again.
            self._uncertain.add(sighting_id)
            raise
        message = _error_message(data)
        if message is not None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
        self._audited.add(sighting_id)
        return ItemResult(sighting_id, ItemStatus.ACCEPTED, problem)

    # -- sending audits in bulk --------------------------------------------------------

    def _bulk_candidate(self, record: Any) -> bool:
        """Whether a record can go into a bulk audit (else it goes the per-asset way)."""
        if self._bulk is False or not isinstance(record, Mapping):
            return False
        sighting_id, session, tag = (record.get("sighting_id"), record.get("session_id"),
                                     record.get("asset_tag"))
        return (record.get("verdict") in AUDIT_VERDICTS
                and isinstance(sighting_id, str) and bool(_SAFE_ID.fullmatch(sighting_id))
                and isinstance(session, str) and bool(_SAFE_ID.fullmatch(session))
                and isinstance(tag, str) and bool(tag.strip()))

    def _bulk_available(self) -> bool:
        """Whether the server has the bulk audit; asked once per process.

        The question is a bulk audit of no ids: a server that has the endpoint refuses it
        for its ``ids`` (nothing is audited); an older one answers 404 (or 405).
        """
        if self._bulk is None:
            data = self._read("POST", _BULK_PATH, body={"ids": []}, missing=(404, 405))
            self._bulk = parse_bulk_answer(data) is not None
            if not self._bulk:
                log.info("Snipe-IT has no bulk audit (%s): one audit per request",
                         "no such endpoint" if data is _NO_ROUTE else "not a bulk answer")
        return self._bulk

    def _push_bulk(self, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Audit ``records`` (all :meth:`_bulk_candidate`) in as few requests as can be."""
        results: list[ItemResult | None] = [None] * len(records)
        pending = []
        for n, record in enumerate(records):
            if self._already_audited(record["sighting_id"], record["session_id"]):
                results[n] = ItemResult(record["sighting_id"], ItemStatus.DUPLICATE,
                                        "already audited")
            else:
                pending.append(n)
        rooms: dict[int, tuple[int | None, str | None]] = {}
        for n in pending:
            room = records[n].get("location")
            rooms[n] = self._room(room) if isinstance(room, str) and room else (None, None)
        ids = self._asset_ids({records[n]["asset_tag"] for n in pending},
                              {loc for loc, _ in rooms.values() if loc is not None})
        groups: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
        first_of: dict[tuple[str, int], int] = {}
        followers: list[tuple[int, int]] = []
        for n in pending:
            record = records[n]
            sighting_id, session = record["sighting_id"], record["session_id"]
            asset_id = ids.get(record["asset_tag"].casefold())
            if asset_id is None:
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        "Snipe-IT: Asset does not exist.")
                continue
            if asset_id in self._bulk_done.get(session, ()):
                results[n] = ItemResult(sighting_id, ItemStatus.DUPLICATE,
                                        "already audited in this session (bulk audit)")
                continue
            if (session, asset_id) in first_of:  # seen twice in this batch: audited once
                followers.append((n, first_of[session, asset_id]))
                continue
            first_of[session, asset_id] = n
            location = rooms[n][0]
            update = (location is not None and record.get("verdict") == "mislocated"
                      and self.config.move_mislocated)
            groups.setdefault(group_key(record, location, update), []).append((n, asset_id))
        for key, members in groups.items():
            if self._bulk is False:  # the server lost the endpoint: one by one
                for n, _ in members:
                    results[n] = self._push_one(records[n])
                continue
            self._send_group(key, members, records, rooms, results)
        for n, first in followers:
            earlier = results[first]
            assert earlier is not None
            if earlier.status is ItemStatus.REJECTED:
                results[n] = ItemResult(records[n]["sighting_id"], ItemStatus.REJECTED,
                                        earlier.reason)
            else:
                results[n] = ItemResult(records[n]["sighting_id"], ItemStatus.DUPLICATE,
                                        "already audited in this session (bulk audit)")
        return [r for r in results if r is not None]

    def _send_group(self, key: tuple[Any, ...], members: list[tuple[int, int]],
                    records: Sequence[Mapping[str, Any]],
                    rooms: Mapping[int, tuple[int | None, str | None]],
                    results: list[ItemResult | None]) -> None:
        """Send one group's bulk audits, ``self._bulk_max`` ids a request."""
        start = 0
        while start < len(members):
            chunk = members[start:start + self._bulk_max]
            answer = self._send_bulk(key, chunk, records)
            if answer is None:  # no such endpoint after all: the per-asset way
                self._bulk = False
                for n, _ in members[start:]:
                    results[n] = self._push_one(records[n])
                return
            if answer.refused_whole and answer.ids_refused and len(chunk) > 1:
                self._bulk_max = max(1, len(chunk) // 2)
                log.info("Snipe-IT refused %d ids in one bulk audit (%s): %d from now on",
                         len(chunk), answer.message, self._bulk_max)
                continue
            self._take_answer(answer, chunk, records, rooms, results)
            start += len(chunk)

    def _send_bulk(self, key: tuple[Any, ...], chunk: list[tuple[int, int]],
                   records: Sequence[Mapping[str, Any]]) -> BulkAnswer | None:
        """One bulk audit request; None when the server has no bulk endpoint."""
        first = records[chunk[0][0]]
        session = first["session_id"]
        location, update = key[2], key[3]
        body: dict[str, Any] = {"ids": [asset_id for _, asset_id in chunk],
                                "note": bulk_note([records[n] for n, _ in chunk],
                                                  str(uuid.uuid4()))}
        if location is not None:
            body["location_id"] = location
            if update:
                body["update_location"] = 1
        sent = time.monotonic()
        try:
            data = self._read("POST", _BULK_PATH, body=body, missing=(404, 405, 413))
            if data is _TOO_LARGE:
                return BulkAnswer("error", {}, "HTTP 413", ids_refused=True)
            if data is _NO_ROUTE:
                return None
            answer = parse_bulk_answer(data)
            if answer is None:
                raise RegisterUnavailable(f"POST {_BULK_PATH}: not a bulk audit answer:"
                                          f" {str(data)[:200]}")
            missing = [a for _, a in chunk if a not in answer.rows]
            if missing and not answer.refused_whole:
                raise RegisterUnavailable(f"POST {_BULK_PATH}: the answer has no row for"
                                          f" asset {missing[0]}")
        except _Throttled:
            raise
        except RegisterUnavailable:
            # Some audits may have been logged before the answer was lost: read the
            # session's audits again before sending any of them again.
            self._uncertain_sessions.add(session)
            if len(chunk) > 1 and time.monotonic() - sent >= 0.9 * self.client.timeout:
                # No answer in time: maybe too many rows for the server; smaller from now on.
                self._bulk_max = max(1, len(chunk) // 2)
            raise
        return answer

    def _take_answer(self, answer: BulkAnswer, chunk: list[tuple[int, int]],
                     records: Sequence[Mapping[str, Any]],
                     rooms: Mapping[int, tuple[int | None, str | None]],
                     results: list[ItemResult | None]) -> None:
        """Each row of a bulk answer as the result of its sighting."""
        for n, asset_id in chunk:
            record = records[n]
            sighting_id = record["sighting_id"]
            row = answer.rows.get(asset_id)
            if row is None:  # refused as a whole (not for its size)
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        f"Snipe-IT: {answer.message}")
            elif row.get("status") == "success":
                self._audited.add(sighting_id)
                self._bulk_done.setdefault(record["session_id"], set()).add(asset_id)
                results[n] = ItemResult(sighting_id, ItemStatus.ACCEPTED, rooms[n][1])
            else:
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        f"Snipe-IT: {_error_message({**row, 'status': 'error'})}")

    def _asset_ids(self, tags: set[str], locations: set[int]) -> dict[str, int]:
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
                self._remember_ids(map(_asset, self._list_all(
                    "/hardware", {"location_id": location, "sort": "id", "order": "asc"})))
                self._listed.add(location)
        if (len(missing()) > TAG_LOOKUPS_MAX or len(self._listed) >= ROOM_LISTS_MAX
                and missing()) and None not in self._listed:
            self.expected_assets()
            self._listed.add(None)
        for tag in sorted(missing()):
            asset = self.asset_by_tag(tag)
            if asset is not None:
                self._remember_ids([asset])
        return {t.casefold(): self._ids[t.casefold()] for t in tags
                if t.casefold() in self._ids}

    def _remember_ids(self, assets: Any) -> None:
        for asset in assets:
            if asset is not None and asset.id is not None:
                self._ids[asset.asset_tag.casefold()] = asset.id

    def _room(self, room: str) -> tuple[int | None, str | None]:
        """The location id of ``room`` and, when there is none, why (for the result)."""
        cached = self._rooms.get(room)
        if cached is not None:
            return cached
        configured = self.config.location_ids
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
        rows = self._list_all("/locations", {"name": room})
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

    # -- HTTP ------------------------------------------------------------------------------

    def _read(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Any = None, missing: tuple[int, ...] = ()) -> Any:
        """Send one request and return its JSON body (an error envelope included).

        A status in ``missing`` returns :data:`_NO_ROUTE` (404, 405) or :data:`_TOO_LARGE`
        (413) instead of raising.
        """
        answer = self.client.request(method, path, params=params, body=body,
                                     ok=(200, 201, 429, *missing))
        if answer.status_code in missing:
            return _TOO_LARGE if answer.status_code == 413 else _NO_ROUTE
        if answer.status_code == 429:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = _body_retry_after(answer)
            retry_after = min(MAX_RETRY_AFTER, DEFAULT_RETRY_AFTER if retry_after is None
                              else retry_after)
            raise _Throttled(f"{method} {answer.url}: HTTP 429, Snipe-IT's request limit"
                             f" (wait {retry_after:g} s; register.rate_per_minute is"
                             f" {self.rate:g})", retry_after=retry_after)
        return self.client.json(answer)

    def _list_all(self, path: str, params: Mapping[str, Any], *,
                  missing_ok: bool = False) -> list[dict[str, Any]]:
        """Every row of a ``{total, rows}`` list, page by page.

        A total that changes between pages (an asset added or deleted meanwhile) starts
        the read again, up to three times.
        """
        for _ in range(4):
            rows: list[dict[str, Any]] = []
            total: int | None = None
            while True:
                data = self._read("GET", path, params={**params, "limit": PAGE_LIMIT,
                                                       "offset": len(rows)})
                message = _error_message(data)
                if message is not None:
                    if missing_ok and total is None:
                        return []
                    raise RegisterError(f"GET {path}: Snipe-IT: {message}")
                page, page_total = _page(path, data)
                if total is None:
                    total = page_total
                elif page_total != total or not page:
                    break  # changed while read: start again
                rows.extend(page)
                if len(rows) >= total or not page:
                    return rows
        raise RegisterUnavailable(f"GET {path}: the list kept changing while it was read")


def _page(path: str, data: Any) -> tuple[list[dict[str, Any]], int]:
    if (not isinstance(data, dict) or not isinstance(data.get("rows"), list)
            or not isinstance(data.get("total"), int)):
        raise RegisterError(f"GET {path}: not a Snipe-IT list ({str(data)[:200]})")
    return [row for row in data["rows"] if isinstance(row, dict)], data["total"]


def _error_message(data: Any) -> str | None:
    """The message of an error envelope (``{"status": "error", ...}``), or None."""
    if not isinstance(data, dict) or data.get("status") != "error":
        return None
    messages = data.get("messages", data.get("message"))
    if isinstance(messages, dict):
        parts = []
        for field, value in messages.items():
            texts = value if isinstance(value, list) else [value]
            parts.append(f"{field}: {' '.join(str(t) for t in texts)}")
        return html.unescape("; ".join(parts)) or "error"
    return html.unescape(str(messages)) if messages not in (None, "") else "error"


def _body_retry_after(answer: requests.Response) -> float | None:
    try:
        data = answer.json()
    except ValueError:
        return None
    value = data.get("retryAfter") if isinstance(data, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _distinct(rows: list[dict[str, Any]]) -> list[Asset]:
    """The assets of ``rows``, each once (an archived one can be in both passes)."""
    found: dict[int | str, Asset] = {}
    for asset in map(_asset, rows):
        if asset is not None:
            found.setdefault(asset.id if asset.id is not None else asset.asset_tag, asset)
    return list(found.values())


def _asset(row: Any) -> Asset | None:
    """An :class:`Asset` from Snipe-IT's asset object (its strings are HTML-escaped)."""
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
