"""AtomicJSONStorage: atomic replace, read cache, recovery and honest errors, on real files."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from firmware.errors import QueueError
from sync.storage import (
    AtomicJSONStorage,
    fsync_directory,
    load_tables,
    replace_file,
    salvage_tables,
    sync_filesystem,
    temp_path,
)


def sample() -> dict[str, Any]:
    """Fresh tables each time: the storage keeps the very dict it was given."""
    record = {"sighting_id": "a", "location": "Büro 3 – Süd"}
    return {"sightings": {"1": {"seq": 1, "record": record}}}



@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "queue.json"


@pytest.fixture
def storage(path: Path) -> Iterator[AtomicJSONStorage]:
    store = AtomicJSONStorage(path)
    try:
        yield store
    finally:
        store.close()


def failing(error: int) -> Callable[..., Any]:
    """A stand-in for an os function that fails like a full or broken disk."""

    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


def test_missing_file_reads_as_none_and_is_not_created(
    storage: AtomicJSONStorage, path: Path
) -> None:
    assert storage.read() is None
    assert not path.exists()


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_empty_file_reads_as_none(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    assert AtomicJSONStorage(path).read() is None


def test_write_then_read_and_reopen(storage: AtomicJSONStorage, path: Path) -> None:
    storage.write(sample())
    assert storage.read() == sample()
    assert AtomicJSONStorage(path).read() == sample()


def test_file_is_utf8_json_whatever_the_locale(storage: AtomicJSONStorage, path: Path) -> None:
    storage.write(sample())
    raw = path.read_bytes()
    assert "Büro 3 – Süd".encode() in raw
    assert json.loads(raw.decode("utf-8")) == sample()


def test_reads_come_from_memory(storage: AtomicJSONStorage, path: Path) -> None:
    storage.write(sample())
    path.write_text('{"other": {}}', encoding="utf-8")
    assert storage.read() == sample()


def test_write_replaces_the_file_and_leaves_no_temp(storage: AtomicJSONStorage, path: Path) -> None:
    storage.write({"t": {}})
    inode = path.stat().st_ino
    storage.write(sample())
    assert path.stat().st_ino != inode
    assert not temp_path(path).exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_write_fsyncs_temp_then_renames_then_fsyncs_directory(
    storage: AtomicJSONStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    storage.write(sample())
    assert events == ["fsync file", "replace", "fsync dir"]


def test_leftover_temp_file_is_removed_on_open(path: Path) -> None:
    AtomicJSONStorage(path).write(sample())
    temp_path(path).write_bytes(b'{"sightings": {"1": {"se')
    storage = AtomicJSONStorage(path)
    assert not temp_path(path).exists()
    assert storage.read() == sample()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"sightings": {"1": {"seq": 1', id="truncated"),
        pytest.param(b'{"sightings": {}}gs": {"1": {}}}', id="old-tail"),
        pytest.param(b'{"sightings": {"1": "\xff\xfe"}}', id="not-utf8"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"sightings": [1]}', id="table-not-an-object"),
    ],
)
def test_corrupt_file_raises_and_is_left_untouched(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(QueueError, match="left untouched") as caught:
        AtomicJSONStorage(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize(
    ("function", "error", "wording"),
    [
        ("write", errno.ENOSPC, "disk full"),
        ("fsync", errno.ENOSPC, "disk full"),
        ("write", errno.EIO, os.strerror(errno.EIO)),
        ("replace", errno.EROFS, os.strerror(errno.EROFS)),
    ],
)
def test_failed_write_keeps_the_old_file_and_memory(
    storage: AtomicJSONStorage,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    error: int,
    wording: str,
) -> None:
    storage.write(sample())
    before = path.read_bytes()
    tables = storage.read()
    assert tables is not None
    # TinyDB changes the dict it read before handing it to write().
    tables["sightings"] = {}
    with monkeypatch.context() as patch:
        patch.setattr(os, function, failing(error))
        with pytest.raises(QueueError, match=wording) as caught:
            storage.write(tables)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert not temp_path(path).exists()
    assert storage.read() == sample()


def test_failed_directory_fsync_reports_error_but_memory_matches_disk(
    storage: AtomicJSONStorage, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.write({"t": {}})
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        with pytest.raises(QueueError):
            storage.write(sample())
    assert storage.read() == sample() == json.loads(path.read_bytes())
    inode = path.stat().st_ino
    storage.ensure_durable()
    assert path.stat().st_ino != inode, "a write that was not confirmed durable must be redone"
    inode = path.stat().st_ino
    storage.ensure_durable()
    assert path.stat().st_ino == inode


def test_unserialisable_data_writes_nothing(storage: AtomicJSONStorage, path: Path) -> None:
    storage.write(sample())
    before = path.read_bytes()
    with pytest.raises(TypeError):
        storage.write({"t": {"1": {"x": object()}}})
    with pytest.raises(ValueError):
        storage.write({"t": {"1": {"x": float("nan")}}})
    assert path.read_bytes() == before
    assert storage.read() == sample()


def test_closed_storage_refuses_use(storage: AtomicJSONStorage) -> None:
    storage.close()
    with pytest.raises(QueueError, match="closed"):
        storage.read()
    with pytest.raises(QueueError, match="closed"):
        storage.write(sample())


def test_tinydb_over_the_storage(path: Path) -> None:
    with TinyDB(path, storage=AtomicJSONStorage) as db:
        db.table("t").insert({"name": "Zoë"})
        db.table("t").insert({"name": "Åsa"})
        db.table("t").remove(doc_ids=[1])
    with TinyDB(path, storage=AtomicJSONStorage) as db:
        assert db.table("t").all() == [{"name": "Åsa"}]


def test_replace_file_error_leaves_target_and_no_temp(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.write_bytes(b"old")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", failing(errno.ENOSPC))
        with pytest.raises(OSError):
            replace_file(path, b"new")
    assert path.read_bytes() == b"old"
    assert not temp_path(path).exists()


def test_directory_fsync_tolerates_only_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", failing(errno.EINVAL))
        fsync_directory(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", failing(errno.EIO))
        with pytest.raises(OSError):
            fsync_directory(tmp_path)


# --- helpers for the segmented queue ----------------------------------------------------------


def test_load_tables_is_strict() -> None:
    assert load_tables(b" \n") is None
    assert load_tables(b'{"t": {"1": {}}}') == {"t": {"1": {}}}
    for raw in (b'{"t": {"1"', b"[1]", b'{"t": 1}', b'{"t": {"1": "\xff"}}'):
        with pytest.raises(ValueError):
            load_tables(raw)


def test_salvage_keeps_every_complete_document_before_the_damage() -> None:
    tables = {"meta": {"1": {"next_seq": 9}},
              "sightings": {str(n): {"sighting_id": f"s{n}", "n": [n, {"deep": "é"}]}
                            for n in range(1, 6)}}
    raw = json.dumps(tables, ensure_ascii=False, indent=1).encode()
    assert salvage_tables(raw) == tables
    cut = raw.index(b'"s4"')
    assert salvage_tables(raw[:cut]) == {"meta": tables["meta"], "sightings": {
        str(n): tables["sightings"][str(n)] for n in range(1, 4)}}
    bad = raw.replace(b'"s3"', b'"s\xff3"')
    assert list(salvage_tables(bad)["sightings"]) == ["1", "2"]
    assert salvage_tables(b"") == {} and salvage_tables(b"\0\0\0") == {}
    assert salvage_tables(b'{"sightings": {"1": {"a": 1}} garbage') == {
        "sightings": {"1": {"a": 1}}}


def test_a_replace_that_need_not_be_durable_skips_the_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    replace_file(tmp_path / "cache", b"abc", durable=False)
    assert calls == [] and (tmp_path / "cache").read_bytes() == b"abc"
    replace_file(tmp_path / "cache", b"abcd")
    assert len(calls) == 1 and not temp_path(tmp_path / "cache").exists()


def test_tables_given_at_opening_are_not_read_again_nor_flushed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.write_bytes(b'{"t": {"1": {"a": 1}}}')
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    storage = AtomicJSONStorage(path, tables={"t": {"1": {"a": 2}}}, flush_found=False)
    assert storage.read() == {"t": {"1": {"a": 2}}} and calls == []
    AtomicJSONStorage(path, flush_found=False)
    assert calls == []
    AtomicJSONStorage(path)
    assert len(calls) == 2  # the file and its directory


def test_sync_filesystem_writes_out_the_folders_file_system(tmp_path: Path) -> None:
    """What a FAT stick's directory entries need after a write (tests/vm/
    test_stick_durability.py shows the report lost without it); here: it runs, and a
    folder that is not there is an OSError, not a silent success."""
    (tmp_path / "report.json").write_text("{}")
    sync_filesystem(tmp_path)
    with pytest.raises(OSError):
        sync_filesystem(tmp_path / "gone")


def test_the_outbox_flushes_a_whole_file_system_only_on_fat(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """syncfs on a USB stick's FAT, never on the device's own ext4 (an SD card flushed
    whole at every sync round for nothing)."""
    from sync import durable_files as storage

    told = subprocess.run(["stat", "-f", "-c", "%t", str(tmp_path)], capture_output=True,
                          text=True, check=True).stdout
    assert storage.filesystem_type(tmp_path) == int(told, 16)  # what coreutils reads
    assert storage.filesystem_type(tmp_path) not in storage.FAT_LIKE
    with pytest.raises(OSError):
        storage.sync_if_fat(tmp_path / "gone")
    synced: list[str] = []
    monkeypatch.setattr(storage, "sync_filesystem", lambda folder: synced.append(str(folder)))
    storage.sync_if_fat(tmp_path)
    assert synced == []
    monkeypatch.setattr(storage, "filesystem_type", lambda folder: 0x4D44)
    storage.sync_if_fat(tmp_path)
    assert synced == [str(tmp_path)]
