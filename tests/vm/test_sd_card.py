"""The queue's benches on an SD card's terms: run inside the device image, on its root disk
throttled like a slow SD card (:data:`tests.vm.machine.SD_CARD_THROTTLE`), then once more in
the same boot with the limits lifted, for comparison.

The figures are printed (``pytest -s``); the test checks only that the benches ran on the
root file system and produced numbers: no timing thresholds.

The guest is emulated (TCG, one vCPU): by default the queue bench runs through its own
function with the backlogs :data:`BACKLOGS` and :data:`APPENDS` timed appends per row (a
few minutes in all). With ``STOCKTAKER_SD_FULL=1`` it is ``stocktaker bench queue --json``
as shipped (backlogs up to 50,000, 300 appends each): much longer.
"""

from __future__ import annotations

import json
import math
import os

from tests.vm.machine import SD_CARD_THROTTLE, Machine

STOCKTAKER = "/opt/stocktaker/venv/bin/stocktaker"
PYTHON = "/opt/stocktaker/venv/bin/python"
#: On the root file system (ext4), not /tmp: where the device's state lives.
BENCH_DIR = "/var/lib/stocktaker/bench"
FULL = os.environ.get("STOCKTAKER_SD_FULL") == "1"
BACKLOGS = (0, 1000, 10000, 50000) if FULL else (0, 1000)
APPENDS = 300 if FULL else 100

QUEUE_SCRIPT = f"""
import json
from pathlib import Path
from firmware.bench_scan import room_journal
from sync.bench_queue import queue_figures
figures = queue_figures(backlogs={BACKLOGS!r}, appends={APPENDS}, group=100,
                        journal=room_journal, directory=Path({BENCH_DIR!r}))
print(json.dumps(figures))
"""


def run_benches(machine: Machine) -> tuple[dict, tuple[float, float]]:
    """``bench queue`` figures and ``bench scan``'s median and p99 ms, measured in the guest."""
    if FULL:
        _, out = machine.sh(f"TMPDIR={BENCH_DIR} {STOCKTAKER} bench queue --json",
                            timeout=3600.0)
    else:
        _, out = machine.sh(f"TMPDIR={BENCH_DIR} {PYTHON} -", stdin=QUEUE_SCRIPT.encode(),
                            timeout=1800.0)
    queue = json.loads(out.strip().splitlines()[-1])
    _, out = machine.sh(f"TMPDIR={BENCH_DIR} {STOCKTAKER} bench scan", timeout=900.0)
    row = next(line for line in out.splitlines() if line.startswith("terminal display, fsync"))
    median, p99 = (float(field) for field in row.split()[-2:])
    return queue, (median, p99)


def report(label: str, queue: dict, scan: tuple[float, float]) -> None:
    print(f"\n{label}")
    for row in queue["rows"]:
        print(f"  queued {row['queued']:>6}: append p50 {row['p50_ms']:.2f} p99 "
              f"{row['p99_ms']:.2f} ms, floor p50 {row['floor_p50_ms']:.2f} p99 "
              f"{row['floor_p99_ms']:.2f} ms; per scan {row['scan_write_bytes']:.0f} B in "
              f"pages, {row['scan_wchar']:.0f} B to write, {row['scan_flushes']:.3f} flushes"
              f" (at most {row['scan_max_flushes']} in one);"
              f" acknowledge 50 {row['acknowledge_50_ms']:.1f} ms")
        print(f"    the scan as before (journal line fsynced too): p50 "
              f"{row['before_p50_ms']:.2f} p99 {row['before_p99_ms']:.2f} ms, "
              f"{row['before_write_bytes']:.0f} B in pages, {row['before_flushes']:.3f} flushes")
    commit = queue["group_commit"]
    print(f"  group commit {commit['records']}: {commit['ms']:.1f} ms, {commit['fsyncs']} "
          f"fsyncs vs {commit['single_ms']:.1f} ms, {commit['single_fsyncs']} fsyncs")
    print(f"  bench scan: read to verdict shown median {scan[0]:.2f} ms, p99 {scan[1]:.2f} ms")


def check(queue: dict, scan: tuple[float, float]) -> None:
    assert [row["queued"] for row in queue["rows"]] == list(BACKLOGS)
    for row in queue["rows"]:
        for key in ("p50_ms", "p99_ms", "floor_p50_ms", "floor_p99_ms"):
            assert math.isfinite(row[key]) and row[key] > 0, (key, row)
        # the queue's append, the one flush a scan waits for (the journal's is deferred to
        # the sync round, so the average is a little over one)
        assert row["scan_flushes"] >= 1 and row["scan_max_flushes"] >= 1
        assert row["scan_wchar"] > 0
    assert all(math.isfinite(v) and v > 0 for v in scan)


def test_queue_benches_on_a_throttled_disk(make_box) -> None:
    box = make_box(disk_throttle=SD_CARD_THROTTLE)
    machine = box.machine
    assert "throttling.iops-total=300" in " ".join(machine.command())
    machine.start()
    machine.wait_agent(timeout=900.0)
    # The service's own writes stay off the disk while the benches time it.
    machine.sh("systemctl stop stocktaker.service", check=False, timeout=120.0)
    machine.sh(f"mkdir -p {BENCH_DIR}")
    _, kind = machine.sh(f"stat -f -c %T {BENCH_DIR}")
    assert kind.strip() in ("ext2/ext3", "ext4"), kind

    throttled = run_benches(machine)
    report(f"SD card throttle {SD_CARD_THROTTLE}", *throttled)
    check(*throttled)

    machine.set_disk_throttle(None)
    unthrottled = run_benches(machine)
    report("no throttle", *unthrottled)
    check(*unthrottled)
    machine.power_off()
