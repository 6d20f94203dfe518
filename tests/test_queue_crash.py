"""Crash test of the sighting queue: a writer process is SIGKILLed at random moments.

A child (``queue_writer.py``) appends sightings and prints ``ack <id>`` after each
``append`` returns: that line stands for the confirmation a technician sees. In
the mixed variant it also acknowledges the oldest records every few appends,
printing ``take <id>`` before and ``gone <id>`` after. The parent kills it with
SIGKILL at a seeded random moment (some a fraction of a millisecond after an
ack, while the next write is under way), reopens the queue and checks that every
confirmed sighting not acknowledged since is there exactly once, in order, and
that no acknowledged one came back. Each trial kills the same queue several
times, so recovery (leftover temporary file, numbering after a restart) is
exercised too.

SIGKILL keeps the page cache: what this proves is the atomicity of the write
protocol (a reader sees the old file or the new one, never a mix), not
durability across a power cut, which rests on the fsyncs and needs real
hardware to test.
"""

from __future__ import annotations

import json
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

from sync.queue import QUEUE_FILE, SightingQueue

WRITER = Path(__file__).with_name("queue_writer.py")
ROOT = Path(__file__).resolve().parents[1]
TRIALS = 8  # per variant, each on a fresh queue
KILLS_PER_TRIAL = 3
MAX_APPENDS = 3000  # the child stops by itself long before this if never killed
LAST_KILL_LINE = 120
CHILD_TIMEOUT = 20.0  # seconds; only reached if the child hangs


@dataclass
class Transcript:
    """What one child printed before it died."""

    acked: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)

    def note(self, line: bytes) -> None:
        """Record one complete stdout line."""
        word, _, sighting_id = line.decode("ascii").strip().partition(" ")
        if word == "ack":
            self.acked.append(sighting_id)
        elif word == "take":
            self.taken.add(sighting_id)
        elif word == "gone":
            self.gone.add(sighting_id)
        else:
            raise AssertionError(f"unexpected line from the writer: {line!r}")


@dataclass(frozen=True)
class KillPlan:
    """When to kill: after stdout line ``line``, ``delay`` seconds later."""

    line: int
    delay: float
    on_ack: bool  # move to the first ``ack`` line at or after ``line``


def plan_kill(rng: random.Random) -> KillPlan:
    """Choose one kill moment: right after an ack, a little later, or at once."""
    line = rng.randint(1, LAST_KILL_LINE)
    kind = rng.choice(("just-after-ack", "random", "at-once"))
    if kind == "just-after-ack":
        return KillPlan(line, rng.uniform(0.0, 0.0005), on_ack=True)
    if kind == "random":
        return KillPlan(line, rng.uniform(0.0, 0.004), on_ack=False)
    return KillPlan(line, 0.0, on_ack=False)


def run_and_kill(directory: Path, mode: str, plan: KillPlan) -> Transcript:
    """Start a writer on ``directory`` and SIGKILL it as planned; return what it said."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    command = [sys.executable, str(WRITER), str(directory), mode, str(MAX_APPENDS)]
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
                if number >= plan.line and (not plan.on_ack or line.startswith(b"ack ")):
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
        gone_before: ids confirmed acknowledged by earlier writers.
    """
    assert len(found) == len(set(found)), "a sighting is queued twice"
    gone = gone_before | run.gone
    back = [sid for sid in found if sid in gone]
    assert not back, f"acknowledged sightings came back: {back}"
    expected = [sid for sid in before + run.acked if sid not in gone]
    # An acknowledge cut short may or may not have removed its records.
    undecided = run.taken - run.gone
    lost = [sid for sid in expected if sid not in found and sid not in undecided]
    assert not lost, f"confirmed sightings lost: {lost}"
    known = set(expected)
    extra = [sid for sid in found if sid not in known]
    # The append in flight at the kill may have landed, unconfirmed, as the newest.
    assert len(extra) <= 1 and (not extra or found[-1] == extra[0]), f"unexpected records: {extra}"
    present = set(found)
    kept_in_order = [sid for sid in expected if sid in present]
    assert [sid for sid in found if sid in known] == kept_in_order, "order changed"


@pytest.mark.parametrize("mode", ["append", "mixed"])
def test_confirmed_sightings_survive_sigkill(tmp_path: Path, mode: str) -> None:
    rng = random.Random(f"stocktaker queue crash {mode}")
    kills = removed = 0
    for trial in range(TRIALS):
        directory = tmp_path / f"trial-{trial}"
        content: list[str] = []
        gone: set[str] = set()
        for _ in range(KILLS_PER_TRIAL):
            run = run_and_kill(directory, mode, plan_kill(rng))
            kills += 1
            json.loads((directory / QUEUE_FILE).read_bytes().decode("utf-8"))
            with SightingQueue(directory) as queue:
                found = [record["sighting_id"] for record in queue.pending()]
            assert not (directory / f"{QUEUE_FILE}.tmp").exists()
            check_after_kill(found, content, run, gone)
            content, gone = found, gone | run.gone
            removed += len(run.gone)
    assert kills == TRIALS * KILLS_PER_TRIAL
    assert mode == "append" or removed > 0, "no acknowledge completed before a kill"


# The checker must be able to fail, or the crash test proves nothing.


def _run(acked: list[str], taken: Iterable[str] = (), gone: Iterable[str] = ()) -> Transcript:
    return Transcript(list(acked), set(taken), set(gone))


def test_checker_accepts_a_clean_kill() -> None:
    check_after_kill(["a", "b", "c", "x"], ["a"], _run(["b", "c"]), set())
    check_after_kill(["c"], ["a", "b"], _run(["c"], taken={"a", "b"}, gone={"a"}), set())


@pytest.mark.parametrize(
    ("found", "before", "run", "gone_before"),
    [
        pytest.param(["a", "c"], ["a"], _run(["b", "c"]), set(), id="lost"),
        pytest.param(["a", "b", "b"], ["a"], _run(["b"]), set(), id="doubled"),
        pytest.param(["b", "a"], ["a"], _run(["b"]), set(), id="reordered"),
        pytest.param(["a", "b"], ["a"], _run(["b"], {"a"}, {"a"}), set(), id="ack-undone"),
        pytest.param(["z", "b"], [], _run(["b"]), {"z"}, id="earlier-ack-undone"),
        pytest.param(["x", "b"], [], _run(["b"]), set(), id="stranger-not-last"),
    ],
)
def test_checker_catches(
    found: list[str], before: list[str], run: Transcript, gone_before: set[str]
) -> None:
    with pytest.raises(AssertionError):
        check_after_kill(found, before, run, gone_before)


def _spin(seconds: float) -> None:
    # time.sleep cannot wait a fraction of a millisecond reliably.
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
