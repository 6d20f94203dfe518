"""``stocktaker bench sync`` (http part): draining sightings through the ``http`` adapter.

The reference receiver runs in this process, in a thread, on 127.0.0.1 with a fresh
database; the adapter pushes 10,000 sightings of realistic size to it in batches of 50,
200 and 500, each answered per sighting and stored with ``synchronous=FULL``. Client and
server share one interpreter (and its GIL), so the figures are a floor for a device
talking to a receiver on another machine, not counting the network.

Each batch size is timed twice: with the adapter's rate limit at the highest value the
configuration allows (``register.rate_per_minute = 6000``) and with no limit, so the
limiter's share of the time is visible.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sync.http import HttpRegister
from sync.sighting import Sighting
from sync.receiver import ManifestSource, ReceiverServer, ReceiverStore, start_in_thread

_TOKEN = "bench-token"
_MAX_RATE = 6000.0
_NO_LIMIT = float("inf")


def _record(n: int) -> dict[str, Any]:
    """A sighting record of realistic size (about 680 bytes of JSON)."""
    return {
        "sighting_id": str(uuid.uuid4()), "device_id": "hh-01",
        "session_id": str(uuid.UUID(int=n // 500)), "location": "Storage B",
        "technician": "ana", "tag": {"kind": "asset_tag", "value": f"IT-{n:06d}",
                                     "scheme": "plain", "aim": None, "serial": None,
                                     "gtin": None, "site": None},
        "asset_tag": f"IT-{n:06d}", "payload": f"https://assets.example.com/hardware/{n}",
        "symbology": "QR", "source": "camera", "verdict": "verified",
        "recorded_location": None, "reason": None, "wall_time": "2026-11-24T09:15:02.120Z",
        "clock_synchronized": True, "monotonic": 1234.5 + n,
        "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7", "firmware_version": "0.1.0",
        "candidates": [],
    }


def _drain(url: str, total: int, batch: int, rate: float) -> float:
    records = [Sighting.from_record(_record(n)) for n in range(total)]
    with HttpRegister(url, _TOKEN, "hh-01", timeout=30.0, rate_per_minute=rate) as register:
        start = time.perf_counter()
        for first in range(0, total, batch):
            results = register.push(records[first:first + batch])
            if any(r.status.value != "accepted" for r in results):
                raise RuntimeError("the receiver did not accept every sighting")
        return time.perf_counter() - start


def bench_http(batches: Sequence[int] = (50, 200, 500), total: int = 10_000) -> list[str]:
    """Seconds and sightings per second to push ``total`` sightings at each batch size."""
    lines = [f"{'http push to receiver':<24}{'batch':>6}{'requests':>9}"
             f"{'s @6000/min':>13}{'/s':>8}{'s unlimited':>13}{'/s':>8}"]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "expected.csv"
        manifest.write_text("asset_tag,location\nIT-000001,Storage B\n", encoding="utf-8")
        store = ReceiverStore(Path(tmp) / "receiver.sqlite")
        server = ReceiverServer(("127.0.0.1", 0), store=store,
                                manifest=ManifestSource(manifest), token=_TOKEN)
        thread = start_in_thread(server)
        try:
            for batch in batches:
                limited = _drain(server.url, total, batch, _MAX_RATE)
                free = _drain(server.url, total, batch, _NO_LIMIT)
                lines.append(f"{f'{total:,} sightings':<24}{batch:>6}{-(-total // batch):>9}"
                             f"{limited:>13.2f}{total / limited:>8.0f}"
                             f"{free:>13.2f}{total / free:>8.0f}")
            stored = store.sighting_count()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
            store.close()
    if stored != 2 * total * len(batches):
        raise RuntimeError(f"{stored} sightings stored, not {2 * total * len(batches)}")
    lines.append(f"  at the default register.rate_per_minute = 120 the limiter alone needs"
                 f" {-(-total // batches[0]) * 0.5:.0f} s for {total:,} in batches of"
                 f" {batches[0]}")
    return lines
