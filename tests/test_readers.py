"""The stdin scanner stand-in, merging readers, and the de-bounce window."""

from __future__ import annotations

import io

import pytest

from firmware.readers import ReaderFailed, RepeatFilter, merge_reads
from hal.read import Read
from hal.scanner import open_scanner
from hal.scanner.stdin import LINE_LIMIT, StdinScanner


def test_stdin_lines_are_reads_with_line_endings_removed_and_bytes_untouched() -> None:
    stream = io.BytesIO(b"IT-1\r\n\nIT-\xff2\n  \nlast")
    ticks = iter(range(10))
    reads = list(StdinScanner(stream, clock=lambda: float(next(ticks))).reads())
    assert [r.payload for r in reads] == [b"IT-1", b"IT-\xff2", b"  ", b"last"]
    assert {r.source for r in reads} == {"stdin"} and {r.symbology for r in reads} == {"UNKNOWN"}
    assert [r.at for r in reads] == [0.0, 1.0, 2.0, 3.0]


def test_an_endless_line_is_cut_and_the_next_line_still_comes() -> None:
    stream = io.BytesIO(b"x" * (LINE_LIMIT * 3) + b"\nIT-1\n")
    reads = list(StdinScanner(stream).reads())
    assert len(reads[0].payload) == LINE_LIMIT + 1 and reads[1].payload == b"IT-1"


def test_open_scanner_backends() -> None:
    assert open_scanner("none") is None
    assert isinstance(open_scanner("stdin", stream=io.BytesIO()), StdinScanner)
    with pytest.raises(ValueError, match="stdin, none"):
        open_scanner("bluetooth")


def test_repeat_filter_window_slides_per_source() -> None:
    f = RepeatFilter(2.0)
    assert f.admit("camera", "A", 0.0)
    assert not f.admit("camera", "A", 1.5)
    assert not f.admit("camera", "A", 3.0)  # held in view: the window slid to 1.5
    assert f.admit("camera", "A", 5.5)
    assert f.admit("stdin", "A", 5.6)  # another reader is another read
    assert f.admit("camera", "B", 5.6)
    assert RepeatFilter(0).admit("x", "A", 1.0) and RepeatFilter(0).admit("x", "A", 1.0)


def read(payload: bytes, source: str) -> Read:
    return Read(payload, "QR", source, 0.0)


def test_merge_reads_takes_everything_from_every_reader() -> None:
    one = [read(b"a%d" % i, "one") for i in range(50)]
    two = [read(b"b%d" % i, "two") for i in range(50)]
    merged = list(merge_reads([iter(one), iter(two)]))
    assert sorted(r.payload for r in merged) == sorted(r.payload for r in one + two)
    assert [r for r in merged if r.source == "one"] == one  # each reader's order is kept


def test_merge_reads_raises_a_reader_failure() -> None:
    def broken():
        yield read(b"a", "one")
        raise OSError("scanner unplugged")

    with pytest.raises(ReaderFailed, match="scanner unplugged"):
        list(merge_reads([broken(), iter([read(b"b", "two")])]))
