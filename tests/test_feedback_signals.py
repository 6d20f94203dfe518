"""The one table from verdicts and events to buzzer-and-LED signals (firmware/signals.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from firmware.kiosk_rules import Movement
from firmware.signals import SIGNALS, Event, signal_for
from firmware.verdicts import VerdictKind
from hal.feedback import PATTERNS, Signal

HAL = Path(__file__).parent.parent / "hal"


def test_every_verdict_movement_and_event_has_its_own_signal() -> None:
    assert set(SIGNALS) == set(VerdictKind) | set(Movement) | set(Event) | set(Movement)
    assert len(set(SIGNALS.values())) == len(SIGNALS)  # no two share a sound
    assert set(SIGNALS.values()) == set(Signal)  # and no sound is left unused
    assert all(signal in PATTERNS for signal in SIGNALS.values())


@pytest.mark.parametrize(("what", "signal"), [
    (VerdictKind.VERIFIED, Signal.VERIFIED), (VerdictKind.REPEAT, Signal.REPEAT),
    (VerdictKind.RECOVERED, Signal.RECOVERED), (Event.DONE, Signal.DONE),
    (Event.READER_LOST, Signal.READER_LOST), (Event.BADGE_REFUSED, Signal.BADGE_REFUSED),
    (Movement.CHECKED_OUT, Signal.CHECKED_OUT), (Movement.REFUSED, Signal.REFUSED),
    (Event.BADGE, Signal.BADGE_ACCEPTED),
])
def test_signal_for(what: VerdictKind | Movement | Event, signal: Signal) -> None:
    assert signal_for(what) is signal


def test_a_ghost_has_no_signal() -> None:
    """Ghosts are known only in the report at the end, never beeped for."""
    with pytest.raises(KeyError):
        signal_for("ghost")  # type: ignore[arg-type]


def test_the_hardware_layer_knows_no_verdicts() -> None:
    """Feedback, display and buttons import nothing from firmware/: no verdict leaks in."""
    for path in [*HAL.glob("feedback/*.py"), *HAL.glob("display/*.py"),
                 *HAL.glob("buttons/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("firmware"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("firmware") for a in node.names), path
