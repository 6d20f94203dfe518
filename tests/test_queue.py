"""SightingQueue: order, idempotence, acknowledgement, persistence and failures, on real files.

Segments, sealing, recovery, sharing, full disks and status have their own files
(``test_queue_*.py``); this one holds the behaviour every caller relies on.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.errors import QueueError
from sync.queue import SEGMENTS_DIR, SightingQueue, SightingStore
from sync.queue.segments import read_segment


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[SightingQueue]:
    with SightingQueue(tmp_path) as opened:
        yield opened


def sighting(number: int = 0, **fields: Any) -> dict[str, Any]:
    """A sighting record with a fresh UUID."""
    record = {"sighting_id": str(uuid.uuid4()), "asset_tag": f"IT-{number:06d}"}
    return {**record, "location": "Büro 3", **fields}


def ids(store: SightingStore) -> list[str]:
    return [record["sighting_id"] for record in store.pending()]


def open_segment(queue: SightingQueue) -> Path:
    """The open segment's file."""
    (found,) = queue.path.glob("open-*.json")
    return found


def segment_files(folder: Path) -> dict[str, bytes]:
    """Every segment file of a queue folder and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*-*.json"))}


def failing(error: int) -> Callable[..., Any]:
    """A stand-in for an os function that fails like a full or broken disk."""

    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


def test_pending_is_in_append_order(queue: SightingQueue) -> None:
    records = [sighting(n) for n in range(20)]
    for record in records:
        queue.append(record)
    assert queue.pending() == records
    assert queue.pending(limit=3) == records[:3]
    assert queue.pending(limit=0) == []
    assert len(queue) == 20


def test_negative_limit_is_refused(queue: SightingQueue) -> None:
    with pytest.raises(ValueError):
        queue.pending(limit=-1)


def test_records_are_copies_both_ways(queue: SightingQueue) -> None:
    record = sighting(tag={"kind": "asset", "value": "IT-000001"})
    queue.append(record)
    record["tag"]["value"] = "changed by the caller"
    queue.pending()[0]["tag"]["value"] = "changed by a reader"
    assert queue.pending()[0]["tag"]["value"] == "IT-000001"


def test_append_of_a_queued_id_is_a_no_op(
    queue: SightingQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sighting(1)
    queue.append(first)
    queue.append(sighting(2))
    before = segment_files(queue.path)
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", failing(errno.EIO))
        queue.append({**first, "verdict": "different"})
        assert queue.append_many([first, first]) == 0
    assert segment_files(queue.path) == before
    assert len(queue) == 2
    assert queue.pending()[0] == first


def test_acknowledge_removes_only_known_ids(queue: SightingQueue) -> None:
    records = [sighting(n) for n in range(5)]
    for record in records:
        queue.append(record)
    taken = [records[0]["sighting_id"], records[3]["sighting_id"]]
    assert queue.acknowledge(iter(taken + [taken[0], "not-queued"])) == 2
    assert ids(queue) == [records[n]["sighting_id"] for n in (1, 2, 4)]
    assert queue.acknowledge(taken) == 0
    assert queue.acknowledge([]) == 0


def test_acknowledge_refuses_a_bare_string(queue: SightingQueue) -> None:
    record = sighting()
    queue.append(record)
    with pytest.raises(TypeError):
        queue.acknowledge(record["sighting_id"])
    assert len(queue) == 1


def test_queue_survives_reopen(tmp_path: Path) -> None:
    records = [sighting(n, note="Zoë ✓") for n in range(4)]
    with SightingQueue(tmp_path) as queue:
        for record in records:
            queue.append(record)
        queue.acknowledge([records[1]["sighting_id"]])
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == [records[0], records[2], records[3]]
        queue.append(records[0])
        assert len(queue) == 3


def test_order_holds_across_reopens_even_after_emptying(tmp_path: Path) -> None:
    first = [sighting(n) for n in range(3)]
    with SightingQueue(tmp_path) as queue:
        for record in first:
            queue.append(record)
        queue.acknowledge(r["sighting_id"] for r in first)
    later = [sighting(n) for n in range(3, 6)]
    for record in later:
        with SightingQueue(tmp_path) as queue:
            queue.append(record)
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == later
    seqs = sorted(int(seq) for path in (tmp_path / SEGMENTS_DIR).glob("*-*.json")
                  for seq in read_segment(path).tables["sightings"])
    assert seqs[0] > 3, "numbering restarted after the queue was emptied"


def test_order_holds_when_the_newest_is_acknowledged_before_a_restart(tmp_path: Path) -> None:
    a, b, c, d = (sighting(n) for n in range(4))
    with SightingQueue(tmp_path) as queue:
        for record in (a, b, c):
            queue.append(record)
        queue.acknowledge([c["sighting_id"]])
    with SightingQueue(tmp_path) as queue:
        queue.append(d)
        queue.acknowledge([a["sighting_id"]])
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == [b, d]


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"asset_tag": "IT-1"}, id="no-id"),
        pytest.param({"sighting_id": 7}, id="id-not-a-string"),
        pytest.param({"sighting_id": ""}, id="empty-id"),
        pytest.param(["sighting_id", "x"], id="not-a-mapping"),
        pytest.param({"sighting_id": "x", "when": object()}, id="not-json"),
        pytest.param({"sighting_id": "x", "monotonic": float("nan")}, id="nan"),
        pytest.param({"sighting_id": "x", "payload": "\udcff"}, id="lone-surrogate"),
    ],
)
def test_bad_record_is_refused_and_nothing_written(queue: SightingQueue, record: Any) -> None:
    queue.append(sighting())
    before = segment_files(queue.path)
    with pytest.raises(ValueError):
        queue.append(record)
    with pytest.raises(ValueError):
        queue.append_many([sighting(), record])
    assert segment_files(queue.path) == before
    assert len(queue) == 1


@pytest.mark.parametrize("function", ["write", "fsync"])
def test_full_disk_fails_append_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    kept, refused = sighting(1), sighting(2)
    with SightingQueue(tmp_path) as queue:
        queue.append(kept)
        before = segment_files(queue.path)
        names = sorted(p.name for p in queue.path.iterdir())
        with monkeypatch.context() as patch:
            patch.setattr(os, function, failing(errno.ENOSPC))
            with pytest.raises(QueueError, match="disk full"):
                queue.append(refused)
        assert segment_files(queue.path) == before
        assert sorted(p.name for p in queue.path.iterdir()) == names
        assert queue.pending() == [kept]
        queue.append(refused)
        queue.append(sighting(3))
        assert ids(queue)[:2] == [kept["sighting_id"], refused["sighting_id"]]
    with SightingQueue(tmp_path) as queue:
        assert ids(queue)[:2] == [kept["sighting_id"], refused["sighting_id"]]
        assert len(queue) == 3


def test_full_disk_fails_acknowledge_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [sighting(n) for n in range(3)]
    with SightingQueue(tmp_path) as queue:
        for record in records:
            queue.append(record)
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", failing(errno.ENOSPC))
            with pytest.raises(QueueError, match="disk full"):
                queue.acknowledge([records[2]["sighting_id"]])
        assert queue.pending() == records
        assert queue.acknowledge([records[2]["sighting_id"]]) == 1
        queue.append(sighting(9))
    with SightingQueue(tmp_path) as queue:
        assert ids(queue)[:2] == [records[0]["sighting_id"], records[1]["sighting_id"]]
        assert len(queue) == 3


def test_acknowledge_that_failed_keeps_the_record_and_the_numbering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = (sighting(n) for n in range(3))
    with SightingQueue(tmp_path) as queue:
        queue.append(a)
        queue.append(b)
        real_write = os.write
        calls: list[object] = []

        def write_once(fd: int, data: Any) -> int:
            calls.append(fd)
            if len(calls) > 1:
                raise OSError(errno.EIO, "I/O error")
            return real_write(fd, data)

        with monkeypatch.context() as patch:
            patch.setattr(os, "write", write_once)
            queue.acknowledge([a["sighting_id"]])
            with pytest.raises(QueueError):
                queue.acknowledge([b["sighting_id"]])
        assert len(calls) == 2, "each acknowledge is one write of the open segment"
        assert queue.pending() == [b]
        assert queue.acknowledge([a["sighting_id"], b["sighting_id"]]) == 1
    with SightingQueue(tmp_path) as queue:
        queue.append(c)
        assert queue.pending() == [c]
    (segment,) = (tmp_path / SEGMENTS_DIR).glob("open-*.json")
    assert int(next(iter(read_segment(segment).tables["sightings"]))) > 2


def test_write_that_raised_is_redone_whole_and_a_confirmed_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = sighting()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    with SightingQueue(tmp_path) as queue:
        queue.append(sighting())
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", fsync)
            with pytest.raises(QueueError):
                queue.append(record)
        inode = open_segment(queue).stat().st_ino
        queue.append(record)
        assert open_segment(queue).stat().st_ino != inode, (
            "after a failed fsync the whole segment is written again")
        assert queue.pending()[1:] == [record]
        inode = open_segment(queue).stat().st_ino
        queue.append(record)
        assert open_segment(queue).stat().st_ino == inode, "a confirmed write is not redone"


def test_stale_temp_file_is_removed_on_open(tmp_path: Path) -> None:
    record = sighting()
    with SightingQueue(tmp_path) as queue:
        queue.append(record)
        stale = open_segment(queue).with_suffix(".json.tmp")
    stale.write_bytes(b'{"sightings": {"1": {"se')
    with SightingQueue(tmp_path) as queue:
        assert not stale.exists()
        assert queue.pending() == [record]


def test_directory_is_created(tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "var" / "queue") as queue:
        queue.append(sighting())
    assert list((tmp_path / "var" / "queue" / SEGMENTS_DIR).glob("open-*.json"))


def test_one_owner_at_a_time(tmp_path: Path) -> None:
    with SightingQueue(tmp_path):
        with pytest.raises(QueueError, match="already open"):
            SightingQueue(tmp_path, writer_wait=0.1)
    with SightingQueue(tmp_path) as queue:
        assert len(queue) == 0


def test_closed_queue_refuses_use(tmp_path: Path) -> None:
    queue = SightingQueue(tmp_path)
    queue.close()
    queue.close()
    with pytest.raises(QueueError, match="closed"):
        queue.append(sighting())
    with pytest.raises(QueueError, match="closed"):
        len(queue)
    with pytest.raises(QueueError, match="closed"):
        queue.pending()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 9)),
        st.tuples(st.just("ack"), st.sets(st.integers(0, 9), max_size=4)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(operations, st.sampled_from([(250, 60.0), (2, 60.0), (3, 0.0)]))
def test_queue_behaves_like_an_ordered_set(
    steps: list[tuple[str, Any]], layout: tuple[int, float]
) -> None:
    model: dict[str, dict[str, Any]] = {}
    size, quiet = layout

    def reopen() -> SightingQueue:
        return SightingQueue(directory, segment_size=size, seal_after=quiet)

    with tempfile.TemporaryDirectory() as directory:
        queue = reopen()
        try:
            for action, argument in steps:
                if action == "append":
                    record = {"sighting_id": f"s{argument}", "n": argument}
                    queue.append(record)
                    model.setdefault(record["sighting_id"], record)
                elif action == "ack":
                    wanted = {f"s{n}" for n in argument}
                    assert queue.acknowledge(wanted) == len(wanted & model.keys())
                    model = {k: v for k, v in model.items() if k not in wanted}
                else:
                    queue.close()
                    queue = reopen()
                assert queue.pending() == list(model.values())
                assert len(queue) == len(model)
                assert queue.pending(limit=2) == list(model.values())[:2]
        finally:
            queue.close()


# --- a state folder that cannot be used -------------------------------------------------------


@pytest.mark.parametrize("error", [errno.ENOLCK, errno.EBADF, errno.EINTR])
def test_a_lock_that_fails_is_a_queue_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    import fcntl

    def flock(fd: int, operation: int) -> None:
        raise OSError(error, os.strerror(error))

    with monkeypatch.context() as patch:
        patch.setattr(fcntl, "flock", flock)
        with pytest.raises(QueueError, match="cannot lock the queue directory") as caught:
            SightingQueue(tmp_path)
    assert str(tmp_path) in str(caught.value) and os.strerror(error) in str(caught.value)
    assert caught.value.exit_code == 5
    assert not list((tmp_path / SEGMENTS_DIR).glob("*.json"))
    with SightingQueue(tmp_path) as queue:  # nothing was left open or locked
        assert len(queue) == 0


def read_only_for(directory: Path) -> Callable[..., bool]:
    """A stand-in for os.access that finds ``directory`` read-only and asks the OS otherwise."""
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if Path(path) == directory and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    return access


def test_a_read_only_queue_directory_is_refused_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = sighting()
    with SightingQueue(tmp_path) as queue:
        queue.append(record)
    before = segment_files(tmp_path / SEGMENTS_DIR)
    with monkeypatch.context() as patch:
        patch.setattr(os, "access", read_only_for(tmp_path))
        with pytest.raises(QueueError, match="read-only") as caught:
            SightingQueue(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert segment_files(tmp_path / SEGMENTS_DIR) == before
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == [record]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder of mode 0o500")
def test_a_queue_directory_of_mode_0o500_is_refused_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(QueueError, match="read-only"):
            SightingQueue(folder)
    finally:
        folder.chmod(0o700)
