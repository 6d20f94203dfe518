"""The device loop hands a mode its input in order: runs of reads together, events alone."""

from __future__ import annotations

import threading

from firmware.loop import dispatch, run_loop
from firmware.stopping import StopSignals
from hal.buttons.base import Press
from hal.read import Read, ReaderState


class Recorder:
    """A mode that notes what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def handle_many(self, reads: list[Read]) -> None:
        self.calls.append(("reads", [r.payload for r in reads]))

    def reader_state(self, state: ReaderState) -> None:
        self.calls.append(("state", state.connected))

    def reader_failed(self, failure: Exception) -> None:
        self.calls.append(("failed", str(failure)))

    def press(self, press: Press) -> None:
        self.calls.append(("press", press.button))

    def tick(self) -> None:
        self.calls.append(("tick", None))


def read(payload: bytes) -> Read:
    return Read(payload, "UNKNOWN", "hid", 0.0)


def test_dispatch_keeps_the_order_of_reads_and_events() -> None:
    mode = Recorder()
    dispatch(mode, [read(b"a"), read(b"b"), ReaderState("hid", False, "gone", 1.0),
                    Press("next", 2.0, "gpio"), read(b"c")])
    assert mode.calls == [("reads", [b"a", b"b"]), ("state", False), ("press", "next"),
                          ("reads", [b"c"])]


def test_the_loop_runs_every_reader_to_its_end_and_ticks_the_mode(monkeypatch) -> None:
    monkeypatch.setattr("firmware.loop.TICK", 0.01)
    mode = Recorder()
    ticked = threading.Event()
    mode.tick = lambda: (mode.calls.append(("tick", None)),  # type: ignore[method-assign]
                         mode.calls.count(("tick", None)) >= 3 and ticked.set())

    def buttons():
        yield Press("end", 0.0, "gpio")

    def scanner():
        ticked.wait(5)  # nothing to read for a while: the mode's timers still run
        yield read(b"x")
        raise OSError("unplugged")

    with StopSignals() as stop:
        run_loop(mode, [buttons(), scanner()], stop)
    assert ("press", "end") in mode.calls and ("reads", [b"x"]) in mode.calls
    assert ("failed", "unplugged") in mode.calls
    assert mode.calls.index(("reads", [b"x"])) > 3


def test_buttons_never_keep_the_loop_running_once_every_reader_has_ended() -> None:
    from hal.buttons.base import PressQueue

    mode = Recorder()
    presses = PressQueue()
    presses.put(Press("next", 0.0, "gpio"))
    with StopSignals() as stop:
        run_loop(mode, [iter([read(b"a")])], stop, buttons=presses.drain(),
                 close_buttons=presses.close)
    assert ("reads", [b"a"]) in mode.calls and ("press", "next") in mode.calls
