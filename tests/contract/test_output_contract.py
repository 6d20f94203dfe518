"""The output contract: every display backend (oled through luma on a recording I2C bus,
terminal, none) and every feedback backend (gpio on gpiozero's MockFactory, terminal, none).

Each accepts a valid frame or signal; refuses a frame of the wrong size or something that
is not a :class:`Signal`, showing nothing; is fine closed twice; and after ``close()``
refuses with a DeviceError and lets nothing more out. Each backend is built by ONE
function; what went out is counted where it goes (bus writes, printed text, pin changes).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from hal.display import HEIGHT, WIDTH, DisplaySettings, open_display
from hal.errors import DeviceError
from hal.feedback import FeedbackSettings, Signal, open_feedback

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")


@dataclass
class OutputBench:
    """An output under test and a count of what has gone out of it."""

    kind: str
    output: Any
    sent: Callable[[], int]
    """A number that grows with every frame or signal that went out."""
    cleanup: Callable[[], None] = lambda: None


# -- one builder per kind ------------------------------------------------------------------


def oled_display() -> OutputBench:
    """The oled backend (luma's ssd1306 on a recording I2C bus, with its idle dimmer)."""
    from hal.display.idle import IdleDimmer
    from hal.display.oled import open_oled
    from tests.test_display_oled import FakeBus

    bus = FakeBus()
    display = IdleDimmer(open_oled("ssd1306", "i2c", i2c_bus=bus), dim_after=0, blank_after=0)
    return OutputBench("oled", display, lambda: len(bus.data()))


def terminal_display() -> OutputBench:
    stream = io.StringIO()
    return OutputBench("terminal", open_display(DisplaySettings("terminal"), stream=stream),
                       lambda: len(stream.getvalue()))


def null_display() -> OutputBench:
    return OutputBench("none", open_display(DisplaySettings("none")), lambda: 0)


def gpio_feedback() -> OutputBench:
    """The gpio backend on gpiozero's MockFactory; what went out is the pins' changes."""
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    feedback = open_feedback(FeedbackSettings("gpio"), pin_factory=factory)

    def changes() -> int:
        feedback.wait(10.0)
        return sum(len(factory.pin(pin).states) for pin in (18, 23, 24))

    return OutputBench("gpio", feedback, changes, cleanup=factory.reset)


def terminal_feedback() -> OutputBench:
    stream = io.StringIO()
    return OutputBench("terminal", open_feedback(FeedbackSettings("terminal"), stream=stream),
                       lambda: len(stream.getvalue()))


def null_feedback() -> OutputBench:
    return OutputBench("none", open_feedback(FeedbackSettings("none")), lambda: 0)


DISPLAYS = {"oled": oled_display, "terminal": terminal_display, "none": null_display}
FEEDBACKS = {"gpio": gpio_feedback, "terminal": terminal_feedback, "none": null_feedback}


def _made(builders: dict[str, Callable[[], OutputBench]], kind: str) -> Iterator[OutputBench]:
    made = builders[kind]()
    try:
        yield made
    finally:
        made.output.close()
        made.cleanup()


@pytest.fixture(params=list(DISPLAYS))
def display(request: pytest.FixtureRequest) -> Iterator[OutputBench]:
    yield from _made(DISPLAYS, request.param)


@pytest.fixture(params=list(FEEDBACKS))
def feedback(request: pytest.FixtureRequest) -> Iterator[OutputBench]:
    yield from _made(FEEDBACKS, request.param)


def frame(size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    image = Image.new("1", size)
    image.putpixel((3, 3), 1)
    return image


# -- displays ------------------------------------------------------------------------------


def test_a_display_shows_a_valid_frame(display: OutputBench) -> None:
    before = display.sent()
    display.output.show(frame(), "a frame")
    display.output.show(frame().convert("L"), "a grey frame")  # converted to one bit
    assert display.sent() > before or display.kind == "none"


@pytest.mark.parametrize("size", [(WIDTH, HEIGHT + 1), (64, 32), (HEIGHT, WIDTH)])
def test_a_display_refuses_a_frame_of_the_wrong_size_and_shows_nothing(
        display: OutputBench, size: tuple[int, int]) -> None:
    before = display.sent()
    with pytest.raises(ValueError, match=f"display is {WIDTH}x{HEIGHT}"):
        display.output.show(frame(size))
    assert display.sent() == before


def test_a_closed_display_refuses_frames_and_shows_nothing(display: OutputBench) -> None:
    display.output.show(frame())
    display.output.close()
    display.output.close()
    after = display.sent()
    with pytest.raises(DeviceError, match="closed"):
        display.output.show(frame(), "after close")
    assert display.sent() == after


# -- feedback ------------------------------------------------------------------------------


def test_feedback_gives_a_signal(feedback: OutputBench) -> None:
    before = feedback.sent()
    feedback.output.signal(Signal.VERIFIED)
    assert feedback.output.wait(10.0)
    assert feedback.sent() > before or feedback.kind == "none"


@pytest.mark.parametrize("wrong", ["verified", None, 3])
def test_feedback_refuses_what_is_not_a_signal_and_gives_nothing(feedback: OutputBench,
                                                                 wrong: Any) -> None:
    before = feedback.sent()
    with pytest.raises(TypeError, match="hal.feedback.Signal"):
        feedback.output.signal(wrong)
    assert feedback.sent() == before


def test_closed_feedback_refuses_signals_and_gives_nothing(feedback: OutputBench) -> None:
    feedback.output.signal(Signal.DONE)
    feedback.output.wait(10.0)
    feedback.output.close()
    feedback.output.close()
    after = feedback.sent()
    with pytest.raises(DeviceError, match="closed"):
        feedback.output.signal(Signal.ERROR)
    assert feedback.sent() == after
