"""The serial UHF reader, driven through pyserial's ``loop://`` port: what is written is read."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable

import pytest
import serial

from firmware.epc import decode_epc
from hal.errors import DeviceError
from hal.read import Read
from hal.rfid import SerialUhfReader
from hal.rfid.serial_uhf import LINE_LIMIT, parse_epc_line

GIAI = "3414257BF400000000BC6038"
SGTIN = "3074257BF7194E4000001A85"
WAIT = 10.0  # the longest any one expected read may take; never reached when all is well


class Collector:
    """Drains ``reader.reads()`` in a thread, so that a test can wait with a time limit."""

    def __init__(self, reader: SerialUhfReader) -> None:
        self.items: queue.Queue[object] = queue.Queue()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(reader,), daemon=True)
        self.thread.start()

    def _run(self, reader: SerialUhfReader) -> None:
        try:
            for read in reader.reads():
                self.items.put(read)
        except Exception as exc:  # handed to the test
            self.items.put(exc)
        finally:
            self.ended.set()

    def take(self, n: int) -> list[Read]:
        out = []
        for _ in range(n):
            item = self.items.get(timeout=WAIT)
            if isinstance(item, BaseException):
                raise item
            out.append(item)
        return out

    def error(self) -> BaseException:
        item = self.items.get(timeout=WAIT)
        assert isinstance(item, BaseException), item
        return item


def ticking(values: Iterable[float] | None = None):
    """A clock giving ``values`` in turn (0, 1, 2… when None): one tick per EPC line."""
    it = iter(values) if values is not None else (float(i) for i in range(10**9))
    return lambda: next(it)


def epc(i: int) -> str:
    return f"34{i:022X}"


@pytest.mark.parametrize(("line", "expected"), [
    (GIAI.encode(), GIAI),
    (GIAI.lower().encode(), GIAI),
    (b"EPC:" + GIAI.encode(), GIAI),
    (b"EPC: " + GIAI.encode() + b"  ", GIAI),
    (b"epc = " + GIAI.encode(), GIAI),
    (b"34 14 25 7B F4 00 00 00 00 BC 60 38", GIAI),
    (b"3814257BF60C286B58B266BFC000000000000000000000000000",
     "3814257BF60C286B58B266BFC000000000000000000000000000"),
    (b"", None),
    (b"hello", None),
    (b"EPC:3414257BF4", None),  # too short
    (GIAI.encode()[:-1], None),  # 23 digits
    (b"F" * 125, None),  # longer than any Gen2 EPC
    (GIAI.encode() + b"G", None),
    (b"EPC " + GIAI.encode(), None),  # a label needs its colon: "EPC" would be read as hex
    (b"EPC:" + GIAI.encode() + b" RSSI:-60", None),
    (GIAI.encode() + b"\xff", None),
    ("３４１４２５７ＢＦ４００００００００ＢＣ６０３８".encode(), None),
])
def test_parse_epc_line(line: bytes, expected: str | None) -> None:
    assert parse_epc_line(line) == expected


def test_frames_written_to_the_port_come_out_as_reads() -> None:
    with SerialUhfReader("loop://", clock=ticking()) as reader:
        reader.port.write(f"EPC:{GIAI}\r\n{SGTIN.lower()}\n".encode())
        # a frame split between writes, its CR LF too
        collector = Collector(reader)
        reads = collector.take(2)
        reader.port.write(b"EPC: 3814257BF60C286B58B266BFC0000000")
        reader.port.write(b"00000000000000000000\r")
        reader.port.write(b"\n")
        reads += collector.take(1)
    assert reads == [
        Read(GIAI.encode(), "EPC", "uhf", 0.0),
        Read(SGTIN.encode(), "EPC", "uhf", 1.0),
        Read(b"3814257BF60C286B58B266BFC000000000000000000000000000", "EPC", "uhf", 2.0),
    ]
    assert decode_epc(reads[0].payload).giai == "061414112345400"
    assert collector.ended.wait(WAIT)
    assert not reader.port.is_open


def test_a_burst_of_300_distinct_tags_all_comes_out() -> None:
    tags = [epc(i) for i in range(300)]
    burst = "".join(f"EPC:{t}\r\n" for t in tags).encode()
    assert len(burst) > 4096  # more than the loop port buffers: the writer must wait
    with SerialUhfReader("loop://", clock=ticking()) as reader:
        collector = Collector(reader)
        writer = threading.Thread(target=reader.port.write, args=(burst,), daemon=True)
        writer.start()
        reads = collector.take(300)
        writer.join(WAIT)
        assert [r.payload.decode() for r in reads] == tags
        assert reader.garbage == 0


def test_a_tag_in_the_field_is_one_read_while_its_reports_keep_coming() -> None:
    # one tick per EPC line, in the order written; window 2 s, sliding
    times = [0.0, 0.1, 1.0, 1.9, 3.8, 5.9, 6.0, 7.5, 9.0]
    lines = [GIAI, SGTIN, GIAI, GIAI, GIAI, GIAI, SGTIN, SGTIN]
    with SerialUhfReader("loop://", clock=ticking(times)) as reader:
        reader.port.write("".join(f"{line}\r\n" for line in lines).encode())
        reader.port.write(f"{epc(1)}\n".encode())  # the end marker, at 9.0
        reads = Collector(reader).take(5)
    assert [(r.payload.decode(), r.at) for r in reads] == [
        (GIAI, 0.0),
        (SGTIN, 0.1),
        # GIAI at 1.0, 1.9, 3.8: each within 2 s of the one before, though 3.8 s after the first
        (GIAI, 5.9),
        (SGTIN, 6.0),  # 5.9 s after the last SGTIN; the one at 7.5 is within the window
        (epc(1), 9.0),
    ]


def test_window_zero_keeps_every_report() -> None:
    with SerialUhfReader("loop://", window=0, clock=ticking()) as reader:
        reader.port.write(f"{GIAI}\n{GIAI}\n{GIAI}\n".encode())
        assert [r.at for r in Collector(reader).take(3)] == [0.0, 1.0, 2.0]


def test_garbage_lines_are_skipped_counted_and_logged_once_per_n(
        caplog: pytest.LogCaptureFixture) -> None:
    garbage = [b"hello", b"EPC:1234", b"\xff\xfe" + GIAI.encode(), b"X" * (LINE_LIMIT + 100),
               b"ERROR 0x15"]
    frames = b"\r\n".join([garbage[0], GIAI.encode(), *garbage[1:], b"", b"  ", SGTIN.encode()])
    caplog.set_level(logging.WARNING, logger="hal.rfid.serial_uhf")
    with SerialUhfReader("loop://", clock=ticking(), log_garbage_every=2) as reader:
        reader.port.write(frames + b"\r\n")
        reads = Collector(reader).take(2)
        assert [r.payload.decode() for r in reads] == [GIAI, SGTIN]
        # the blank line and the line of spaces are not garbage: a reader's idle output
        assert reader.garbage == 6
    records = [r for r in caplog.records if r.name == "hal.rfid.serial_uhf"]
    assert len(records) == 3  # the 1st, 3rd and 5th
    assert all("loop://" in r.getMessage() for r in records)


def test_an_overlong_line_does_not_swallow_the_next_frame() -> None:
    with SerialUhfReader("loop://", clock=ticking()) as reader:
        collector = Collector(reader)
        for _ in range(4):  # spread over several reads of the port
            reader.port.write(b"A" * LINE_LIMIT)
        reader.port.write(f"\n{GIAI}\n".encode())
        assert [r.payload.decode() for r in collector.take(1)] == [GIAI]
        assert reader.garbage == 1


def test_close_while_a_read_is_blocked_returns_promptly() -> None:
    # A port timeout of a minute: only cancelling the read can end it in time.
    reader = SerialUhfReader("loop://", timeout=60.0, clock=ticking())
    collector = Collector(reader)
    reader.port.write(f"{GIAI}\n".encode())
    collector.take(1)
    deadline = time.monotonic() + WAIT
    while reader._idle.is_set() and time.monotonic() < deadline:  # until it waits for more
        time.sleep(0.001)
    assert not reader._idle.is_set()
    started = time.monotonic()
    reader.close()
    assert time.monotonic() - started < 2.0
    assert collector.ended.wait(2.0)
    assert collector.items.empty()  # ended without an error
    assert not reader.port.is_open
    reader.close()  # twice is fine


def test_close_before_reading_ends_reads_at_once() -> None:
    reader = SerialUhfReader("loop://", timeout=60.0)
    reader.close()
    assert list(reader.reads()) == []


@pytest.mark.parametrize("failure", [
    serial.SerialException("device reports readiness to read but returned no data "
                           "(device disconnected or multiple access on port?)"),
    OSError(5, "Input/output error"),
])
def test_a_disconnect_ends_reads_with_a_device_error_naming_the_port(
        failure: Exception) -> None:
    with SerialUhfReader("loop://", clock=ticking()) as reader:
        collector = Collector(reader)
        reader.port.write(f"{GIAI}\n".encode())
        collector.take(1)

        def unplugged(size: int = 1) -> bytes:
            raise failure

        reader.port.read = unplugged  # type: ignore[method-assign]
        reader.port.cancel_read()  # the blocked read returns; the next one fails
        error = collector.error()
    assert isinstance(error, DeviceError)
    assert "loop://" in str(error) and error.__cause__ is failure
    assert collector.ended.wait(WAIT)


def test_a_port_closed_under_the_reader_is_a_device_error() -> None:
    reader = SerialUhfReader("loop://")
    collector = Collector(reader)
    reader.port.close()
    error = collector.error()
    assert isinstance(error, DeviceError) and "loop://" in str(error)
    reader.close()


def test_a_missing_port_is_a_device_error_naming_it(tmp_path) -> None:
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(DeviceError, match="ttyUSB9"):
        SerialUhfReader(missing)
