"""What a running device tells systemd and the monitoring: ready, alive, and how it is doing.

The loop calls :meth:`ServiceReporter.turn` on every turn (at least every
:data:`firmware.loop.TICK` seconds, scans or not): the watchdog is pinged when due, and
every ``service.health_interval`` seconds the ``STATUS=`` line and the health textfile
are brought up to date. Outside systemd, and without ``service.health_file``, it costs a
clock read per turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from firmware.health import Health, HealthFile
from firmware.systemd_notify import Notifier, Watchdog, status_text
from sync.sync_status import SyncStatus

log = logging.getLogger(__name__)


class ServiceReporter:
    """Readiness, watchdog pings, the ``STATUS=`` line and the health textfile.

    Args:
        device_id: names the device in the textfile.
        health_file: the textfile, or None for none.
        interval: seconds between two status and health updates.
        queue_status: the sighting queue's ``status()``.
        sync_status: the sync engine's status line source.
        place: the room (or a kiosk's room) for the status line.
        scans: scans per verdict since the start.
        decoded_frames: frames the camera decoder has handled so far (None: no camera).
        clock: monotonic seconds; wall: Unix time.
        environ: where systemd's variables are read (default ``os.environ``).
        repeat_reads_dropped: reads dropped as repeats within the window since the start.
    """

    def __init__(self, device_id: str, health_file: Path | None, interval: float, *,
                 queue_status: Callable[[], Mapping[str, Any]],
                 sync_status: Callable[[], SyncStatus], place: Callable[[], str | None],
                 scans: Callable[[], Mapping[str, int]],
                 decoded_frames: Callable[[], int] | None,
                 clock: Callable[[], float], wall: Callable[[], float],
                 environ: Mapping[str, str] | None = None,
                 repeat_reads_dropped: Callable[[], int] = lambda: 0) -> None:
        self.device_id = device_id
        self.notifier = Notifier(environ)
        self.watchdog = Watchdog(self.notifier, environ, clock)
        self.health = HealthFile(health_file, interval, clock) if health_file else None
        self.interval = interval
        self._queue_status = queue_status
        self._sync_status = sync_status
        self._place = place
        self._scans = scans
        self._decoded = decoded_frames
        self._repeat_reads_dropped = repeat_reads_dropped
        self._clock = clock
        self._wall = wall
        self._last: float | None = None
        self._frames: tuple[float, int] | None = None

    def ready(self) -> None:
        """Scanning can start: READY=1 with the first status line."""
        self.notifier.ready(status_text(self._place(), self._sync_status()))
        self._update(self._clock(), force=True)

    def turn(self) -> None:
        """One loop turn: ping the watchdog; refresh status and health when due."""
        self.watchdog.ping()
        now = self._clock()
        if self._last is None or now - self._last >= self.interval:
            self._update(now)

    def stopping(self) -> None:
        """The device is stopping (SIGTERM): STOPPING=1."""
        self.notifier.stopping()

    def close(self) -> None:
        """The loop has ended: the textfile says so (``stocktaker_up 0``)."""
        if self.health is not None:
            self.health.write(self._health(self._clock(), up=False))
        self.notifier.close()

    def _update(self, now: float, force: bool = False) -> None:
        self._last = now
        if self.notifier.enabled:
            self.notifier.status(status_text(self._place(), self._sync_status()))
        if self.health is not None:
            health = self._health(now)
            if force:
                self.health.write(health)
            else:
                self.health.update(health)

    def _health(self, now: float, up: bool = True) -> Health:
        status = self._queue_status()
        return Health.from_queue_status(
            self.device_id, status, self._wall(), conflicts=int(status.get("conflicts") or 0),
            decoder_fps=self._decoder_fps(now), scans=dict(self._scans()), up=up,
            repeat_reads_dropped=self._repeat_reads_dropped())

    def _decoder_fps(self, now: float) -> float:
        if self._decoded is None:
            return 0.0
        frames = self._decoded()
        before, self._frames = self._frames, (now, frames)
        if before is None or now <= before[0]:
            return 0.0
        return max(0, frames - before[1]) / (now - before[0])
