"""Burn-in care: dim after dim_after, switch off after blank_after, light again on a frame or input.

The panel is a real ``OledDisplay`` on a recording I2C bus, so what is checked is the
commands the glass receives; time is a fake monotonic clock driven by the test.
"""

from __future__ import annotations

import threading
import time

import pytest
from PIL import Image

from hal.display.idle import DIMMED_CONTRAST, IdleDimmer, Lit
from hal.display.oled import open_oled
from tests.test_display_oled import FakeBus

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")

FRAME = Image.new("1", (128, 64), 255)
CONTRAST = 0x90


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cared(dim_after: float = 10.0, blank_after: float = 30.0
          ) -> tuple[IdleDimmer, FakeBus, FakeClock]:
    bus, clock = FakeBus(), FakeClock()
    panel = open_oled("ssd1306", "i2c", i2c_bus=bus, contrast=CONTRAST)
    bus.writes.clear()
    return IdleDimmer(panel, dim_after=dim_after, blank_after=blank_after, clock=clock,
                      watch=False), bus, clock


def test_dims_then_switches_off_at_the_configured_idle_times() -> None:
    display, bus, clock = cared()
    display.show(FRAME)
    bus.writes.clear()
    display.tick(clock.now + 9.9)
    assert bus.commands() == [] and display.lit is Lit.FULL
    display.tick(clock.now + 10.0)
    assert bus.commands() == [[0x81, DIMMED_CONTRAST]] and display.lit is Lit.DIMMED
    display.tick(clock.now + 29.0)
    assert bus.commands() == [[0x81, DIMMED_CONTRAST]]  # nothing sent twice
    display.tick(clock.now + 30.0)
    assert bus.commands()[-1] == [0xAE] and display.lit is Lit.OFF
    display.tick(clock.now + 500.0)
    assert len(bus.commands()) == 2


def test_a_new_frame_is_drawn_while_off_then_lit_at_full_contrast() -> None:
    display, bus, clock = cared()
    display.tick(clock.now + 31)
    clock.now += 31
    bus.writes.clear()
    display.show(FRAME, "verified")
    commands = bus.commands()
    # The frame goes into the panel's memory first: nothing stale flashes up.
    assert commands[0][0] == 0x21 and bus.data() == [0xFF] * 1024
    assert commands[1:] == [[0x81, CONTRAST], [0xAF]] and display.lit is Lit.FULL
    display.tick(clock.now + 9)  # the idle time starts again from the frame
    assert display.lit is Lit.FULL


def test_wake_restores_a_dimmed_panel_without_a_new_frame() -> None:
    display, bus, clock = cared()
    display.tick(clock.now + 12)
    clock.now += 12
    bus.writes.clear()
    display.wake()
    assert bus.commands() == [[0x81, CONTRAST]] and bus.data() == []
    display.wake()
    assert len(bus.commands()) == 1  # already lit: nothing to send
    display.tick(clock.now + 10)
    assert display.lit is Lit.DIMMED


@pytest.mark.parametrize(("dim_after", "blank_after", "lit"), [
    (0, 30, [Lit.FULL, Lit.FULL, Lit.OFF]),
    (10, 0, [Lit.FULL, Lit.DIMMED, Lit.DIMMED]),
    (0, 0, [Lit.FULL, Lit.FULL, Lit.FULL]),
])
def test_zero_turns_a_step_off(dim_after: float, blank_after: float, lit: list[Lit]) -> None:
    display, _, clock = cared(dim_after, blank_after)
    seen = []
    for idle in (5, 15, 3600):
        display.tick(clock.now + idle)
        seen.append(display.lit)
    assert seen == lit


@pytest.mark.parametrize(("dim_after", "blank_after"), [(30, 30), (30, 10), (-1, 10)])
def test_inconsistent_times_are_refused(dim_after: float, blank_after: float) -> None:
    panel = open_oled("ssd1306", "i2c", i2c_bus=FakeBus())
    with pytest.raises(ValueError, match="dim_after"):
        IdleDimmer(panel, dim_after=dim_after, blank_after=blank_after, watch=False)


def test_close_clears_and_switches_off_even_when_dimmed() -> None:
    display, bus, clock = cared()
    display.tick(clock.now + 12)
    bus.writes.clear()
    display.close()
    assert bus.commands()[0] == [0xAE] and bus.data() == [0x00] * 1024
    display.close()
    display.wake()  # after close: nothing, no error
    display.tick(clock.now + 100)
    assert bus.commands()[0] == [0xAE] and len(bus.data()) == 1024


class OneAtATimeBus(FakeBus):
    """A bus that fails the test if two threads ever talk to it at once."""

    def __init__(self) -> None:
        super().__init__()
        self._busy = threading.Lock()
        self.overlaps = 0

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            time.sleep(0.0001)  # widen the window a second thread could slip into
            super().write_i2c_block_data(address, register, data)
        finally:
            self._busy.release()


def test_the_watcher_thread_dims_on_time_and_never_talks_over_the_loop() -> None:
    bus = OneAtATimeBus()
    panel = open_oled("ssd1306", "i2c", i2c_bus=bus)
    display = IdleDimmer(panel, dim_after=0.05, blank_after=0.1)
    try:
        deadline = time.monotonic() + 10
        while display.lit is not Lit.OFF:
            assert time.monotonic() < deadline, "the watcher never switched the panel off"
            time.sleep(0.01)
        for _ in range(30):  # frames from the loop while the watcher keeps dimming
            display.show(FRAME)
            time.sleep(0.006)
        deadline = time.monotonic() + 10
        while display.lit is not Lit.OFF:
            assert time.monotonic() < deadline, "the watcher stopped after a frame"
            time.sleep(0.01)
    finally:
        display.close()
    assert bus.overlaps == 0
    assert [0xAE] in bus.commands() and [0x81, DIMMED_CONTRAST] in bus.commands()


def test_headless_after_a_bus_failure_and_the_care_goes_on_quietly() -> None:
    display, bus, clock = cared()
    bus.error = OSError(5, "Input/output error")
    display.show(FRAME)
    assert display.headless
    display.tick(clock.now + 100)
    display.wake()
    display.close()
