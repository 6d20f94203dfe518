"""The stdin scanner stand-in: one scan per line, whatever ends the line, as soon as it ends."""

from __future__ import annotations

import io
import os
import queue
import threading
from typing import BinaryIO

import pytest

from hal.errors import DeviceError
from hal.read import Read
from hal.scanner import NullScanner, ScannerSettings, open_scanners
from hal.scanner.stdin import LINE_LIMIT, StdinScanner


def payloads(data: bytes) -> list[bytes]:
    return [r.payload for r in StdinScanner(io.BytesIO(data)).reads()]


def test_lines_are_reads_with_line_endings_removed_and_bytes_untouched() -> None:
    stream = io.BytesIO(b"IT-1\r\n\nIT-\xff2\n  \nlast")
    ticks = iter(range(10))
    reads = list(StdinScanner(stream, clock=lambda: float(next(ticks))).reads())
    assert [r.payload for r in reads] == [b"IT-1", b"IT-\xff2", b"  ", b"last"]
    assert {r.source for r in reads} == {"stdin"} and {r.symbology for r in reads} == {"UNKNOWN"}
    assert [r.at for r in reads] == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("data", [
    b"A\rB\r", b"A\nB\n", b"A\r\nB\r\n", b"A\rB\n", b"A\r\n\r\nB", b"\r\n\rA\n\nB\r\n\r",
])
def test_cr_lf_and_crlf_each_end_a_scan(data: bytes) -> None:
    assert payloads(data) == [b"A", b"B"]


class Trickle(io.RawIOBase):
    """A stream that hands over ``size`` bytes at a time at most, like a slow pipe."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size = data, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(self._size, len(buffer), len(self._data))
        buffer[:n], self._data = self._data[:n], self._data[n:]
        return n


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_a_crlf_split_between_two_reads_is_still_one_ending(size: int) -> None:
    data = b"IT-1\r\nIT-2\r\n\r\nIT-3\r"
    reads = StdinScanner(io.BufferedReader(Trickle(data, size), buffer_size=size)).reads()
    assert [r.payload for r in reads] == [b"IT-1", b"IT-2", b"IT-3"]


@pytest.mark.parametrize("ending", [b"\n", b"\r", b"\r\n"])
def test_an_endless_line_is_cut_and_the_next_line_still_comes(ending: bytes) -> None:
    got = payloads(b"x" * (LINE_LIMIT * 3) + ending + b"IT-1" + ending)
    assert got == [b"x" * (LINE_LIMIT + 1), b"IT-1"]


def test_a_line_at_the_limit_is_whole_and_one_byte_more_is_kept_to_be_rejected() -> None:
    at_limit, over = b"a" * LINE_LIMIT, b"b" * (LINE_LIMIT + 1)
    assert payloads(at_limit + b"\r" + over + b"\r") == [at_limit, over]


def test_a_stream_without_read1_is_read_byte_by_byte() -> None:
    class OnlyRead:
        def __init__(self, data: bytes) -> None:
            self.data, self.asked = data, []

        def read(self, n: int) -> bytes:
            self.asked.append(n)
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    stream = OnlyRead(b"A\rB\n")
    scanner = StdinScanner(stream)  # type: ignore[arg-type]
    assert [r.payload for r in scanner.reads()] == [b"A", b"B"]
    assert set(stream.asked) == {1}


def first_read_while_the_writer_waits(reader: BinaryIO, write: int) -> Read:
    """Send one scan ended by CR alone and return the first read, the pipe still open."""
    got: queue.Queue[object] = queue.Queue()

    def consume() -> None:
        try:
            for scan in StdinScanner(reader).reads():
                got.put(scan)
        except Exception as exc:  # handed to the test thread, which raises it
            got.put(exc)
        got.put(None)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        os.write(write, b"IT-1\r")
        first = got.get(timeout=10)  # the read must come without the writer closing
        os.write(write, b"IT-2\r\n")
        second = got.get(timeout=10)
    finally:
        os.close(write)
    thread.join(timeout=10)
    assert got.get(timeout=10) is None and not thread.is_alive()
    assert isinstance(first, Read) and isinstance(second, Read), (first, second)
    assert second.payload == b"IT-2"
    return first


def test_a_scan_on_a_pipe_is_yielded_as_soon_as_its_cr_arrives() -> None:
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as reader:  # buffered: has read1
        assert first_read_while_the_writer_waits(reader, write_end).payload == b"IT-1"


def test_an_unbuffered_pipe_also_yields_each_scan_at_once() -> None:
    read_end, write_end = os.pipe()
    with open(read_end, "rb", buffering=0) as reader:  # raw FileIO: no read1
        assert first_read_while_the_writer_waits(reader, write_end).payload == b"IT-1"


def test_a_stream_that_fails_is_a_device_error() -> None:
    stream = io.BytesIO(b"IT-1\n")
    stream.close()
    with pytest.raises(DeviceError, match="cannot read scans from standard input"):
        list(StdinScanner(stream).reads())


def test_no_standard_input_at_all_is_no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    assert list(StdinScanner().reads()) == []


def test_open_scanner_backends() -> None:
    (nothing,) = open_scanners(ScannerSettings("none"))
    assert isinstance(nothing, NullScanner) and list(nothing.reads()) == []
    (scanner,) = open_scanners(ScannerSettings("stdin"), stream=io.BytesIO(b"IT-9\r"))
    assert isinstance(scanner, StdinScanner)
    assert [r.payload for r in scanner.reads()] == [b"IT-9"]
    with pytest.raises(ValueError, match="stdin, evdev, none"):
        open_scanners(ScannerSettings("bluetooth"))


def consume_in_a_thread(scanner: StdinScanner) -> tuple[threading.Thread, queue.Queue[object]]:
    """Iterate ``scanner.reads()`` in a thread of its own, as the device loop does."""
    got: queue.Queue[object] = queue.Queue()

    def consume() -> None:
        try:
            for scan in scanner.reads():
                got.put(scan)
        except Exception as exc:  # handed to the test thread
            got.put(exc)
        got.put(None)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread, got


@pytest.mark.parametrize("kind", ["pipe", "pty"])
def test_close_ends_a_read_waiting_on_open_input_and_drops_the_unended_line(kind: str) -> None:
    read_end, write_end = os.openpty() if kind == "pty" else os.pipe()
    if kind == "pty":
        read_end, write_end = write_end, read_end  # the device reads the terminal's side
    stream = open(read_end, "rb")
    scanner = StdinScanner(stream)
    thread, got = consume_in_a_thread(scanner)
    try:
        os.write(write_end, b"IT-1\n")
        first = got.get(timeout=10)
        assert isinstance(first, Read) and first.payload == b"IT-1"
        os.write(write_end, b"IT-2")  # typed, not ended: not a scan
        scanner.close()  # input still open: the waiting read must end anyway
        thread.join(timeout=10)
        assert not thread.is_alive(), "close() left the reading thread inside its read"
        assert got.get(timeout=1) is None and got.empty()
        scanner.close()  # twice is harmless
    finally:
        os.close(write_end)  # ends a read close() failed to end, so the test cannot hang
        thread.join(timeout=10)
        stream.close()


def test_a_last_line_without_its_ending_is_a_scan_when_a_pipe_ends() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"IT-1\nIT-2")
    os.close(write_end)
    with open(read_end, "rb") as stream, StdinScanner(stream) as scanner:
        assert [r.payload for r in scanner.reads()] == [b"IT-1", b"IT-2"]


def test_a_terminal_hung_up_ends_the_scanner_like_the_end_of_input() -> None:
    master, slave = os.openpty()
    os.write(master, b"IT-1\n")
    try:
        with open(slave, "rb", closefd=False) as stream, StdinScanner(stream) as scanner:
            reads = scanner.reads()
            assert next(reads).payload == b"IT-1"
            os.close(master)  # the terminal window was closed
            master = -1
            assert list(reads) == []
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


def test_a_non_blocking_descriptor_with_nothing_yet_is_waited_on_not_an_error() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)  # as a parent sharing the pipe may have left it
    stream = open(read_end, "rb")
    scanner = StdinScanner(stream)
    thread, got = consume_in_a_thread(scanner)
    try:
        os.write(write_end, b"IT-1\n")
        first = got.get(timeout=10)
        assert isinstance(first, Read) and first.payload == b"IT-1"
    finally:
        os.close(write_end)
        thread.join(timeout=10)
        stream.close()
    assert got.get(timeout=1) is None
