"""The reader contract: stdin, evdev (real ``InputEvent`` replay), serial UHF (a pty) and the
camera folder meet the same expectations.

Reads come out in order with the reader's source and symbology; ``close()`` from another
thread ends a ``reads()`` that waits for input; closing twice is fine; a finished
``reads()`` gives nothing more, and a closed reader reads nothing. Each backend is built by
ONE function (``*_reader``); input is handed over before the reads are taken.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hal.read import Read

WAIT = 10.0  # an upper bound only: every wait returns as soon as its thread ends


@dataclass
class ReaderBench:
    """A reader under test and how to give it input."""

    kind: str
    reader: Any
    feed: Callable[[list[bytes]], None]
    """Hand over these payloads, in order (before ``reads()`` is taken)."""
    source: str
    symbology: str
    end_input: Callable[[], None] | None = None
    """End the input (a pipe closed); None: only ``close()`` ends its reads."""
    waits: bool = True
    """Whether ``reads()`` waits for more input once the given input is read."""
    cleanup: Callable[[], None] = lambda: None


PAYLOADS = [b"CT-0001", b"CT-0002", b"CT-0003"]


# -- one builder per kind ------------------------------------------------------------------


def stdin_reader(tmp_path: Path) -> ReaderBench:
    """``StdinScanner`` on a pipe."""
    from hal.scanner.stdin import StdinScanner

    r, w = os.pipe()
    stream = os.fdopen(r, "rb", buffering=0)
    writer = os.fdopen(w, "wb", buffering=0)
    reader = StdinScanner(stream)

    def feed(payloads: list[bytes]) -> None:
        writer.write(b"".join(p + b"\r\n" for p in payloads))

    def cleanup() -> None:
        for end in (writer, stream):
            end.close()

    return ReaderBench("stdin", reader, feed, "stdin", "UNKNOWN", end_input=writer.close,
                       cleanup=cleanup)


def evdev_reader(tmp_path: Path) -> ReaderBench:
    """``HidScanner`` on a plugged input device replaying real ``evdev.InputEvent`` keys."""
    pytest.importorskip("evdev")
    from hal.scanner.evdev_scanner import HidScanner
    from tests.test_hid_decoder import FakeDevice, Plug, input_events

    device = FakeDevice("/dev/input/event7")
    plug = Plug(device)
    reader = HidScanner("/dev/input/event7", list_devices=plug.list_devices,
                        open_device=plug.open_device, poll_interval=0.05, source="hid-1",
                        symbology="UNKNOWN")

    def feed(payloads: list[bytes]) -> None:
        for payload in payloads:
            device.push(*input_events(payload.decode()))

    return ReaderBench("evdev", reader, feed, "hid-1", "UNKNOWN")


EPCS = {b"CT-0001": b"E28011700000020A1B2C3D01", b"CT-0002": b"E28011700000020A1B2C3D02",
        b"CT-0003": b"E28011700000020A1B2C3D03"}


def uhf_reader(tmp_path: Path) -> ReaderBench:
    """``SerialUhfReader`` on a pseudo-terminal, the reader's lines written to its master."""
    from hal.rfid import SerialUhfReader

    master, slave = os.openpty()
    reader = SerialUhfReader(os.ttyname(slave), timeout=0.2)

    def feed(payloads: list[bytes]) -> None:
        os.write(master, b"".join(EPCS[p] + b"\r\n" for p in payloads))

    def cleanup() -> None:
        os.close(master)
        os.close(slave)

    return ReaderBench("serial-uhf", reader, feed, "uhf", "EPC", cleanup=cleanup)


def camera_reader(tmp_path: Path) -> ReaderBench:
    """``CameraReader`` on ``FolderFrames``: one QR label per image file, in name order."""
    from hal.labels import DEMO_DISTORTIONS, place_in_frame, qr_label
    from hal.camera import CameraReader, FolderFrames, ZbarDecoder

    folder = tmp_path / "frames"
    folder.mkdir()
    written: list[bytes] = []

    def feed(payloads: list[bytes]) -> None:
        for payload in payloads:
            label = qr_label(payload, caption=payload.decode())
            place_in_frame(label, **DEMO_DISTORTIONS["qr"], seed=len(written)).save(
                folder / f"{len(written):04d}.png")
            written.append(payload)

    reader = CameraReader(FolderFrames(folder, fps=5.0), ZbarDecoder(), name="cam0")
    return ReaderBench("camera-folder", reader, feed, "cam0", "QR", waits=False)


READERS: dict[str, Callable[[Path], ReaderBench]] = {
    "stdin": stdin_reader, "evdev": evdev_reader, "serial-uhf": uhf_reader,
    "camera-folder": camera_reader,
}
EXPECTED = {kind: PAYLOADS for kind in READERS} | {"serial-uhf": [EPCS[p] for p in PAYLOADS]}


def rows(case: str, not_applicable: dict[str, str]) -> list[Any]:
    return [pytest.param(kind, id=f"{kind}: not applicable, {not_applicable[kind]}",
                         marks=pytest.mark.skip(reason=not_applicable[kind]))
            if kind in not_applicable else pytest.param(kind, id=kind) for kind in READERS]


@pytest.fixture
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReaderBench]:
    made = READERS[request.param](tmp_path)
    try:
        yield made
    finally:
        made.reader.close()
        made.cleanup()


class Consumer:
    """Iterates ``reads()`` in a thread of its own, as the device's reader threads do."""

    def __init__(self, reader: Any) -> None:
        self.iterator = iter(reader.reads())
        self.got: list[Read] = []
        self.error: BaseException | None = None
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.iterator:
                with self.arrived:
                    self.got.append(item)
                    self.arrived.notify_all()
        except BaseException as exc:  # handed to the test
            self.error = exc
        with self.arrived:
            self.arrived.notify_all()

    def wait_for(self, count: int) -> list[Read]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.got) >= count or not self.thread.is_alive(),
                                  WAIT)
        assert self.error is None, self.error
        assert len(self.got) >= count, f"{len(self.got)} reads of {count}"
        return list(self.got)

    def ended(self) -> bool:
        self.thread.join(WAIT)
        return not self.thread.is_alive()


@pytest.mark.parametrize("bench", rows("in order", {}), indirect=True)
def test_reads_come_in_order_with_source_and_symbology(bench: ReaderBench) -> None:
    bench.feed(PAYLOADS)
    consumer = Consumer(bench.reader)
    got = consumer.wait_for(len(PAYLOADS))
    assert [r.payload for r in got] == EXPECTED[bench.kind]
    assert {(r.source, r.symbology) for r in got} == {(bench.source, bench.symbology)}
    assert [r.at for r in got] == sorted(r.at for r in got)
    bench.reader.close()
    assert consumer.ended() and consumer.error is None


@pytest.mark.parametrize("bench", rows("close while waiting", {
    "camera-folder": "a folder replay never waits: it ends with its last image"}),
    indirect=True)
def test_close_from_another_thread_ends_reads_that_wait(bench: ReaderBench) -> None:
    bench.feed(PAYLOADS[:1])
    consumer = Consumer(bench.reader)
    consumer.wait_for(1)
    assert consumer.thread.is_alive()  # waiting for more input
    bench.reader.close()
    assert consumer.ended() and consumer.error is None
    assert len(consumer.got) == 1
    assert list(consumer.iterator) == []  # a finished reads() gives nothing more


@pytest.mark.parametrize("bench", rows("end of input", {
    "evdev": "a keyboard has no end of input: only close() ends its reads",
    "serial-uhf": "a serial port has no end of input: only close() ends its reads"}),
    indirect=True)
def test_the_end_of_input_ends_reads(bench: ReaderBench) -> None:
    bench.feed(PAYLOADS)
    if bench.end_input is not None:
        bench.end_input()
    consumer = Consumer(bench.reader)
    assert consumer.ended() and consumer.error is None
    assert [r.payload for r in consumer.got] == EXPECTED[bench.kind]
    assert list(consumer.iterator) == []


@pytest.mark.parametrize("bench", rows("closed twice", {}), indirect=True)
def test_a_reader_closed_twice_is_fine_and_reads_nothing(bench: ReaderBench) -> None:
    bench.feed(PAYLOADS)
    bench.reader.close()
    bench.reader.close()
    assert list(bench.reader.reads()) == []
