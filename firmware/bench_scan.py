"""``stocktaker bench scan``: time from a read to its verdict on screen, durable write included.

A room of 200 expected assets, the real queue (fsync and all) in a temporary folder, the
terminal display drawing into memory: each read is parsed, judged, queued durably,
counted, drawn and signalled, exactly as on the device. Also the scan path's other costs:
a camera frame to its verdict (``bench camera``) and the open room's journal
(``bench room``). The queue's own bench is :mod:`sync.bench_queue`, the decoders'
:mod:`hal.camera.bench_decode`.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hal.clock import SystemClock
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Asset, Inventory
from firmware.room import RoomJournal, open_rooms
from firmware.sightings import Stamp, make_sighting, verdict_fields
from firmware.tags import DEFAULT_TAG_PATTERN, parse_read
from firmware.verdicts import Verdict, VerdictKind
from hal.display import DisplaySettings, open_display
from hal.feedback import FeedbackSettings, open_feedback
from hal.read import Read
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports


@contextlib.contextmanager
def _bench_audit(assets: list[Asset], repeat_window: float) -> Iterator[HandheldAudit]:
    """A handheld audit of Storage B over ``assets``, as on the device, in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "expected.csv").write_text("asset_tag,serial,name,location,status,assigned_to\n")
        with SightingQueue(root / "state") as queue, \
                open_display(DisplaySettings("terminal"), stream=io.StringIO()) as display, \
                open_feedback(FeedbackSettings("terminal"), stream=io.StringIO()) as feedback:
            yield HandheldAudit(
                Settings("bench", "bench", "Storage B", repeat_window, DEFAULT_TAG_PATTERN),
                Inventory(assets), queue, FilesRegister(root / "expected.csv", root / "out",
                                                        "bench"),
                PendingReports(root / "state" / "reports"), display, feedback, SystemClock())


def _assets(count: int) -> list[Asset]:
    return [Asset(f"IT-{n:06d}", f"SN{n:08d}", "Laptop", "Storage B", id=n)
            for n in range(count)]


def bench_scan(scans: int = 200) -> list[str]:
    """Median and p99 ms from read to verdict shown; returns the printed lines."""
    assets = _assets(scans)
    times = []
    with _bench_audit(assets, 2.0) as audit:
        for n, asset in enumerate(assets):
            read = Read(asset.asset_tag.encode(), "CODE128", "bench", float(n))
            start = time.perf_counter()
            audit.handle(read)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return [f"{'read to verdict shown':<26}{'scans':>8}{'median ms':>10}{'p99 ms':>10}",
            f"{'terminal display, fsync':<26}{scans:>8}{statistics.median(times):>10.2f}"
            f"{times[round(0.99 * (len(times) - 1))]:>10.2f}"]


def bench_frame_to_verdict(size: tuple[int, int] = (640, 480), fps: float = 30.0,
                           frames: int = 150, decoder: str = "auto") -> list[str]:
    """Frame taken to verdict shown, for frames holding one QR label each (a new one each
    frame): a live camera stand-in, the configured decoder pipeline on its own thread, then
    the audit (parse, judge, fsync to queue and journal, draw, signal). Returns the lines.
    """
    import numpy as np

    from hal import labels
    from hal.camera import open_decoder
    from hal.camera.reader import CameraReader
    from hal.camera.bench_stream import SyntheticCamera

    assets = _assets(frames)
    pictures = [np.asarray(labels.place_in_frame(
        labels.qr_label(f"https://assets.example.com/ht/{a.asset_tag}", a.asset_tag),
        size=size, seed=n)) for n, a in enumerate(assets)]
    latencies: list[float] = []
    camera = CameraReader(SyntheticCamera(pictures, fps, frames), open_decoder(decoder),
                          name="camera")
    with _bench_audit(assets, 0.0) as audit, camera:
        for read in camera.reads():
            audit.handle(read)
            latencies.append((time.monotonic() - read.at) * 1000)
        stats = camera.stats()
    latencies.sort()
    p99 = latencies[round(0.99 * (len(latencies) - 1))] if latencies else float("nan")
    median = statistics.median(latencies) if latencies else float("nan")
    return [f"{'frame to verdict shown':<26}{'frames':>8}{'verdicts':>9}{'dropped':>8}"
            f"{'median ms':>10}{'p99 ms':>10}",
            f"{decoder + f' {size[0]}x{size[1]}':<26}{frames:>8}{len(latencies):>9}"
            f"{stats.dropped:>8}{median:>10.2f}{p99:>10.2f}"]


def bench_room(sizes: tuple[int, ...] = (0, 1000, 5000), appends: int = 100) -> list[str]:
    """The open room's durable journal: append cost and resume time against the room's size.

    For each size, a journal already holding that many sightings gets ``appends`` more
    (each fsynced, as on every scan); then the room is read back as at a restart.
    Returns the printed lines.
    """
    record = _sample_record()
    lines = [f"{'room journal':<26}{'scans':>8}{'median ms':>10}{'p99 ms':>10}"
             f"{'resume ms':>11}"]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rooms = Path(tmp) / "rooms"
            journal = RoomJournal(rooms, "bench", {
                "device_id": "bench", "technician": "bench", "location": "Storage B",
                "started_at": "2026-11-30T00:00:00.000Z", "clock_synchronized": True,
                "wall": 0.0})
            for n in range(size):
                journal.add({**record, "sighting_id": f"s{n}"}, float(n))
            times = []
            for n in range(appends):
                start = time.perf_counter()
                journal.add({**record, "sighting_id": f"a{n}"}, float(n))
                times.append((time.perf_counter() - start) * 1000)
            journal.close()
            start = time.perf_counter()
            (room,) = open_rooms(rooms)
            resume = (time.perf_counter() - start) * 1000
            assert len(room.sightings) == size + appends
        times.sort()
        lines.append(f"{'append one, fsync':<26}{size:>8}{statistics.median(times):>10.2f}"
                     f"{times[round(0.99 * (len(times) - 1))]:>10.2f}{resume:>11.1f}")
    return lines


def room_journal(path: Path) -> Callable[[dict[str, Any]], None]:
    """The room journal of a session at ``path``, adding one sighting per call, as a scan does.

    For ``stocktaker bench queue``, which counts what a durable scan writes: the queue's
    append and this line.
    """
    journal = RoomJournal(path, "bench", {
        "device_id": "bench", "technician": "bench", "location": "Storage B",
        "started_at": "2026-11-30T00:00:00.000Z", "clock_synchronized": True, "wall": 0.0})
    return lambda record: journal.add(record, 0.0)


def _sample_record() -> dict[str, object]:
    """A sighting record of the usual size (about 600 bytes)."""
    audit_read = Read(b"IT-004512", "CODE128", "bench", 0.0)
    tag = parse_read(audit_read)
    verdict = Verdict(VerdictKind.VERIFIED, "IT-004512", Asset("IT-004512"))
    return make_sighting(Stamp("bench", "bench", "Storage B", "bench"), audit_read,
                         "IT-004512", tag, SystemClock(), **verdict_fields(verdict)).to_record()
