"""Child process of the queue crash tests: queues sightings until it is killed.

Usage: ``python queue_writer.py DIRECTORY MODE MAX_APPENDS [SEED]`` with the
repository root on ``PYTHONPATH``. MODE:

* ``append``: append one record at a time;
* ``mixed``: also acknowledge the three oldest every seven appends, as sync does;
* ``many``: ``append_many`` batches of 1 to 12 records, acknowledging now and then;
* ``seal``: segments of three records and no quiet interval, so nearly every append
  seals a segment, with acknowledgements that delete and shrink sealed segments;
* ``drain``: segments of five; every five appends a random part of the queue is
  acknowledged (whole segments deleted, others rewritten) or dead-lettered;
* ``steady``: segments of ten sealed after 50 ms of quiet, acknowledging the three
  oldest every seven appends, a short pause now and then; it ends by itself with
  ``removed <n>``, the sum of what its acknowledgements returned;
* ``sync``: no appends: opens the queue shared beside its owner and acknowledges
  what it finds, batch by batch, until killed (or MAX_APPENDS batches).

Each line on stdout is flushed before the next queue operation starts:

* ``try <id>``: an append of that id is about to start;
* ``ack <id>``: the append (or ``append_many``) holding it returned: this stands for
  the confirmation shown to the technician;
* ``take <id>`` / ``gone <id>``: ``acknowledge`` is about to be called for it / returned;
* ``dtake <id>`` / ``dgone <id>``: the same for ``dead_letter``.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from pathlib import Path

from sync.queue import SightingQueue

ACK_EVERY = 7
ACK_BATCH = 3
LAYOUTS = {"append": (250, 60.0), "mixed": (250, 60.0), "many": (8, 60.0),
           "seal": (3, 0.0), "drain": (5, 60.0), "steady": (10, 0.05)}


def _record(number: int) -> dict[str, object]:
    """A sighting record of realistic size and content."""
    return {
        "sighting_id": str(uuid.uuid4()),
        "device_id": "handheld-07",
        "session_id": "0d6f3a52-3f0e-4c38-9a51-1f0c2b7de001",
        "location": "Büro 3.14",
        "technician": "Zoë Ångström",
        "asset_tag": f"IT-{number:06d}",
        "payload": f"https://assets.example.org/hardware/{number}",
        "symbology": "QR",
        "source": "camera",
        "verdict": "verified",
        "wall_time": "2026-11-24T09:15:02.120Z",
        "clock_synchronized": True,
        "monotonic": 1234.5 + number,
        "firmware_version": "0.1.0",
    }


def _say(lines: list[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()


def _acknowledge(queue: SightingQueue, ids: list[str]) -> int:
    if not ids:
        return 0
    _say([f"take {sid}" for sid in ids])
    removed = queue.acknowledge(ids)
    _say([f"gone {sid}" for sid in ids])
    return removed


def _dead_letter(queue: SightingQueue, ids: list[str]) -> None:
    if ids:
        _say([f"dtake {sid}" for sid in ids])
        queue.dead_letter([(sid, "refused: unknown asset") for sid in ids])
        _say([f"dgone {sid}" for sid in ids])


def _sync(directory: Path, batches: int, rng: random.Random) -> int:
    with SightingQueue(directory, shared=True) as queue:
        for _ in range(batches):
            found = [r["sighting_id"] for r in queue.pending(rng.randint(1, 15))]
            if not found:
                time.sleep(0.005)
            _acknowledge(queue, found)
    return 0


def main(argv: list[str]) -> int:
    """Run the writer loop; returns the exit status."""
    directory, mode, max_appends = Path(argv[1]), argv[2], int(argv[3])
    rng = random.Random(argv[4] if len(argv) > 4 else None)
    if mode == "sync":
        return _sync(directory, max_appends, rng)
    size, quiet = LAYOUTS[mode]
    number = removed = 0
    with SightingQueue(directory, segment_size=size, seal_after=quiet) as queue:
        while number < max_appends:
            count = rng.randint(1, 12) if mode == "many" else 1
            records = [_record(number + n) for n in range(1, count + 1)]
            number += count
            _say([f"try {r['sighting_id']}" for r in records])
            if mode == "many":
                queue.append_many(records)
            else:
                queue.append(records[0])
            _say([f"ack {r['sighting_id']}" for r in records])
            if mode in ("mixed", "seal", "steady") and number % ACK_EVERY == 0:
                removed += _acknowledge(
                    queue, [r["sighting_id"] for r in queue.pending(ACK_BATCH)])
            elif mode == "many" and rng.random() < 0.3:
                _acknowledge(queue, [r["sighting_id"] for r in queue.pending(rng.randint(1, 10))])
            elif mode == "drain" and number % 5 == 0:
                queued = [r["sighting_id"] for r in queue.pending()]
                chosen = [sid for sid in queued if rng.random() < 0.6]
                if rng.random() < 0.25:
                    _dead_letter(queue, chosen)
                else:
                    _acknowledge(queue, chosen)
            if mode == "steady" and rng.random() < 0.05:
                time.sleep(0.06)  # quiet long enough for the open segment to be sealed
    if mode == "steady":
        _say([f"removed {removed}"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
