"""``stocktaker bench scan``: time from a read to its verdict on screen, durable write included.

A room of 200 expected assets, the real queue (fsync and all) in a temporary folder, the
terminal display drawing into memory: each read is parsed, judged, queued durably,
counted, drawn and signalled, exactly as on the device.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

from firmware.clock import SystemClock
from firmware.handheld import HandheldAudit, Settings
from firmware.inventory import Asset, Inventory
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.display import open_display
from hal.feedback import open_feedback
from hal.read import Read
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.reports import PendingReports


def bench_scan(scans: int = 200) -> list[str]:
    """Median and p99 ms from read to verdict shown; returns the printed lines."""
    assets = [Asset(f"IT-{n:06d}", f"SN{n:08d}", "Laptop", "Storage B", id=n)
              for n in range(scans)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "expected.csv").write_text("asset_tag,serial,name,location,status,assigned_to\n")
        with SightingQueue(root / "state") as queue, \
                open_display("terminal", stream=io.StringIO()) as display, \
                open_feedback("terminal", stream=io.StringIO()) as feedback:
            audit = HandheldAudit(
                Settings("bench", "bench", "Storage B", 2.0, DEFAULT_TAG_PATTERN),
                Inventory(assets), queue, FilesRegister(root / "expected.csv", root / "out",
                                                        "bench"),
                PendingReports(root / "state" / "reports"), display, feedback, SystemClock())
            times = []
            for n, asset in enumerate(assets):
                read = Read(asset.asset_tag.encode(), "CODE128", "bench", float(n))
                start = time.perf_counter()
                audit.handle(read)
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return [f"{'read to verdict shown':<26}{'scans':>8}{'median ms':>10}{'p99 ms':>10}",
            f"{'terminal display, fsync':<26}{scans:>8}{statistics.median(times):>10.2f}"
            f"{times[round(0.99 * (len(times) - 1))]:>10.2f}"]
