"""SightingQueue recovery at start: leftovers, damaged segments, seals cut short, old layout."""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinydb import TinyDB

from sync.queue import QUEUE_FILE, SEGMENTS_DIR, SightingQueue, log_storage, read_status
from sync.queue.segments import read_segment
from sync.storage import AtomicJSONStorage, temp_path


def sighting(number: int) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "asset_tag": f"IT-{number:06d}",
            "wall_time": f"2026-11-24T09:{number // 60 % 60:02d}:{number % 60:02d}.000Z"}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["sighting_id"] for record in records]


def filled(folder: Path, count: int, size: int = 4) -> list[dict[str, Any]]:
    """A queue in ``folder`` holding ``count`` records in segments of ``size``."""
    records = [sighting(n) for n in range(count)]
    with SightingQueue(folder, segment_size=size) as queue:
        for record in records:
            queue.append(record)
    return records


def files(folder: Path, pattern: str) -> list[Path]:
    return sorted((folder / SEGMENTS_DIR).glob(pattern))


def test_leftover_temporary_files_are_removed_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = filled(tmp_path, 6)
    leftovers = [files(tmp_path, "open-*.json")[0].with_suffix(".json.tmp"),
                 files(tmp_path, "seg-*.json")[0].with_suffix(".json.tmp"),
                 files(tmp_path, "seg-*.ids")[0].with_suffix(".ids.tmp")]
    for leftover in leftovers:
        leftover.write_bytes(b'{"sightings": {"9": {"sigh')
    with caplog.at_level(logging.WARNING), SightingQueue(tmp_path) as queue:
        assert queue.pending() == records
        assert queue.status()["damaged"] == []
    assert not any(leftover.exists() for leftover in leftovers)
    for leftover in leftovers:
        assert leftover.name in caplog.text


def test_an_append_cut_short_in_the_open_segment_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = filled(tmp_path, 7)  # segments of 4: one sealed, three in the open one
    (open_file,) = files(tmp_path, "open-*.json")
    raw = open_file.read_bytes()
    cut = raw.index(records[6]["sighting_id"].encode()) - 20  # inside the last line
    open_file.write_bytes(raw[:cut])
    with caplog.at_level(logging.WARNING), SightingQueue(tmp_path, segment_size=4) as queue:
        assert ids(queue.pending()) == ids(records[:6])
        later = sighting(99)
        queue.append(later)
        assert queue.status()["damaged"] == []
    torn = cut - raw.rindex(b"\n", 0, cut) - 1
    assert f"{torn} byte(s)" in caplog.text
    with SightingQueue(tmp_path) as queue:
        assert ids(queue.pending()) == ids(records[:6]) + [later["sighting_id"]]
    (open_file,) = files(tmp_path, "open-*.json")
    assert open_file.read_bytes().count(b"\n") == 1, "the torn line went with a compaction"


def test_a_damaged_open_segment_is_set_aside_and_its_readable_records_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = filled(tmp_path, 4, size=2)  # the open segment: records 3 and 4
    (open_file,) = files(tmp_path, "open-*.json")
    raw = open_file.read_bytes()
    lines = raw.split(b"\n")
    # A torn line *followed by* a whole one: no cut makes that, only a failing card.
    assert len(lines) == 3 and lines[-1] == b""
    first = records[2]["sighting_id"].encode()
    cut = raw.index(first) + len(first) + 5  # inside record 3, in the snapshot line
    open_file.write_bytes(raw[:cut] + b"\n" + lines[1] + b"\n")
    raw = open_file.read_bytes()
    with caplog.at_level(logging.ERROR), SightingQueue(tmp_path, segment_size=4) as queue:
        assert ids(queue.pending()) == ids(records[:2])
        later = sighting(99)
        queue.append(later)
        assert queue.pending()[-1] == later
        status = queue.status()
    damaged = f"{open_file.name}.damaged"
    assert status["damaged"] == [damaged]
    assert read_status(tmp_path)["damaged"] == [damaged]
    assert (tmp_path / SEGMENTS_DIR / damaged).read_bytes() == raw, "kept as found"
    assert damaged in caplog.text and "0 record(s) read back" in caplog.text
    with SightingQueue(tmp_path) as queue:
        assert ids(queue.pending()) == ids(records[:2]) + [later["sighting_id"]]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw.replace(b'"asset_tag"', b'"asset_tag\xff"', 1),
                     id="not-utf8"),
        pytest.param(lambda raw: b"\x00" * len(raw), id="zeroed"),
        pytest.param(lambda raw: raw.replace(b'"sighting_id"', b'"sighting_ix"', 1),
                     id="not-a-sighting"),
    ],
)
def test_a_damaged_sealed_segment_is_set_aside_when_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    records = filled(tmp_path, 10)
    first, second = files(tmp_path, "seg-*.json")
    raw = second.read_bytes()
    second.write_bytes(damage(raw))
    with caplog.at_level(logging.ERROR), SightingQueue(tmp_path) as queue:
        found = ids(queue.pending())
        status = queue.status()
    assert status["damaged"] == [f"{second.name}.damaged"]
    assert (tmp_path / SEGMENTS_DIR / f"{second.name}.damaged").exists()
    assert second.name in caplog.text
    # The segments around it are whole; what could be read of it is kept, in order.
    assert found[:4] == ids(records[:4]) and found[-2:] == ids(records[8:])
    assert set(found) <= set(ids(records)) and found == [s for s in ids(records) if s in found]
    with SightingQueue(tmp_path) as queue:
        assert ids(queue.pending()) == found
        assert queue.status()["damaged"] == [f"{second.name}.damaged"]


def test_a_segment_damaged_twice_keeps_both_copies(tmp_path: Path) -> None:
    filled(tmp_path, 10)
    second = files(tmp_path, "seg-*.json")[1]
    for _ in range(2):
        raw = second.read_bytes()
        second.write_bytes(raw[: len(raw) - 30])
        with SightingQueue(tmp_path) as queue:
            queue.pending()
    assert [p.name for p in files(tmp_path, "*.damaged")] == [
        f"{second.name}.1.damaged", f"{second.name}.damaged"]


def test_a_stale_or_broken_sidecar_falls_back_to_the_segment(tmp_path: Path) -> None:
    records = filled(tmp_path, 12)
    first, second = files(tmp_path, "seg-*.ids")[:2]
    first.write_bytes(b"\x00\x00")
    lying = json.loads(second.read_bytes())
    lying["records"] = lying["records"][:1]
    second.write_text(json.dumps({**lying, "size": lying["size"] + 1}))
    with SightingQueue(tmp_path) as queue:
        assert len(queue) == 12
        assert queue.pending() == records
    assert json.loads(first.read_bytes())["records"], "the sidecar is written again"


def test_startup_reads_sidecars_not_segments(tmp_path: Path) -> None:
    records = filled(tmp_path, 12)
    sealed = files(tmp_path, "seg-*.json")
    # Same size, other bytes: only reading the segment itself would notice.
    for path in sealed:
        raw = path.read_bytes()
        path.write_bytes(raw.replace(b"IT-0", b"XX-0"))
    with SightingQueue(tmp_path) as queue:
        assert len(queue) == 12
        assert queue.status()["queued"] == 12
        assert queue.pending()[0]["asset_tag"].startswith("XX-")
        assert ids(queue.pending()) == ids(records)


def test_a_seal_cut_short_is_finished_at_start(tmp_path: Path) -> None:
    records = filled(tmp_path, 3)
    (open_file,) = files(tmp_path, "open-*.json")
    newer = open_file.with_name("open-0000000009.json")
    extra = sighting(50)
    tables = {"meta": {"1": {"next_seq": 100}}, "sightings": {"99": extra}}
    newer.write_text(json.dumps(tables))
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == records + [extra]
        assert [p.name for p in files(tmp_path, "open-*.json")] == [newer.name]
        assert files(tmp_path, "seg-*.json")[0].name == open_file.name.replace("open", "seg")
        queue.append(sighting(51))
    (segment,) = files(tmp_path, "open-*.json")
    assert max(int(seq) for seq in read_segment(segment).tables["sightings"]) == 100


def test_numbering_keeps_increasing_when_every_file_is_gone_but_the_open_one(
    tmp_path: Path,
) -> None:
    records = filled(tmp_path, 9)
    with SightingQueue(tmp_path, segment_size=4) as queue:
        assert queue.acknowledge(ids(records)) == 9
    assert not files(tmp_path, "seg-*")
    later = sighting(10)
    with SightingQueue(tmp_path, segment_size=4) as queue:
        queue.append(later)
    (segment,) = files(tmp_path, "open-*.json")
    assert [int(seq) for seq in read_segment(segment).tables["sightings"]] == [10]


def test_the_single_file_queue_of_earlier_versions_is_moved_into_segments(
    tmp_path: Path,
) -> None:
    records = [sighting(n) for n in range(7)]
    with TinyDB(tmp_path / QUEUE_FILE, storage=AtomicJSONStorage) as db:
        # TinyDB reuses ids, so the old layout ordered by "seq", not by document id.
        for seq, record in reversed(list(enumerate(records, start=3))):
            db.table("sightings").insert({"seq": seq, "record": record})
        db.table("meta").insert({"last_seq": 12})
    assert read_status(tmp_path)["queued"] == 7
    with SightingQueue(tmp_path, segment_size=3) as queue:
        assert queue.pending() == records
        assert len(files(tmp_path, "seg-*.json")) == 2
    assert not (tmp_path / QUEUE_FILE).exists()
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == records


def test_a_damaged_single_file_queue_is_set_aside_after_its_records_are_moved(
    tmp_path: Path,
) -> None:
    records = [sighting(n) for n in range(3)]
    text = json.dumps({"sightings": {str(n): {"seq": n, "record": r}
                                     for n, r in enumerate(records, start=1)}})
    (tmp_path / QUEUE_FILE).write_text(text[: text.index(records[2]["sighting_id"])])
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == records[:2]
        assert queue.status()["damaged"] == [f"{QUEUE_FILE}.damaged"]


def test_a_dead_lettering_cut_short_is_finished_at_start(tmp_path: Path) -> None:
    records = filled(tmp_path, 5)
    with SightingQueue(tmp_path, segment_size=4) as queue:
        queue.dead_letter([(records[1]["sighting_id"], "unknown asset")])
        queue.dead_letter([(records[4]["sighting_id"], "unknown asset")])
    store = tmp_path / SEGMENTS_DIR / "dead-letters.json"
    saved = store.read_bytes()
    # Put both back in the queue, as if the process had died between the two writes.
    with SightingQueue(tmp_path, segment_size=4) as queue:
        queue.append(records[4])
    store.write_bytes(saved)
    with SightingQueue(tmp_path) as queue:
        assert ids(queue.pending()) == ids([records[0], records[2], records[3]])
        assert [d["sighting_id"] for d in queue.dead_letters()] == [
            records[1]["sighting_id"], records[4]["sighting_id"]]


def test_read_status_names_a_damaged_segment_and_leaves_it_alone(tmp_path: Path) -> None:
    records = filled(tmp_path, 10)
    first = files(tmp_path, "seg-*.json")[0]
    first.write_bytes(b"\x00" * first.stat().st_size)  # same size: its sidecar still fits
    status = read_status(tmp_path)
    assert status["damaged"] == [first.name]
    assert (status["queued"], status["oldest"]) == (6, records[4]["wall_time"])
    assert first.read_bytes() == b"\x00" * first.stat().st_size
    with SightingQueue(tmp_path) as queue:
        assert ids(queue.pending()) == ids(records[4:])
    assert read_status(tmp_path)["damaged"] == [f"{first.name}.damaged"]


def test_a_cut_at_every_byte_of_an_append_keeps_exactly_the_confirmed_records(
    tmp_path: Path,
) -> None:
    records = filled(tmp_path / "queue", 3, size=10)  # a snapshot line and two change lines
    (open_file,) = files(tmp_path / "queue", "open-*.json")
    before = open_file.read_bytes()
    last = sighting(3)
    with SightingQueue(tmp_path / "queue", segment_size=10) as queue:
        queue.append(last)
    after = open_file.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 4, "one line appended"
    for cut in range(len(before), len(after) + 1):
        folder = tmp_path / f"cut-{cut}"
        shutil.copytree(tmp_path / "queue", folder)
        (folder / SEGMENTS_DIR / open_file.name).write_bytes(after[:cut])
        with SightingQueue(folder, segment_size=10) as queue:
            whole = cut == len(after)
            assert queue.pending() == records + ([last] if whole else []), f"cut at {cut}"
            assert queue.status()["damaged"] == []
            queue.append(extra := sighting(4))
        with SightingQueue(folder, segment_size=10) as queue:
            assert queue.pending() == records + ([last] if whole else []) + [extra]
        shutil.rmtree(folder)


# --- any sequence of appends, acknowledgements and crashes -----------------------------------

QUEUE_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 3)),
        st.tuples(st.just("ack"), st.integers(0, 2**16)),
        st.tuples(st.just("crash"), st.integers(0, 400)),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=QUEUE_OPERATIONS)
def test_any_appends_acknowledgements_and_crashes_reload_to_the_acknowledged_state(
    tmp_path: Path, operations: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What was confirmed and not acknowledged is queued, in order; nothing else.

    A crash here is the process ending between two operations (everything confirmed is
    on disk already), with an append in progress cut at a random byte: part of a line at
    the end of the open segment, and a temporary file of a compaction cut short.
    """
    monkeypatch.setattr(log_storage, "DEFAULT_COMPACT_FLOOR", 700)
    folder = tmp_path / os.urandom(4).hex()
    expected: list[dict[str, Any]] = []
    number = 0
    queue = SightingQueue(folder, segment_size=5)
    try:
        for kind, value in operations:
            if kind == "append":
                batch = [sighting(number + n) for n in range(value)]
                number += value
                if value == 1:
                    queue.append(batch[0])
                else:
                    queue.append_many(batch)
                expected += batch
            elif kind == "ack" and expected:
                chosen = [r for n, r in enumerate(expected) if value >> (n % 16) & 1]
                assert queue.acknowledge(ids(chosen)) == len(chosen)
                expected = [r for r in expected if r not in chosen]
            elif kind == "crash":
                queue.close()
                for newest in files(folder, "open-*.json")[-1:]:
                    line = json.dumps({"tables": {"sightings": {"set": {
                        "999999": sighting(999)}}}}).encode() + b"\n"
                    with open(newest, "ab") as fh:
                        fh.write(line[: value % len(line)])
                    temp_path(newest).write_bytes(newest.read_bytes()[:value])
                queue = SightingQueue(folder, segment_size=5)
            assert queue.pending() == expected
    finally:
        queue.close()
    with SightingQueue(folder) as reopened:
        assert reopened.pending() == expected
        assert reopened.status()["damaged"] == []
