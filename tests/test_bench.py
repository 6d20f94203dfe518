"""The benchmarks run and print figures (their numbers are read by people, not asserted)."""

from __future__ import annotations

import re

from hal.camera.bench import bench_decode
from sync.bench import bench_queue

NUMBER = r"\d+\.\d\d"


def test_queue_bench_prints_a_row_per_design_and_backlog() -> None:
    lines = bench_queue(backlogs=(0, 5), repeat=3)
    for design in ("SightingQueue (atomic)", "TinyDB JSONStorage", "acknowledge 1 (atomic)"):
        rows = [line for line in lines if line.startswith(design)]
        assert len(rows) == 2
        assert all(re.search(rf"\s{NUMBER}\s+{NUMBER}$", row) for row in rows)
    assert sum("ratio atomic/plain" in line for line in lines) == 2


def test_decode_bench_reads_the_codes_and_not_the_empty_frame() -> None:
    lines = bench_decode(sizes=((320, 240),), repeat=2)
    zbar = {line.split()[2]: line.split()[-1] for line in lines if line.startswith("zbar ")}
    assert zbar == {"QR": "yes", "CODE128": "yes", "empty": "no"}


def test_scan_bench_times_every_read() -> None:
    from firmware.bench import bench_scan

    header, row = bench_scan(scans=20)
    assert header.split()[:4] == ["read", "to", "verdict", "shown"]
    assert re.search(rf"\s20\s+{NUMBER}\s+{NUMBER}$", row)


def test_room_bench_prints_a_row_per_room_size() -> None:
    from firmware.bench import bench_room

    header, *rows = bench_room(sizes=(0, 30), appends=5)
    assert header.split()[:2] == ["room", "journal"]
    assert [row.split()[3] for row in rows] == ["0", "30"]
    assert all(re.search(rf"\s{NUMBER}\s+{NUMBER}\s+\d+\.\d$", row) for row in rows)
