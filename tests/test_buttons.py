"""The buttons: gpiozero ones on MockFactory, the function-key stand-in on stdin, the factory."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from hal.buttons import (BACKENDS, ButtonsSettings, NoButtons, Press, PressQueue,
                         open_buttons)
from hal.buttons.gpio import GpioButtons
from hal.buttons.keys import KEY_SEQUENCES, button_of_line
from hal.errors import DeviceError
from hal.read import Read
from hal.scanner.stdin import StdinScanner

END, NEXT, MODE = 5, 6, 13
WAIT = 10.0  # upper bound only


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A fresh mock pin factory, reset afterwards (as gpiozero's own tests do)."""
    pins = MockFactory()
    try:
        yield pins
    finally:
        pins.reset()


class Drained:
    """Drains ``presses()`` on a thread of its own, as the loop's reader threads do."""

    def __init__(self, presses: Iterator[Press]) -> None:
        self.got: list[Press] = []
        self.arrived = threading.Semaphore(0)
        self.thread = threading.Thread(target=self._run, args=(presses,), daemon=True)
        self.thread.start()

    def _run(self, presses: Iterator[Press]) -> None:
        for press in presses:
            self.got.append(press)
            self.arrived.release()

    def next(self) -> Press:
        assert self.arrived.acquire(timeout=WAIT), "no press came out"
        return self.got[-1]


# --- values and the queue -------------------------------------------------------------------


def test_a_press_names_a_known_button() -> None:
    assert Press("end", 1.5, "gpio").button == "end"
    with pytest.raises(ValueError, match="end, next, mode"):
        Press("power", 1.5, "gpio")


def test_close_from_another_thread_ends_a_waiting_drain() -> None:
    presses = PressQueue()
    drained = Drained(presses.drain())
    time.sleep(0.05)
    assert drained.thread.is_alive()  # blocked, waiting: no press yet
    presses.close()
    drained.thread.join(WAIT)
    assert not drained.thread.is_alive() and drained.got == []
    presses.put(Press("end", 0.0, "gpio"))  # after close: dropped, no error
    assert list(presses.drain()) == []


# --- gpio on gpiozero's MockFactory -----------------------------------------------------------


def test_a_press_on_a_pin_comes_out_of_presses(factory: MockFactory) -> None:
    ticks = iter([10.0, 11.0, 12.0])
    with GpioButtons({"end": END, "next": NEXT, "mode": MODE}, pin_factory=factory,
                     clock=lambda: next(ticks)) as buttons:
        assert factory.pin(END).state  # pulled up: idle high
        drained = Drained(buttons.presses())
        factory.pin(NEXT).drive_low()
        assert drained.next() == Press("next", 10.0, "gpio")
        factory.pin(NEXT).drive_high()  # a release is not a press
        factory.pin(END).drive_low()
        assert drained.next() == Press("end", 11.0, "gpio")
        factory.pin(MODE).drive_low()
        assert drained.next().button == "mode"
    drained.thread.join(WAIT)
    assert not drained.thread.is_alive()  # close() ended the drain
    assert [press.button for press in drained.got] == ["next", "end", "mode"]


def test_the_callback_only_queues_the_press(factory: MockFactory) -> None:
    """gpiozero's thread (here: the one driving the pin) hands the press over and returns
    at once, even while nobody is draining."""
    with open_buttons(ButtonsSettings("gpio", end_pin=END, next_pin=NEXT, mode_pin=MODE),
                      pin_factory=factory) as buttons:
        def press_three_times() -> None:
            for _ in range(3):
                factory.pin(END).drive_low()
                factory.pin(END).drive_high()

        presser = threading.Thread(target=press_three_times)
        presser.start()
        presser.join(WAIT)
        assert not presser.is_alive()
        drained = Drained(buttons.presses())
        for _ in range(3):
            assert drained.next().button == "end"


def test_close_while_blocked_in_presses_ends_it_promptly(factory: MockFactory) -> None:
    buttons = open_buttons(ButtonsSettings("gpio"), pin_factory=factory)
    drained = Drained(buttons.presses())
    time.sleep(0.05)
    started = time.monotonic()
    buttons.close()
    drained.thread.join(WAIT)
    assert not drained.thread.is_alive() and time.monotonic() - started < 1.0
    buttons.close()
    # The pins were released: they can be claimed again.
    with open_buttons(ButtonsSettings("gpio"), pin_factory=factory):
        pass


def test_pins_in_use_are_a_device_error_and_nothing_stays_claimed(factory: MockFactory) -> None:
    with open_buttons(ButtonsSettings("gpio", end_pin=5, next_pin=6, mode_pin=13),
                      pin_factory=factory):
        with pytest.raises(DeviceError, match="already in use") as caught:
            open_buttons(ButtonsSettings("gpio", end_pin=20, next_pin=21, mode_pin=13),
                         pin_factory=factory)
        assert caught.value.exit_code == 3
    with open_buttons(ButtonsSettings("gpio", end_pin=20, next_pin=21, mode_pin=13),
                      pin_factory=factory):
        pass


def test_the_bounce_time_is_given_to_gpiozero(factory: MockFactory) -> None:
    with GpioButtons({"end": END}, bounce=0.12, pin_factory=factory) as buttons:
        assert buttons._buttons[0].pin.bounce == pytest.approx(0.12)
    with GpioButtons({"end": END}, bounce=0, pin_factory=factory) as buttons:
        assert buttons._buttons[0].pin.bounce is None


# --- the factory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["terminal", "none"])
def test_terminal_and_none_have_no_presses_of_their_own(backend: str) -> None:
    with open_buttons(ButtonsSettings(backend)) as buttons:
        assert isinstance(buttons, NoButtons) and list(buttons.presses()) == []


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=", ".join(BACKENDS)):
        open_buttons(ButtonsSettings("usb"))


# --- function keys on standard input ---------------------------------------------------------


@pytest.mark.parametrize(("line", "button"), [
    (b"\x1bOP", "end"), (b"\x1bOQ", "next"), (b"\x1bOR", "mode"),  # xterm
    (b"\x1b[11~", "end"), (b"\x1b[12~", "next"), (b"\x1b[13~", "mode"),  # VT220, rxvt
    (b"\x1b[[A", "end"), (b"\x1b[[C", "mode"),  # the Linux console
    (b" \x1bOP ", "end"),
])
def test_function_key_lines(line: bytes, button: str) -> None:
    assert button_of_line(line) == button


@pytest.mark.parametrize("line", [b"", b"IT-1", b"\x1bOPIT-1", b"\x1bOS", b"\x1b[14~",
                                  b"\x1b[2J", b"OP", b"\x1bOP\x1bOP"])
def test_other_lines_are_not_keys(line: bytes) -> None:
    assert button_of_line(line) is None


def test_every_sequence_names_a_button() -> None:
    assert set(KEY_SEQUENCES.values()) == {"end", "next", "mode"}


def test_the_stdin_scanner_yields_a_press_for_a_function_key_line() -> None:
    stream = io.BytesIO(b"IT-1\n\x1bOP\r\nIT-2\r\x1b[12~\n\x1bOPX\n")
    ticks = iter(range(10))
    items = list(StdinScanner(stream, clock=lambda: float(next(ticks))).reads())
    assert items == [
        Read(b"IT-1", "UNKNOWN", "stdin", 0.0),
        Press("end", 1.0, "stdin"),
        Read(b"IT-2", "UNKNOWN", "stdin", 2.0),
        Press("next", 3.0, "stdin"),
        Read(b"\x1bOPX", "UNKNOWN", "stdin", 4.0),  # not a key alone: a scan, rejected later
    ]
