"""The segment layout: what each operation writes, seals, rewrites, deletes and reads."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from sync.queue import SEGMENTS_DIR, SightingQueue
from sync.queue import segments as seg_module


def sighting(number: int) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "n": number}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["sighting_id"] for record in records]


def names(folder: Path, pattern: str = "*") -> list[str]:
    return sorted(p.name for p in (folder / SEGMENTS_DIR).glob(pattern))


def inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in (folder / SEGMENTS_DIR).glob("*-*.json")}


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    yield calls


def test_appends_fill_the_open_segment_then_seal_it(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(9)]
    with SightingQueue(tmp_path, segment_size=4) as queue:
        for record in records[:4]:
            queue.append(record)
        assert names(tmp_path, "*-*") == ["open-0000000001.json"]
        queue.append(records[4])
        assert names(tmp_path, "*-*") == ["open-0000000002.json", "seg-0000000001.ids",
                                          "seg-0000000001.json"]
        sealed = inodes(tmp_path)["seg-0000000001.json"]
        for record in records[5:]:
            queue.append(record)
        assert inodes(tmp_path)["seg-0000000001.json"] == sealed, "a sealed segment was rewritten"
        assert queue.pending() == records
    # Each segment holds TinyDB tables; the document id is the record's sequence number.
    docs = seg_module.read_segment(tmp_path / SEGMENTS_DIR / "seg-0000000002.json").docs
    assert [(seq, record["n"]) for seq, record in docs] == [(5, 4), (6, 5), (7, 6), (8, 7)]


def test_a_segment_written_in_one_go_is_a_plain_tinydb_file(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(6)]
    with SightingQueue(tmp_path, segment_size=4) as queue:
        queue.append_many(records[:4])
        queue.append_many(records[4:])
    with TinyDB(tmp_path / SEGMENTS_DIR / "seg-0000000001.json") as db:
        assert [(doc.doc_id, doc["n"]) for doc in db.table("sightings")] == [
            (1, 0), (2, 1), (3, 2), (4, 3)]


def test_an_append_adds_one_line_to_the_open_segment(tmp_path: Path, fsyncs: list[int]) -> None:
    with SightingQueue(tmp_path, segment_size=100) as queue:
        queue.append_many([sighting(n) for n in range(250)])
        queue.append_many([sighting(n) for n in range(250, 260)])
        before = {p.name: (p.stat().st_ino, p.read_bytes())
                  for p in (tmp_path / SEGMENTS_DIR).glob("*-*.json")}
        fsyncs.clear()
        queue.append(record := sighting(999))
    after = {p.name: (p.stat().st_ino, p.read_bytes())
             for p in (tmp_path / SEGMENTS_DIR).glob("*-*.json")}
    changed = [name for name in after if before.get(name) != after[name]]
    assert changed == [name for name in after if name.startswith("open-")]
    (name,) = changed
    inode, old = before[name]
    assert after[name][0] == inode, "appended to, not replaced"
    grown = after[name][1][len(old):]
    assert after[name][1].startswith(old) and grown.count(b"\n") == 1
    assert record["sighting_id"].encode() in grown and len(grown) < 200
    assert len(fsyncs) == 1, "the open segment only"


def test_append_many_is_one_write_even_when_it_seals_a_segment(
    tmp_path: Path, fsyncs: list[int]
) -> None:
    records = [sighting(n) for n in range(30)]
    with SightingQueue(tmp_path, segment_size=8) as queue:
        queue.append_many(records[:5])
        fsyncs.clear()
        assert queue.append_many(records[5:7]) == 2  # fits: one line appended
        assert len(fsyncs) == 1
        fsyncs.clear()
        assert queue.append_many(records[7:30] + records[:3]) == 23  # seals, goes in a new one
        assert len(fsyncs) == 2, "a new segment file and its folder"
        assert names(tmp_path, "*.json") == ["open-0000000002.json", "seg-0000000001.json"]
        assert queue.pending() == records
        queue.append(extra := sighting(30))
        assert names(tmp_path, "open-*.json") == ["open-0000000003.json"], "an overfull one seals"
        assert queue.pending() == records + [extra]


def test_a_quiet_open_segment_is_sealed_at_the_next_pending_or_append(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(4)]
    with SightingQueue(tmp_path, segment_size=100, seal_after=0.05) as queue:
        queue.append(records[0])
        queue.append(records[1])
        assert queue.pending() == records[:2]
        assert names(tmp_path, "seg-*.json") == []
        time.sleep(0.06)
        assert queue.pending() == records[:2]
        assert names(tmp_path, "seg-*.json") == ["seg-0000000001.json"]
        queue.append(records[2])
        time.sleep(0.06)
        queue.append(records[3])
        assert names(tmp_path, "seg-*.json") == ["seg-0000000001.json", "seg-0000000002.json"]
        assert queue.pending() == records


def test_acknowledging_deletes_emptied_segments_and_shrinks_the_others(tmp_path: Path) -> None:
    records = [sighting(n) for n in range(13)]
    with SightingQueue(tmp_path, segment_size=4) as queue:
        for record in records:
            queue.append(record)
        sizes = {p.name: p.stat().st_size for p in (tmp_path / SEGMENTS_DIR).glob("seg-*.json")}
        before = inodes(tmp_path)
        assert queue.acknowledge(ids(records[0:4] + records[5:6])) == 5
        assert "seg-0000000001.json" not in names(tmp_path)
        assert "seg-0000000001.ids" not in names(tmp_path), "its sidecar goes with it"
        shrunk = tmp_path / SEGMENTS_DIR / "seg-0000000002.json"
        assert shrunk.stat().st_size < sizes[shrunk.name]
        after = inodes(tmp_path)
        assert after["seg-0000000003.json"] == before["seg-0000000003.json"], "untouched"
        assert queue.pending() == records[4:5] + records[6:]


def test_pending_reads_only_the_segments_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [sighting(n) for n in range(40)]
    with SightingQueue(tmp_path, segment_size=10) as queue:
        queue.append_many(records[:10])
        queue.append_many(records[10:20])
        queue.append_many(records[20:30])
        queue.append_many(records[30:])
    read: list[str] = []
    real = seg_module.read_segment

    def spy(path: Path) -> Any:
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(seg_module, "read_segment", spy)
    with SightingQueue(tmp_path) as queue:
        assert read == ["open-0000000004.json"], "the start reads the open segment only"
        read.clear()
        assert queue.pending(12) == records[:12]
        assert read == ["seg-0000000001.json", "seg-0000000002.json"]
        read.clear()
        assert len(queue) == 40 and read == []


def test_the_index_holds_ids_not_records(tmp_path: Path) -> None:
    with SightingQueue(tmp_path, segment_size=50) as queue:
        for start in range(0, 500, 50):
            queue.append_many([{**sighting(start + n), "payload": "x" * 500} for n in range(50)])
    with SightingQueue(tmp_path, segment_size=50) as queue:
        held = [segment.members for segment in queue._index.sealed.values()]
        assert sum(len(members) for members in held) == 450
        assert all(isinstance(seq, int) for members in held for seq in members.values())
        assert all(isinstance(number, int) for number in queue._index.where.values())


@pytest.mark.parametrize("arguments", [{"segment_size": 0}, {"seal_after": -1.0}])
def test_bad_layout_arguments_are_refused(tmp_path: Path, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SightingQueue(tmp_path, **arguments)
    assert not tmp_path.joinpath(SEGMENTS_DIR).exists()


def test_iter_pending_streams_the_queue_a_segment_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [sighting(n) for n in range(25)]
    with SightingQueue(tmp_path, segment_size=10) as queue:
        for start in range(0, 25, 10):
            queue.append_many(records[start : start + 10])
        read: list[str] = []
        real = seg_module.read_segment

        def spy(path: Path) -> Any:
            read.append(path.name)
            return real(path)

        monkeypatch.setattr(seg_module, "read_segment", spy)
        stream = queue.iter_pending()
        assert [next(stream) for _ in range(3)] == records[:3]
        assert read == ["seg-0000000001.json"]
        # The queue may be used between two records.
        queue.acknowledge(ids(records[10:12]))
        read.clear()
        rest = list(stream)
        assert rest == records[3:10] + records[12:]
        assert read == ["seg-0000000002.json"], "one segment read at a time, as needed"
        first = next(queue.iter_pending())
        first["n"] = "changed"
        assert queue.pending(1)[0]["n"] == 0
