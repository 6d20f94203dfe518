"""Child process of the queue crash test: queues sightings until it is killed.

Usage: ``python queue_writer.py DIRECTORY MODE MAX_APPENDS`` with the repository
root on ``PYTHONPATH``. MODE is ``append`` (append only) or ``mixed`` (also
acknowledges the oldest records every few appends, as sync does).

Each line on stdout is flushed before the next queue operation starts:

* ``ack <id>``: ``append`` returned; this stands for the confirmation shown to
  the technician.
* ``take <id>``: ``acknowledge`` is about to be called for that id.
* ``gone <id>``: that ``acknowledge`` returned.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from sync.queue import SightingQueue

ACK_EVERY = 7
ACK_BATCH = 3


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


def main(argv: list[str]) -> int:
    """Run the writer loop; returns the exit status."""
    directory, mode, max_appends = Path(argv[1]), argv[2], int(argv[3])
    with SightingQueue(directory) as queue:
        for number in range(1, max_appends + 1):
            record = _record(number)
            queue.append(record)
            _say([f"ack {record['sighting_id']}"])
            if mode == "mixed" and number % ACK_EVERY == 0:
                oldest = [r["sighting_id"] for r in queue.pending(ACK_BATCH)]
                _say([f"take {sid}" for sid in oldest])
                queue.acknowledge(oldest)
                _say([f"gone {sid}" for sid in oldest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
