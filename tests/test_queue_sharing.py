"""Sharing one queue: a sync thread beside the scanning loop, a sync process beside the owner.

Every test checks the same three things at the end: each sighting appended left the
queue exactly once (the removals' counts add up to the appends, nothing is still
queued), nothing removed was handed out again, and the dead letters hold exactly
the refused ones, once each.
"""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import QueueError
from sync.queue import SEGMENTS_DIR, SightingQueue

WRITER = Path(__file__).with_name("queue_writer.py")
ROOT = Path(__file__).resolve().parents[1]


def sighting(number: int) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "n": number, "location": "Büro 3"}


class Child:
    """A ``queue_writer.py`` process whose stdout lines are collected as they come."""

    def __init__(self, directory: Path, mode: str, count: int, seed: int) -> None:
        paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(directory), mode, str(count), str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: list[tuple[str, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith(b"\n"):
                word, _, rest = line.decode().strip().partition(" ")
                self.lines.append((word, rest))

    def words(self, word: str) -> list[str]:
        return [rest for seen, rest in list(self.lines) if seen == word]

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 60.0) -> str:
        """Wait for the end; returns its stderr."""
        self.process.wait(timeout)
        self._reader.join(timeout)
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")


def drain(directory: Path) -> list[str]:
    """Open as owner and acknowledge everything left; returns what was left."""
    with SightingQueue(directory) as queue:
        left = [r["sighting_id"] for r in queue.pending()]
        assert queue.acknowledge(left) == len(left)
        assert len(queue) == 0
    return left


def test_the_scanning_loop_and_a_sync_thread_share_one_queue(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(800)]
    queue = SightingQueue(tmp_path, segment_size=10, seal_after=0.01)
    finished = threading.Event()
    taken: list[str] = []
    refused: list[str] = []
    removed = [0]
    announced = [0]  # records whose append has begun (counted before the call)
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            while True:
                last_round = finished.is_set()
                batch = queue.pending(25)
                if not batch:
                    if last_round:
                        return
                    time.sleep(0.001)
                    continue
                bad = [(r["sighting_id"], "no such asset") for r in batch if r["n"] % 10 == 3]
                good = [r["sighting_id"] for r in batch if r["n"] % 10 != 3]
                removed[0] += queue.dead_letter(bad) + queue.acknowledge(good)
                refused.extend(sid for sid, _ in bad)
                taken.extend(good)
                # Never more held than was appended and not yet removed: a record
                # acknowledged or dead-lettered that stays queued, or one counted twice,
                # breaks this.
                held, queued = len(queue), queue.status()["queued"]
                ceiling = announced[0] - removed[0]  # read after: appends only raise it
                assert held <= ceiling and queued <= ceiling
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=sync)
    thread.start()
    try:
        rng = random.Random(7)
        position = 0
        while position < len(records):
            size = rng.choice((1, 1, 1, 5))
            chunk = records[position : position + size]
            announced[0] += len(chunk)
            if size == 1:
                queue.append(chunk[0])
            else:
                assert queue.append_many(chunk) == len(chunk)
            position += size
    finally:
        finished.set()
        thread.join(60)
    assert not errors, errors
    assert not thread.is_alive()
    assert len(taken) == len(set(taken)) and len(refused) == len(set(refused)), "handed out twice"
    assert sorted(taken + refused) == sorted(r["sighting_id"] for r in records)
    assert removed[0] == len(records)
    assert len(queue) == 0
    assert [d["sighting_id"] for d in queue.dead_letters()] == refused
    queue.close()
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == []
        assert len(queue.dead_letters()) == 80


def test_a_sync_process_works_beside_the_owner(tmp_path: Path) -> None:
    owner = Child(tmp_path, "steady", 500, seed=1)
    removed_here: list[str] = []
    refused: list[str] = []
    count = 0
    rng = random.Random(2)
    while not (tmp_path / SEGMENTS_DIR / "writer.lock").exists():
        time.sleep(0.01)
    with SightingQueue(tmp_path, shared=True) as shared:
        with pytest.raises(QueueError, match="sync only"):
            shared.append(sighting(0))
        while owner.running():
            batch = [r["sighting_id"] for r in shared.pending(rng.randint(1, 20))]
            assert not set(batch) & set(removed_here + refused), "a removed sighting came back"
            if rng.random() < 0.1:
                count += shared.dead_letter([(sid, "refused") for sid in batch])
                refused += batch
            else:
                count += shared.acknowledge(batch)
                removed_here += batch
            time.sleep(0.002)
        seen_while_running = len(removed_here) + len(refused)
    errors = owner.finish()
    assert owner.process.returncode == 0, errors
    (owner_removed,) = owner.words("removed")
    left = drain(tmp_path)
    appended = owner.words("ack")
    assert len(appended) == 500
    assert seen_while_running > 50, "the sync process hardly saw anything"
    assert count + int(owner_removed) + len(left) == 500, "a sighting was removed twice"
    assert set(appended) == set(removed_here) | set(refused) | set(owner.words("gone")) | set(left)
    assert not set(left) & (set(removed_here) | set(refused)), "a removed sighting came back"
    with SightingQueue(tmp_path) as queue:
        stored = [d["sighting_id"] for d in queue.dead_letters()]
    assert len(stored) == len(set(stored)) and set(stored) <= set(refused)


def test_killing_the_sync_process_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(3)
    appended: list[str] = []
    gone: set[str] = set()
    taken: set[str] = set()
    with SightingQueue(tmp_path, segment_size=8, seal_after=0.01) as queue:
        for round_ in range(6):
            sync = Child(tmp_path, "sync", 10_000, seed=round_)
            deadline = time.monotonic() + rng.uniform(0.3, 0.8)
            while time.monotonic() < deadline:
                record = sighting(len(appended))
                queue.append(record)
                appended.append(record["sighting_id"])
                if rng.random() < 0.2:
                    time.sleep(0.02)  # quiet: the open segment gets sealed
            sync.kill()
            gone |= set(sync.words("gone"))
            taken |= set(sync.words("take"))
            found = [r["sighting_id"] for r in queue.pending()]
            assert len(found) == len(set(found)), "a sighting is queued twice"
            assert not set(found) & gone, "a sighting the sync process removed came back"
            assert len(queue) == len(found)
    left = drain(tmp_path)
    assert len(gone) > 20, "the sync process hardly removed anything"
    assert not set(left) & gone, "a sighting the sync process removed came back"
    # An acknowledgement cut short by the kill may or may not have removed its records.
    lost = set(appended) - gone - set(left) - (taken - gone)
    assert not lost, f"confirmed sightings lost: {lost}"


def test_killing_the_owner_while_a_sync_process_works(tmp_path: Path) -> None:
    rng = random.Random(4)
    removed_here: list[str] = []
    count = 0
    owner = Child(tmp_path, "steady", 5000, seed=5)
    while not (tmp_path / SEGMENTS_DIR / "writer.lock").exists():
        time.sleep(0.01)
    with SightingQueue(tmp_path, shared=True) as shared:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            batch = [r["sighting_id"] for r in shared.pending(rng.randint(1, 20))]
            count += shared.acknowledge(batch)
            removed_here += batch
            time.sleep(0.002)
        owner.kill()
        # The sync process goes on after its owner died.
        batch = [r["sighting_id"] for r in shared.pending()]
        count += shared.acknowledge(batch)
        removed_here += batch
    left = drain(tmp_path)
    acked = owner.words("ack")
    owner_gone = set(owner.words("gone"))
    in_flight = (set(owner.words("try")) - set(acked)) | (set(owner.words("take")) - owner_gone)
    assert len(removed_here) == len(set(removed_here)), "handed out twice"
    assert len(removed_here) > 20
    assert not set(left) & (set(removed_here) | owner_gone), "a removed sighting came back"
    lost = set(acked) - set(removed_here) - owner_gone - set(left) - in_flight
    assert not lost, f"confirmed sightings lost: {lost}"
    assert set(left) | set(removed_here) <= set(owner.words("try"))


def test_a_shared_open_without_owner_seals_the_open_segment(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(5)]
    with SightingQueue(tmp_path, segment_size=50) as queue:
        for record in records:
            queue.append(record)
    with SightingQueue(tmp_path, shared=True) as shared:
        assert shared.shared
        assert shared.pending() == records
        assert shared.acknowledge([records[0]["sighting_id"]]) == 1
        # The owner may start meanwhile, and appends after the shared one's view.
        with SightingQueue(tmp_path, segment_size=50, writer_wait=1.0) as owner:
            owner.append(later := sighting(9))
            assert shared.pending() == records[1:]
            assert shared.status()["queued"] == 5
            assert owner.pending() == records[1:] + [later]


def test_the_owner_waits_for_the_writer_lock_then_refuses(tmp_path: Path) -> None:
    folder = tmp_path / SEGMENTS_DIR
    folder.mkdir(parents=True)
    fd = os.open(folder / "writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with pytest.raises(QueueError, match="already open"):
            SightingQueue(tmp_path, writer_wait=0.3)
        assert time.monotonic() - started >= 0.3
        threading.Timer(0.2, lambda: fcntl.flock(fd, fcntl.LOCK_UN)).start()
        with SightingQueue(tmp_path, writer_wait=5.0) as queue:
            queue.append(sighting(1))
    finally:
        os.close(fd)
