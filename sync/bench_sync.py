"""``stocktaker bench sync``: what handing sightings to each register costs.

The ``files`` adapter's push is timed into an empty outbox and into one already holding
300,000 lines, side by side in one run: a push reads only the end of the file, so the two
should cost the same.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sync.bench_queue import sample_record
from sync.outbox import FilesOutbox


def bench_files_push(lines: int = 300_000, batches: int = 40, batch_size: int = 50) -> list[str]:
    """Median and p99 ms of one push of ``batch_size`` records, empty vs ``lines`` long."""
    rows = [f"{'files push (batch of ' + str(batch_size) + ')':<34}{'lines before':>13}"
            f"{'median ms':>10}{'p99 ms':>10}"]
    timings = {}
    for before in (0, lines):
        with tempfile.TemporaryDirectory() as tmp:
            outbox = FilesOutbox(tmp, "bench", max_bytes=1 << 40)
            if before:
                _fill(outbox.sightings_path, before)
            times = []
            for n in range(batches):
                batch = [{**sample_record(n * batch_size + k), "sighting_id": str(uuid.uuid4())}
                         for k in range(batch_size)]
                start = time.perf_counter()
                outbox.push(batch)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            timings[before] = statistics.median(times)
            rows.append(f"{'':<34}{before:>13,}{timings[before]:>10.2f}"
                        f"{times[round(0.99 * (len(times) - 1))]:>10.2f}")
    rows.append(f"{'ratio long/empty (median)':<34}{'':>13}{timings[lines] / timings[0]:>10.2f}")
    return rows


def _fill(path: Path, count: int) -> None:
    """Write ``count`` sighting lines the way the outbox writes them, quickly."""
    with path.open("wb") as fh:
        chunk = []
        for n in range(count):
            record = {**sample_record(n), "sighting_id": str(uuid.UUID(int=n + 1))}
            chunk.append(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            if len(chunk) == 10_000:
                fh.write("".join(chunk).encode("utf-8"))
                chunk = []
        fh.write("".join(chunk).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())  # else the first timed push pays for flushing the whole file
