"""``stocktaker bench dashboard``: how long the dashboard's pages take for a big campaign.

A campaign of ``rooms`` rooms with ``assets_per_room`` assets each (200 × 100: 20,000
assets) is audited: every room's report is stored in a fresh SQLite receiver (a few assets
of each room seen in the next room, a few missing, a label unknown), with one audit under
way (sightings without a report). The receiver serves on 127.0.0.1 in this process and each
page is fetched over HTTP with a viewer's credentials: first right after a new sighting
(``cold``: the reports read and reconciled again) and then again (``warm``: the
reconciliation kept until something changes). Printed: milliseconds per page, the median
of ``repeats`` fetches each.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sync.receiver.campaigns import CampaignBoard
from sync.receiver.dashboard import Dashboard
from sync.receiver.manifest import ManifestSource
from sync.receiver.server import ReceiverServer, start_in_thread
from sync.receiver.store import CheckedRecord, ReceiverStore
from sync.receiver.viewers import ViewerFile, add_viewer

__all__ = ["bench_dashboard"]

_CAMPAIGN = "Bench"
_PAGES = (("campaigns", "/dashboard/"), ("campaign", "/dashboard/campaign?campaign=Bench"),
          ("campaign.json", "/dashboard/campaign.json?campaign=Bench"),
          ("items (missing)", "/dashboard/items?campaign=Bench&category=missing"),
          ("campaign.csv", "/dashboard/campaign.csv?campaign=Bench"))


def _fill(folder: Path, store: ReceiverStore, rooms: int, per_room: int) -> Path:
    lines = ["Asset Tag,Serial,Asset Name,Location,Status"]
    for r in range(rooms):
        lines += [f"T{r:03d}-{a:03d},S{r}-{a},Asset {a},Room {r:03d},Ready"
                  for a in range(per_room)]
    manifest = folder / "expected.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for r in range(rooms - 1):
        scans: list[dict[str, Any]] = []
        for a in range(per_room):
            if a % 50 == 7:
                continue  # missing, or moved when the previous room saw it
            scans.append({"verdict": "verified", "asset_tag": f"T{r:03d}-{a:03d}",
                          "payload": f"T{r:03d}-{a:03d}", "at": "2026-12-07T05:00:01Z"})
        if r:
            scans.append({"verdict": "mislocated", "asset_tag": f"T{r - 1:03d}-007",
                          "payload": f"T{r - 1:03d}-007", "recorded_location": f"Room {r - 1:03d}",
                          "at": "2026-12-07T05:00:02Z"})
        scans.append({"verdict": "unregistered", "payload": f"UNKNOWN-{r}",
                      "at": "2026-12-07T05:00:03Z"})
        report: dict[str, Any] = {"session_id": f"s-{r:03d}", "device_id": f"hh-{r % 20:02d}",
                  "location": f"Room {r:03d}", "campaign": _CAMPAIGN, "technician": "bench",
                  "started_at": "2026-12-07T05:00:00Z", "ended_at": "2026-12-07T05:30:00Z",
                  "counts": {}, "scans": scans}
        store.put_report(f"s-{r:03d}", report["device_id"],
                         json.dumps(report, separators=(",", ":")))
    return manifest


def _sighting(store: ReceiverStore, room: int, asset: int) -> None:
    record = {"sighting_id": str(uuid.uuid4()), "device_id": "hh-live", "session_id": "s-live",
              "location": f"Room {room:03d}", "asset_tag": f"T{room:03d}-{asset:03d}",
              "payload": f"T{room:03d}-{asset:03d}", "verdict": "verified",
              "wall_time": "2026-12-07T06:00:00Z", "campaign": _CAMPAIGN}
    text = json.dumps(record, separators=(",", ":"))
    store.record_batch(str(uuid.uuid4()), "x", "hh-live", [
        CheckedRecord(record["sighting_id"], "s-live", text, verdict="verified", record=record)])


def bench_dashboard(rooms: int = 200, assets_per_room: int = 100,
                    repeats: int = 5) -> list[str]:
    """Measure the dashboard's pages; the lines to print."""
    with tempfile.TemporaryDirectory(prefix="stocktaker-bench-dashboard-") as name:
        folder = Path(name)
        store = ReceiverStore(folder / "receiver.sqlite")
        manifest = _fill(folder, store, rooms, assets_per_room)
        add_viewer(folder / "viewers", "bench", "bench-password")
        source = ManifestSource(manifest)
        dashboard = Dashboard(CampaignBoard(store, source), ViewerFile(folder / "viewers"),
                              store.devices)
        server = ReceiverServer(("127.0.0.1", 0), store=store, manifest=source,
                                token="bench-token-0123456789", dashboard=dashboard)
        thread = start_in_thread(server)
        auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        host, port = server.server_address[:2]
        lines = [f"dashboard: {rooms} rooms, {rooms * assets_per_room:,} assets,"
                 f" {rooms - 1} rooms reported, one audit under way; ms per page, median of"
                 f" {repeats}"]
        try:
            conn = http.client.HTTPConnection(str(host), port, timeout=120)

            def fetch(path: str) -> tuple[float, int]:
                started = time.perf_counter()
                conn.request("GET", path, headers={"Authorization": auth})
                answer = conn.getresponse()
                size = len(answer.read())
                if answer.status != 200:
                    raise RuntimeError(f"{path}: HTTP {answer.status}")
                return (time.perf_counter() - started) * 1000, size

            fetch("/dashboard/")  # the viewer's password hash, once
            sighted = 0
            for label, path in _PAGES:
                cold, warm = [], []
                size = 0
                for _ in range(repeats):
                    sighted += 1
                    _sighting(store, rooms - 1, sighted % assets_per_room)
                    cold.append(fetch(path)[0])
                    took, size = fetch(path)
                    warm.append(took)
                lines.append(f"  {label:<16} cold {statistics.median(cold):7.1f}   warm"
                             f" {statistics.median(warm):7.1f}   {size / 1024:8.1f} KiB")
            conn.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            store.close()
    return lines
