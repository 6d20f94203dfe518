"""SIGKILL the real ``stocktaker run`` at each point of a scan's way through queue and journal.

A scan is fsynced into the sighting queue, then its room-journal line is written with
its fsync deferred; the sync flushes the journals before records leave the queue, and a
full segment is parked until they are flushed. Each test walks two rooms, kills the
process at one exact point (:mod:`tests.kill_hooks`), restarts it, scans the room label
again and every scan not acknowledged, and ends. Then: one report per room; every
sighting saved is in exactly one report and in the outbox once; every acknowledged scan
is in its room's report; no journal is left.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.test_resume import CONFIG

MANIFEST = "asset_tag,serial,location\n" + "".join(
    f"IT-{n},SN{n},{'Storage A' if n < 20 else 'Storage B'}\n" for n in range(40))
WALK = (["LOC:Storage A"] + [f"IT-{n}" for n in range(9)]
        + ["LOC:Storage B"] + [f"IT-{n}" for n in range(20, 29)])
ACK_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


class Run:
    """``stocktaker run`` (with a kill point armed) fed line by line."""

    def __init__(self, folder: Path, kill: str | None, segment: int | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKTAKER_TEST_")}
        # the child imports tests.kill_hooks: the repository root on its path
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        if kill:
            env["STOCKTAKER_TEST_KILL"] = kill
        if segment:
            env["STOCKTAKER_TEST_SEGMENT"] = str(segment)
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import tests.kill_hooks as k; k.main()", "run",
             "--config", "c.toml"], cwd=folder, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self._buffer = b""

    def scan(self, line: str) -> str | None:
        """Feed a line; the verdict of its feedback, or None when the process died first."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return None
        if line.startswith("LOC:"):
            return "room"
        return self._feedback()

    def _feedback(self) -> str | None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + ACK_TIMEOUT
        while True:
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                assert left > 0, "no feedback within the timeout"
                ready, _, _ = select.select([self.process.stdout], [], [], left)
                if ready:
                    chunk = os.read(self.process.stdout.fileno(), 4096)
                    if not chunk:
                        return None
                    self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            verdict = line.decode().removeprefix("[feedback] ").split(":")[0]
            if verdict != "done":
                return verdict

    def finish(self) -> tuple[int, str]:
        assert self.process.stdin is not None and self.process.stderr is not None
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        err = self.process.stderr.read()
        return self.process.wait(timeout=120), err.decode()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass


def walk(folder: Path, kill: str, segment: int | None = None) -> list[tuple[str, str]]:
    """Walk both rooms, killed once at ``kill``; returns the acknowledged (room, line)."""
    (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (folder / "c.toml").write_text(CONFIG, encoding="utf-8")
    acked: list[tuple[str, str]] = []
    room = ""
    run = Run(folder, kill, segment)
    try:
        position = 0
        while position < len(WALK):
            line = WALK[position]
            verdict = run.scan(line)
            if verdict is None:
                break
            if line.startswith("LOC:"):
                room = line[4:]
            else:
                acked.append((room, line))
            position += 1
        code, err = run.finish()
        assert position < len(WALK) and code == -9, f"the kill point was not reached: {err}"
        run = Run(folder, None, segment)
        if room:
            assert run.scan(f"LOC:{room}") == "room"
        # The scan in flight was not acknowledged: the technician scans it again.
        for line in WALK[position:]:
            verdict = run.scan(line)
            assert verdict is not None, "the restarted process died"
            if line.startswith("LOC:"):
                room = line[4:]
            else:
                acked.append((room, line))
        code, err = run.finish()
        assert code == 0, err
        assert "Traceback" not in err
    finally:
        run.stop()
    return acked


def check(folder: Path, acked: list[tuple[str, str]]) -> None:
    reports = [json.loads(p.read_text(encoding="utf-8"))
               for where in (folder / "out", folder / "state" / "reports") if where.is_dir()
               for p in where.glob("report-*.json")]
    assert sorted(r["location"] for r in reports) == ["Storage A", "Storage B"]
    in_reports = Counter(s["sighting_id"] for r in reports for s in r["scans"])
    assert max(in_reports.values()) == 1, "a sighting in two reports"
    lines = (folder / "out" / "sightings-hh-1.jsonl").read_text().splitlines()
    outbox = Counter(json.loads(line)["sighting_id"] for line in lines)
    assert max(outbox.values()) == 1, "a sighting sent twice"
    assert set(in_reports) == set(outbox), "a saved sighting in no report, or one unsent"
    by_room = {r["location"]: r for r in reports}
    for room in ("Storage A", "Storage B"):
        scans = Counter(s["payload"] for s in by_room[room]["scans"])
        wanted = Counter(line for where, line in acked if where == room)
        assert not wanted - scans, f"acknowledged scans missing from {room}"
    assert not list((folder / "state" / "rooms").glob("room-*.jsonl")), "a journal left"


@pytest.mark.parametrize("kill", [
    "journal:3",     # queued, the journal line not written: repaired from the queue
    "journaled:5",   # the journal line written, its fsync deferred, no feedback yet
    "journal:12",    # in the second room, after the first room's report
    "delete:1",      # the first room's report saved, its journal not deleted
])
def test_a_kill_at_each_point_of_a_scan_loses_and_doubles_nothing(
        tmp_path: Path, kill: str) -> None:
    check(tmp_path, walk(tmp_path, kill))


@pytest.mark.parametrize("kill", ["parked:1", "parked:2"])
def test_a_kill_while_a_full_segment_waits_for_the_journals_loses_and_doubles_nothing(
        tmp_path: Path, kill: str) -> None:
    check(tmp_path, walk(tmp_path, kill, segment=3))
