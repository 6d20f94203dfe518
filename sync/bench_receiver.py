"""``stocktaker bench receiver``: a fleet pushing into the reference receiver at once.

For each database (SQLite, PostgreSQL, or both side by side), the receiver runs as its own
process (``stocktaker register-server`` on 127.0.0.1, a fresh database), and ``devices``
device threads in this process each push ``sightings`` sightings through the ``http``
adapter in batches of 50, with a heartbeat after every 20 batches, all at once. Then the
database is counted: every sighting must be stored exactly once, and every push answered
``accepted`` for each of its records.

Printed per database: sightings per second (all stored over the wall time of the pushes),
push latency p50 and p99 (one ``POST /sightings`` each, as the device sees it), and the
CPU seconds the receiver process and this client process used: on a small machine the
Python client can be the limit, and these say which side was.

PostgreSQL is a throw-away server started from the installed programs
(:mod:`sync.receiver.pgcluster`, with its durable defaults: ``fsync`` and synchronous
commit on, as SQLite's ``synchronous=FULL``), or the one ``postgres_url`` names.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.http import HttpRegister
from sync.sighting import Sighting

__all__ = ["ReceiverFigures", "bench_receiver", "format_figures"]

BATCH = 50
HEARTBEAT_EVERY = 20
"""Batches between two heartbeats of a device (one a sync round of 1,000 sightings)."""
_TOKEN = "bench-receiver-token"
_MANIFEST = "Asset Tag,Serial,Asset Name,Location,Status,Checked Out To,ID\nIT-1,,One,A,Ready,,1\n"


@dataclass(frozen=True)
class ReceiverFigures:
    """What one database's run measured."""

    database: str
    devices: int
    sightings_per_device: int
    stored: int
    duplicates: int
    pushes: int
    heartbeats: int
    seconds: float
    sightings_per_second: float
    push_p50_ms: float
    push_p99_ms: float
    receiver_cpu_seconds: float
    client_cpu_seconds: float
    postgres_start_seconds: float | None = None


def _record(device: str, session: str, n: int) -> dict[str, Any]:
    """A sighting record of realistic size (about 680 bytes of JSON)."""
    return {
        "sighting_id": str(uuid.uuid4()), "device_id": device, "session_id": session,
        "location": "Storage B", "technician": "ana",
        "tag": {"kind": "asset_tag", "value": f"IT-{n:06d}", "scheme": "plain", "aim": None,
                "serial": None, "gtin": None, "site": None},
        "asset_tag": f"IT-{n:06d}", "payload": f"https://assets.example.com/hardware/{n}",
        "symbology": "QR", "source": "camera", "verdict": "verified",
        "recorded_location": None, "reason": None, "wall_time": "2026-12-07T09:15:02.120Z",
        "clock_synchronized": True, "monotonic": 1234.5 + n,
        "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7", "firmware_version": "0.1.0",
        "candidates": [],
    }


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _receiver(db: str, folder: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``stocktaker register-server`` on a free loopback port; stopped by PID on exit."""
    token = folder / "token"
    token.write_text(_TOKEN + "\n", encoding="ascii")
    token.chmod(0o600)
    manifest = folder / "expected.csv"
    manifest.write_text(_MANIFEST, encoding="utf-8")
    log = (folder / "receiver.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware", "register-server", "--db", db, "--manifest",
         str(manifest), "--token-file", str(token), "--host", "127.0.0.1", "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            proc.wait(timeout=30)
            raise RuntimeError("the receiver did not start: "
                               + (folder / "receiver.log").read_text()[-1000:])
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def _device(url: str, device: str, sightings: int, start: threading.Barrier,
            latencies: list[float], counts: list[int]) -> None:
    """One device: its records made, then (when every device is ready) pushed."""
    session = str(uuid.uuid4())
    records = [Sighting.from_record(_record(device, session, n)) for n in range(sightings)]
    start.wait()
    with HttpRegister(url, _TOKEN, device, timeout=120.0) as register:
        for number, first in enumerate(range(0, sightings, BATCH), 1):
            began = time.perf_counter()
            results = register.push(records[first:first + BATCH])
            latencies.append(time.perf_counter() - began)
            counts[1] += sum(r.status.value == "accepted" for r in results)
            if number % HEARTBEAT_EVERY == 0 or first + BATCH >= sightings:
                register.heartbeat({"queue_depth": max(0, sightings - first - BATCH),
                                    "firmware_version": "bench", "mode": "handheld"})
                counts[0] += 1


def _run(database: str, db_url: str, devices: int, sightings: int,
         folder: Path) -> ReceiverFigures:
    from sync.receiver.store import ReceiverStore

    latencies: list[float] = []
    failures: list[str] = []
    counts = [0, 0]  # heartbeats, accepted
    lock = threading.Lock()
    start = threading.Barrier(devices + 1)

    def device(n: int) -> None:
        mine: list[float] = []
        mine_counts = [0, 0]
        try:
            _device(url, f"bench-{n:03d}", sightings, start, mine, mine_counts)
        except threading.BrokenBarrierError:
            pass
        except Exception as exc:  # reported once every device has ended
            failures.append(f"bench-{n:03d}: {type(exc).__name__}: {exc}")
            start.abort()
        with lock:
            latencies.extend(mine)
            counts[0] += mine_counts[0]
            counts[1] += mine_counts[1]

    with _receiver(db_url, folder) as (url, proc):
        threads = [threading.Thread(target=device, args=(n,), daemon=True)
                   for n in range(devices)]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait()  # every device has made its records: the clock starts now
        cpu_client = resource.getrusage(resource.RUSAGE_SELF)
        cpu_server = _cpu_seconds(proc.pid)
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = _cpu_seconds(proc.pid) - cpu_server
    if failures:
        raise RuntimeError(f"{len(failures)} device(s) failed; first: {failures[0]}")
    with ReceiverStore(db_url) as store:
        stored, duplicates = store.sighting_count(), store.duplicate_sightings()
    expected = devices * sightings
    if stored != expected or duplicates or counts[1] != expected:
        raise RuntimeError(f"{database}: {stored} sightings stored ({duplicates} twice),"
                           f" {counts[1]} accepted, for {expected} sent")
    ordered = sorted(latencies)
    return ReceiverFigures(
        database=database, devices=devices, sightings_per_device=sightings, stored=stored,
        duplicates=duplicates, pushes=len(ordered), heartbeats=counts[0],
        seconds=round(seconds, 2), sightings_per_second=round(stored / seconds, 1),
        push_p50_ms=round(statistics.median(ordered) * 1000, 1),
        push_p99_ms=round(_percentile(ordered, 0.99) * 1000, 1),
        receiver_cpu_seconds=round(server_cpu, 1),
        client_cpu_seconds=round((after.ru_utime + after.ru_stime)
                                 - (cpu_client.ru_utime + cpu_client.ru_stime), 1))


def _percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def bench_receiver(*, devices: int = 50, sightings: int = 10_000, databases: tuple[str, ...]
                   = ("sqlite", "postgresql"), postgres_url: str | None = None
                   ) -> list[ReceiverFigures]:
    """Run the fleet against each database in ``databases``; their figures, in order.

    Raises:
        RuntimeError: a device failed, or a sighting was not stored exactly once.
        PostgresMissing: PostgreSQL is wanted, no URL is given and it is not installed.
    """
    figures = []
    with tempfile.TemporaryDirectory(prefix="stocktaker-bench-receiver-") as tmp:
        for database in databases:
            folder = Path(tmp) / database
            folder.mkdir()
            if database == "sqlite":
                figures.append(_run(database, f"sqlite:///{folder / 'receiver.sqlite'}",
                                    devices, sightings, folder))
                continue
            if postgres_url is not None:
                figures.append(_run(database, postgres_url, devices, sightings, folder))
                continue
            from sync.receiver.pgcluster import ScratchPostgres

            with ScratchPostgres(durable=True) as server:
                run = _run(database, server.url, devices, sightings, folder)
                figures.append(ReceiverFigures(**{**asdict(run), "postgres_start_seconds":
                                                  round(server.started_in, 1)}))
    return figures


def format_figures(figures: list[ReceiverFigures]) -> list[str]:
    """The figures as a table, the databases side by side."""
    if not figures:
        return []
    first = figures[0]
    lines = [f"receiver: {first.devices} devices x {first.sightings_per_device:,} sightings"
             f" at once, batches of {BATCH}, a heartbeat every {HEARTBEAT_EVERY} batches"
             f" (cores: {os.cpu_count()})",
             f"  {'':<22}" + "".join(f"{f.database:>14}" for f in figures)]
    rows = [("sightings/s", "sightings_per_second", "{:,.0f}"),
            ("push p50 ms", "push_p50_ms", "{:.1f}"),
            ("push p99 ms", "push_p99_ms", "{:.1f}"),
            ("seconds", "seconds", "{:.1f}"),
            ("stored (once each)", "stored", "{:,}"),
            ("pushes / heartbeats", None, ""),
            ("receiver CPU s", "receiver_cpu_seconds", "{:.1f}"),
            ("client CPU s", "client_cpu_seconds", "{:.1f}")]
    for label, key, form in rows:
        if key is None:
            cells = [f"{f.pushes:,} / {f.heartbeats:,}" for f in figures]
        else:
            cells = [form.format(getattr(f, key)) for f in figures]
        lines.append(f"  {label:<22}" + "".join(f"{c:>14}" for c in cells))
    return lines
