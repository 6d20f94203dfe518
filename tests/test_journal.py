"""The JSON-lines journal the room journal, the movement log and the files outbox write."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from sync import journal as journal_module
from sync.journal import JsonLinesJournal, encode_line, read_lines


@pytest.fixture()
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fsync the journal makes (each still done), by descriptor."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_one_write_and_one_fsync_per_append_of_a_batch(
        tmp_path: Path, fsyncs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.jsonl"
    journal = JsonLinesJournal(path, keep_open=True)
    journal.append([{"n": 0}])  # creates the file: its fsync and the folder's
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    fsyncs.clear()
    journal.append([{"n": n} for n in range(1, 6)])
    journal.append([{"n": 6}])
    assert len(fsyncs) == 2 and len(writes) == 2
    journal.close()
    assert [json.loads(line)["n"] for line in path.read_bytes().splitlines()] == list(range(7))


def test_a_new_file_gets_its_header_first_and_a_durable_entry(
        tmp_path: Path, fsyncs: list[int]) -> None:
    path = tmp_path / "rooms" / "room.jsonl"
    with JsonLinesJournal(path, header={"type": "room"}, keep_open=True) as journal:
        journal.append([{"type": "sighting"}])
        journal.append([{"type": "resumed"}])
    assert path.read_bytes() == b'{"type":"room"}\n{"type":"sighting"}\n{"type":"resumed"}\n'
    # header, the folder's entry, then one per append
    assert len(fsyncs) == 4
    again = JsonLinesJournal(path, header={"type": "room"})
    again.append([{"type": "locate"}])
    assert path.read_bytes().count(b'{"type":"room"}') == 1


def test_bytes_written_counts_every_byte_put_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    journal = JsonLinesJournal(path, header={"h": 1})
    assert journal.append([]) == 0 and not path.exists()
    assert journal.append([{"a": "é"}]) == len('{"a":"é"}\n'.encode())
    journal.write(b'{"b":2}\n')
    assert journal.bytes_written == path.stat().st_size


def test_lines_are_compact_utf8_json() -> None:
    assert encode_line({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}\n'.encode()


def test_a_torn_last_line_is_cut_off_the_file_and_a_damaged_one_skipped(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"n":1}\nnot json\n{"n":2}\n{"n":3,"x"')
    entries, damaged = read_lines(path)
    assert entries == [{"n": 1}, {"n": 2}] and damaged == 1
    assert path.read_bytes() == b'{"n":1}\nnot json\n{"n":2}\n'
    JsonLinesJournal(path).append([{"n": 4}])
    assert read_lines(path) == ([{"n": 1}, {"n": 2}, {"n": 4}], 1)


def test_a_write_that_fails_is_cut_back_and_the_journal_stays_usable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.jsonl"
    journal = JsonLinesJournal(path, keep_open=True)
    journal.append([{"n": 1}])
    real_write = os.write
    full = {"on": True}

    def half_then_full(fd: int, data: bytes) -> int:
        if not full["on"]:
            return real_write(fd, data)
        if len(data) > 4:
            return real_write(fd, bytes(data)[:4])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module, "write_and_fsync",
                        lambda fd, data: (_write_all(half_then_full, fd, data), os.fsync(fd)))
    with pytest.raises(OSError):
        journal.append([{"n": 2}])
    assert path.read_bytes() == b'{"n":1}\n'
    full["on"] = False
    journal.append([{"n": 3}])
    journal.close()
    assert read_lines(path) == ([{"n": 1}, {"n": 3}], 0)


def _write_all(write, fd: int, data: bytes) -> None:  # type: ignore[no-untyped-def]
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def test_the_header_takes_fields_until_the_file_is_written(tmp_path: Path) -> None:
    journal = JsonLinesJournal(tmp_path / "j.jsonl", header={"type": "room"})
    assert journal.amend_header({"campaign": "Q4"})
    journal.append([{"n": 1}])
    assert not journal.amend_header({"campaign": "later"})
    journal.close()
    lines = (tmp_path / "j.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"type": "room", "campaign": "Q4"},
                                                   {"n": 1}]
