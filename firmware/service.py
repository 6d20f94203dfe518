"""Running as a systemd service: readiness and watchdog (sd_notify), the health textfile, log lines.

* :class:`Notifier` speaks systemd's notification protocol: one ``AF_UNIX`` datagram of
  ``KEY=VALUE`` lines to the socket named in ``$NOTIFY_SOCKET`` (a leading ``@`` names the
  abstract namespace). Outside systemd the variable is unset and every call does nothing.
* :class:`Watchdog` reads ``$WATCHDOG_USEC``/``$WATCHDOG_PID`` and sends ``WATCHDOG=1``
  when half the interval has passed since the last ping: cheap enough for every loop turn.
  A loop that hangs stops pinging, and systemd restarts the service.
* :class:`HealthFile` writes :class:`Health` as a Prometheus textfile (what node_exporter's
  textfile collector reads), atomically and at most every ``interval`` seconds.
* :func:`scan_log_line` and :func:`status_text` format the journal line of a scan and the
  ``STATUS=`` line ``systemctl status`` shows; outside text is escaped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from firmware import __version__
from firmware.status import SyncStatus
from firmware.text import terminal_safe

log = logging.getLogger(__name__)

__all__ = ["Health", "HealthFile", "Notifier", "Watchdog", "render_health", "scan_log_line",
           "status_text"]

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


@dataclass(frozen=True)
class Health:
    """What the health textfile reports; plain numbers, filled by the device loop.

    Attributes:
        device: the device id (``device.id``).
        queue_depth: sightings queued on the device.
        oldest_queued_age: seconds the oldest queued sighting has waited (0 when none).
        last_sync_success: Unix time of the last successful sync, None if never.
        dead_letters: sightings the register refused for good.
        conflicts: sightings the register answered with a conflict.
        decoder_fps: frames the camera decoder handles per second (0 without a camera).
        scans: scans per verdict since the service started (``verified`` → 12).
        up: False in the last file a stopping service writes.
    """

    device: str
    queue_depth: int = 0
    oldest_queued_age: float = 0.0
    last_sync_success: float | None = None
    dead_letters: int = 0
    conflicts: int = 0
    decoder_fps: float = 0.0
    scans: Mapping[str, int] = field(default_factory=dict)
    up: bool = True

    @classmethod
    def from_queue_status(cls, device: str, status: Mapping[str, Any], now: float,
                          **rest: Any) -> Health:
        """Health from a queue's ``status()`` (``queued``, ``oldest``, ``last_sync`` …).

        Args:
            device: the device id.
            status: what :meth:`sync.queue.SightingQueue.status` returns.
            now: the current Unix time, to age the oldest sighting.
            rest: the other attributes (``scans``, ``decoder_fps``, ``conflicts``…).
        """
        oldest = _epoch(status.get("oldest"))
        return cls(device, queue_depth=int(status.get("queued") or 0),
                   oldest_queued_age=0.0 if oldest is None else max(0.0, now - oldest),
                   last_sync_success=_epoch(status.get("last_sync")),
                   dead_letters=int(status.get("dead_letters") or 0), **rest)


def _epoch(iso: object) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


_METRICS = (
    # name, type, help, value of a Health
    ("stocktaker_up", "gauge", "1 while the device loop runs, 0 once it has stopped.",
     lambda h: 1 if h.up else 0),
    ("stocktaker_queue_depth", "gauge", "Sightings queued on the device, not yet synced.",
     lambda h: h.queue_depth),
    ("stocktaker_queue_oldest_age_seconds", "gauge",
     "Seconds the oldest queued sighting has waited (0 when none is queued).",
     lambda h: h.oldest_queued_age),
    ("stocktaker_last_sync_success_timestamp_seconds", "gauge",
     "Unix time of the last successful sync (0 if never).",
     lambda h: h.last_sync_success or 0),
    ("stocktaker_dead_letters", "gauge", "Sightings the register refused for good.",
     lambda h: h.dead_letters),
    ("stocktaker_conflicts", "gauge", "Sightings the register answered with a conflict.",
     lambda h: h.conflicts),
    ("stocktaker_decoder_frames_per_second", "gauge",
     "Camera frames decoded per second (0 without a camera).", lambda h: h.decoder_fps),
)


def render_health(health: Health) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``health``."""
    lines = ["# HELP stocktaker_info The firmware version and device id.",
             "# TYPE stocktaker_info gauge",
             f"stocktaker_info{_labels(version=__version__, device=health.device)} 1"]
    for name, kind, help_text, value in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}",
                  f"{name} {_number(value(health))}"]
    lines += ["# HELP stocktaker_scans_total Scans since the service started, by verdict.",
              "# TYPE stocktaker_scans_total counter"]
    for verdict in sorted(health.scans):
        lines.append(f"stocktaker_scans_total{_labels(verdict=verdict)}"
                     f" {_number(health.scans[verdict])}")
    return "\n".join(lines) + "\n"


def _labels(**labels: str) -> str:
    def escaped(value: str) -> str:
        return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{key}="{escaped(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class HealthFile:
    """Writes :class:`Health` to a textfile for node_exporter, at most every ``interval`` s.

    Args:
        path: the ``.prom`` file (in node_exporter's ``--collector.textfile.directory``).
        interval: seconds between two writes by :meth:`update`.
        clock: monotonic seconds (``time.monotonic``).

    Each write goes to a hidden temporary file in the same folder (node_exporter reads only
    ``*.prom``), is fsynced, made readable by all (mode 0644: no secret in it) and renamed
    over the file, so a reader never sees half of it. A write that fails is logged (once
    until one succeeds) and never raised: monitoring must not stop scanning.
    """

    def __init__(self, path: str | Path, interval: float = 15.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._failing = False

    def update(self, health: Health) -> bool:
        """Write ``health`` if ``interval`` has passed since the last write; True if written."""
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return self.write(health)

    def write(self, health: Health) -> bool:
        """Write ``health`` now; True when the file was replaced."""
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, render_health(health).encode("utf-8"))
                os.fchmod(fd, 0o644)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            if not self._failing:
                log.warning("health file %s not written: %s", self.path,
                            exc.strerror or exc)
                self._failing = True
            return False
        self._failing = False
        return True


def status_text(room: str | None, sync: SyncStatus) -> str:
    """The ``STATUS=`` line: ``room Storage B; 12 queued, last sync 5m ago; 2 dead letters``."""
    parts = [f"room {room}" if room else "no room yet"]
    if sync.last_sync_age is None:
        last = "never synced"
    else:
        last = f"last sync {_ago(sync.last_sync_age)}"
    parts.append(f"{sync.waiting} queued, {last}")
    if sync.dead_letters:
        parts.append(f"{sync.dead_letters} dead letter(s)")
    if sync.conflicts:
        parts.append(f"{sync.conflicts} conflict(s)")
    return terminal_safe("; ".join(parts))


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)}h ago"
    return f"{int(seconds // 86400)}d ago"


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
    text = _without_credentials(str(payload))
    if len(text) > PAYLOAD_SHOWN:
        text = text[: PAYLOAD_SHOWN - 1] + "…"
    return text


def _without_credentials(text: str) -> str:
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
