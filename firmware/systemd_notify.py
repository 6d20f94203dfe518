"""Running as a systemd service: readiness and watchdog (sd_notify), status and log lines.

* :class:`Notifier` speaks systemd's notification protocol: one ``AF_UNIX`` datagram of
  ``KEY=VALUE`` lines to the socket named in ``$NOTIFY_SOCKET`` (a leading ``@`` names the
  abstract namespace). Outside systemd the variable is unset and every call does nothing.
* :class:`Watchdog` reads ``$WATCHDOG_USEC``/``$WATCHDOG_PID`` and sends ``WATCHDOG=1``
  when half the interval has passed since the last ping: cheap enough for every loop turn.
  A loop that hangs stops pinging, and systemd restarts the service.
* The health textfile for node_exporter is :mod:`firmware.health`.
* :func:`scan_log_line` and :func:`status_text` format the journal line of a scan and the
  ``STATUS=`` line ``systemctl status`` shows; outside text is escaped.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sync.sync_status import SyncStatus, short_age
from firmware.text import terminal_safe

log = logging.getLogger(__name__)

__all__ = ["Notifier", "Watchdog", "scan_log_line", "status_text"]

#: Longest ``STATUS=`` text sent; systemctl shows one line.
STATUS_MAX = 200


class Notifier:
    """Sends sd_notify messages to the service manager.

    Args:
        environ: where ``NOTIFY_SOCKET`` is read (default ``os.environ``).

    A socket that is unset, or not an absolute path or ``@name``, makes every call a no-op
    (the latter is logged once). A failed send is logged once and otherwise ignored: the
    service manager going away must never stop scanning.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens."""
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True when it was sent."""
        if self.address is None:
            return False
        for line in lines:
            if "\n" in line or "=" not in line:
                raise ValueError(f"not one KEY=VALUE line: {line!r}")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX,
                                             socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(lines).encode("utf-8"), self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("service manager not told %s: %s", lines[0].split("=")[0], exc)
                self._failed = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Scanning can start (``READY=1``), with an optional status line."""
        return self.send("READY=1", *([_status_line(status)] if status is not None else []))

    def status(self, text: str) -> bool:
        """Set the line ``systemctl status`` shows (escaped, one line, 200 characters at most)."""
        return self.send(_status_line(text))

    def stopping(self) -> bool:
        """The service is shutting down (``STOPPING=1``)."""
        return self.send("STOPPING=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more before start-up or shutdown counts as hung."""
        return self.send(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def close(self) -> None:
        """Close the socket (the next send opens it again)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _socket_address(name: str) -> str | bytes | None:
    if name.startswith("@") and len(name) > 1:
        return b"\0" + name[1:].encode("utf-8")
    if name.startswith("/"):
        return name
    if name:
        log.warning("NOTIFY_SOCKET %s is not a socket path: not notifying", terminal_safe(name))
    return None


def _status_line(text: str) -> str:
    text = terminal_safe(text)
    if len(text) > STATUS_MAX:
        text = text[: STATUS_MAX - 1] + "…"
    return f"STATUS={text}"


class Watchdog:
    """Pings the service manager's watchdog from the loop that must not hang.

    Args:
        notifier: where the pings go.
        environ: where ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` are read (default ``os.environ``).
        clock: monotonic seconds (``time.monotonic``).

    Enabled when ``WATCHDOG_USEC`` is a positive number and ``WATCHDOG_PID``, if set, is
    this process. :attr:`interval` is half the watchdog's timeout: the longest the loop may
    go between two :meth:`ping` calls (a loop waiting for reads should wake at least that
    often).
    """

    def __init__(self, notifier: Notifier, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if environ is None else environ
        self.notifier = notifier
        self.clock = clock
        self.timeout = _watchdog_timeout(env)
        self.interval = self.timeout / 2 if self.timeout else None
        self._last: float | None = None

    @property
    def enabled(self) -> bool:
        """True when the service manager expects pings."""
        return self.interval is not None and self.notifier.enabled

    def ping(self) -> bool:
        """Send ``WATCHDOG=1`` if half the timeout has passed since the last one; True if sent."""
        if self.interval is None:
            return False
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return self.notifier.send("WATCHDOG=1")


def _watchdog_timeout(env: Mapping[str, str]) -> float | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000


def status_text(room: str | None, sync: SyncStatus) -> str:
    """The ``STATUS=`` line: ``room Storage B; 12 queued, last sync 5m ago; 2 dead letters``
    (``; register not answering`` while the last round got no answer)."""
    parts = [f"room {room}" if room else "no room yet"]
    if sync.last_sync_age is None:
        last = "never synced"
    else:
        last = f"last sync {_ago(sync.last_sync_age)}"
    parts.append(f"{sync.waiting} queued, {last}")
    if sync.register_answered is False:
        parts.append("register not answering")
    if sync.dead_letters:
        parts.append(f"{sync.dead_letters} dead letter(s)")
    if sync.conflicts:
        parts.append(f"{sync.conflicts} conflict(s)")
    return terminal_safe("; ".join(parts))


def _ago(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{short_age(seconds)} ago"


#: Longest payload a scan's log line shows; the queue keeps it whole.
PAYLOAD_SHOWN = 120
_SECRET_PARAM = re.compile(r"(?i)^(.*(token|key|secret|pass|auth|sig|session).*)$")


def scan_log_line(record: Mapping[str, Any]) -> str:
    """One journal line for a scan, from its sighting record (``Sighting.to_record()``).

    ``scan verified tag=IT-004512 room="Storage B" source=camera symbology=QR
    payload="..." id=…``: every value from outside is escaped (a label cannot send control
    sequences to a log viewer), quoted when it holds a space, a quote or ``=``; a URL
    payload loses its user and password and the values of query parameters that look like
    secrets (``?token=…``); the payload is cut at 120 characters.
    """
    fields = [("tag", record.get("asset_tag")), ("room", record.get("location")),
              ("source", record.get("source")), ("symbology", record.get("symbology")),
              ("payload", _shown_payload(record.get("payload"))),
              ("id", record.get("sighting_id"))]
    verdict = _value(record.get("verdict") or "unknown")
    return " ".join([f"scan {verdict}"] + [f"{key}={_value(value)}" for key, value in fields
                                           if value not in (None, "")])


def _shown_payload(payload: object) -> str | None:
    if payload is None:
        return None
    text = without_credentials(str(payload))
    if len(text) > PAYLOAD_SHOWN:
        text = text[: PAYLOAD_SHOWN - 1] + "…"
    return text


def without_credentials(text: str) -> str:
    """``text`` with a URL's user and password, and secret-looking query values, hidden."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname
    except ValueError:
        return text
    if not parts.scheme or host is None:
        return text
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username is not None or parts.password is not None:
        netloc = "***@" + netloc
    query = "&".join(_redacted_param(param) for param in parts.query.split("&")) \
        if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redacted_param(param: str) -> str:
    name, sep, value = param.partition("=")
    return f"{name}=***" if sep and _SECRET_PARAM.match(name) else param


def _value(value: object) -> str:
    text = terminal_safe(value)
    if text and not any(ch in text for ch in ' "='):
        return text
    return '"' + text.replace('"', '\\"') + '"'
