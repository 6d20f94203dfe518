"""A full disk: appends fail cleanly, nothing queued is harmed, the next append after space is
freed works. First with an ENOSPC-raising layer over ``os``, then on a real, tiny tmpfs."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import QueueError
from sync.queue import SEGMENTS_DIR, SightingQueue


def sighting(number: int) -> dict[str, Any]:
    return {"sighting_id": str(uuid.uuid4()), "n": number, "payload": "x" * 200}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["sighting_id"] for record in records]


def snapshot(folder: Path) -> dict[str, bytes]:
    """The segment files (open and sealed) and their bytes."""
    return {p.name: p.read_bytes() for p in sorted((folder / SEGMENTS_DIR).glob("*-*.json"))}


class DiskFull:
    """Makes ``os.write`` and the ``os.fsync`` of files fail with ENOSPC while ``full`` is set.

    Flushing a directory after an unlink or a rename allocates nothing, so it still works.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        for name in ("write", "fsync"):
            monkeypatch.setattr(os, name, self._wrap(getattr(os, name)))

    def _wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(fd: int, *args: Any) -> Any:
            if self.full and not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, *args)

        return call


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> DiskFull:
    return DiskFull(monkeypatch)


@pytest.mark.parametrize("held", [0, 2, 3], ids=["first-append", "open-segment", "roll-over"])
def test_an_append_on_a_full_disk_fails_and_harms_nothing(
    tmp_path: Path, disk: DiskFull, held: int
) -> None:
    kept = [sighting(n) for n in range(held)]
    refused, later = sighting(50), sighting(51)
    with SightingQueue(tmp_path, segment_size=3) as queue:
        for record in kept:
            queue.append(record)
        before = snapshot(tmp_path)
        disk.full = True
        with pytest.raises(QueueError, match="disk full"):
            queue.append(refused)
        with pytest.raises(QueueError, match="disk full"):
            queue.append_many([refused, later])
        disk.full = False
        assert snapshot(tmp_path) == before
        assert not list(tmp_path.rglob("*.tmp"))
        assert queue.pending() == kept
        queue.append(refused)  # space is back: no restart needed
        assert queue.append_many([refused, later]) == 1
        assert queue.pending() == kept + [refused, later]
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == kept + [refused, later]


def test_a_seal_on_a_full_disk_leaves_the_open_segment_as_it_was(
    tmp_path: Path, disk: DiskFull
) -> None:
    records = [sighting(n) for n in range(2)]
    with SightingQueue(tmp_path, segment_size=10, seal_after=0.0) as queue:
        for record in records:
            queue.append(record)
        disk.full = True
        assert queue.pending() == records  # the quiet seal fails quietly, reading works
        disk.full = False
        assert queue.pending() == records
        assert list((tmp_path / SEGMENTS_DIR).glob("seg-*.json"))


def test_acknowledge_on_a_full_disk_fails_cleanly_then_works(
    tmp_path: Path, disk: DiskFull
) -> None:
    records = [sighting(n) for n in range(7)]
    with SightingQueue(tmp_path, segment_size=3) as queue:
        for record in records:
            queue.append(record)
        disk.full = True
        for taken in ([records[0]], [records[6]]):  # a sealed segment, the open one
            with pytest.raises(QueueError, match="disk full"):
                queue.acknowledge(ids(taken))
        # Deleting a whole sealed segment needs no space at all.
        assert queue.acknowledge(ids(records[3:6])) == 3
        disk.full = False
        assert queue.pending() == records[:3] + records[6:]
        assert queue.acknowledge(ids([records[0], records[6]])) == 2
    with SightingQueue(tmp_path) as queue:
        assert queue.pending() == records[1:3]


# --- a real full filesystem ----------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs mounted for the test; skipped where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill(path: Path) -> None:
    """Write to ``path`` until the filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_really_full_filesystem(tiny_disk: Path) -> None:
    queued: list[dict[str, Any]] = []
    filler = tiny_disk / "filler"
    with SightingQueue(tiny_disk / "state", segment_size=10) as queue:
        for n in range(25):
            record = sighting(n)
            queue.append(record)
            queued.append(record)
        fill(filler)
        refused = 0
        for n in range(25, 200):
            record = sighting(n)
            try:
                queue.append(record)
                queued.append(record)
            except QueueError as exc:
                assert "disk full" in str(exc)
                refused += 1
        assert refused > 0, "the disk never filled up"
        assert queue.pending() == queued, "a full disk harmed what was queued"
        # A sync empties whole sealed segments first, which frees space for the rest.
        taken = queued[:10] + queued[12:13]
        assert queue.acknowledge(ids(taken)) == 11
        queued = [r for r in queued if r not in taken]
        filler.unlink()
        later = sighting(500)
        queue.append(later)  # space is back: no restart needed
        queued.append(later)
        assert queue.pending() == queued
    with SightingQueue(tiny_disk / "state") as queue:
        assert queue.pending() == queued
        assert queue.status()["damaged"] == []
