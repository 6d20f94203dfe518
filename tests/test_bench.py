"""The benchmarks run and print figures (their numbers are read by people, not asserted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hal.camera.bench_decode import bench_decode
from sync.bench_queue import bench_queue

NUMBER = r"\d+\.\d\d"


def test_queue_bench_prints_a_row_per_design_and_backlog() -> None:
    lines = bench_queue(backlogs=(0, 30), appends=5, group=20)
    for design in ("SightingQueue (segments)", "TinyDB JSONStorage", "  acknowledge 50 oldest"):
        rows = [line for line in lines if line.startswith(design)]
        assert [re.search(rf"\s(\d+)\s+{NUMBER}", row)[1] for row in rows] == ["0", "30"]
    assert all(re.search(rf"\s{NUMBER}\s+{NUMBER}\s+\d+$", line) for line in lines
               if line.startswith(("SightingQueue", "TinyDB")))
    assert sum("ratio p99 queue/plain" in line for line in lines) == 2
    assert [line.split()[-4] for line in lines if line.startswith("floor: O_APPEND")] == [
        "0", "30"]
    assert sum(line.startswith("queue append + journal line") for line in lines) == 2
    assert any(re.match(r"group commit: 20 sightings in one append_many: 2 fsyncs", line)
               for line in lines)
    assert any(re.match(r"process holding 135 queued: \d+\.\d MB resident", line)
               for line in lines)
    assert any(re.match(r"start-up with 135 queued: \d+ ms", line) for line in lines)


def test_queue_bench_json_has_the_headline_figures(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.bench_queue
    from firmware.cli import main

    measure = sync.bench_queue.queue_figures
    monkeypatch.setattr(sync.bench_queue, "queue_figures",
                        lambda **kwargs: measure((0, 40), 5, 10, **kwargs))
    assert main(["bench", "queue", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["queued"] == 40 and [row["queued"] for row in figures["rows"]] == [0, 40]
    for key in ("p50_ms", "p99_ms", "baseline_p99_ms", "ratio"):
        assert isinstance(figures[key], float) and figures[key] > 0
    assert figures["ratio"] == figures["p99_ms"] / figures["baseline_p99_ms"]
    assert figures["group_commit"]["fsyncs"] == 2
    # One fsync per append; the first one creates the segment file: its folder is flushed too.
    assert figures["group_commit"]["single_fsyncs"] == 11
    for key in ("floor_p50_ms", "floor_p99_ms", "scan_wchar", "scan_flushes"):
        assert figures[key] > 0
    row = figures["rows"][-1]
    # One line in the queue, one in the room journal, each with its fsync.
    assert 2 <= row["scan_flushes"] < 2.1 and row["queue_flushes"] < 1.1
    assert row["queue_wchar"] < 2 * row["floor_wchar"]
    # 40 queued, 5 timed appends, 50 appends alone and 50 scans for the bytes.
    assert figures["process"]["queued"] == 145 and figures["process"]["rss_mb"] > 0
    assert main(["bench", "scan", "--json"]) == 2


def test_decode_bench_reads_the_codes_and_not_the_empty_frame() -> None:
    lines = bench_decode(sizes=((320, 240),), repeat=2)
    zbar = {line.split()[2]: line.split()[-1] for line in lines if line.startswith("zbar ")}
    assert zbar == {"QR": "yes", "CODE128": "yes", "empty": "no"}


def test_scan_bench_times_every_read() -> None:
    from firmware.bench_scan import bench_scan

    header, row = bench_scan(scans=20)
    assert header.split()[:4] == ["read", "to", "verdict", "shown"]
    assert re.search(rf"\s20\s+{NUMBER}\s+{NUMBER}$", row)


def test_room_bench_prints_a_row_per_room_size() -> None:
    from firmware.bench_scan import bench_room

    header, *rows = bench_room(sizes=(0, 30), appends=5)
    assert header.split()[:2] == ["room", "journal"]
    assert [row.split()[3] for row in rows] == ["0", "30"]
    assert all(re.search(rf"\s{NUMBER}\s+{NUMBER}\s+\d+\.\d$", row) for row in rows)


def test_frame_to_verdict_gives_every_frame_its_verdict() -> None:
    from firmware.bench_scan import bench_frame_to_verdict

    header, row = bench_frame_to_verdict(size=(320, 240), frames=12)
    assert header.split()[:4] == ["frame", "to", "verdict", "shown"]
    fields = row.split()
    assert fields[:2] == ["auto", "320x240"] and fields[2] == "12"
    assert int(fields[3]) + int(fields[4]) == 12  # a frame is judged, or dropped when late


def test_bench_decode_camera_times_the_configured_camera(tmp_path: Path) -> None:
    import subprocess
    import sys

    from hal import labels

    (tmp_path / "frames").mkdir()
    for n in range(3):
        label = labels.qr_label(f"https://assets.example.com/ht/IT-{n}", f"IT-{n}")
        labels.place_in_frame(label, size=(640, 480), seed=n).save(
            tmp_path / "frames" / f"{n}.png")
    (tmp_path / "c.toml").write_text('[camera]\nbackend = "files"\npath = "frames"\n',
                                     encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "firmware", "bench", "decode", "--camera",
                           "--config", "c.toml", "--seconds", "60"], capture_output=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert "3 frames captured" in lines[0] and "3 decoded" in lines[0]
    assert lines[1].startswith("decode ms per frame: median ")
    assert lines[2].startswith("3 codes read; frame to read ms")
    refused = subprocess.run([sys.executable, "-m", "firmware", "bench", "scan", "--camera",
                              "--config", "c.toml"], capture_output=True, timeout=60,
                             cwd=tmp_path)
    assert refused.returncode == 2 and b"Traceback" not in refused.stderr
