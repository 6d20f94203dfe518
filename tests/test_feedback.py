"""Buzzer and LED feedback: the pattern table, the terminal stand-in, gpio on MockFactory.

Which signal a verdict gives is tested in tests/test_feedback_signals.py.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator

import pytest
from gpiozero.exc import PinInvalidState
from gpiozero.pins.mock import MockFactory, MockPin

from hal.errors import DeviceError
from hal.feedback import (BACKENDS, PATTERNS, FeedbackSettings, NullFeedback, Signal,
                          open_feedback)
from hal.feedback.gpio import GpioFeedback

BUZZER, GREEN, RED = 18, 23, 24
WAIT = 10.0  # upper bound only: waits return as soon as the pattern ends


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A fresh mock pin factory, reset afterwards (as gpiozero's own tests do)."""
    pins = MockFactory()
    try:
        yield pins
    finally:
        pins.reset()


def states(factory: MockFactory, pin: int) -> list[bool]:
    return [bool(state.state) for state in factory.pin(pin).states]


# --- the table ----------------------------------------------------------------------------


def test_every_signal_has_a_pattern() -> None:
    assert set(PATTERNS) == set(Signal)


def test_patterns_sound_pairwise_different() -> None:
    """Heard without looking: no two signals share a rhythm, let alone rhythm and LED."""
    for a, b in itertools.combinations(Signal, 2):
        assert PATTERNS[a].beeps != PATTERNS[b].beeps, (a, b)
        assert (PATTERNS[a].beeps, PATTERNS[a].led) != (PATTERNS[b].beeps, PATTERNS[b].led)


def test_patterns_are_short_and_well_formed() -> None:
    for kind, pattern in PATTERNS.items():
        assert pattern.beeps, kind
        assert all(on > 0 and off >= 0 for on, off in pattern.beeps), kind
        assert pattern.duration <= 2.0, kind
        assert pattern.led in ("green", "amber", "red", None), kind


def test_the_documented_rhythms_are_the_ones_played() -> None:
    """The module docstring (what a technician is told) matches the table, kind by kind."""
    import hal.feedback.base as base

    counts = {"one": 1, "two": 2, "three": 3, "four": 4}
    documented = re.findall(r"- ``(\w+)``: (.*?), LED (\w+)", base.__doc__ or "")
    assert {name for name, _, _ in documented} == {signal.value for signal in Signal}
    for name, sound, led in documented:
        pattern = PATTERNS[Signal(name)]
        beeps = sum(counts[n] for n in re.findall(r"\b(one|two|three|four)\b", sound))
        assert len(pattern.beeps) == beeps, name
        assert pattern.led == (None if led == "unchanged" else led), name
        if "long" in sound and "short" not in sound:
            assert min(on for on, _ in pattern.beeps) >= 0.3, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_signals_are_taken_not_words(backend: str, factory: MockFactory) -> None:
    """A verdict name or a number is refused without a sound, a light or a printed line,
    and the feedback still plays the next real signal."""
    stream = io.StringIO()
    with open_feedback(FeedbackSettings(backend), stream=stream, pin_factory=factory) as feedback:
        before = {pin: states(factory, pin) for pin in (BUZZER, GREEN, RED)} \
            if backend == "gpio" else {}
        for wrong in ("verified", "ghost", 3):
            with pytest.raises(TypeError, match="hal.feedback.Signal"):
                feedback.signal(wrong)  # type: ignore[arg-type]
        assert feedback.wait(WAIT)
        assert stream.getvalue() == ""
        if backend == "gpio":
            assert {pin: states(factory, pin) for pin in before} == before
        feedback.signal(Signal.MISLOCATED)
        assert feedback.wait(WAIT)
        if backend == "terminal":
            assert stream.getvalue().count("\n") == 1
        if backend == "gpio":
            assert states(factory, BUZZER).count(True) > before[BUZZER].count(True)


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="terminal, gpio, none"):
        open_feedback(FeedbackSettings("pwm"))


def test_none_backend_does_nothing() -> None:
    with open_feedback(FeedbackSettings("none")) as feedback:
        assert isinstance(feedback, NullFeedback)
        feedback.signal(Signal.DONE)
        assert feedback.wait(0)


# --- terminal stand-in --------------------------------------------------------------------


def test_terminal_prints_one_line_per_signal_and_records_them() -> None:
    stream = io.StringIO()
    with open_feedback(FeedbackSettings("terminal"), stream=stream) as feedback:
        feedback.signal(Signal.VERIFIED)
        feedback.signal(Signal.MISLOCATED)
        feedback.signal(Signal.REPEAT)
        feedback.signal(Signal.READER_LOST)
    assert stream.getvalue().splitlines() == [
        "[feedback] verified: beep 60ms | LED green",
        "[feedback] mislocated: beep 100ms, beep 100ms | LED amber",
        "[feedback] repeat: beep 20ms | LED unchanged",
        "[feedback] reader_lost: beep 400ms, beep 60ms, beep 400ms | LED red",
    ]
    assert feedback.signals == [  # type: ignore[attr-defined]
        "verified", "mislocated", "repeat", "reader_lost"]


# --- gpio on gpiozero's MockFactory -------------------------------------------------------


def test_mislocated_plays_two_beeps_with_amber(factory: MockFactory) -> None:
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as feedback:
        feedback.signal(Signal.MISLOCATED)
        assert feedback.wait(WAIT)
        buzzer = factory.pin(BUZZER)
        buzzer.assert_states([False, True, False, True, False])
        assert states(factory, BUZZER) == [False, True, False, True, False]
        # Each beep lasted at least its on-time (a busy machine only makes it longer).
        assert buzzer.states[2].timestamp >= 0.09 and buzzer.states[4].timestamp >= 0.09
        assert states(factory, GREEN) == [False, True]
        assert states(factory, RED) == [False, True]


def test_signal_returns_before_the_pattern_ends(factory: MockFactory) -> None:
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as feedback:
        feedback.signal(Signal.ERROR)  # 1.5 s of beeps
        assert not feedback.wait(0)
        assert feedback.wait(WAIT)


def test_colours(factory: MockFactory) -> None:
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as feedback:
        for signal, green, red in ((Signal.VERIFIED, True, False), (Signal.RETIRED, False, True)):
            feedback.signal(signal)
            assert feedback.wait(WAIT)
            assert (factory.pin(GREEN).state, factory.pin(RED).state) == (green, red)
        feedback.signal(Signal.REPEAT)  # leaves the LEDs as they were
        assert feedback.wait(WAIT)
        assert (factory.pin(GREEN).state, factory.pin(RED).state) == (False, True)


def test_a_new_signal_cuts_the_playing_one_short(factory: MockFactory) -> None:
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as feedback:
        feedback.signal(Signal.ERROR)
        feedback.signal(Signal.VERIFIED)
        assert feedback.wait(WAIT)
        assert (factory.pin(GREEN).state, factory.pin(RED).state) == (True, False)
        buzzer = states(factory, BUZZER)
        assert buzzer[-2:] == [True, False]
        # Played in full, error (3 beeps) then verified (1) would switch the buzzer on 4 times.
        assert buzzer.count(True) <= 3


def test_close_stops_the_pattern_and_releases_the_pins(factory: MockFactory) -> None:
    feedback = open_feedback(FeedbackSettings("gpio"), pin_factory=factory)
    feedback.signal(Signal.ERROR)
    feedback.close()
    assert not factory.pin(BUZZER).state
    assert not factory.pin(GREEN).state and not factory.pin(RED).state
    feedback.close()
    with pytest.raises(DeviceError, match="closed"):
        feedback.signal(Signal.VERIFIED)
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as again:
        again.signal(Signal.VERIFIED)
        assert again.wait(WAIT)


def test_pins_in_use_are_a_device_error(factory: MockFactory) -> None:
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory):
        with pytest.raises(DeviceError, match="already in use") as caught:
            open_feedback(FeedbackSettings("gpio", buzzer_pin=5, green_pin=GREEN, red_pin=6),
                          pin_factory=factory)
        assert caught.value.exit_code == 3
    # The pins claimed before the failure were released.
    with open_feedback(FeedbackSettings("gpio", buzzer_pin=5, green_pin=GREEN, red_pin=6),
                       pin_factory=factory):
        pass


class BrokenPin(MockPin):
    """A pin that can be switched off but fails when switched on."""

    def _set_state(self, value: bool) -> None:
        if value:
            raise PinInvalidState("line driver failed")
        super()._set_state(value)


def test_a_pattern_that_fails_is_reported_on_the_next_signal() -> None:
    factory = MockFactory(pin_class=BrokenPin)
    try:
        with GpioFeedback(pin_factory=factory) as feedback:
            feedback.signal(Signal.VERIFIED)
            assert feedback.wait(WAIT)
            with pytest.raises(DeviceError, match="line driver failed"):
                feedback.signal(Signal.VERIFIED)
    finally:
        factory.reset()


# --- the terminal stand-in on a stream that is gone -----------------------------------------


def test_terminal_on_a_closed_stream_is_a_device_error_and_still_records() -> None:
    stream = io.StringIO()
    stream.close()
    with open_feedback(FeedbackSettings("terminal"), stream=stream) as feedback:
        with pytest.raises(DeviceError, match="cannot print feedback on its terminal"):
            feedback.signal(Signal.VERIFIED)
        with pytest.raises(DeviceError):
            feedback.signal(Signal.ERROR)
    assert feedback.signals == ["verified", "error"]  # type: ignore[attr-defined]


def test_terminal_on_a_pipe_whose_reader_has_gone_is_a_device_error() -> None:
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = open(write_end, "w", encoding="utf-8")
    feedback = open_feedback(FeedbackSettings("terminal"), stream=stream)
    with pytest.raises(DeviceError, match="Broken pipe") as caught:
        feedback.signal(Signal.VERIFIED)
    assert isinstance(caught.value.__cause__, BrokenPipeError)
    with pytest.raises(BrokenPipeError):
        stream.close()  # the unwritten line cannot be flushed either


def test_terminal_refuses_a_word_without_recording_it() -> None:
    stream = io.StringIO()
    feedback = open_feedback(FeedbackSettings("terminal"), stream=stream)
    with pytest.raises(TypeError):
        feedback.signal("verified")  # type: ignore[arg-type]
    assert feedback.signals == [] and stream.getvalue() == ""  # type: ignore[attr-defined]


# --- every signal's pin history ---------------------------------------------------------------

_LEDS = {"green": (True, False), "amber": (True, True), "red": (False, True)}


@pytest.mark.parametrize("signal", list(Signal), ids=lambda signal: signal.value)
def test_each_signal_plays_its_pattern_on_the_pins(factory: MockFactory, signal: Signal) -> None:
    """The buzzer pin goes on and off once per beep, each beep at least its length; the
    LEDs take the pattern's colour (or stay as they were)."""
    pattern = PATTERNS[signal]
    with open_feedback(FeedbackSettings("gpio"), pin_factory=factory) as feedback:
        feedback.signal(signal)
        assert feedback.wait(WAIT)
        buzzer = factory.pin(BUZZER).states
        assert [bool(s.state) for s in buzzer] == [False] + [True, False] * len(pattern.beeps)
        # states[i].timestamp is the time since the change before it: the length of a beep
        # is the timestamp of the change that ends it; a gap, that of the next beep's start.
        for n, (on, off) in enumerate(pattern.beeps):
            assert buzzer[2 + 2 * n].timestamp >= on * 0.95, (n, buzzer)
            if n + 1 < len(pattern.beeps):
                assert buzzer[3 + 2 * n].timestamp >= off * 0.95, (n, buzzer)
        leds = (factory.pin(GREEN).state, factory.pin(RED).state)
        assert leds == (_LEDS[pattern.led] if pattern.led else (False, False))
