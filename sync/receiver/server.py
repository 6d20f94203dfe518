"""The reference receiver's HTTP side: routes, authentication, limits, one log line per request.

Standard library only: :class:`http.server.ThreadingHTTPServer` (a thread per connection,
HTTP/1.1 keep-alive) in front of :class:`~sync.receiver.store.ReceiverStore`. Every answer,
errors included, is JSON; an unexpected failure answers ``500 {"error": "internal error"}``
and is logged on the server, never shown to the client.

About 420 lines, over the house's 400, for one reason: the standard library's server
takes one handler class, whose methods are the routes; the rules of each request are in
:mod:`sync.receiver.protocol` and the dashboard's pages in :mod:`sync.receiver.dashboard`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sync.version import __version__
from hal.text import terminal_safe
from sync.receiver import protocol
from sync.receiver.holdings import Holdings
from sync.receiver.manifest import ManifestSource, etag_matches
from sync.receiver.dashboard import Dashboard
from sync.receiver.dashboard_pages import BASE as _DASHBOARD
from sync.receiver.people import PeopleSource
from sync.receiver.protocol import API, Invalid
from sync.receiver.store import CheckedRecord, KeyReused, ReceiverStore

__all__ = ["ReceiverServer", "start_in_thread"]

log = logging.getLogger("stocktaker.receiver")

_DRAIN_LIMIT = 8 * 1024 * 1024
"""A refused body up to this size is read and dropped, so the client sees the answer."""

_REPORTS = f"{API}/reports/"
_ROUTES: dict[str, tuple[str, ...]] = {
    "manifest": ("GET",),
    "people": ("GET",),
    "sightings": ("POST",),
    "intakes": ("GET",),
    "report": ("GET", "PUT"),
    "heartbeat": ("POST",),
    "devices": ("GET",),
}
_PATHS = {f"{API}/{route}": route for route in _ROUTES if route != "report"}


class _Refusal(Exception):
    """An answer other than success: status, message, extra headers."""

    def __init__(self, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class ReceiverServer(ThreadingHTTPServer):
    """The receiver bound to ``address`` (``(host, port)``; port 0 picks a free one).

    Args:
        address: where to listen.
        store: where sightings, keys and reports are kept.
        manifest: the manifest to serve.
        token: the bearer token every request must carry.
        log_line: called with one line per request (None: no request log).
        people: the people to serve to door kiosks (None: ``/people`` answers 404).
        dashboard: the read-only dashboard under ``/dashboard/`` (None: answers 404).
    """

    daemon_threads = True
    request_queue_size = 128
    """Connections waiting to be accepted (socketserver's default, 5, refuses a fleet
    connecting at once: the devices beyond it get a reset)."""

    def __init__(self, address: tuple[str, int], *, store: ReceiverStore,
                 manifest: ManifestSource, token: str,
                 log_line: Callable[[str], None] | None = None,
                 people: PeopleSource | None = None,
                 dashboard: Dashboard | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.store = store
        self.manifest = manifest
        self.people = people
        self.dashboard = dashboard
        self.holdings = Holdings(manifest.asset)
        self.token = token.encode("ascii")
        self.log_line = log_line or (lambda line: None)
        super().__init__(address, ReceiverHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS look-up of the host (slow without a resolver)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), port

    @property
    def url(self) -> str:
        """The base URL clients use (``register.url``)."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):  # only an AF_UNIX server has a bytes address
            host = host.decode()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failure outside a request's own handling: one log line, no traceback."""
        kind, exc, _ = sys.exc_info()
        self.log_line(f"{client_address[0] if client_address else '-'} connection error:"
                      f" {kind.__name__ if kind else 'error'}: {exc}")
        log.debug("connection error", exc_info=True)


class ReceiverHandler(BaseHTTPRequestHandler):
    """One connection: parses requests, routes them, answers JSON."""

    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    server_version = f"stocktaker-receiver/{__version__}"
    timeout = 30.0
    """Seconds a connection may stay silent (mid-request or idle) before it is closed."""
    disable_nagle_algorithm = True
    """Headers and body are two writes: with Nagle's algorithm the body would wait for the
    client's delayed ACK of the headers (40 ms a request on Linux)."""

    def version_string(self) -> str:
        """The ``Server`` header: the receiver and its version, not the Python version."""
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self._started = time.perf_counter()
        self._status = 0
        self._sent = 0
        self._body_read = True

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers 501 when there is none. Every method
        # goes through the router instead, so an undeclared one is a 405 naming the allowed.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        self._started = time.perf_counter()
        self._status = self._sent = 0
        self._body_read = False
        try:
            try:
                try:
                    status, body, headers = self._route()
                except self.server.store.unavailable as exc:
                    self._log(f"database unavailable: {type(exc).__name__}:"
                              f" {str(exc).strip()[:200]}")
                    raise _Refusal(503, "the register's database is unavailable; try again"
                                   " later", {"Retry-After": "5"}) from None
            except _Refusal as refusal:
                status, headers = refusal.status, refusal.headers
                body = _json({"error": refusal.message})
            self._answer(status, body, headers)
        except (ConnectionError, TimeoutError) as exc:
            self.close_connection = True
            self._log(f"connection lost: {type(exc).__name__}")
        except Exception as exc:
            log.debug("internal error", exc_info=True)
            self._log(f"internal error: {type(exc).__name__}: {exc}")
            self.close_connection = True
            if not self._status:
                try:
                    self._answer(500, _json({"error": "internal error"}), {})
                except OSError:
                    pass

    def _route(self) -> tuple[int, bytes | None, dict[str, str]]:
        parts = urlsplit(self.path)
        path = parts.path
        if path == _DASHBOARD or path.startswith(_DASHBOARD + "/"):
            return self._dashboard(path, parts.query)
        route, session_id = _PATHS.get(path), None
        if route is None and path.startswith(_REPORTS) and "/" not in path[len(_REPORTS):]:
            route, session_id = "report", unquote(path[len(_REPORTS):], errors="replace")
        if route is None:
            raise _Refusal(404, f"no such endpoint: {path[:200]}")
        self._authenticate()
        allowed = _ROUTES[route]
        if self.command not in allowed:
            raise _Refusal(405, f"{self.command} is not allowed here",
                           {"Allow": ", ".join(allowed)})
        if route == "manifest":
            return self._manifest(parse_qs(parts.query, keep_blank_values=True))
        if route == "sightings":
            return self._sightings()
        if route == "intakes":
            return self._intakes()
        if route == "heartbeat":
            return self._heartbeat()
        if route == "devices":
            if parts.query:
                raise _Refusal(400, "GET /devices takes no query parameters")
            return 200, _json({"devices": self.server.store.devices()}), {
                "Cache-Control": "no-cache"}
        if route == "people":
            if self.server.people is None:
                raise _Refusal(404, "this register keeps no people (start the receiver"
                               " with --people)")
            return 200, self.server.people.answer(), {"Cache-Control": "no-cache"}
        assert session_id is not None
        if not protocol.SESSION_ID.fullmatch(session_id):
            raise _Refusal(400, "a session id is 1 to 128 letters, digits, '.', '_', '~' or '-'")
        if self.command == "GET":
            return self._get_report(session_id)
        return self._put_report(session_id)

    def _dashboard(self, path: str, query: str) -> tuple[int, bytes | None, dict[str, str]]:
        if self.server.dashboard is None:
            raise _Refusal(404, "the dashboard is off (start the receiver with --viewers)")
        answer = self.server.dashboard.answer(
            self.command, path, parse_qs(query, keep_blank_values=True),
            self.headers.get("Authorization"))
        return answer.status, answer.body, answer.headers

    def _authenticate(self) -> None:
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode("utf-8", "replace"), self.server.token):
            raise _Refusal(401, "a valid bearer token is required",
                           {"WWW-Authenticate": 'Bearer realm="stocktaker"'})

    def _manifest(self, query: dict[str, list[str]]) -> tuple[int, bytes | None, dict[str, str]]:
        unknown = sorted(set(query) - {"location"})
        if unknown:
            raise _Refusal(400, f"unknown query parameter {unknown[0][:100]!r}"
                           " (known: location)")
        locations = query.get("location")
        if locations and len(locations) > 1:
            raise _Refusal(400, "location is given more than once")
        body, etag = self.server.manifest.answer(locations[0] if locations else None)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag_matches(self.headers.get("If-None-Match"), etag):
            return 304, None, headers
        return 200, body, headers

    def _body(self) -> Any:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            raise _Refusal(415, "send the body as application/json")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise _Refusal(411, "send a Content-Length (chunked bodies are not accepted)")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise _Refusal(411, "a Content-Length is required")
        if not length_text.strip().isdigit():
            raise _Refusal(400, "Content-Length is not a number")
        length = int(length_text)
        if length > protocol.MAX_BODY_BYTES:
            self._drain(length)
            raise _Refusal(413, f"the body is over {protocol.MAX_BODY_BYTES >> 20} MiB")
        raw = self.rfile.read(length)
        self._body_read = True
        if len(raw) < length:
            raise ConnectionError("the body ended early")
        try:
            return protocol.parse_json(raw)
        except Invalid as exc:
            raise _Refusal(400, str(exc)) from None

    def _drain(self, length: int) -> None:
        if length > _DRAIN_LIMIT:
            return  # not read: the connection is closed after the answer
        while length > 0:
            chunk = self.rfile.read(min(length, 64 * 1024))
            if not chunk:
                return
            length -= len(chunk)
        self._body_read = True

    def _sightings(self) -> tuple[int, bytes | None, dict[str, str]]:
        key = self.headers.get("Idempotency-Key")
        if key is None:
            raise _Refusal(400, "the Idempotency-Key header is required")
        if not protocol.IDEMPOTENCY_KEY.fullmatch(key):
            raise _Refusal(400, "an Idempotency-Key is 1 to 255 visible ASCII characters")
        body = self._body()
        try:
            device_id, records = protocol.check_batch(body)
        except Invalid as exc:
            raise _Refusal(422, str(exc)) from None
        checked = [_check_record(record, device_id) for record in records]
        digest = hashlib.sha256(protocol.canonical(body)).hexdigest()
        try:
            answer = self.server.store.record_batch(key, digest, device_id, checked,
                                                    self.server.holdings)
        except KeyReused:
            raise _Refusal(422, "this Idempotency-Key was used with a different body") from None
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return 200, answer.text.encode("ascii"), headers

    def _intakes(self) -> tuple[int, bytes | None, dict[str, str]]:
        rows = self.server.store.intakes()
        body = ('{"intakes":[' + ",".join(
            f'{{"received_at":{json.dumps(at)},"intake":{record}}}' for at, record in rows)
            + "]}")
        return 200, body.encode("ascii"), {"Cache-Control": "no-cache"}
    def _heartbeat(self) -> tuple[int, bytes | None, dict[str, str]]:
        body = self._body()
        try:
            state = protocol.check_heartbeat(body)
        except Invalid as exc:
            raise _Refusal(422, str(exc)) from None
        text = json.dumps(state, ensure_ascii=True, separators=(",", ":"))
        at = self.server.store.record_heartbeat(state["device_id"], text)
        return 200, _json({"status": "recorded", "server_time": at}), {}

    def _put_report(self, session_id: str) -> tuple[int, bytes | None, dict[str, str]]:
        report = self._body()
        try:
            protocol.check_report(report, session_id)
        except Invalid as exc:
            raise _Refusal(422, str(exc)) from None
        text = json.dumps(report, ensure_ascii=True, separators=(",", ":"))
        new = self.server.store.put_report(session_id, report["device_id"], text)
        location = f"{API}/reports/{quote(session_id)}"
        return (201 if new else 200, _json({"status": "stored", "location": location}),
                {"Location": location})

    def _get_report(self, session_id: str) -> tuple[int, bytes | None, dict[str, str]]:
        text = self.server.store.report(session_id)
        if text is None:
            raise _Refusal(404, "no report for this session")
        return 200, text.encode("ascii"), {}

    def _answer(self, status: int, body: bytes | None, headers: Mapping[str, str]) -> None:
        if not self._body_read and (
                (self.headers.get("Content-Length") or "0").strip() not in ("", "0")
                or self.headers.get("Transfer-Encoding")):
            self.close_connection = True  # the unread body would be taken for a request
        self._status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None and "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body or b"")))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self._sent = len(body or b"")
        self._log(None)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Requests http.server refuses itself (bad request line, long headers): JSON too."""
        self.close_connection = True
        self._body_read = True
        self._started = getattr(self, "_started", time.perf_counter())
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._answer(code, _json({"error": message or phrase}), {})

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Logged by :meth:`_log` once the answer is written."""

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own messages (a timed-out connection): one log line each."""
        self._log(format % args)

    def _log(self, note: str | None) -> None:
        elapsed = (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000
        request = getattr(self, "requestline", "") or "-"
        line = (f'{self.client_address[0]} "{request}" {getattr(self, "_status", 0) or "-"}'
                f" {getattr(self, '_sent', 0)} {elapsed:.1f}ms")
        if note:
            line += f" {note}"
        self.server.log_line(terminal_safe(line))


def _check_record(record: Any, device_id: str) -> CheckedRecord:
    sighting_id = record.get("sighting_id") if isinstance(record, dict) else None
    shown = sighting_id if isinstance(sighting_id, str) else None
    try:
        protocol.check_sighting(record, device_id)
    except Invalid as exc:
        return CheckedRecord(shown, reason=str(exc))
    return CheckedRecord(shown, record["session_id"],
                         json.dumps(record, ensure_ascii=True, separators=(",", ":")),
                         verdict=record["verdict"], record=record)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def start_in_thread(server: ReceiverServer) -> threading.Thread:
    """Serve in a background thread (stop with ``server.shutdown()``, then ``server_close()``)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="receiver", daemon=True)
    thread.start()
    return thread
