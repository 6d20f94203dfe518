"""``stocktaker bench queue``: what a durable append costs as the backlog grows.

The queue's atomic storage (temp file, fsync, rename, fsync of the directory) is timed
side by side with TinyDB's default JSONStorage (rewrite in place, one fsync) at the same
backlog, in one run, so the price of never leaving a torn file is a ratio, not a guess.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from sync.queue import SightingQueue


def sample_record(n: int) -> dict[str, Any]:
    """A sighting record of realistic size (about 600 bytes of JSON)."""
    return {
        "sighting_id": str(uuid.uuid4()), "device_id": "hh-01", "session_id": str(uuid.UUID(int=n)),
        "location": "Storage B", "technician": "ana", "asset_tag": f"IT-{n:06d}",
        "tag": {"kind": "asset_tag", "value": f"IT-{n:06d}", "scheme": "plain", "aim": None,
                "serial": None},
        "payload": f"https://assets.example.com/hardware/{n}", "symbology": "QR",
        "source": "camera", "verdict": "verified", "recorded_location": None, "reason": None,
        "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True,
        "monotonic": 1234.5 + n, "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7",
        "firmware_version": "0.1.0",
    }


def _time_ms(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _row(label: str, backlog: int, times: list[float]) -> str:
    times = sorted(times)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return f"{label:<26}{backlog:>8}{statistics.median(times):>10.2f}{p99:>10.2f}"


def bench_queue(backlogs: Sequence[int] = (0, 100, 1000, 3000), repeat: int = 30) -> list[str]:
    """Median and p99 append latency in ms at each backlog; returns the printed lines."""
    lines = [f"{'append, durable':<26}{'backlog':>8}{'median ms':>10}{'p99 ms':>10}"]
    counter = iter(range(10**9))
    with tempfile.TemporaryDirectory() as tmp:
        for backlog in backlogs:
            base = Path(tmp) / str(backlog)
            with SightingQueue(base / "atomic") as queue:
                for _ in range(backlog):
                    queue.append(sample_record(next(counter)))
                ours = _time_ms(lambda: queue.append(sample_record(next(counter))), repeat)
                drain = _time_ms(lambda: queue.acknowledge(
                    [r["sighting_id"] for r in queue.pending(limit=1)]), 5)
            with TinyDB(base / "plain.json") as db:
                db.insert_multiple(sample_record(next(counter)) for _ in range(backlog))
                plain = _time_ms(lambda: db.insert(sample_record(next(counter))), repeat)
            lines.append(_row("SightingQueue (atomic)", backlog, ours))
            lines.append(_row("TinyDB JSONStorage", backlog, plain))
            lines.append(_row("acknowledge 1 (atomic)", backlog, drain))
            lines.append(f"{'  ratio atomic/plain':<26}{'':>8}"
                         f"{statistics.median(ours) / statistics.median(plain):>10.2f}")
    return lines
