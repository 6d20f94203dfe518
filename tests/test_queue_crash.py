"""Crash test of the sighting queue: a writer process is SIGKILLed at random moments.

A child (``queue_writer.py``) queues sightings and prints ``ack <id>`` after each
``append`` or ``append_many`` returns: that line stands for the confirmation a
technician sees. Depending on the mode it also acknowledges records (``take`` before,
``gone`` after) and dead-letters some (``dtake``, ``dgone``), with segments so small
that appends seal segments and acknowledgements delete or rewrite them all the time.
The parent kills it with SIGKILL at a seeded random moment (some a fraction of a
millisecond after an ack or a take, while the next write is under way), reopens the
queue and checks that every confirmed sighting not removed since is there exactly
once, in order, that no removed one came back, that every dead letter is stored
once and is no longer queued, and that no file was set aside as damaged. Each trial
kills the same queue several times, so recovery (leftover temporary files, a seal
cut short, numbering after a restart) is exercised too.

SIGKILL keeps the page cache: what this proves is the atomicity of the write
protocol (a reader sees the old file or the new one, never a mix), not
durability across a power cut, which rests on the fsyncs and needs real
hardware to test. ``STOCKTAKER_QUEUE_KILLS`` sets the kills per mode (default 24).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.queue import SightingQueue

WRITER = Path(__file__).with_name("queue_writer.py")
ROOT = Path(__file__).resolve().parents[1]
MODES = ["append", "mixed", "many", "seal", "drain"]
KILLS_PER_TRIAL = 3
KILLS_PER_MODE = max(KILLS_PER_TRIAL, int(os.environ.get("STOCKTAKER_QUEUE_KILLS", "24")))
MAX_APPENDS = 3000  # the child stops by itself long before this if never killed
LAST_KILL_LINE = 150
CHILD_TIMEOUT = 20.0  # seconds; only reached if the child hangs


@dataclass
class Transcript:
    """What one child printed before it died."""

    tried: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    dead_taken: set[str] = field(default_factory=set)
    dead_gone: set[str] = field(default_factory=set)

    def note(self, line: bytes) -> None:
        """Record one complete stdout line."""
        word, _, sighting_id = line.decode("ascii").strip().partition(" ")
        targets = {"try": self.tried, "ack": self.acked, "take": self.taken, "gone": self.gone,
                   "dtake": self.dead_taken, "dgone": self.dead_gone}
        if word not in targets:
            raise AssertionError(f"unexpected line from the writer: {line!r}")
        target = targets[word]
        if isinstance(target, list):
            target.append(sighting_id)
        else:
            target.add(sighting_id)


@dataclass(frozen=True)
class KillPlan:
    """When to kill: ``delay`` s after stdout line ``line`` (or the next ``word`` line)."""

    line: int
    delay: float
    word: bytes | None


def plan_kill(rng: random.Random) -> KillPlan:
    """Choose one kill moment: right after an ack or a take, a little later, or at once."""
    line = rng.randint(1, LAST_KILL_LINE)
    kind = rng.choice(("just-after-ack", "during-remove", "random", "at-once"))
    if kind == "just-after-ack":
        return KillPlan(line, rng.uniform(0.0, 0.0005), b"ack ")
    if kind == "during-remove":
        return KillPlan(line, rng.uniform(0.0, 0.002), b"take ")
    if kind == "random":
        return KillPlan(line, rng.uniform(0.0, 0.004), None)
    return KillPlan(line, 0.0, None)


def run_and_kill(directory: Path, mode: str, plan: KillPlan, seed: int) -> Transcript:
    """Start a writer on ``directory`` and SIGKILL it as planned; return what it said."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    command = [sys.executable, str(WRITER), str(directory), mode, str(MAX_APPENDS), str(seed)]
    transcript = Transcript()
    hung = threading.Event()
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, env=env) as child:
        assert child.stdout is not None and child.stderr is not None

        def give_up() -> None:
            hung.set()
            child.kill()

        watchdog = threading.Timer(CHILD_TIMEOUT, give_up)
        watchdog.start()
        try:
            killed = False
            for number, line in enumerate(child.stdout, start=1):
                transcript.note(line)
                # A mode that never prints the planned word is killed at the line itself.
                if number >= plan.line and (plan.word is None or line.startswith(plan.word)
                                            or number >= plan.line + 60):
                    _spin(plan.delay)
                    os.kill(child.pid, signal.SIGKILL)
                    killed = True
                    break
            child.wait()
            # Lines the child flushed before it died were all "shown".
            for line in child.stdout.read().splitlines(keepends=True):
                if line.endswith(b"\n"):
                    transcript.note(line)
            errors = child.stderr.read().decode(errors="replace")
        finally:
            watchdog.cancel()
            if child.poll() is None:
                child.kill()
    assert not hung.is_set(), f"the writer hung: {errors}"
    assert killed and child.returncode == -signal.SIGKILL, f"the writer ended by itself: {errors}"
    return transcript


def check_after_kill(
    found: list[str], before: list[str], run: Transcript, gone_before: set[str]
) -> None:
    """Assert the queue after a kill; ``found`` is its content, oldest first.

    Args:
        found: the sighting ids in the reopened queue, in ``pending`` order.
        before: the queue's content when this writer started.
        run: what this writer printed.
        gone_before: ids confirmed removed (acknowledged or dead-lettered) by earlier writers.
    """
    assert len(found) == len(set(found)), "a sighting is queued twice"
    gone = gone_before | run.gone | run.dead_gone
    back = [sid for sid in found if sid in gone]
    assert not back, f"removed sightings came back: {back}"
    expected = [sid for sid in before + run.acked if sid not in gone]
    # A removal cut short may or may not have removed its records.
    undecided = (run.taken - run.gone) | (run.dead_taken - run.dead_gone)
    lost = [sid for sid in expected if sid not in found and sid not in undecided]
    assert not lost, f"confirmed sightings lost: {lost}"
    known = set(expected)
    extra = [sid for sid in found if sid not in known]
    # The append in flight at the kill may have landed, unconfirmed, as the newest.
    in_flight = [sid for sid in run.tried if sid not in set(run.acked)]
    assert extra == [sid for sid in in_flight if sid in set(extra)], (
        f"unexpected records: {extra}")
    assert not extra or found[-len(extra):] == extra, f"unconfirmed records not last: {extra}"
    present = set(found)
    kept_in_order = [sid for sid in expected if sid in present]
    assert [sid for sid in found if sid in known] == kept_in_order, "order changed"


def check_dead_letters(stored: list[str], found: list[str], dead_gone: set[str],
                       dead_taken: set[str]) -> None:
    """Assert the dead-letter store after a kill.

    Args:
        stored: the sighting ids in the dead-letter store, in order.
        found: the ids still queued.
        dead_gone: ids whose dead-lettering returned.
        dead_taken: ids whose dead-lettering started.
    """
    assert len(stored) == len(set(stored)), "a dead letter is stored twice"
    assert not set(stored) & set(found), "a dead letter is still queued"
    assert dead_gone <= set(stored), f"dead letters lost: {dead_gone - set(stored)}"
    assert set(stored) <= dead_taken, "a sighting was dead-lettered that never was refused"


@pytest.mark.parametrize("mode", MODES)
def test_confirmed_sightings_survive_sigkill(tmp_path: Path, mode: str) -> None:
    rng = random.Random(f"stocktaker queue crash {mode}")
    kills = removed = 0
    for trial in range(KILLS_PER_MODE // KILLS_PER_TRIAL):
        directory = tmp_path / f"trial-{trial}"
        content: list[str] = []
        gone: set[str] = set()
        dead_gone: set[str] = set()
        dead_taken: set[str] = set()
        for _ in range(KILLS_PER_TRIAL):
            run = run_and_kill(directory, mode, plan_kill(rng), rng.randrange(10**6))
            kills += 1
            with SightingQueue(directory) as queue:
                found = [record["sighting_id"] for record in queue.pending()]
                stored = [entry["sighting_id"] for entry in queue.dead_letters()]
                status = queue.status()
            assert status["damaged"] == [], "a kill must never leave a damaged file"
            assert status["queued"] == len(found)
            assert not list(directory.rglob("*.tmp")), "a leftover temporary file was kept"
            check_after_kill(found, content, run, gone)
            dead_gone |= run.dead_gone
            dead_taken |= run.dead_taken
            check_dead_letters(stored, found, dead_gone, dead_taken)
            content, gone = found, gone | run.gone | run.dead_gone
            removed += len(run.gone) + len(run.dead_gone)
    assert kills == KILLS_PER_MODE - KILLS_PER_MODE % KILLS_PER_TRIAL
    assert mode in ("append",) or removed > 0, "no removal completed before a kill"


# The checkers must be able to fail, or the crash test proves nothing.


def _run(acked: list[str], taken: Iterable[str] = (), gone: Iterable[str] = (),
         tried: Iterable[str] = ()) -> Transcript:
    return Transcript(list(tried) or list(acked), list(acked), set(taken), set(gone))


def test_checker_accepts_a_clean_kill() -> None:
    check_after_kill(["a", "b", "c", "x"], ["a"], _run(["b", "c"], tried=["b", "c", "x"]),
                     set())
    check_after_kill(["c"], ["a", "b"], _run(["c"], taken={"a", "b"}, gone={"a"}), set())
    check_after_kill(["a", "x", "y"], ["a"], _run([], tried=["x", "y", "z"]), set())


@pytest.mark.parametrize(
    ("found", "before", "run", "gone_before"),
    [
        pytest.param(["a", "c"], ["a"], _run(["b", "c"]), set(), id="lost"),
        pytest.param(["a", "b", "b"], ["a"], _run(["b"]), set(), id="doubled"),
        pytest.param(["b", "a"], ["a"], _run(["b"]), set(), id="reordered"),
        pytest.param(["a", "b"], ["a"], _run(["b"], {"a"}, {"a"}), set(), id="ack-undone"),
        pytest.param(["z", "b"], [], _run(["b"]), {"z"}, id="earlier-ack-undone"),
        pytest.param(["x", "b"], [], _run(["b"], tried=["b", "x"]), set(), id="stranger-not-last"),
        pytest.param(["b", "x"], [], _run(["b"]), set(), id="never-tried"),
        pytest.param(["b", "y", "x"], [], _run(["b"], tried=["b", "x", "y"]), set(),
                     id="batch-reordered"),
    ],
)
def test_checker_catches(
    found: list[str], before: list[str], run: Transcript, gone_before: set[str]
) -> None:
    with pytest.raises(AssertionError):
        check_after_kill(found, before, run, gone_before)


@pytest.mark.parametrize(
    ("stored", "found", "dead_gone", "dead_taken"),
    [
        pytest.param(["a", "a"], [], {"a"}, {"a"}, id="stored-twice"),
        pytest.param(["a"], ["a"], {"a"}, {"a"}, id="still-queued"),
        pytest.param([], [], {"a"}, {"a"}, id="lost"),
        pytest.param(["b"], [], set(), {"a"}, id="never-refused"),
    ],
)
def test_dead_letter_checker_catches(
    stored: list[str], found: list[str], dead_gone: set[str], dead_taken: set[str]
) -> None:
    with pytest.raises(AssertionError):
        check_dead_letters(stored, found, dead_gone, dead_taken)


def _spin(seconds: float) -> None:
    # time.sleep cannot wait a fraction of a millisecond reliably.
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
