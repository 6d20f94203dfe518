"""The queue and the journals written with a deferred flush, together.

A scan fsyncs the queue only; its journal line is written without an fsync. The queue
flushes the journals before a record leaves it, waits for a journal write under way,
and parks a full segment until they are flushed. The property test cuts the power at
random (the journal keeps what was fsynced and any part of the rest) and checks that
every saved scan is in the journal or the queue, never lost, never doubled.
"""

from __future__ import annotations

import errno
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from firmware.errors import QueueError
from firmware.room import RoomJournal, read_journal_lines
from firmware.scan_path import ScanPath
from sync import journal as journal_module
from sync.journal import (
    JsonLinesJournal,
    deferred_paths,
    deferred_write,
    flush_deferred,
    journals_unflushed,
)
from sync.queue import SEGMENTS_DIR, SightingQueue


@pytest.fixture(autouse=True)
def no_deferred_left() -> Iterator[None]:
    flush_deferred()
    yield
    flush_deferred()


def sighting(n: int) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "asset_tag": f"IT-{n}", "session_id": "s1"}


def room_journal(folder: Path) -> RoomJournal:
    return RoomJournal(folder, "s1", {"device_id": "d", "technician": "t", "location": "A",
                                      "started_at": "2026-12-07T00:00:00Z",
                                      "clock_synchronized": True, "wall": 0.0})


class _Clock:
    def wall(self) -> float:
        return 1.0


def journal_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    entries, _ = read_journal_lines(path)
    return [e["record"]["sighting_id"] for e in entries if e.get("type") == "sighting"]


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files fsynced (folders by their name too)."""
    calls: list[str] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1])
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    return calls


def test_a_deferred_write_is_flushed_only_by_flush_deferred(
        tmp_path: Path, fsyncs: list[str]) -> None:
    journal = JsonLinesJournal(tmp_path / "j.jsonl", keep_open=True)
    journal.append([{"n": 1}])  # creates the file: fsynced with its folder
    fsyncs.clear()
    journal.append([{"n": 2}], flush=False)
    assert fsyncs == [] and deferred_paths() == [tmp_path / "j.jsonl"]
    assert flush_deferred() == 1
    assert fsyncs == ["j.jsonl"] and deferred_paths() == []
    journal.close()
    (tmp_path / "gone.jsonl").write_bytes(b"")
    gone = JsonLinesJournal(tmp_path / "gone.jsonl")
    gone.append([{"n": 1}], flush=False)
    (tmp_path / "gone.jsonl").unlink()  # a room journal deleted once its report is saved
    assert flush_deferred() == 0 and deferred_paths() == []


def test_a_flush_waits_for_a_deferred_write_under_way(tmp_path: Path) -> None:
    inside, go = threading.Event(), threading.Event()
    journal = JsonLinesJournal(tmp_path / "j.jsonl")

    def scan() -> None:
        with deferred_write():
            inside.set()
            go.wait(30)
            journal.append([{"n": 1}], flush=False)

    writer = threading.Thread(target=scan)
    writer.start()
    assert inside.wait(30)
    flushed: list[int] = []
    flusher = threading.Thread(target=lambda: flushed.append(flush_deferred()))
    flusher.start()
    flusher.join(0.3)
    assert flusher.is_alive() and flushed == [], "the flush did not wait for the write"
    assert journals_unflushed()
    go.set()
    writer.join(30)
    flusher.join(30)
    assert flushed == [1] and not journals_unflushed()


def test_a_flush_gives_up_after_its_wait_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "FLUSH_WAIT", 0.01)
    with deferred_write(), pytest.raises(TimeoutError):
        flush_deferred()


def test_the_queue_flushes_the_journals_before_a_record_leaves_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = room_journal(tmp_path / "rooms")
    with SightingQueue(tmp_path / "q") as queue:
        path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
        record = sighting(1)
        assert path.store([record], journal, 1.0) is None
        assert deferred_paths() == [journal.path]
        real_fsync = os.fsync

        def failing(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
                raise OSError(errno.EIO, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing)
        with pytest.raises(QueueError, match="cannot flush a journal"):
            queue.acknowledge([record["sighting_id"]])
        assert len(queue) == 1, "a record left the queue before its journal was flushed"
        monkeypatch.undo()
        assert queue.acknowledge([record["sighting_id"]]) == 1
        assert deferred_paths() == [] and len(queue) == 0
    journal.close()
    assert journal_ids(journal.path) == [record["sighting_id"]]


def test_a_roll_on_the_scan_path_parks_the_full_segment_until_the_journals_are_flushed(
        tmp_path: Path, fsyncs: list[str]) -> None:
    journal = room_journal(tmp_path / "rooms")
    folder = tmp_path / "q" / SEGMENTS_DIR
    with SightingQueue(tmp_path / "q", segment_size=2) as queue:
        path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
        records = [sighting(n) for n in range(3)]
        for record in records[:2]:
            assert path.store([record], journal, 1.0) is None
        fsyncs.clear()
        assert path.store([records[2]], journal, 1.0) is None  # rolls over
        assert fsyncs == ["open-0000000002.json.tmp", SEGMENTS_DIR], \
            "a roll costs the new file and its folder, and no journal's flush"
        assert sorted(p.name for p in folder.glob("*.json")) == [
            "open-0000000001.json", "open-0000000002.json"], "sealed before the flush"
        with SightingQueue(tmp_path / "q", shared=True) as other:
            assert other.pending() == [], "another process saw records not flushed in a journal"
        fsyncs.clear()
        assert [r["sighting_id"] for r in queue.pending()] == [r["sighting_id"] for r in records]
        assert fsyncs[0] == journal.path.name, "sealed without flushing the journal first"
        assert sorted(p.name for p in folder.glob("*.json")) == [
            "open-0000000002.json", "seg-0000000001.json"]
    journal.close()


def test_closing_the_queue_flushes_the_journals(tmp_path: Path, fsyncs: list[str]) -> None:
    journal = room_journal(tmp_path / "rooms")
    with SightingQueue(tmp_path / "q") as queue:
        path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
        assert path.store([sighting(1)], journal, 1.0) is None
        fsyncs.clear()
    assert journal.path.name in fsyncs and deferred_paths() == []
    journal.close()


def test_a_full_disk_on_the_journal_counts_nothing_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = room_journal(tmp_path / "rooms")
    with SightingQueue(tmp_path / "q") as queue:
        path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
        assert path.store([sighting(1)], journal, 1.0) is None
        real_write = os.write

        def full(fd: int, data: bytes) -> int:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", full)
        error = path.store([sighting(2)], journal, 1.0)
        monkeypatch.undo()
        assert error is not None and "disk full" in str(error)
        assert path.scans == {"None": 1}, "a scan the journal refused was counted"
    journal.close()
    assert len(journal_ids(journal.path)) == 1


# --- any sequence of scans, acknowledgements, seals and power cuts ----------------------

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("scan"), st.integers(1, 4)),
        st.tuples(st.just("ack"), st.floats(0, 1)),
        st.tuples(st.just("pending"), st.just(0)),
        st.tuples(st.just("cut"), st.floats(0, 1)),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(steps=[("scan", 1), ("ack", 1.0), ("cut", 0.0)], layout=(250, 60.0))
@example(steps=[("scan", 2), ("scan", 1), ("ack", 1.0), ("cut", 0.5)], layout=(2, 60.0))
@given(steps=STEPS, layout=st.sampled_from([(2, 60.0), (3, 0.0), (250, 60.0)]))
def test_any_scans_acks_and_power_cuts_keep_every_saved_scan_once(
        tmp_path: Path, steps: list[tuple[str, Any]], layout: tuple[int, float]) -> None:
    """Every saved scan is in the journal or the queue after any power cut; none twice;
    none the register acknowledged comes back into the queue."""
    base = tmp_path / uuid.uuid4().hex
    size, quiet = layout
    durable = {"size": 0}
    journal_path = base / "rooms" / "room-s1.jsonl"
    real_fsync = os.fsync

    def tracked(fd: int) -> None:
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}") == str(journal_path):
            durable["size"] = max(durable["size"], os.fstat(fd).st_size)

    saved: set[str] = set()
    removed: set[str] = set()
    counter = iter(range(10_000))

    def repaired(queue: SightingQueue) -> RoomJournal:
        """The start's repair: queued sightings missing from the journal are added."""
        journal = room_journal(base / "rooms")
        known = set(journal_ids(journal_path))
        for record in queue.pending():
            if record["sighting_id"] not in known:
                journal.add(record, 1.0)
        return journal

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", tracked)
        flush_deferred()
        queue = SightingQueue(base / "q", segment_size=size, seal_after=quiet)
        journal = room_journal(base / "rooms")
        try:
            for action, value in steps:
                path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
                if action == "scan":
                    records = [sighting(next(counter)) for _ in range(value)]
                    assert path.store(records, journal, 1.0) is None
                    saved |= {r["sighting_id"] for r in records}
                elif action == "ack":
                    pending = queue.pending()
                    taken = [r["sighting_id"] for r in pending[: int(value * len(pending))]]
                    assert queue.acknowledge(taken) == len(taken)
                    removed |= set(taken)
                elif action == "pending":
                    queue.pending()
                else:
                    # The power goes: the journal keeps what was fsynced and any part of
                    # the rest; the queue keeps what it fsynced (all it confirmed).
                    size_now = journal_path.stat().st_size if journal_path.exists() else 0
                    keep = durable["size"] + int(value * (size_now - durable["size"]))
                    journal.close()
                    queue.close()  # (flushes: the cut below undoes it)
                    flush_deferred()
                    if journal_path.exists():
                        os.truncate(journal_path, keep)
                        durable["size"] = keep
                    queue = SightingQueue(base / "q", segment_size=size, seal_after=quiet)
                    journal = repaired(queue)
                queued = [r["sighting_id"] for r in queue.pending()]
                journaled = journal_ids(journal_path)
                assert len(set(queued)) == len(queued) and len(set(journaled)) == len(journaled)
                assert saved <= set(queued) | set(journaled), "a saved scan was lost"
                assert not set(queued) & removed, "an acknowledged sighting came back"
                assert set(queued) | set(journaled) <= saved
        finally:
            journal.close()
            queue.close()
            flush_deferred()


def test_a_segment_parked_during_the_flush_waits_for_the_next_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.queue.store as store_module

    journal = room_journal(tmp_path / "rooms")
    folder = tmp_path / "q" / SEGMENTS_DIR
    with SightingQueue(tmp_path / "q", segment_size=2) as queue:
        path = ScanPath(None, queue, _Clock())  # type: ignore[arg-type]
        for n in range(4):  # the 3rd rolls over: segment 1 parked
            assert path.store([sighting(n)], journal, 1.0) is None
        real_flush = store_module.flush_journals

        def flush_then_a_scan_rolls() -> None:
            real_flush()
            assert path.store([sighting(9)], journal, 1.0) is None  # parks segment 2

        monkeypatch.setattr(store_module, "flush_journals", flush_then_a_scan_rolls)
        queue.pending()
        monkeypatch.undo()
        assert sorted(p.name for p in folder.glob("*.json")) == [
            "open-0000000002.json", "open-0000000003.json", "seg-0000000001.json"], \
            "a segment parked after the flush was sealed with its journal lines unflushed"
        assert deferred_paths() == [journal.path]
        queue.pending()
        assert sorted(p.name for p in folder.glob("*.json")) == [
            "open-0000000003.json", "seg-0000000001.json", "seg-0000000002.json"]
    journal.close()
