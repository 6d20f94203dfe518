"""AppendLogStorage: one fsynced line per change, compaction, and what any cut leaves, on real files."""

from __future__ import annotations

import copy
import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinydb import TinyDB
from tinydb.table import Document

from firmware.errors import QueueError
from sync.queue import log_storage
from sync.queue.log_storage import AppendLogStorage, DamagedLog, diff_tables, read_log
from sync.storage import temp_path


def doc(n: int) -> dict[str, Any]:
    return {"sighting_id": f"s{n}", "location": "Büro 3 – Süd", "n": n}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "open.json"


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The kind of every fsync made: "file" or "dir"."""
    calls: list[str] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    yield calls


def failing(error: int) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


def reopened(path: Path) -> Any:
    storage = AppendLogStorage(path)
    try:
        return storage.read()
    finally:
        storage.close()


def test_the_first_write_is_a_tinydb_file_then_each_change_one_line(
    path: Path, fsyncs: list[str]
) -> None:
    with TinyDB(path, storage=AppendLogStorage) as db:
        table = db.table("sightings")
        table.insert(doc(1))
        assert fsyncs == ["file", "dir"], "a new file: complete temporary file, rename"
        with TinyDB(path) as plain:  # one line: TinyDB's own storage reads it
            assert plain.table("sightings").all() == [doc(1)]
        size = path.stat().st_size
        inode = path.stat().st_ino
        fsyncs.clear()
        table.insert(doc(2))
        assert fsyncs == ["file"], "an append: one write, one fsync"
        assert path.stat().st_ino == inode
        grown = path.read_bytes()[size:]
        assert grown.count(b"\n") == 1 and json.loads(grown) == {
            "tables": {"sightings": {"set": {"2": doc(2)}}}}


def test_documents_never_changed_in_place_are_diffed_by_identity(path: Path) -> None:
    with TinyDB(path, storage=AppendLogStorage, immutable_documents=True) as db:
        table = db.table("sightings", cache_size=0)
        table.insert_multiple([doc(n) for n in range(200)])
        size = path.stat().st_size
        table.insert(doc(500))
        table.remove(doc_ids=[3])
        grown = path.read_bytes()[size:].splitlines()
        assert [json.loads(line) for line in grown] == [
            {"tables": {"sightings": {"set": {"201": doc(500)}}}},
            {"tables": {"sightings": {"del": ["3"]}}}]
        expected = copy.deepcopy(db.storage.read())
    assert reopened(path) == expected


def test_every_tinydb_operation_survives_a_reopen(path: Path) -> None:
    with TinyDB(path, storage=AppendLogStorage) as db:
        table = db.table("sightings")
        table.insert_multiple([doc(n) for n in range(5)])
        table.remove(doc_ids=[2])
        table.update({"location": "Lager"}, doc_ids=[3])
        table.upsert(Document({"n": 9}, doc_id=9))
        db.table("meta").insert({"next_seq": 10})
        db.table("other").insert({"x": 1})
        db.drop_table("other")
        expected = copy.deepcopy(db.storage.read())
    assert reopened(path) == expected
    assert set(expected) == {"sightings", "meta"}
    assert expected["sightings"]["3"]["location"] == "Lager" and "2" not in expected["sightings"]


def test_a_write_that_changes_nothing_writes_nothing(path: Path) -> None:
    storage = AppendLogStorage(path)
    storage.write({"t": {"1": doc(1)}})
    before = path.read_bytes()
    storage.write({"t": {"1": doc(1)}})
    assert path.read_bytes() == before
    storage.close()


def log_of(path: Path, changes: int) -> tuple[bytes, list[Any]]:
    """A log of a snapshot and ``changes`` change lines, and the state after each line."""
    storage = AppendLogStorage(path, compact_floor=10**9)
    state: dict[str, dict[str, Any]] = {"t": {"1": doc(1)}}
    storage.write(copy.deepcopy(state))
    states = [copy.deepcopy(state)]
    for n in range(2, 2 + changes):
        if n % 3 == 0:
            del state["t"][str(n - 2)]
        else:
            state["t"][str(n)] = doc(n)
        storage.write(copy.deepcopy(state))
        states.append(copy.deepcopy(state))
    storage.close()
    return path.read_bytes(), states


def test_a_cut_at_every_byte_leaves_the_state_of_the_complete_lines(path: Path) -> None:
    raw, states = log_of(path, 6)
    ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
    assert len(ends) == len(states) == 7
    for cut in range(ends[0], len(raw) + 1):
        whole = sum(1 for end in ends if end <= cut)
        contents = read_log(raw[:cut])
        assert contents.tables == states[whole - 1], f"cut at byte {cut}"
        assert contents.length == ends[whole - 1] and contents.torn == cut - contents.length


def test_a_cut_during_the_first_write_leaves_no_file(path: Path) -> None:
    raw, _ = log_of(path, 0)
    # The first line is only ever written whole (temporary file, rename): a cut before
    # the rename leaves the temporary file, which the next opening removes.
    for cut in range(len(raw)):
        path.unlink(missing_ok=True)
        temp_path(path).write_bytes(raw[:cut])
        assert reopened(path) is None
        assert not temp_path(path).exists()


def test_a_reopened_log_with_a_torn_line_is_compacted_at_the_next_write(path: Path) -> None:
    raw, states = log_of(path, 3)
    path.write_bytes(raw + b'{"tables":{"t":{"set":{"9":{"sighting_id":"s9","lo')
    storage = AppendLogStorage(path)
    assert storage.read() == states[-1] and storage.torn > 0
    storage.write({"t": {**states[-1]["t"], "10": doc(10)}})
    storage.close()
    assert path.read_bytes().count(b"\n") == 1, "rewritten as one snapshot"
    assert reopened(path) == {"t": {**states[-1]["t"], "10": doc(10)}}


@pytest.mark.parametrize("damage", [
    pytest.param(lambda raw, ends: raw[: ends[0] // 2] + b"\n" + raw[ends[0]:], id="snapshot"),
    pytest.param(lambda raw, ends: raw[: ends[1] - 9] + b"\n" + raw[ends[1]:], id="middle-line"),
    pytest.param(lambda raw, ends: b"\0" * len(raw), id="zeroed"),
])
def test_damage_no_cut_can_make_is_reported(path: Path, damage: Any) -> None:
    raw, _ = log_of(path, 3)
    ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
    path.write_bytes(damage(raw, ends))
    with pytest.raises(DamagedLog):
        read_log(path.read_bytes())
    with pytest.raises(QueueError, match="not a valid queue file"):
        AppendLogStorage(path)


def test_the_log_is_compacted_once_it_outgrows_the_live_data(
    path: Path, fsyncs: list[str]
) -> None:
    storage = AppendLogStorage(path, compact_factor=2.0, compact_floor=2000)
    live: dict[str, dict[str, Any]] = {"t": {}}
    storage.write(copy.deepcopy(live))
    compactions = 0
    for n in range(200):
        live["t"][str(n)] = doc(n)
        if len(live["t"]) > 3:
            del live["t"][min(live["t"], key=int)]
        inode = path.stat().st_ino
        fsyncs.clear()
        storage.write(copy.deepcopy(live))
        if path.stat().st_ino != inode:
            compactions += 1
            assert fsyncs == ["file", "dir"]
            assert path.read_bytes().count(b"\n") == 1
        else:
            assert fsyncs == ["file"]
        assert path.stat().st_size <= max(2000, 2 * len(json.dumps(live)) + 400)
    storage.close()
    assert 5 <= compactions <= 60
    assert reopened(path) == live


class Crash(Exception):
    """Stands for the power going off at one step of a compaction."""


STEPS = ["write", "fsync-temp", "replace", "fsync-dir"]


@pytest.mark.parametrize("step", STEPS)
def test_a_compaction_cut_at_each_step_leaves_the_old_or_the_new_state(
    path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    _, states = log_of(path, 4)
    before = states[-1]
    after = {"t": {"50": doc(50)}}
    storage = AppendLogStorage(path, compact_floor=0, compact_factor=1.0)
    real = {name: getattr(os, name) for name in ("write", "fsync", "replace")}

    def cut(name: str, *args: Any) -> Any:
        kind = name
        if name == "fsync":
            kind = "fsync-dir" if stat.S_ISDIR(os.fstat(args[0]).st_mode) else "fsync-temp"
        if kind == step:
            if name == "write":  # half the bytes reach the temporary file
                real["write"](args[0], bytes(args[1])[: len(args[1]) // 2])
            raise Crash(step)
        return real[name](*args)

    for name in real:
        monkeypatch.setattr(os, name, lambda *a, _n=name: cut(_n, *a))
    with pytest.raises(Crash):
        storage.write(copy.deepcopy(after))
    monkeypatch.undo()
    found = reopened(path)
    assert found == (after if step == "fsync-dir" else before)
    assert not temp_path(path).exists()


def test_a_full_disk_during_compaction_keeps_the_log_and_the_next_write_works(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, states = log_of(path, 4)
    storage = AppendLogStorage(path, compact_floor=0, compact_factor=1.0)
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing(errno.ENOSPC))
        with pytest.raises(QueueError, match="disk full"):
            storage.write({"t": {"50": doc(50)}})
    assert path.read_bytes() == raw and not temp_path(path).exists()
    assert storage.read() == states[-1], "memory is the last durable state"
    storage.write({"t": {"51": doc(51)}})
    storage.close()
    assert reopened(path) == {"t": {"51": doc(51)}}


@pytest.mark.parametrize("function", ["write", "fsync"])
def test_a_failed_append_is_taken_back_and_the_next_write_is_whole(
    path: Path, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    raw, states = log_of(path, 2)
    storage = AppendLogStorage(path)
    with monkeypatch.context() as patch:
        patch.setattr(os, function, failing(errno.ENOSPC))
        with pytest.raises(QueueError, match="disk full"):
            storage.write({"t": {**states[-1]["t"], "9": doc(9)}})
    assert path.read_bytes() == raw, "the half-written line was cut off again"
    assert storage.read() == states[-1]
    inode = path.stat().st_ino
    storage.write({"t": {**states[-1]["t"], "10": doc(10)}})
    assert path.stat().st_ino != inode, "after a failed fsync the file is written again whole"
    storage.close()
    assert reopened(path) == {"t": {**states[-1]["t"], "10": doc(10)}}


def test_what_json_cannot_hold_is_refused_and_nothing_written(path: Path) -> None:
    storage = AppendLogStorage(path)
    with pytest.raises(ValueError):
        storage.write({"t": {"1": {"x": float("nan")}}})
    assert not path.exists()
    storage.write({"t": {"1": doc(1)}})
    before = path.read_bytes()
    with pytest.raises(ValueError):
        storage.write({"t": {"1": doc(1), "2": {"x": float("inf")}}})
    assert path.read_bytes() == before and storage.read() == {"t": {"1": doc(1)}}
    storage.close()


def test_diff_tables() -> None:
    old = {"a": {"1": {"x": 1}, "2": {"x": 2}}, "gone": {}}
    new = {"a": {"1": {"x": 1}, "2": {"x": 3}, "4": {"x": 4}}, "b": {}}
    assert diff_tables(old, new) == {"tables": {"a": {"set": {"2": {"x": 3}, "4": {"x": 4}}},
                                                "b": {}}, "drop": ["gone"]}
    assert diff_tables(new, new) == {}


# --- any sequence of changes and cuts ----------------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(0, 30)),
        st.tuples(st.just("remove"), st.integers(0, 30)),
        st.tuples(st.just("update"), st.integers(0, 30)),
        st.tuples(st.just("crash"), st.floats(0, 1)),
    ),
    max_size=40,
)


@pytest.mark.parametrize("immutable", [False, True], ids=["compared", "by-identity"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_changes_and_cuts_reload_to_the_confirmed_state(
    tmp_path: Path, operations: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch,
    immutable: bool,
) -> None:
    """Each confirmed write is kept; a cut inside the write in progress loses only that one."""
    monkeypatch.setattr(log_storage, "DEFAULT_COMPACT_FLOOR", 600)
    path = tmp_path / f"log-{os.urandom(4).hex()}.json"
    confirmed: dict[str, dict[str, Any]] = {"t": {}}

    def opened() -> AppendLogStorage:
        return AppendLogStorage(path, immutable_documents=immutable)

    storage = opened()
    storage.write(copy.deepcopy(confirmed))
    for kind, value in operations:
        if kind == "crash":
            # The power goes while the next change is being appended: a part of its line.
            size = path.stat().st_size
            nxt = {"t": {**confirmed["t"], "99": doc(99)}}
            storage.write(copy.deepcopy(nxt))
            storage.close()
            grown = path.stat().st_size - size
            keep = int(value * grown)
            if path.read_bytes().count(b"\n") > 1:  # appended, not compacted
                os.truncate(path, size + keep)
                if keep == grown:
                    confirmed = nxt
            else:
                confirmed = nxt
            storage = opened()
            assert storage.read() == confirmed
            continue
        state = copy.deepcopy(confirmed)
        key = str(value)
        if kind == "insert":
            state["t"][key] = doc(value)
        elif kind == "remove":
            state["t"].pop(key, None)
        elif key in state["t"]:
            state["t"][key] = {**state["t"][key], "n": -value}
        storage.write(copy.deepcopy(state))
        confirmed = state
    storage.close()
    assert reopened(path) == confirmed
