"""The sync engine: batches, per-item results, dead letters, backoff, reports after their session,
corrected times, the background thread beside a scanning loop, and the one-shot command."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sync.sync_status import SyncStatus
from sync.engine import Backoff, SyncEngine, corrected_report
from sync.memory_register import MemoryRegister
from sync.queue import SightingQueue
from sync.register import ItemResult, ItemStatus
from sync.pending_reports import PendingReports
from sync.sighting import Outgoing, Sighting
from tests.sightings import sighting_record


class Clock:
    """A synchronised clock of boot ``b1``, 1,000 s after boot."""

    def __init__(self, synced: bool = True) -> None:
        self.is_synced = synced

    def wall(self) -> float: return 1_800_000_000.0
    def mono(self) -> float: return 1000.0
    def boot_id(self) -> str: return "b1"
    def synced(self) -> bool: return self.is_synced


def record(n: int, session: str = "s1", **extra: Any) -> dict[str, Any]:
    return sighting_record(**{"sighting_id": f"id-{n:05d}", "session_id": session,
                              "verdict": "verified", "wall_time": "2020-01-01T00:00:00.000Z",
                              "clock_synchronized": True, "monotonic": 10.0, "boot_id": "b1",
                              **extra})


@pytest.fixture
def parts(tmp_path: Path):
    queue = SightingQueue(tmp_path / "state")
    register = MemoryRegister()
    reports = PendingReports(tmp_path / "state" / "reports")
    engine = SyncEngine(queue, register, reports, Clock(), batch_size=7)
    yield queue, register, reports, engine
    queue.close()


def test_a_round_sends_every_batch_and_empties_the_queue(parts) -> None:
    queue, register, _, engine = parts
    for n in range(30):
        queue.append(record(n))
    result = engine.run_once()
    assert (result.sent, result.left, result.error) == (30, 0, None)
    assert [len(b) for b in register.batches] == [7, 7, 7, 7, 2]
    assert sorted(register.stored) == [f"id-{n:05d}" for n in range(30)]
    assert queue.status()["last_sync"] is not None


def test_refused_items_go_to_the_dead_letters_and_the_rest_goes_through(parts) -> None:
    queue, register, _, engine = parts
    for n in range(10):
        queue.append(record(n))
    register.refusals = {"id-00003": "Asset does not exist.", "id-00008": "bad location"}
    result = engine.run_once()
    assert (result.sent, result.dead_lettered, result.left) == (8, 2, 0)
    dead = {d["sighting_id"]: d["reason"] for d in queue.dead_letters()}
    assert dead == register.refusals
    assert engine.status() == SyncStatus(waiting=0, dead_letters=2, last_sync_age=0.0,
                                         register_answered=True)


def test_an_unreachable_register_leaves_everything_queued(parts) -> None:
    queue, register, _, engine = parts
    for n in range(5):
        queue.append(record(n))
    register.down, register.retry_after = 1, 42.0
    result = engine.run_once()
    assert result.error == "the memory register is out of reach"
    assert result.retry_after == 42.0 and len(queue) == 5
    assert engine.failures == 1 and engine.next_wait() >= 42.0
    assert queue.status()["last_error"] == "the memory register is out of reach"
    assert engine.run_once().sent == 5 and engine.failures == 0


def test_a_batch_sent_twice_is_stored_once(parts) -> None:
    queue, register, _, engine = parts
    for n in range(3):
        queue.append(record(n))
    register.lose_answers = 1  # the first try is applied, its answer lost
    assert engine.run_once().error is not None and len(queue) == 3
    result = engine.run_once()
    assert (result.sent, result.duplicates, result.left) == (0, 3, 0)
    assert set(register.store_counts.values()) == {1} and len(register.stored) == 3


def test_an_answer_that_does_not_match_the_batch_acknowledges_nothing(parts) -> None:
    queue, register, _, engine = parts
    queue.append(record(1))
    register.push = lambda records: [ItemResult("someone-else", ItemStatus.ACCEPTED)]
    result = engine.run_once()
    assert result.error is not None and len(queue) == 1


def test_an_adapter_fault_is_a_failed_round_not_a_dead_thread(parts) -> None:
    queue, register, _, engine = parts
    queue.append(record(1))

    def broken(records: Sequence[Outgoing]) -> list[ItemResult]:
        raise KeyError("oops")

    register.push = broken
    assert engine.run_once().error == "KeyError: 'oops'" and len(queue) == 1


def test_reports_go_after_the_sightings_of_their_session(parts) -> None:
    queue, register, reports, engine = parts
    for n in range(20):
        queue.append(record(n, session="s1"))
    reports.add({"session_id": "s1", "scans": []})
    seen_when_published = []
    publish = register.publish_report

    def publish_and_look(report: Mapping[str, Any]) -> list[str]:
        seen_when_published.append(len(register.stored))
        return publish(report)

    register.publish_report = publish_and_look
    register.down = 1
    engine.run_once()
    assert register.reports == {} and reports.items() != []  # a failed round sends no report
    result = engine.run_once()
    assert result.reports == 1 and seen_when_published == [20] and reports.items() == []


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    backoff = Backoff(base=2.0, cap=60.0, retry_after_cap=300.0, rng=random.Random(1))
    for failures in range(1, 12):
        ceiling = min(60.0, 2.0 * 2 ** (failures - 1))
        waits = [backoff.delay(failures) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # spread over the whole range, not fixed
    assert backoff.delay(1, retry_after=120.0) >= 120.0
    assert backoff.delay(1, retry_after=10_000.0) <= 300.0


def test_times_made_before_ntp_are_corrected_in_the_same_boot_only() -> None:
    early = Sighting.from_record(record(1, clock_synchronized=False, monotonic=400.0))
    fixed = early.corrected(Clock()).to_record()
    assert fixed["wall_time"] == "2027-01-15T07:50:00.000Z"  # 600 s before now
    assert fixed["wall_time_device"] == "2020-01-01T00:00:00.000Z"
    assert fixed["wall_time_corrected"] is True
    other_boot = Sighting.from_record({**early.to_record(), "boot_id": "b0"})
    assert "wall_time_corrected" not in other_boot.corrected(Clock()).to_record()
    assert "wall_time_corrected" not in early.corrected(Clock(synced=False)).to_record()
    in_time = Sighting.from_record(record(2))
    assert "wall_time_corrected" not in in_time.corrected(Clock()).to_record()
    report = {"session_id": "s", "scans": [
        {"at": "2020-01-01T00:00:00.000Z", "clock_synchronized": False, "monotonic": 999.0,
         "boot_id": "b1"},
        {"at": "2027-01-15T07:59:00.000Z", "clock_synchronized": True, "monotonic": 940.0,
         "boot_id": "b1"}]}
    fixed_report = corrected_report(report, Clock())
    assert fixed_report["times_corrected"] == 1
    assert fixed_report["scans"][0]["at"] == "2027-01-15T07:59:59.000Z"
    assert fixed_report["scans"][0]["at_device"] == "2020-01-01T00:00:00.000Z"
    assert fixed_report["scans"][1] == report["scans"][1]


def test_the_thread_drains_while_the_loop_keeps_appending(parts) -> None:
    queue, register, _, engine = parts
    engine.interval = 0.01
    engine.start()
    try:
        for n in range(400):
            queue.append(record(n))
            if n % 50 == 0:
                engine.wake()
    finally:
        engine.stop()
    engine.run_once()
    assert len(register.stored) == 400 and len(queue) == 0
    sent = [sid for batch in register.batches for sid in batch]
    assert len(sent) == len(set(sent)) == 400


# -- the one-shot command ----------------------------------------------------------------------

def write_config(folder: Path, outbox: str = "out") -> Path:
    (folder / "expected.csv").write_text("asset_tag,location\nIT-1,B\n", encoding="utf-8")
    path = folder / "c.toml"
    path.write_text(f'[device]\nid = "hh-1"\n[register]\noutbox = "{outbox}"\n'
                    '[queue]\npath = "state"\n', encoding="utf-8")
    return path


def queue_some(folder: Path, count: int) -> None:
    with SightingQueue(folder / "state") as queue:
        for n in range(count):
            queue.append(record(n))


def sync_command(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", "sync", "--config", str(config)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_stocktaker_sync_exits_0_when_everything_was_taken(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    queue_some(tmp_path, 120)
    done = sync_command(config)
    assert done.returncode == 0, done.stderr
    assert "sent 120" in done.stdout and "still queued 0" in done.stdout
    lines = (tmp_path / "out" / "sightings-hh-1.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["sighting_id"] for line in lines) == [
        f"id-{n:05d}" for n in range(120)]


def test_stocktaker_sync_exits_4_when_the_register_cannot_take_them(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "out").write_text("not a folder: the USB stick is missing")
    queue_some(tmp_path, 3)
    done = sync_command(config)
    assert done.returncode == 4, done.stderr
    assert "still queued 3" in done.stdout and "Traceback" not in done.stderr


def test_status_line_for_the_idle_screen() -> None:
    assert SyncStatus(12, 0, 300.0).line() == "12 wait 5m"
    assert SyncStatus(0, 0, 7200.0, register_answered=True).line() == "all sent 2h"
    assert SyncStatus(3, 2, None, 90000.0).line() == "3 wait never !2 list 25h"
    assert SyncStatus(0, 0, 60.0, conflicts=1,
                      register_answered=True).line() == "all sent 1m x1"
    assert len(SyncStatus(12, 2, 300.0, 3 * 3600.0).line()) <= 21


def test_all_sent_is_said_only_when_the_register_confirmed_it() -> None:
    assert SyncStatus(0, 0, None).line() == "0 wait never"  # no round yet
    assert SyncStatus(0, 0, 600.0, register_answered=False).line() == "offline 10m"
    assert SyncStatus(0, 0, None, register_answered=False).line() == "offline never"
    assert SyncStatus(0, 1, 90000.0, 90000.0, conflicts=2,
                      register_answered=False).line() == "offline 25h !1 x2 list 25h"
    assert SyncStatus(4, 0, 600.0, register_answered=False).line() == "4 wait 10m"


def test_a_refused_token_is_on_the_idle_line_until_the_register_takes_it(parts) -> None:
    queue, register, _, engine = parts
    queue.append(record(1))
    register.token_refused = True
    result = engine.run_once()
    assert result.refused and len(queue) == 1
    assert engine.status().line() == "TOKEN REFUSED 1 wait"
    register.token_refused = False
    assert engine.run_once().sent == 1
    assert not engine.status().token_refused
    assert engine.status().line() == "all sent now"


def test_the_token_line_keeps_to_the_screen_width() -> None:
    assert SyncStatus(0, 0, 60.0, register_answered=False,
                      token_refused=True).line() == "TOKEN REFUSED 0 wait"
    assert SyncStatus(3, 2, 600.0, 90000.0, conflicts=1,
                      token_refused=True).line() == "TOKEN REFUSED 3 wait"
    assert SyncStatus(123456, 0, None, token_refused=True).line() == "TOKEN REFUSED 123456"


def test_queue_status_lists_the_dead_letters_with_their_reasons(tmp_path: Path,
                                                               capsys) -> None:
    from firmware.cli import main

    config = write_config(tmp_path)
    with SightingQueue(tmp_path / "state") as queue:
        queue.append(record(1, asset_tag="IT-7"))
        queue.dead_letter([("id-00001", "Asset does not exist.\x1b[2J")])
    assert main(["queue", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "dead letters: 1" in out and "IT-7  id-00001: Asset does not exist.\\x1b[2J" in out
    assert main(["queue", "status", "--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["dead_letter_items"][0]["reason"] == "Asset does not exist.\x1b[2J"
    assert {"queued", "dead_letters", "oldest", "last_sync"} <= status.keys()
