"""SIGKILL the real ``stocktaker sync`` at random moments while it hands the queue to the
reference receiver, and count on the receiver's side that every sighting arrived once.

Between two kills the "scanning loop" queues more sightings, so each run has work in
flight when it dies: mid-batch, between the register's answer and the queue's
acknowledgement, during start-up. At the end one run is left to finish: it must exit 0,
leave nothing queued and nothing dead-lettered, and the receiver's database must hold
every sighting exactly once. ``STOCKTAKER_SYNC_KILLS`` sets the number of kills (100).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sync.queue import SightingQueue, read_status
from tests.test_receiver import running_receiver, sighting, stored_counts


def test_sigkill_of_the_sync_command_never_loses_or_doubles(tmp_path: Path) -> None:
    want = int(os.environ.get("STOCKTAKER_SYNC_KILLS", "100"))
    rng = random.Random(7)
    with running_receiver(tmp_path / "receiver") as receiver:
        config = tmp_path / "stocktaker.toml"
        config.write_text(
            '[device]\nid = "hh-01"\n[register]\nadapter = "http"\n'
            f'url = "{receiver.url}"\ntoken_file = "{receiver.token_file}"\n'
            'batch_size = 20\n[queue]\npath = "state"\n', encoding="utf-8")
        queued: list[str] = []
        kills = 0
        n = 0
        while kills < want:
            with SightingQueue(tmp_path / "state") as queue:
                for _ in range(rng.randint(10, 60)):
                    n += 1
                    record = sighting(n)
                    queue.append(record)
                    queued.append(record["sighting_id"])
            run = subprocess.Popen([sys.executable, "-m", "firmware", "sync", "--config",
                                    str(config)], cwd=tmp_path, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
            time.sleep(rng.uniform(0.3, 0.9))  # start-up takes about half a second
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            kills += 1
        last = subprocess.run([sys.executable, "-m", "firmware", "sync", "--config",
                               str(config)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert last.returncode == 0, last.stderr
        counts = stored_counts(receiver.db, queued)
    status = read_status(tmp_path / "state")
    assert status["queued"] == 0 and status["dead_letters"] == 0
    assert sorted(set(counts.values())) == [1], {k: v for k, v in counts.items() if v != 1}
    print(f"\n{kills} SIGKILLs of stocktaker sync, {len(queued)} sightings queued,"
          f" each stored exactly once")
