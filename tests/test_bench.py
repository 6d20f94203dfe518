"""The benchmarks run and print figures (their numbers are read by people, not asserted)."""

from __future__ import annotations

import json
import re

import pytest

from hal.camera.bench import bench_decode
from sync.bench import bench_queue

NUMBER = r"\d+\.\d\d"


def test_queue_bench_prints_a_row_per_design_and_backlog() -> None:
    lines = bench_queue(backlogs=(0, 30), appends=5, group=20)
    for design in ("SightingQueue (segments)", "TinyDB JSONStorage", "  acknowledge 50 oldest"):
        rows = [line for line in lines if line.startswith(design)]
        assert [re.search(rf"\s(\d+)\s+{NUMBER}", row)[1] for row in rows] == ["0", "30"]
    assert all(re.search(rf"\s{NUMBER}\s+{NUMBER}\s+\d+$", line) for line in lines
               if line.startswith(("SightingQueue", "TinyDB")))
    assert sum("ratio p99 queue/plain" in line for line in lines) == 2
    assert any(re.match(r"group commit: 20 sightings in one append_many: 2 fsyncs", line)
               for line in lines)
    assert any(re.match(r"process holding 35 queued: \d+\.\d MB resident", line) for line in lines)
    assert any(re.match(r"start-up with 35 queued: \d+ ms", line) for line in lines)


def test_queue_bench_json_has_the_headline_figures(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.bench
    from firmware.cli import main

    measure = sync.bench.queue_figures
    monkeypatch.setattr(sync.bench, "queue_figures", lambda: measure((0, 40), 5, 10))
    assert main(["bench", "queue", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["queued"] == 40 and [row["queued"] for row in figures["rows"]] == [0, 40]
    for key in ("p50_ms", "p99_ms", "baseline_p99_ms", "ratio"):
        assert isinstance(figures[key], float) and figures[key] > 0
    assert figures["ratio"] == figures["p99_ms"] / figures["baseline_p99_ms"]
    assert figures["group_commit"]["fsyncs"] == 2
    assert figures["group_commit"]["single_fsyncs"] == 20
    assert figures["process"]["queued"] == 45 and figures["process"]["rss_mb"] > 0
    assert main(["bench", "scan", "--json"]) == 2


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
