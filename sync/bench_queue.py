"""``stocktaker bench queue``: what a durable append costs as the backlog grows, and more.

In one run, at each backlog: a durable scan as the scan path makes it (the queue's
append, fsynced, then the room journal's line with its fsync deferred, inside
:func:`sync.journal.deferred_write`), timed alternately with the floor (a bare
``O_APPEND`` write and fsync of the same record as one JSON line, in the same folder:
what any durable append costs on that disk) and with the scan as it was before the
journal's fsync was deferred (queue append, then the journal line fsynced), and a
single plain TinyDB table (its default JSONStorage, rewritten in place with one fsync);
what a durable scan writes (bytes from ``/proc/self/io``, both ``write_bytes``, the
pages dirtied towards the disk, and ``wchar``, the bytes handed to ``write``) and how
many flushes it takes — on average, with the sync's flush of the journals counted once
every ``ROUND`` scans, and at most on the scan path (a segment roll included); the cost
of taking a sync batch; a group commit (how many fsyncs, counted by wrapping
``os.fsync``); the resident memory of a process holding a large queue; and the time to
open it. ``queue_figures`` returns the numbers, ``bench_queue`` the printed lines.

About 410 lines, over the house's 400, for one reason: the figures are measured side by
side in one run (each against the floor, on the same disk, alternately), so the
measurements and the table that prints them stay in one module.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from sync.journal import JsonLinesJournal, deferred_write, flush_deferred
from sync.queue import DEFAULT_SEGMENT_SIZE, SEGMENTS_DIR, SightingQueue
from sync.storage import write_and_fsync

Journal = Callable[[dict[str, Any]], None]
"""Writes one scan's sighting into the mode's journal as the scan path does (the room
journal's line, its fsync deferred)."""

BACKLOGS = (0, 1000, 10000, 50000)
ROUND = 50
"""Scans per sync round in the bytes and flushes figures (each round flushes the journals)."""
ROOT = Path(__file__).resolve().parents[1]


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


def _p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@contextmanager
def _counting_fsyncs() -> Iterator[list[int]]:
    """Count the calls of ``os.fsync`` and ``os.fdatasync`` made inside the block (``box[0]``)."""
    real_fsync, real_fdatasync = os.fsync, os.fdatasync
    box = [0]

    def counted(real: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(fd: Any) -> None:
            box[0] += 1
            real(fd)

        return call

    # Replaced for the bench's run only (restored below); typeshed's signatures are narrower.
    os.fsync = counted(real_fsync)  # type: ignore[assignment]
    os.fdatasync = counted(real_fdatasync)  # type: ignore[assignment]
    try:
        yield box
    finally:
        os.fsync, os.fdatasync = real_fsync, real_fdatasync


def _io() -> dict[str, int]:
    """This process's I/O counters (``/proc/self/io``); empty where there are none."""
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            return {key: int(value) for key, value in
                    (line.split(":", 1) for line in fh if ":" in line)}
    except OSError:
        return {}


def _journal_line(record: dict[str, Any]) -> bytes:
    """The line the room journal appends for a sighting (``firmware.room``'s layout)."""
    line = {"type": "sighting", "wall": 0.0, "record": record}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def line_journal(path: Path) -> Journal:
    """A journal of sightings as the room journal writes it: one O_APPEND line, fsync deferred."""
    journal = JsonLinesJournal(path, keep_open=True)

    def append(record: dict[str, Any]) -> None:
        journal.write(_journal_line(record), flush=False)

    return append


def _fsynced_journal(path: Path) -> Journal:
    """The journal line as the scan path wrote it before: one O_APPEND line, one fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    return lambda record: write_and_fsync(fd, _journal_line(record))


def _floor(path: Path) -> Callable[[dict[str, Any]], None]:
    """A bare durable append of a record as one JSON line: the floor for any design."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def append(record: dict[str, Any]) -> None:
        write_and_fsync(fd, json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")

    return append


def _per_scan(action: Callable[[], None], scans: int,
              between: Callable[[], object] | None = None) -> dict[str, float]:
    """Bytes written (``write_bytes``, ``wchar``) and flushes per call of ``action``.

    ``between`` (the sync round's work off the scan path) runs after every ``ROUND``
    calls and counts in the averages, not in ``max_flushes`` (the most one call took).
    """
    most = 0
    with _counting_fsyncs() as flushes:
        before = _io()
        for n in range(1, scans + 1):
            start = flushes[0]
            action()
            most = max(most, flushes[0] - start)
            if between is not None and n % ROUND == 0:
                between()
        after = _io()
    return {"write_bytes": (after.get("write_bytes", 0) - before.get("write_bytes", 0)) / scans,
            "wchar": (after.get("wchar", 0) - before.get("wchar", 0)) / scans,
            "flushes": flushes[0] / scans, "max_flushes": most}


def _fill(queue: SightingQueue, backlog: int, counter: Iterator[int]) -> None:
    for start in range(0, backlog, DEFAULT_SEGMENT_SIZE):
        size = min(DEFAULT_SEGMENT_SIZE, backlog - start)
        queue.append_many([sample_record(next(counter)) for _ in range(size)])


def _append_row(base: Path, backlog: int, appends: int, counter: Iterator[int],
                journal: Callable[[Path], Journal]) -> dict[str, Any]:
    with SightingQueue(base / "queue") as queue:
        # 250 more than the backlog, taken back by the timed acknowledgements.
        _fill(queue, backlog + 250, counter)
        take = _time_ms(lambda: queue.acknowledge(
            [r["sighting_id"] for r in queue.pending(50)]), 5)
        floor_append = _floor(base / "floor.jsonl")
        journal_append = journal(base / "journal")
        fsynced_append = _fsynced_journal(base / "journal-before")

        def scan(record: dict[str, Any]) -> None:
            """A durable scan as the scan path makes it."""
            with deferred_write():
                queue.append(record)
                journal_append(record)

        def scan_before(record: dict[str, Any]) -> None:
            """A durable scan as the scan path made it before: two fsyncs."""
            queue.append(record)
            fsynced_append(record)

        def sync_round() -> None:
            """The sync's work off the scan path: seal a parked segment, flush journals."""
            queue.pending(1)
            flush_deferred()

        ours: list[float] = []
        floor: list[float] = []
        before: list[float] = []
        for n in range(1, appends + 1):
            # Alternately, so that all see the same disk at the same moments.
            ours += _time_ms(partial(scan, sample_record(next(counter))), 1)
            floor += _time_ms(partial(floor_append, sample_record(next(counter))), 1)
            before += _time_ms(partial(scan_before, sample_record(next(counter))), 1)
            if n % ROUND == 0:
                sync_round()
        sync_round()
        scans = max(appends, 50)
        alone = _per_scan(lambda: queue.append(sample_record(next(counter))), scans)
        per_scan = _per_scan(lambda: scan(sample_record(next(counter))), scans, sync_round)
        old = _per_scan(lambda: scan_before(sample_record(next(counter))), scans)
        bare = _per_scan(lambda: floor_append(sample_record(next(counter))), scans)
    # Fewer baseline appends at large backlogs: each rewrites the whole file.
    plain_appends = min(appends, max(10, 300_000 // max(backlog, 1)))
    with TinyDB(base / "plain.json") as db:
        db.insert_multiple(sample_record(next(counter)) for _ in range(backlog))
        plain = _time_ms(lambda: db.insert(sample_record(next(counter))), plain_appends)
    return {
        "queued": backlog, "p50_ms": statistics.median(ours), "p99_ms": _p99(ours),
        "appends": appends, "floor_p50_ms": statistics.median(floor),
        "floor_p99_ms": _p99(floor), "before_p50_ms": statistics.median(before),
        "before_p99_ms": _p99(before), "baseline_p50_ms": statistics.median(plain),
        "baseline_p99_ms": _p99(plain), "baseline_appends": plain_appends,
        "ratio": _p99(ours) / _p99(plain), "acknowledge_50_ms": statistics.median(take),
        "queue_write_bytes": alone["write_bytes"], "queue_wchar": alone["wchar"],
        "queue_flushes": alone["flushes"], "scan_write_bytes": per_scan["write_bytes"],
        "scan_wchar": per_scan["wchar"], "scan_flushes": per_scan["flushes"],
        "scan_max_flushes": per_scan["max_flushes"],
        "before_write_bytes": old["write_bytes"], "before_wchar": old["wchar"],
        "before_flushes": old["flushes"], "before_max_flushes": old["max_flushes"],
        "floor_write_bytes": bare["write_bytes"], "floor_wchar": bare["wchar"],
        "floor_flushes": bare["flushes"], "floor_max_flushes": bare["max_flushes"],
    }


def _group_commit(base: Path, records: int, counter: Iterator[int]) -> dict[str, Any]:
    batch = [sample_record(next(counter)) for _ in range(records)]
    with SightingQueue(base / "group") as queue, _counting_fsyncs() as fsyncs:
        start = time.perf_counter()
        queue.append_many(batch)
        seconds = time.perf_counter() - start
        many = fsyncs[0]
    singles = [sample_record(next(counter)) for _ in range(records)]
    with SightingQueue(base / "single") as queue, _counting_fsyncs() as fsyncs:
        start = time.perf_counter()
        for record in singles:
            queue.append(record)
        single_seconds = time.perf_counter() - start
        single = fsyncs[0]
    return {"records": records, "fsyncs": many, "ms": seconds * 1000,
            "per_second": records / seconds, "single_fsyncs": single,
            "single_ms": single_seconds * 1000, "single_per_second": records / single_seconds}


_PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from sync.queue import SightingQueue

def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}

before = status()["VmRSS"]
start = time.perf_counter()
queue = SightingQueue(sys.argv[1])
opened = time.perf_counter() - start
queued = len(queue)
batch = queue.pending(50)
after = status()
print(json.dumps({"queued": queued, "open_ms": opened * 1000, "rss_before_mb": before,
                  "rss_mb": after["VmRSS"], "peak_mb": after["VmHWM"], "batch": len(batch)}))
"""


def _probe(directory: Path) -> dict[str, Any]:
    """Open the queue in a fresh process: its start-up time and resident memory."""
    done = subprocess.run([sys.executable, "-c", _PROBE, str(directory), str(ROOT)],
                          capture_output=True, check=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _plain_open_ms(path: Path) -> float:
    start = time.perf_counter()
    with TinyDB(path) as db:
        len(db)
    return (time.perf_counter() - start) * 1000


def queue_figures(backlogs: Sequence[int] = BACKLOGS, appends: int = 300,
                  group: int = 500, journal: Callable[[Path], Journal] = line_journal,
                  directory: Path | None = None) -> dict[str, Any]:
    """Measure everything; the top-level append figures are those of the largest backlog.

    Args:
        backlogs: sightings already queued for each row.
        appends: timed scans per row, the floor's appends and the scans as before,
            alternately (fewer for the baseline at large backlogs); at least 50 scans
            for the bytes.
        group: records in the group commit.
        journal: opens the journal a scan also writes, given its file (the room
            journal's line, its fsync deferred, by default).
        directory: where to measure (a temporary folder in it); the system's
            temporary folder when None. Put it on the disk that matters.

    Returns:
        ``queued``, ``p50_ms``, ``p99_ms`` (a durable scan: queue and journal),
        ``floor_p50_ms``, ``floor_p99_ms``, ``before_p50_ms``, ``before_p99_ms`` (the scan
        with its journal line fsynced, as before), ``baseline_p50_ms``,
        ``baseline_p99_ms``, ``ratio`` (scan p99 / baseline p99), ``scan_write_bytes``,
        ``scan_wchar``, ``scan_flushes`` (per durable scan, the sync's journal flush
        included), ``scan_max_flushes`` (the most one scan waited for) for the largest
        backlog; ``rows`` (the same for every backlog, with ``acknowledge_50_ms``, the
        queue's own ``queue_write_bytes``, ``queue_wchar``, ``queue_flushes``, the scan
        as before's ``before_write_bytes``, ``before_wchar``, ``before_flushes``,
        ``before_max_flushes`` and the floor's ``floor_write_bytes``, ``floor_wchar``,
        ``floor_flushes``);
        ``group_commit``; ``process`` (memory and start-up of a process opening the
        largest queue); ``platform``.
    """
    import platform

    counter = iter(range(10**9))
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        rows = []
        for backlog in backlogs:
            base = Path(tmp) / str(backlog)
            base.mkdir()
            rows.append(_append_row(base, backlog, appends, counter, journal))
        commit = _group_commit(Path(tmp), group, counter)
        largest = Path(tmp) / str(max(backlogs)) / "queue"
        process = _probe(largest)
        for sidecar in (largest / SEGMENTS_DIR).glob("*.ids"):
            sidecar.unlink()
        process["open_without_sidecars_ms"] = _probe(largest)["open_ms"]
        process["baseline_open_ms"] = _plain_open_ms(Path(tmp) / str(max(backlogs)) / "plain.json")
    top = rows[-1]
    return {
        **{key: top[key] for key in ("queued", "p50_ms", "p99_ms", "floor_p50_ms",
                                     "floor_p99_ms", "before_p50_ms", "before_p99_ms",
                                     "baseline_p50_ms", "baseline_p99_ms", "ratio",
                                     "scan_write_bytes", "scan_wchar", "scan_flushes",
                                     "scan_max_flushes")},
        "segment_size": DEFAULT_SEGMENT_SIZE, "rows": rows, "group_commit": commit,
        "process": process,
        "platform": {"python": platform.python_version(), "machine": platform.machine(),
                     "cpus": os.cpu_count()},
    }


def bench_queue(backlogs: Sequence[int] = BACKLOGS, appends: int = 300,
                group: int = 500, journal: Callable[[Path], Journal] = line_journal,
                directory: Path | None = None) -> list[str]:
    """Measure (see ``queue_figures``) and return the printed lines."""
    figures = queue_figures(backlogs, appends, group, journal, directory)
    lines = [f"{'durable scan (queue + journal)':<30}{'queued':>8}{'p50 ms':>10}{'p99 ms':>10}"
             f"{'appends':>9}"]
    for row in figures["rows"]:
        lines.append(f"{'SightingQueue (segments)':<30}{row['queued']:>8}{row['p50_ms']:>10.2f}"
                     f"{row['p99_ms']:>10.2f}{row['appends']:>9}")
        lines.append(f"{'  before: journal fsynced':<30}{row['queued']:>8}"
                     f"{row['before_p50_ms']:>10.2f}{row['before_p99_ms']:>10.2f}"
                     f"{row['appends']:>9}")
        lines.append(f"{'floor: O_APPEND line + fsync':<30}{row['queued']:>8}"
                     f"{row['floor_p50_ms']:>10.2f}{row['floor_p99_ms']:>10.2f}"
                     f"{row['appends']:>9}")
        lines.append(f"{'  ratio to the floor p50, p99':<30}{row['queued']:>8}"
                     f"{row['p50_ms'] / row['floor_p50_ms']:>10.2f}"
                     f"{row['p99_ms'] / row['floor_p99_ms']:>10.2f}")
        lines.append(f"{'TinyDB JSONStorage':<30}{row['queued']:>8}"
                     f"{row['baseline_p50_ms']:>10.2f}{row['baseline_p99_ms']:>10.2f}"
                     f"{row['baseline_appends']:>9}")
        lines.append(f"{'  ratio p99 queue/plain':<30}{row['queued']:>8}{row['ratio']:>10.3f}")
        lines.append(f"{'  acknowledge 50 oldest':<30}{row['queued']:>8}"
                     f"{row['acknowledge_50_ms']:>10.2f}")
    lines.append(f"{'written per durable scan':<30}{'queued':>8}{'pages B':>10}{'write() B':>10}"
                 f"{'flushes':>9}{'most':>6}")
    for row in figures["rows"]:
        for label, prefix in (("queue append + journal line", "scan"),
                              ("  before: journal fsynced", "before"),
                              ("  queue append alone", "queue"), ("  floor", "floor")):
            most = row.get(f"{prefix}_max_flushes")
            lines.append(f"{label:<30}{row['queued']:>8}{row[f'{prefix}_write_bytes']:>10.0f}"
                         f"{row[f'{prefix}_wchar']:>10.0f}{row[f'{prefix}_flushes']:>9.2f}"
                         + (f"{most:>6}" if most is not None else ""))
    lines.append(f"  (a sync round every {ROUND} scans flushes the journals; 'most': the"
                 " flushes one scan waited for, a segment roll included)")
    commit = figures["group_commit"]
    lines.append(
        f"group commit: {commit['records']} sightings in one append_many: {commit['fsyncs']}"
        f" fsyncs, {commit['ms']:.1f} ms, {commit['per_second']:,.0f} sightings/s"
        f" ({commit['records']} single appends: {commit['single_fsyncs']} fsyncs,"
        f" {commit['single_ms']:.0f} ms, {commit['single_per_second']:,.0f}/s)")
    process = figures["process"]
    lines.append(
        f"process holding {process['queued']:,} queued: {process['rss_mb']:.1f} MB resident"
        f" (VmRSS; peak {process['peak_mb']:.1f} MB; {process['rss_before_mb']:.1f} MB"
        " before opening)")
    lines.append(
        f"start-up with {process['queued']:,} queued: {process['open_ms']:.0f} ms"
        f" ({process['open_without_sidecars_ms']:.0f} ms with no id sidecars: every segment"
        f" parsed; plain TinyDB open and count: {process['baseline_open_ms']:.0f} ms)")
    return lines
