"""The health textfile: what node_exporter's textfile collector reads of a running device.

:class:`HealthFile` writes :class:`Health` in the Prometheus text exposition format,
atomically and at most every ``interval`` seconds: queue depth, the oldest queued
sighting's age, the last successful sync, whether the register answered the last round
and when it last did, dead letters, conflicts, decoder frames per second, scans per verdict,
reads dropped as repeats and the bytes written into the queue (SD card wear).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware import __version__
from sync.storage import replace_file

log = logging.getLogger(__name__)

__all__ = ["Health", "HealthFile", "render_health"]


@dataclass(frozen=True)
class Health:
    """What the health textfile reports; plain numbers, filled by the device loop.

    Attributes:
        device: the device id (``device.id``).
        queue_depth: sightings queued on the device.
        oldest_queued_age: seconds the oldest queued sighting has waited (0 when none).
        last_sync_success: Unix time of the last successful sync (the register's last
            answer: an idle device's sync only checks that it answers), None if never.
        register_reachable: whether the register answered the last sync round or check.
        dead_letters: sightings the register refused for good.
        conflicts: sightings the register answered with a conflict.
        decoder_fps: frames the camera decoder handles per second (0 without a camera).
        scans: scans per verdict since the service started (``verified`` → 12).
        up: False in the last file a stopping service writes.
        repeat_reads_dropped: reads dropped as repeats within ``audit.repeat_window``.
        queue_bytes_written: bytes the device loop wrote into the queue's files since it
            started (the queue status's ``bytes_written``).
    """

    device: str
    queue_depth: int = 0
    oldest_queued_age: float = 0.0
    last_sync_success: float | None = None
    register_reachable: bool = False
    dead_letters: int = 0
    conflicts: int = 0
    decoder_fps: float = 0.0
    scans: Mapping[str, int] = field(default_factory=dict)
    up: bool = True
    repeat_reads_dropped: int = 0
    queue_bytes_written: int = 0

    @classmethod
    def from_queue_status(cls, device: str, status: Mapping[str, Any], now: float,
                          **rest: Any) -> Health:
        """Health from a queue's ``status()`` (``queued``, ``oldest``, ``last_sync`` …).

        Args:
            device: the device id.
            status: what :meth:`sync.queue.SightingQueue.status` returns, with
                ``bytes_written`` (:attr:`sync.queue.SightingQueue.bytes_written`).
            now: the current Unix time, to age the oldest sighting.
            rest: the other attributes (``scans``, ``decoder_fps``, ``conflicts``…).
        """
        oldest = _epoch(status.get("oldest"))
        reachable = bool(status.get("last_attempt")) and not status.get("last_error")
        return cls(device, queue_depth=int(status.get("queued") or 0),
                   oldest_queued_age=0.0 if oldest is None else max(0.0, now - oldest),
                   last_sync_success=_epoch(status.get("last_sync")),
                   register_reachable=reachable,
                   dead_letters=int(status.get("dead_letters") or 0),
                   queue_bytes_written=int(status.get("bytes_written") or 0), **rest)


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
    ("stocktaker_register_reachable", "gauge",
     "1 when the register answered the last sync round or check, else 0.",
     lambda h: 1 if h.register_reachable else 0),
    ("stocktaker_register_last_answer_timestamp_seconds", "gauge",
     "Unix time the register last answered a sync round or check (0 if never).",
     lambda h: h.last_sync_success or 0),
    ("stocktaker_dead_letters", "gauge", "Sightings the register refused for good.",
     lambda h: h.dead_letters),
    ("stocktaker_conflicts", "gauge", "Sightings the register answered with a conflict.",
     lambda h: h.conflicts),
    ("stocktaker_decoder_frames_per_second", "gauge",
     "Camera frames decoded per second (0 without a camera).", lambda h: h.decoder_fps),
    ("stocktaker_repeat_reads_dropped_total", "counter",
     "Reads dropped since the service started: the same label within audit.repeat_window.",
     lambda h: h.repeat_reads_dropped),
    ("stocktaker_queue_bytes_written_total", "counter",
     "Bytes written into the sighting queue's files since the service started (SD card wear).",
     lambda h: h.queue_bytes_written),
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
            replace_file(self.path, render_health(health).encode("utf-8"), temp=temp, mode=0o644)
        except OSError as exc:
            if not self._failing:
                log.warning("health file %s not written: %s", self.path,
                            exc.strerror or exc)
                self._failing = True
            return False
        self._failing = False
        return True
