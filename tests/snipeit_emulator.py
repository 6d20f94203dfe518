"""A Snipe-IT API emulator for tests: a real HTTP server on 127.0.0.1, state in memory.

It answers as Snipe-IT 8.1.4's API does (``AssetsController``, ``LocationsController``,
``ReportsController``, the exception handler and the throttle), including its traps:

- a missing or wrong ``Authorization: Bearer`` token is HTTP 401
  ``{"error": "Unauthorized or unauthenticated."}`` (a 302 to ``/login`` without
  ``Accept: application/json``);
- business errors are HTTP **200** with ``{"status": "error", "messages": ..., "payload":
  null}``: ``bytag``, ``byserial``, ``{id}`` and audit of an unknown asset say
  "Asset does not exist.";
- lists are ``{"total", "rows"}`` with ``limit``/``offset``; a ``limit`` of 0 or above
  ``max_results`` (500) silently becomes ``max_results``; the asset list hides archived
  and deleted assets unless asked (``status=Archived``, ``status_id``);
- strings in asset and location objects are HTML-escaped as PHP's ``e()`` does, and
  activity-report notes are rendered (escaped) HTML; the report's ``search`` is
  escaped before it is matched;
- text comparisons ignore case (MySQL's default collation);
- ``bytag/{any}`` takes the rest of the path, decoded; an encoded slash (``%2F``) is
  refused with Apache's HTML 404, as Apache does by default;
- ``POST /hardware/{id}/checkout`` (``checkout_to_type=user``, ``assigned_user``,
  ``checkout_at`` honoured, the asset's location becomes the user's, or none) and
  ``/hardware/{id}/checkin`` (``location_id``, else the default location) answer as
  ``AssetsController`` does: "That asset is not available for checkout!" (assigned,
  archived, undeployable, pending), "That asset is already checked in.", an invalid
  target, validation messages; each applied one writes an activity-log row
  (``checkout`` / ``checkin from``) with its note;
- ``GET /users`` lists users (``UsersTransformer``: ``employee_num``, ``username``, names
  escaped), paged and filtered by ``username``, ``employee_num`` and ``search``;
- ``POST /hardware/audit`` (``asset_tag`` in the body) and ``/hardware/{id}/audit``
  write one activity-log row per call with the note and ``location_id``, move the asset
  only when ``update_location`` is 1, ignore the asset's status, and take no client time;
- ``POST /hardware/audit/bulk`` (Snipe-IT 8.7 and later, pull request #19271; absent with
  ``bulk_audit=False``, as in older releases: HTTP 404) audits every id of ``ids`` with the
  same ``note``, ``location_id``, ``update_location`` and ``next_audit_date``, each row as
  the single audit does, and answers HTTP 200 ``{status, messages, results: [{id, status,
  messages, payload}]}``: rows in input order, a repeated id once, an unknown or deleted id
  an error row with ``payload`` null, ``status`` ``success``, ``partial`` or ``error``; a
  missing or empty ``ids`` (or more than ``bulk_max_ids``) is refused as a whole with
  ``messages.ids`` and ``results`` empty; one request counts once against the throttle;
- ``POST /hardware`` creates an asset as ``AssetsController::store`` does, with
  ``Asset::$rules`` and the English messages of ``resources/lang/en-US/validation.php``
  ("The model id field is required.", "The selected status id is invalid.", "The asset
  tag must be unique.", and "The serial must be unique." when ``unique_serial`` is on): a
  refusal is HTTP 200 ``{"status": "error", "messages": {field: [...]}}``; no
  ``asset_tag`` takes the auto-increment tag (prefix, zero-filled number) when
  ``auto_increment`` is on and is refused as required otherwise; the payload is the flat
  model (``id``, ``asset_tag``, ``model_id``, ``status_id``, ``location_id``...); the
  list's ``search`` covers notes (``Asset::$searchableAttributes``);
- ``GET /models`` lists asset models, ``search`` matching name and model number;
- requests are counted per token in fixed windows (``throttle_limit`` per
  ``throttle_window`` seconds, default 120 per 60 s, the window starting at its first
  request); over it, HTTP 429 with ``Retry-After`` and ``X-RateLimit-*`` headers, or
  Snipe-IT 8.1.4's bare ``{"messages": "Too many requests"}`` without them
  (``retry_after_header=False``).

Faults are injected per request (:meth:`SnipeItEmulator.inject`) or at random
(:meth:`SnipeItEmulator.chaos`): HTTP 500, a dropped connection (reset), a slow answer
(a timeout when longer than the client waits) and a body that is not JSON, each either
before the request is applied or after it (``apply=True``: the audit is logged, the
answer is lost). The activity log is counted by sighting id
(:meth:`SnipeItEmulator.audits_by_sighting`).
"""

from __future__ import annotations

import calendar
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["AssetModel", "EmuAsset", "Fault", "LogEntry", "RequestRecord", "SnipeItEmulator",
           "php_e"]

_SIGHTING = re.compile(r"stocktaker sighting ([A-Za-z0-9-]{8,64})")
DEFAULT_STATUSES = (
    ("Ready to Deploy", "deployable"), ("Pending", "pending"), ("Archived", "archived"),
    ("Out for Diagnostics", "undeployable"), ("Out for Repair", "undeployable"),
    ("Broken - Not Fixable", "undeployable"), ("Lost/Stolen", "undeployable"),
)
_SORTABLE_ASSET = {"id", "name", "asset_tag", "serial", "created_at", "updated_at",
                   "last_audit_date", "next_audit_date"}
_SORTABLE_LOG = {"id", "created_at", "action_type", "note", "action_date"}


def php_e(value: Any) -> str:
    """PHP's ``e()`` (``htmlspecialchars`` with ENT_QUOTES, double encoding): None is ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "1" if value else ""
    text = str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#039;"))


def php_intval(value: Any) -> int:
    """PHP's ``intval`` of a request value: the leading integer, else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    match = re.match(r"\s*([+-]?\d+)", str(value or ""))
    return int(match[1]) if match else 0


def _same(a: Any, b: Any) -> bool:
    """Equality as MySQL's case-insensitive collation sees it."""
    return str(a if a is not None else "").casefold() == str(b if b is not None else "").casefold()


def _dt(epoch: float | None) -> dict[str, str] | None:
    if epoch is None:
        return None
    text = datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return {"datetime": text, "formatted": text}


def _date(text: str | None) -> dict[str, str] | None:
    return {"date": text, "formatted": text} if text else None


def _add_months(epoch: float, months: int) -> str:
    day = datetime.fromtimestamp(epoch, tz=timezone.utc).date()
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(year=year, month=month,
                       day=min(day.day, calendar.monthrange(year, month)[1])).isoformat()


@dataclass
class Location:
    """A Snipe-IT location."""

    id: int
    name: str
    parent_id: int | None = None


@dataclass
class StatusLabel:
    """A status label; ``type`` is deployable, pending, undeployable or archived."""

    id: int
    name: str
    type: str


@dataclass
class User:
    """A Snipe-IT user (assets can be checked out to one)."""

    id: int
    username: str
    first_name: str
    last_name: str = ""
    location_id: int | None = None
    employee_num: str = ""


@dataclass
class EmuAsset:
    """One asset row."""

    id: int
    asset_tag: str
    serial: str
    name: str
    status_id: int
    location_id: int | None
    rtd_location_id: int | None
    assigned_user: int | None
    created_at: float
    deleted_at: float | None = None
    last_audit_date: float | None = None
    next_audit_date: str | None = None
    updated_at: float = 0.0
    last_checkout: str | None = None
    last_checkin: float | None = None
    checkout_counter: int = 0
    checkin_counter: int = 0
    notes: str = ""
    model_id: int = 1
    invalid: dict[str, list[str]] | None = None
    """Validation messages the asset's model gives on save (e.g. a custom field whose format
    changed after the value was stored): every audit of it is refused with them."""


@dataclass
class AssetModel:
    """An asset model (``models`` table)."""

    id: int
    name: str
    model_number: str = ""
    category: str = "Laptops"
    manufacturer: str = ""


@dataclass
class LogEntry:
    """One ``action_logs`` row."""

    id: int
    action_type: str
    item_id: int
    note: str | None
    location_id: int | None
    created_at: float
    created_by: int
    user_agent: str
    remote_ip: str
    action_source: str
    target_id: int | None = None
    """The user an asset was checked out to (check-out rows)."""
    action_date: str | None = None
    """``checkout_at`` as given (check-out rows); else the row's own time."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received."""

    at: float
    """Monotonic time of arrival."""
    method: str
    raw_path: str
    """The path as sent (percent-encoded)."""
    query: dict[str, str]
    status: int
    """The HTTP status answered; 0 when the connection was dropped."""
    body_json: Any = None
    """The request's JSON body (None when it had none, or not JSON)."""

    @property
    def path(self) -> str:
        """The decoded path."""
        return unquote(self.raw_path)


@dataclass
class Fault:
    """A fault for requests that match ``method`` and a path starting with ``path``.

    ``kind``: ``500`` (HTTP 500 ``{"message": "Server Error"}``), ``drop`` (the connection
    is reset without an answer), ``slow`` (the answer waits ``delay`` seconds), ``garbage``
    (HTTP 200 with a body that is not JSON). ``apply``: the request is applied first (an
    audit is logged) and then the fault hits its answer.
    """

    kind: str
    apply: bool = False
    delay: float = 1.0
    method: str | None = None
    path: str | None = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is hit by this fault."""
        return ((self.method is None or self.method == method)
                and (self.path is None or path.startswith(self.path)))


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0


def _json_answer(status: int, data: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return _Answer(status, body, {"Content-Type": "application/json", **(headers or {})})


def _envelope(status: str, payload: Any, messages: Any) -> dict[str, Any]:
    return {"status": status, "messages": messages, "payload": payload or None}


def _not_exist() -> _Answer:
    return _json_answer(200, _envelope("error", None, "Asset does not exist."))


class SnipeItEmulator:
    """Snipe-IT's API on 127.0.0.1 (a random port), in a thread of the calling process.

    Args:
        token: the one valid API token (its user is the admin, id 1).
        throttle_limit: requests per window and token; None: no throttle.
        throttle_window: the window's length in seconds (60 in Snipe-IT; shorter in tests
            that scale a rate up, keeping ``throttle_limit``).
        retry_after_header: send ``Retry-After`` and ``X-RateLimit-*`` with a 429 (newer
            releases); False: Snipe-IT 8.1.4's body without them.
        max_results: the largest page (``MAX_RESULTS``).
        show_archived_in_list: the admin setting; off, archived assets are left out of the
            asset list unless asked for.
        audit_interval: months to the next audit after an audit.
        encoded_slash_404: refuse paths with ``%2F`` as Apache does by default.
        bulk_audit: serve ``POST /hardware/audit/bulk`` (Snipe-IT 8.7 and later); False: an
            older release, where that path is an unknown route (HTTP 404).
        bulk_max_ids: refuse a bulk audit of more ids than this (None: no cap, as
            Snipe-IT); stands for a server whose request size limits stop larger ones.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, token: str = "test-token", *, throttle_limit: int | None = 120,
                 throttle_window: float = 60.0, retry_after_header: bool = True,
                 max_results: int = 500, show_archived_in_list: bool = False,
                 audit_interval: int = 12, encoded_slash_404: bool = True,
                 bulk_audit: bool = True, bulk_max_ids: int | None = None,
                 auto_increment: bool = False, auto_increment_prefix: str = "",
                 zerofill_count: int = 5, unique_serial: bool = False) -> None:
        self.token = token
        self.throttle_limit = throttle_limit
        self.throttle_window = throttle_window
        self.retry_after_header = retry_after_header
        self.max_results = max_results
        self.show_archived_in_list = show_archived_in_list
        self.audit_interval = audit_interval
        self.encoded_slash_404 = encoded_slash_404
        self.bulk_audit = bulk_audit
        self.bulk_max_ids = bulk_max_ids
        self.auto_increment = auto_increment
        self.auto_increment_prefix = auto_increment_prefix
        self.zerofill_count = zerofill_count
        self.next_auto_tag_base = 1
        self.unique_serial = unique_serial
        self.models: dict[int, AssetModel] = {}
        self.on_asset_created: Callable[[EmuAsset], None] | None = None
        """Called after ``POST /hardware`` saved an asset, before its answer is sent."""
        self.on_audit_applied: Callable[[LogEntry], None] | None = None
        """Called after an audit is logged, before its answer is sent (in the server thread)."""
        self.on_request: Callable[[RequestRecord], None] | None = None
        """Called after each request is answered (in the server thread)."""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ids = Counter[str]()
        self.locations: dict[int, Location] = {}
        self.statuses: dict[int, StatusLabel] = {}
        self.users: dict[int, User] = {1: User(1, "admin", "Admin", "User")}
        self.assets: dict[int, EmuAsset] = {}
        self.log: list[LogEntry] = []
        self.requests: list[RequestRecord] = []
        """Every request, in order of arrival."""
        self.faults: list[Fault] = []
        self.faults_fired = Counter[tuple[str, bool]]()
        self._chaos: tuple[float, list[tuple[str, bool]], Random, str | None, str | None,
                           float] | None = None
        self._window: dict[str, tuple[float, int]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids["users"] = 1
        for name, kind in DEFAULT_STATUSES:
            self.add_status(name, kind)
        self.add_model("Laptop 14")

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:<port>``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start serving; returns :attr:`url`."""
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="snipeit-emulator", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, close every connection and wait for the server's threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> SnipeItEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state --------------------------------------------------------------------------

    def _next_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def add_status(self, name: str, kind: str) -> int:
        """Add a status label of type ``kind``; returns its id."""
        if kind not in ("deployable", "pending", "undeployable", "archived"):
            raise ValueError(kind)
        with self._lock:
            label = StatusLabel(self._next_id("statuses"), name, kind)
            self.statuses[label.id] = label
            return label.id

    def status_id(self, name: str) -> int:
        """The id of the status label ``name``."""
        return next(s.id for s in self.statuses.values() if s.name == name)

    def add_model(self, name: str, model_number: str = "", *, category: str = "Laptops",
                  manufacturer: str = "") -> int:
        """Add an asset model; returns its id."""
        with self._lock:
            model = AssetModel(self._next_id("models"), name, model_number, category,
                               manufacturer)
            self.models[model.id] = model
            return model.id

    def assets_noted(self, text: str) -> list[EmuAsset]:
        """The non-deleted assets whose notes contain ``text``."""
        with self._lock:
            return [a for a in self.assets.values() if text in a.notes and a.deleted_at is None]

    def add_location(self, name: str, parent: int | None = None) -> int:
        """Add a location; returns its id."""
        with self._lock:
            location = Location(self._next_id("locations"), name, parent)
            self.locations[location.id] = location
            return location.id

    def location_named(self, name: str) -> int:
        """The id of the (first) location called ``name``."""
        return next(loc.id for loc in self.locations.values() if loc.name == name)

    def add_user(self, username: str, first_name: str, last_name: str = "",
                 location: int | None = None, employee_num: str = "") -> int:
        """Add a user; returns its id."""
        with self._lock:
            user = User(self._next_id("users"), username, first_name, last_name, location,
                        employee_num)
            self.users[user.id] = user
            return user.id

    def add_asset(self, asset_tag: str, *, serial: str = "", name: str = "",
                  status: str = "Ready to Deploy", location: int | str | None = None,
                  rtd_location: int | str | None = None, assigned_user: int | None = None,
                  deleted: bool = False) -> int:
        """Add an asset (locations by id or name); returns its id."""
        with self._lock:
            asset = EmuAsset(
                id=self._next_id("assets"), asset_tag=asset_tag, serial=serial, name=name,
                status_id=self.status_id(status), location_id=self._location_ref(location),
                rtd_location_id=self._location_ref(rtd_location), assigned_user=assigned_user,
                created_at=time.time(), deleted_at=time.time() if deleted else None)
            asset.updated_at = asset.created_at
            self.assets[asset.id] = asset
            return asset.id

    def _location_ref(self, ref: int | str | None) -> int | None:
        if ref is None or isinstance(ref, int):
            return ref
        return self.location_named(ref)

    def asset(self, asset_tag: str) -> EmuAsset:
        """The (non-deleted) asset with this tag."""
        with self._lock:
            return next(a for a in self.assets.values()
                        if a.asset_tag == asset_tag and a.deleted_at is None)

    def audit_entries(self) -> list[LogEntry]:
        """The activity log's audit rows, oldest first."""
        with self._lock:
            return [e for e in self.log if e.action_type == "audit"]

    def entries_by_sighting(self, action_type: str) -> Counter[str]:
        """How many activity-log rows of ``action_type`` name each sighting id."""
        counts: Counter[str] = Counter()
        with self._lock:
            entries = [e for e in self.log if e.action_type == action_type]
        for entry in entries:
            match = _SIGHTING.search(entry.note or "")
            if match:
                counts[match[1]] += 1
        return counts

    def audits_by_asset(self) -> Counter[int]:
        """How many audits the log holds for each asset id."""
        return Counter(e.item_id for e in self.audit_entries())

    def audits_by_sighting(self) -> Counter[str]:
        """How many audits the log holds for each sighting id (from the note's marker)."""
        counts: Counter[str] = Counter()
        for entry in self.audit_entries():
            match = _SIGHTING.search(entry.note or "")
            if match:
                counts[match[1]] += 1
        return counts

    def statuses_seen(self) -> Counter[int]:
        """How many requests got each HTTP status (0: the connection was dropped)."""
        with self._lock:
            return Counter(r.status for r in self.requests)

    def requests_to(self, path: str, method: str = "GET") -> list[RequestRecord]:
        """The requests whose decoded path starts with ``path``."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def max_requests_in(self, seconds: float) -> int:
        """The most requests that arrived within any ``seconds`` (a sliding window)."""
        with self._lock:
            times = sorted(r.at for r in self.requests)
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= seconds:
                first += 1
            best = max(best, last - first + 1)
        return best

    # -- faults -------------------------------------------------------------------------

    def inject(self, kind: str, *, times: int = 1, method: str | None = None,
               path: str | None = None, apply: bool = False, delay: float = 1.0) -> None:
        """Hit the next ``times`` matching requests with a fault (see :class:`Fault`)."""
        if kind not in ("500", "drop", "slow", "garbage"):
            raise ValueError(kind)
        with self._lock:
            self.faults.append(Fault(kind, apply, delay, method, path, times))

    def chaos(self, rate: float, *, kinds: Iterable[tuple[str, bool]] = (
                  ("500", False), ("500", True), ("drop", False), ("drop", True),
                  ("garbage", False), ("garbage", True)),
              seed: int = 0, method: str | None = None, path: str | None = None,
              delay: float = 1.0) -> None:
        """Hit each matching request with probability ``rate`` by one of ``kinds``
        (``(kind, apply)`` pairs), chosen by a seeded generator; ``rate`` 0 ends it."""
        with self._lock:
            self._chaos = (rate, list(kinds), Random(seed), method, path, delay) if rate else None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    self.faults_fired[(fault.kind, fault.apply)] += 1
                    return fault
            if self._chaos is not None:
                rate, kinds, rng, c_method, c_path, delay = self._chaos
                if ((c_method is None or c_method == method)
                        and (c_path is None or path.startswith(c_path))
                        and rng.random() < rate):
                    kind, apply = rng.choice(kinds)
                    self.faults_fired[(kind, apply)] += 1
                    return Fault(kind, apply, delay)
        return None

    # -- one request ------------------------------------------------------------------------

    def _respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                 client_ip: str) -> _Answer:
        split = urlsplit(target)
        raw_path = split.path
        arrived = time.monotonic()
        answer = self._respond_inner(method, raw_path, split.query, headers, body, client_ip)
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = None
        seen = RequestRecord(arrived, method, raw_path, dict(parse_qsl(split.query)),
                             0 if answer.drop else answer.status, sent)
        with self._lock:
            self.requests.append(seen)
        if self.on_request is not None:
            self.on_request(seen)
        return answer

    def _respond_inner(self, method: str, raw_path: str, query: str,
                       headers: Mapping[str, str], body: bytes, client_ip: str) -> _Answer:
        if self.encoded_slash_404 and "%2f" in raw_path.lower():
            return _Answer(404, b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html>"
                           b"<head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
                           b"</body></html>\n", {"Content-Type": "text/html; charset=iso-8859-1"})
        accept = headers.get("Accept") or ""
        wants_json = "/json" in accept or "+json" in accept
        if not raw_path.startswith("/api/v1/"):
            return _Answer(404, b"<html><body>Not found</body></html>",
                           {"Content-Type": "text/html"})
        if headers.get("Authorization") != f"Bearer {self.token}":
            if not wants_json:
                return _Answer(302, b"", {"Location": "/login"})
            return _json_answer(401, {"error": "Unauthorized or unauthenticated."})
        limited = self._throttle(self.token)
        if limited is not None:
            return limited
        rate_headers = self._rate_headers(self.token)
        path = unquote(raw_path)
        fault = self._take_fault(method, path)
        if fault is not None and not fault.apply:
            if fault.kind == "slow":
                self._stopping.wait(fault.delay)
            else:
                return self._fault_answer(fault, None)
        inputs = self._inputs(query, headers, body)
        answer = self._dispatch(method, raw_path, inputs, wants_json,
                                headers.get("User-Agent") or "", client_ip,
                                bool(headers.get("Content-Type")) and accept == "application/json")
        answer.headers.update(rate_headers)
        if fault is not None and fault.apply:
            if fault.kind == "slow":
                answer.delay = fault.delay
            else:
                return self._fault_answer(fault, answer)
        return answer

    def _fault_answer(self, fault: Fault, applied: _Answer | None) -> _Answer:
        if fault.kind == "500":
            return _json_answer(500, {"message": "Server Error"})
        if fault.kind == "drop":
            return _Answer(0, drop=True)
        if applied is not None:  # garbage: the real answer cut short
            return _Answer(200, applied.body[: max(1, len(applied.body) // 2)],
                           {"Content-Type": "application/json"})
        return _Answer(200, b"<!DOCTYPE html><html><head><title>Snipe-IT</title></head>"
                       b"<body>Please log in</body></html>", {"Content-Type": "text/html"})

    def _throttle(self, key: str) -> _Answer | None:
        if self.throttle_limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            ends, count = self._window.get(key, (0.0, 0))
            if now >= ends:
                ends, count = now + self.throttle_window, 0
            if count >= self.throttle_limit:
                self._window[key] = (ends, count)
                wait = max(0, int(ends - now + 0.999))
                if not self.retry_after_header:
                    return _json_answer(429, _envelope("error", None, "Too many requests"))
                return _json_answer(429, {
                    "status": "error", "messages": f"Too many requests. Try again in {wait}"
                    " seconds.", "status_code": 429, "retryAfter": wait,
                }, {"Retry-After": str(wait), "X-RateLimit-Limit": str(self.throttle_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time() + ends - now))})
            self._window[key] = (ends, count + 1)
        return None

    def _rate_headers(self, key: str) -> dict[str, str]:
        if self.throttle_limit is None:
            return {}
        with self._lock:
            _, count = self._window.get(key, (0.0, 0))
        return {"X-RateLimit-Limit": str(self.throttle_limit),
                "X-RateLimit-Remaining": str(max(0, self.throttle_limit - count))}

    @staticmethod
    def _inputs(query: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Laravel's ``input()``: the JSON body over the query; strings trimmed, '' null."""
        values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        if body and "json" in (headers.get("Content-Type") or ""):
            try:
                data = json.loads(body)
            except ValueError:
                data = None  # a plain Request sees empty input
            if isinstance(data, dict):
                values.update(data)

        def clean(value: Any) -> Any:
            if isinstance(value, str):
                value = value.strip()
                return value or None
            return value

        return {key: clean(value) for key, value in values.items()}

    def _dispatch(self, method: str, raw_path: str, inputs: dict[str, Any], wants_json: bool,
                  user_agent: str, client_ip: str, from_api: bool) -> _Answer:
        routes: list[tuple[str, str, Callable[..., _Answer]]] = [
            ("GET", r"/api/v1/hardware", self._index),
            ("POST", r"/api/v1/hardware", self._store),
            ("GET", r"/api/v1/models", self._models),
            ("GET", r"/api/v1/hardware/bytag/(.+)", self._by_tag),
            ("GET", r"/api/v1/hardware/byserial/(.+)", self._by_serial),
            ("POST", r"/api/v1/hardware/audit",
             lambda i: self._audit(None, i, user_agent, client_ip, from_api)),
            *([("POST", r"/api/v1/hardware/audit/bulk",
                lambda i: self._bulk_audit(i, user_agent, client_ip, from_api))]
              if self.bulk_audit else []),
            ("POST", r"/api/v1/hardware/([0-9]+)/audit",
             lambda i, a: self._audit(int(a), i, user_agent, client_ip, from_api)),
            ("GET", r"/api/v1/hardware/([0-9]+)", self._show),
            ("POST", r"/api/v1/hardware/([0-9]+)/checkout",
             lambda i, a: self._checkout(int(a), i, user_agent, client_ip, from_api)),
            ("POST", r"/api/v1/hardware/([0-9]+)/checkin",
             lambda i, a: self._checkin(int(a), i, user_agent, client_ip, from_api)),
            ("GET", r"/api/v1/users", self._users),
            ("GET", r"/api/v1/locations", self._locations),
            ("GET", r"/api/v1/locations/([0-9]+)", self._location),
            ("GET", r"/api/v1/statuslabels", self._statuslabels),
            ("GET", r"/api/v1/reports/activity", self._activity),
            ("GET", r"/api/v1/users/me", lambda i: _json_answer(200, self._user(1))),
        ]
        allowed = False
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, raw_path)
            if match is None:
                continue
            if route_method != method:
                allowed = True
                continue
            with self._lock:
                return handler(inputs, *(unquote(g) for g in match.groups()))
        if allowed:
            return _json_answer(405, _envelope("error", None, "Method not allowed"))
        if not wants_json:
            return _Answer(404, b"<html><body>404</body></html>", {"Content-Type": "text/html"})
        return _json_answer(404, _envelope("error", None, "404 endpoint not found"))

    # -- endpoints (called with the lock held) -------------------------------------------

    def _page(self, rows: list[Any], inputs: Mapping[str, Any]) -> tuple[list[Any], int]:
        total = len(rows)
        wanted = php_intval(inputs.get("limit"))
        limit = abs(wanted) if 0 < abs(wanted) and wanted <= self.max_results \
            else self.max_results
        offset = max(0, min(php_intval(inputs.get("offset")), total))
        return rows[offset: offset + limit], total

    def _label(self, asset: EmuAsset) -> StatusLabel:
        return self.statuses[asset.status_id]

    def _index(self, inputs: dict[str, Any]) -> _Answer:
        status = inputs.get("status")
        rows = [a for a in self.assets.values()
                if (a.deleted_at is not None) == (status == "Deleted")]
        kinds = {"Pending": "pending", "Undeployable": "undeployable", "Archived": "archived"}
        if status in kinds:
            rows = [a for a in rows if self._label(a).type == kinds[status]]
        elif status == "RTD":
            rows = [a for a in rows
                    if a.assigned_user is None and self._label(a).type == "deployable"]
        elif status == "Deployed":
            rows = [a for a in rows if a.assigned_user is not None]
        elif status != "Deleted" and inputs.get("status_id") is None \
                and not self.show_archived_in_list:
            rows = [a for a in rows if self._label(a).type != "archived"]
        for key in ("status_id", "location_id", "rtd_location_id"):
            if inputs.get(key) is not None:
                rows = [a for a in rows if str(getattr(a, key)) == str(inputs[key])]
        for key in ("asset_tag", "serial"):
            if inputs.get(key) is not None:
                rows = [a for a in rows if _same(getattr(a, key), inputs[key])]
        if inputs.get("search") is not None:
            term = str(inputs["search"]).casefold()
            rows = [a for a in rows
                    if any(term in str(v).casefold()
                           for v in (a.asset_tag, a.serial, a.name, a.notes))]
        sort = inputs.get("sort") if inputs.get("sort") in _SORTABLE_ASSET else "created_at"
        if sort in ("asset_tag", "name", "serial"):
            rows.sort(key=lambda a: (str(getattr(a, sort)).casefold(), a.id),
                      reverse=inputs.get("order") != "asc")
        else:
            rows.sort(key=lambda a: (getattr(a, sort) is None, getattr(a, sort) or 0, a.id),
                      reverse=inputs.get("order") != "asc")
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [self._transform(a) for a in page]})

    def _store(self, inputs: dict[str, Any]) -> _Answer:
        """``POST /hardware``: ``StoreAssetRequest`` then ``Asset::$rules``, then save."""
        tag = inputs.get("asset_tag")
        if tag is None and self.auto_increment:
            tag = (f"{self.auto_increment_prefix}"
                   f"{self.next_auto_tag_base:0{self.zerofill_count}d}")
        errors: dict[str, list[str]] = {}

        def ref(key: str, table: Mapping[int, Any]) -> int | None:
            value = inputs.get(key)
            if value is None or value == "":
                errors[key] = [f"The {key.replace('_', ' ')} field is required."]
                return None
            if not re.fullmatch(r"-?[0-9]+", str(value)) or isinstance(value, bool):
                errors[key] = [f"The {key.replace('_', ' ')} field must be an integer."]
                return None
            if int(value) not in table:
                errors[key] = [f"The selected {key.replace('_', ' ')} is invalid."]
                return None
            return int(value)

        model_id = ref("model_id", self.models)
        status_id = ref("status_id", self.statuses)
        if tag is None or tag == "":
            errors["asset_tag"] = ["The asset tag field is required."]
        elif isinstance(tag, (list, dict)):
            errors["asset_tag"] = ["asset_tag cannot be an array."]
        elif len(str(tag)) > 255:
            errors["asset_tag"] = ["The asset tag field must not be greater than 255"
                                   " characters."]
        elif any(_same(a.asset_tag, tag) for a in self.assets.values()
                 if a.deleted_at is None):
            errors["asset_tag"] = ["The asset tag must be unique."]
        serial = inputs.get("serial")
        if serial not in (None, "") and self.unique_serial and any(
                _same(a.serial, serial) for a in self.assets.values() if a.deleted_at is None):
            errors["serial"] = ["The serial must be unique."]
        locations: dict[str, int | None] = {}
        for key in ("location_id", "rtd_location_id"):
            value = inputs.get(key)
            if value in (None, ""):
                locations[key] = None
            elif php_intval(value) not in self.locations:
                errors[key] = [f"The selected {key.replace('_', ' ')} is invalid."]
            else:
                locations[key] = php_intval(value)
        notes = inputs.get("notes")
        if notes is not None and not isinstance(notes, str):
            errors["notes"] = ["The notes must be a string."]
        if errors:
            return _json_answer(200, _envelope("error", None, errors))
        assert model_id is not None and status_id is not None
        now = time.time()
        asset = EmuAsset(
            id=self._next_id("assets"), asset_tag=str(tag), serial=str(serial or ""),
            name=str(inputs.get("name") or ""), status_id=status_id,
            location_id=locations.get("rtd_location_id") or locations.get("location_id"),
            rtd_location_id=locations.get("rtd_location_id"), assigned_user=None,
            created_at=now, updated_at=now, notes=notes or "", model_id=model_id)
        self.assets[asset.id] = asset
        if self.auto_increment and inputs.get("asset_tag") is None:
            self.next_auto_tag_base += 1
        if self.on_asset_created is not None:
            self.on_asset_created(asset)
        payload = {"id": asset.id, "asset_tag": asset.asset_tag, "model_id": model_id,
                   "status_id": status_id, "location_id": asset.location_id,
                   "rtd_location_id": asset.rtd_location_id, "serial": asset.serial or None,
                   "name": asset.name or None, "notes": asset.notes or None,
                   "created_by": 1, "created_at": _dt(now)["datetime"],  # type: ignore[index]
                   "updated_at": _dt(now)["datetime"]}  # type: ignore[index]
        return _json_answer(200, _envelope("success", payload,
                                           "Asset created successfully. :)"))

    def _models(self, inputs: dict[str, Any]) -> _Answer:
        rows = sorted(self.models.values(), key=lambda m: m.id)
        if inputs.get("search") is not None:
            term = str(inputs["search"]).casefold()
            rows = [m for m in rows if term in m.name.casefold()
                    or term in m.model_number.casefold()]
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [
            {"id": m.id, "name": php_e(m.name), "model_number": php_e(m.model_number) or None,
             "manufacturer": {"id": 1, "name": php_e(m.manufacturer)} if m.manufacturer
             else None, "category": {"id": 1, "name": php_e(m.category)},
             "assets_count": sum(a.model_id == m.id for a in self.assets.values()),
             "notes": None} for m in page]})

    def _by_tag(self, inputs: dict[str, Any], tag: str) -> _Answer:
        deleted = inputs.get("deleted") == "true"
        found = [a for a in self.assets.values() if _same(a.asset_tag, tag)
                 and (deleted or a.deleted_at is None)]
        if not found:
            return _not_exist()
        if len(found) == 1 and not deleted:
            return _json_answer(200, self._transform(found[0]))
        return _json_answer(200, {"total": len(found),
                                  "rows": [self._transform(a) for a in found]})

    def _by_serial(self, inputs: dict[str, Any], serial: str) -> _Answer:
        deleted = inputs.get("deleted") == "true"
        found = [a for a in self.assets.values() if _same(a.serial, serial)
                 and (deleted or a.deleted_at is None)]
        page, total = self._page(found, inputs)
        if not page:
            return _not_exist()
        return _json_answer(200, {"total": total, "rows": [self._transform(a) for a in page]})

    def _show(self, inputs: dict[str, Any], asset_id: str) -> _Answer:
        asset = self.assets.get(int(asset_id))
        if asset is None:
            return _not_exist()
        return _json_answer(200, self._transform(asset))

    def _audit(self, asset_id: int | None, inputs: dict[str, Any], user_agent: str,
               client_ip: str, from_api: bool) -> _Answer:
        asset: EmuAsset | None
        if asset_id is not None:
            asset = self.assets.get(asset_id)
            if asset is None or asset.deleted_at is not None:
                return _json_answer(200, _envelope("error", None, "Asset not found"))
        if inputs.get("asset_tag") is not None:
            asset = next((a for a in self.assets.values() if a.deleted_at is None
                          and _same(a.asset_tag, inputs["asset_tag"])), None)
            if asset is None:
                return _not_exist()
        elif asset_id is None:
            # Laravel hands the controller an empty model, which fails validation.
            return _json_answer(200, _envelope("error", None, {
                "model_id": ["The model id field is required."],
                "status_id": ["The status id field is required."],
                "asset_tag": ["The asset tag field is required."]}))
        assert asset is not None
        next_audit = inputs.get("next_audit_date")
        if next_audit is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(next_audit)):
            return _json_answer(200, _envelope("error", None, {
                "next_audit_date": ["The next audit date field must be a valid date."]}))
        status, payload, messages = self._audit_one(asset, inputs, user_agent, client_ip,
                                                    from_api)
        return _json_answer(200, _envelope(status, payload, messages))

    def _audit_one(self, asset: EmuAsset, inputs: dict[str, Any], user_agent: str,
                   client_ip: str, from_api: bool) -> tuple[str, Any, Any]:
        """One asset's audit as ``AssetsController`` does it: (status, payload, messages)."""
        now = time.time()
        next_audit = inputs.get("next_audit_date")
        if asset.invalid:
            return "error", {"asset_tag": php_e(asset.asset_tag)}, dict(asset.invalid)
        location_id = inputs.get("location_id")
        update = inputs.get("update_location")
        # PHP's loose ``== '1'``: 1, "1", 1.0 and true match; "true" does not.
        moving = update is True or (not isinstance(update, bool) and str(update) in ("1", "1.0"))
        if moving and location_id is not None and php_intval(location_id) not in self.locations:
            return "error", None, {"location_id": ["The selected location id is invalid."]}
        if moving:
            asset.location_id = None if location_id is None else php_intval(location_id)
        asset.next_audit_date = str(next_audit) if next_audit else _add_months(
            now, self.audit_interval)
        asset.last_audit_date = now
        asset.updated_at = now
        entry = LogEntry(self._next_id("log"), "audit", asset.id, inputs.get("note"),
                         None if location_id is None else php_intval(location_id), now, 1,
                         user_agent, client_ip, "api" if from_api else "cli/unknown")
        self.log.append(entry)
        if self.on_audit_applied is not None:
            self.on_audit_applied(entry)
        return "success", {
            "id": asset.id, "asset_tag": asset.asset_tag, "note": inputs.get("note"),
            "next_audit_date": {"datetime": f"{asset.next_audit_date} 00:00:00",
                                "formatted": asset.next_audit_date},
        }, "Asset audit successfully logged."

    def _bulk_audit(self, inputs: dict[str, Any], user_agent: str, client_ip: str,
                    from_api: bool) -> _Answer:
        ids = inputs.get("ids")
        problems: dict[str, list[str]] = {}
        if not isinstance(ids, list) or not ids:
            problems["ids"] = ["The ids field is required." if not ids
                               else "The ids field must be an array."]
        elif self.bulk_max_ids is not None and len(ids) > self.bulk_max_ids:
            problems["ids"] = [f"The ids field must not have more than {self.bulk_max_ids}"
                               " items."]
        next_audit = inputs.get("next_audit_date")
        if next_audit is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(next_audit)):
            problems["next_audit_date"] = ["The next audit date field must be a valid date."]
        if problems:
            return _json_answer(200, {"status": "error", "messages": problems, "results": []})
        assert isinstance(ids, list)
        results = []
        seen: set[int] = set()
        for raw in ids:
            asset_id = php_intval(raw)
            if asset_id in seen:
                continue
            seen.add(asset_id)
            asset = self.assets.get(asset_id)
            if asset is None or asset.deleted_at is not None:
                results.append({"id": asset_id, "status": "error",
                                "messages": "Asset does not exist.", "payload": None})
                continue
            status, payload, messages = self._audit_one(asset, inputs, user_agent, client_ip,
                                                        from_api)
            if isinstance(payload, dict) and "asset_tag" in payload:
                payload = {**payload, "asset_tag": php_e(asset.asset_tag)}
            results.append({"id": asset_id, "status": status, "messages": messages,
                            "payload": payload})
        good = sum(r["status"] == "success" for r in results)
        bad = len(results) - good
        status = "success" if not bad else "error" if not good else "partial"
        return _json_answer(200, {
            "status": status, "results": results,
            "messages": f"{good} asset(s) audited successfully"
                        + (f", {bad} failed" if bad else "")})

    def _checkout(self, asset_id: int, inputs: dict[str, Any], user_agent: str,
                  client_ip: str, from_api: bool) -> _Answer:
        asset = self.assets.get(asset_id)
        if asset is None or asset.deleted_at is not None:
            return _json_answer(200, _envelope("error", None, "Asset not found"))
        kind = inputs.get("checkout_to_type")
        problems: dict[str, list[str]] = {}
        if kind not in ("user", "asset", "location"):
            problems["checkout_to_type"] = ["The checkout to type field is required."
                                            if kind is None else
                                            "The selected checkout to type is invalid."]
        targets = [k for k in ("assigned_user", "assigned_asset", "assigned_location")
                   if inputs.get(k) is not None]
        if not targets:
            for k in ("assigned_user", "assigned_asset", "assigned_location"):
                problems[k] = [f"The {k.replace('_', ' ')} field is required when none of"
                               " the others are present."]
        at = inputs.get("checkout_at")
        if at is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?",
                                               str(at)):
            problems["checkout_at"] = ["The checkout at field must be a valid date."]
        if problems:
            return _json_answer(200, _envelope("error", None, problems))
        label = self._label(asset)
        if asset.assigned_user is not None or label.type != "deployable":
            return _json_answer(200, _envelope("error", {"asset": php_e(asset.asset_tag)},
                                               "That asset is not available for checkout!"))
        user = self.users.get(php_intval(inputs.get("assigned_user"))) \
            if kind == "user" else None
        if user is None:
            return _json_answer(200, _envelope("error", {
                "asset": {"id": asset.id, "asset_tag": php_e(asset.asset_tag)},
                "target_id": inputs.get("assigned_user"), "target_type": kind},
                f"Checkout target for asset {php_e(asset.asset_tag)} is invalid - {kind}"
                " does not exist."))
        now = time.time()
        asset.assigned_user = user.id
        asset.location_id = user.location_id
        asset.last_checkout = str(at) if at else _dt(now)["datetime"]  # type: ignore[index]
        asset.checkout_counter += 1
        asset.updated_at = now
        self.log.append(LogEntry(self._next_id("log"), "checkout", asset.id, inputs.get("note"),
                                 asset.location_id, now, 1, user_agent, client_ip,
                                 "api" if from_api else "cli/unknown", target_id=user.id,
                                 action_date=asset.last_checkout))
        return _json_answer(200, _envelope("success", {"asset": php_e(asset.asset_tag)},
                                           "Asset checked out successfully."))

    def _checkin(self, asset_id: int, inputs: dict[str, Any], user_agent: str,
                 client_ip: str, from_api: bool) -> _Answer:
        asset = self.assets.get(asset_id)
        if asset is None or asset.deleted_at is not None:
            return _json_answer(200, _envelope("error", None, "Asset not found"))
        payload = {"asset_tag": php_e(asset.asset_tag), "model": "Laptop 14",
                   "model_number": None}
        if asset.assigned_user is None:
            return _json_answer(200, _envelope("error", payload,
                                               "That asset is already checked in."))
        location = inputs.get("location_id")
        if location is not None and php_intval(location) not in self.locations:
            return _json_answer(200, _envelope("error", None, {
                "location_id": ["The selected location id is invalid."]}))
        now = time.time()
        asset.assigned_user = None
        asset.location_id = php_intval(location) if location is not None \
            else asset.rtd_location_id
        asset.last_checkin = now
        asset.checkin_counter += 1
        asset.updated_at = now
        self.log.append(LogEntry(self._next_id("log"), "checkin from", asset.id,
                                 inputs.get("note"), asset.location_id, now, 1, user_agent,
                                 client_ip, "api" if from_api else "cli/unknown"))
        return _json_answer(200, _envelope("success", payload, "Asset checked in successfully."))

    def _users(self, inputs: dict[str, Any]) -> _Answer:
        rows = list(self.users.values())
        for key in ("username", "employee_num", "first_name", "last_name"):
            if inputs.get(key) is not None:
                rows = [u for u in rows if _same(getattr(u, key), inputs[key])]
        if inputs.get("search") is not None:
            term = str(inputs["search"]).casefold()
            rows = [u for u in rows if any(term in str(v).casefold() for v in (
                u.username, u.employee_num, u.first_name, u.last_name))]
        rows.sort(key=lambda u: u.id, reverse=inputs.get("order") != "asc")
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [self._user_row(u) for u in page]})

    def _user_row(self, user: User) -> dict[str, Any]:
        return {
            "id": user.id, "avatar": None,
            "name": php_e(f"{user.first_name} {user.last_name}".strip()),
            "first_name": php_e(user.first_name), "last_name": php_e(user.last_name),
            "username": php_e(user.username), "remote": False, "locale": None,
            "employee_num": php_e(user.employee_num), "manager": None, "jobtitle": None,
            "vip": False, "phone": None, "website": None, "address": None, "city": None,
            "state": None, "country": None, "zip": None, "email": None,
            "department": None, "location": self._ref(user.location_id), "notes": None,
            "permissions": None, "activated": True, "autoassign_licenses": True,
            "ldap_import": False, "two_factor_enrolled": False,
            "two_factor_optin": False, "assets_count": sum(
                a.assigned_user == user.id for a in self.assets.values()),
            "licenses_count": 0, "accessories_count": 0, "consumables_count": 0,
            "manages_users_count": 0, "manages_locations_count": 0, "company": None,
            "created_by": None, "created_at": None, "updated_at": None,
            "start_date": None, "end_date": None, "last_login": None, "deleted_at": None,
            "available_actions": {"update": True, "delete": False, "clone": True,
                                  "restore": False},
        }

    def _locations(self, inputs: dict[str, Any]) -> _Answer:
        rows = list(self.locations.values())
        if inputs.get("name") is not None:
            rows = [loc for loc in rows if _same(loc.name, inputs["name"])]
        if inputs.get("search") is not None:
            term = str(inputs["search"]).casefold()
            rows = [loc for loc in rows if term in loc.name.casefold()]
        rows.sort(key=lambda loc: (loc.name.casefold(), loc.id),
                  reverse=inputs.get("order") == "desc")
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [self._loc(loc) for loc in page]})

    def _location(self, inputs: dict[str, Any], location_id: str) -> _Answer:
        location = self.locations.get(int(location_id))
        if location is None:
            return _json_answer(200, _envelope("error", None, "Location not found"))
        return _json_answer(200, self._loc(location))

    def _statuslabels(self, inputs: dict[str, Any]) -> _Answer:
        rows = list(self.statuses.values())
        if inputs.get("name") is not None:
            rows = [s for s in rows if _same(s.name, inputs["name"])]
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [
            {"id": s.id, "name": php_e(s.name), "type": s.type, "color": None,
             "show_in_nav": False, "default_label": False,
             "assets_count": sum(a.status_id == s.id for a in self.assets.values()),
             "notes": None} for s in page]})

    def _activity(self, inputs: dict[str, Any]) -> _Answer:
        rows = list(self.log)
        if inputs.get("search") is not None:
            terms = php_e(inputs["search"]).casefold().split(" or ")
            rows = [e for e in rows if any(term in text for term in terms
                                           for text in self._searchable(e))]
        if inputs.get("item_type") is not None and inputs.get("item_id") is not None:
            if str(inputs["item_type"]).casefold() == "asset":
                rows = [e for e in rows if str(e.item_id) == str(inputs["item_id"])]
            else:
                rows = []
        if inputs.get("action_type") is not None:
            rows = [e for e in rows if e.action_type == inputs["action_type"]]
        sort = inputs.get("sort") if inputs.get("sort") in _SORTABLE_LOG else "created_at"
        if sort == "action_date":
            sort = "created_at"
        rows.sort(key=lambda e: (getattr(e, sort) or "", e.id),
                  reverse=inputs.get("order") != "asc")
        page, total = self._page(rows, inputs)
        return _json_answer(200, {"total": total, "rows": [self._log_row(e) for e in page]})

    def _searchable(self, entry: LogEntry) -> list[str]:
        texts = [entry.note or "", entry.action_type, entry.user_agent, entry.remote_ip,
                 entry.action_source, str(entry.created_by), "app\\models\\asset"]
        asset = self.assets.get(entry.item_id)
        if asset is not None:
            texts += [asset.asset_tag, asset.name, asset.serial]
        return [text.casefold() for text in texts]

    # -- transformers ----------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        user = self.users[user_id]
        return {"id": user.id, "username": php_e(user.username),
                "name": php_e(f"{user.first_name} {user.last_name}".strip()),
                "first_name": php_e(user.first_name), "last_name": php_e(user.last_name) or None,
                "email": None, "employee_number": php_e(user.employee_num) or None,
                "type": "user"}

    def _ref(self, location_id: int | None) -> dict[str, Any] | None:
        location = self.locations.get(location_id) if location_id is not None else None
        return None if location is None else {"id": location.id, "name": php_e(location.name)}

    def _loc(self, location: Location) -> dict[str, Any]:
        return {
            "id": location.id, "name": php_e(location.name), "image": None, "address": None,
            "address2": None, "city": None, "state": None, "country": None, "zip": None,
            "phone": None, "fax": None,
            "assets_count": sum(a.location_id == location.id and a.deleted_at is None
                                for a in self.assets.values()),
            "rtd_assets_count": sum(a.rtd_location_id == location.id and a.deleted_at is None
                                    for a in self.assets.values()),
            "assigned_assets_count": 0, "users_count": 0, "accessories_count": 0,
            "assigned_accessories_count": 0, "currency": None, "ldap_ou": None, "notes": None,
            "created_at": None, "updated_at": None,
            "parent": self._ref(location.parent_id), "manager": None, "company": None,
            "children": [{"id": c.id, "name": c.name} for c in self.locations.values()
                         if c.parent_id == location.id],
            "available_actions": {"update": True, "delete": False, "clone": True},
        }

    def _transform(self, asset: EmuAsset) -> dict[str, Any]:
        label = self._label(asset)
        return {
            "id": asset.id, "name": php_e(asset.name), "asset_tag": php_e(asset.asset_tag),
            "serial": php_e(asset.serial),
            "model": {"id": asset.model_id, "name": php_e(self.models[asset.model_id].name)},
            "byod": False, "requestable": False,
            "model_number": php_e(self.models[asset.model_id].model_number) or None,
            "eol": None,
            "asset_eol_date": None,
            "status_label": {"id": label.id, "name": php_e(label.name), "status_type": label.type,
                             "status_meta": "deployed" if asset.assigned_user else label.type},
            "category": {"id": 1, "name": "Laptops"}, "manufacturer": None, "supplier": None,
            "notes": php_e(asset.notes) or None, "order_number": None, "company": None,
            "location": self._ref(asset.location_id),
            "rtd_location": self._ref(asset.rtd_location_id),
            "image": None, "qr": None, "alt_barcode": None,
            "assigned_to": None if asset.assigned_user is None else self._user(asset.assigned_user),
            "warranty_months": None, "warranty_expires": None,
            "created_by": {"id": 1, "name": "Admin User"},
            "created_at": _dt(asset.created_at), "updated_at": _dt(asset.updated_at),
            "last_audit_date": _dt(asset.last_audit_date),
            "next_audit_date": _date(asset.next_audit_date),
            "deleted_at": _dt(asset.deleted_at), "purchase_date": None, "age": "",
            "last_checkout": None if asset.last_checkout is None else {
                "datetime": asset.last_checkout, "formatted": asset.last_checkout},
            "last_checkin": _dt(asset.last_checkin), "expected_checkin": None,
            "purchase_cost": None, "checkin_counter": asset.checkin_counter,
            "checkout_counter": asset.checkout_counter,
            "requests_counter": 0, "user_can_checkout": asset.assigned_user is None
            and label.type == "deployable", "book_value": None, "custom_fields": {},
            "available_actions": {"checkout": True, "checkin": True, "clone": True,
                                  "restore": False, "update": True, "audit": True,
                                  "delete": True},
        }

    def _log_row(self, entry: LogEntry) -> dict[str, Any]:
        asset = self.assets.get(entry.item_id)
        return {
            "id": entry.id, "icon": "fas fa-barcode", "file": None,
            "item": None if asset is None else {"id": asset.id, "name": php_e(
                asset.name or asset.asset_tag), "type": "asset", "serial": php_e(asset.serial)
                or None},
            "location": self._ref(entry.location_id),
            "created_at": _dt(entry.created_at), "updated_at": _dt(entry.created_at),
            "next_audit_date": _date(asset.next_audit_date if asset else None),
            "days_to_next_audit": None, "action_type": entry.action_type,
            "admin": {"id": 1, "name": "Admin User", "first_name": "Admin",
                      "last_name": "User"},
            "created_by": {"id": 1, "name": "Admin User", "first_name": "Admin",
                           "last_name": "User"},
            "target": None if entry.target_id not in self.users else {
                "id": entry.target_id, "name": php_e(self.users[entry.target_id].username),
                "type": "user"},
            # Snipe-IT renders notes as inline Markdown of the escaped text.
            "note": php_e(entry.note) if entry.note else None,
            "signature_file": None, "log_meta": None, "remote_ip": entry.remote_ip,
            "user_agent": entry.user_agent, "action_source": entry.action_source,
            "action_date": ({"datetime": entry.action_date, "formatted": entry.action_date}
                            if entry.action_date else _dt(entry.created_at)),
        }


class _Server(ThreadingHTTPServer):
    """The HTTP server; remembers its connections so that :meth:`stop` can close them."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, emulator: SnipeItEmulator) -> None:
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back about 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection, so that handler threads waiting on them end."""
        with self._open_lock:
            connections = list(self._open)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients killed mid-answer are part of the tests: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """No access log."""

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-request: nothing is applied
            self.close_connection = True
            return
        emulator = self.server.emulator
        answer = emulator._respond(self.command, self.path, self.headers, body,
                                   self.client_address[0])
        if answer.drop:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if answer.delay:
            emulator._stopping.wait(answer.delay)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
