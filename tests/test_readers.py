"""Merging readers, and the de-bounce window."""

from __future__ import annotations

import pytest

from firmware.readers import ReaderFailed, RepeatFilter, merge_read_bursts
from hal.read import Read


def test_repeat_filter_window_slides_per_source() -> None:
    f = RepeatFilter(2.0)
    assert f.admit("camera", "A", 0.0)
    assert not f.admit("camera", "A", 1.5)
    assert not f.admit("camera", "A", 3.0)  # held in view: the window slid to 1.5
    assert f.admit("camera", "A", 5.5)
    assert f.admit("stdin", "A", 5.6)  # another reader is another read
    assert f.admit("camera", "B", 5.6)


def test_a_zero_window_lets_every_read_through() -> None:
    f = RepeatFilter(0)
    assert [f.admit("x", "A", 1.0) for _ in range(3)] == [True, True, True]


def test_a_forgotten_read_passes_at_once_and_others_stay_held() -> None:
    f = RepeatFilter(2.0)
    assert f.admit("stdin", "A", 0.0) and f.admit("stdin", "B", 0.0)
    f.forget("stdin", "A")
    f.forget("stdin", "never seen")
    assert f.admit("stdin", "A", 0.1)
    assert not f.admit("stdin", "B", 0.1)


def test_pruning_a_crowd_of_keys_keeps_those_still_in_the_window() -> None:
    f = RepeatFilter(2.0)
    assert f.admit("camera", "held", 100.0)
    for n in range(5000):  # more than the filter keeps before it prunes
        assert f.admit("camera", n, 101.0)
    assert not f.admit("camera", "held", 101.5)
    assert not f.admit("camera", 4999, 102.0)


def read(payload: bytes, source: str) -> Read:
    return Read(payload, "QR", source, 0.0)


def merge_reads(streams):
    return [r for burst in merge_read_bursts(streams) for r in burst]


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


def test_one_reader_failing_never_ends_the_others() -> None:
    def broken():
        yield read(b"a", "one")
        raise OSError("camera gone")

    failures: list[ReaderFailed] = []
    others = [read(b"b%d" % i, "two") for i in range(20)]
    merged = [r for burst in merge_read_bursts([broken(), iter(others)],
                                               on_failure=failures.append) for r in burst]
    assert sorted(r.payload for r in merged) == sorted([b"a"] + [r.payload for r in others])
    assert [str(f) for f in failures] == ["camera gone"]
    assert isinstance(failures[0].__cause__, OSError)


def test_a_tick_gives_an_empty_burst_while_no_reader_has_anything() -> None:
    import threading

    gate = threading.Event()

    def slow():
        gate.wait(5)
        yield read(b"late", "one")

    bursts = []
    for burst in merge_read_bursts([slow()], tick=0.01):
        bursts.append(burst)
        if len(bursts) == 3:
            gate.set()
    assert bursts[:3] == [[], [], []]  # the loop ran its timers while waiting
    assert [r.payload for b in bursts for r in b] == [b"late"]


def reader_threads() -> set[object]:
    import threading

    return {t for t in threading.enumerate() if t.name == "reader"}


def test_a_merge_stopped_early_stops_its_readers_and_joins_their_threads() -> None:
    import contextlib
    import os

    from hal.scanner.stdin import StdinScanner

    before = reader_threads()
    read_end, write_end = os.pipe()
    stream = open(read_end, "rb")
    scanner = StdinScanner(stream)
    stopped: list[str] = []

    def stop_readers() -> None:
        stopped.append("stopped")
        scanner.close()

    try:
        with contextlib.closing(merge_read_bursts([scanner.reads()],
                                                  stop_readers=stop_readers)) as bursts:
            os.write(write_end, b"IT-1\n")
            assert [r.payload for r in next(bursts)] == [b"IT-1"]
            assert len(reader_threads() - before) == 1
        # The pipe is still open: only the stop can have ended the thread.
        assert stopped == ["stopped"] and reader_threads() - before == set()
    finally:
        os.close(write_end)
        stream.close()


def test_a_reader_waiting_to_hand_a_read_over_is_let_go_when_the_merge_ends() -> None:
    import threading

    before = reader_threads()
    stop = threading.Event()

    def endless():  # faster than the consumer: its thread waits on a full inbox
        n = 0
        while not stop.is_set():
            n += 1
            yield read(b"%d" % n, "uhf")

    bursts = merge_read_bursts([endless()], most=1, stop_readers=stop.set)
    assert len(next(bursts)) == 1
    bursts.close()
    assert reader_threads() - before == set()
