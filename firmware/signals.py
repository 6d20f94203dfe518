"""Which buzzer-and-LED signal each verdict, kiosk movement and event gives: the one table.

The hardware layer offers signals (:class:`hal.feedback.Signal`) and knows nothing of
verdicts; this table is where the firmware decides what a technician hears.
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from firmware.kiosk_rules import Movement
from firmware.verdicts import VerdictKind
from hal.feedback.signals import Signal


class Event(enum.Enum):
    """Things the device signals that are not the verdict on a scan."""

    CONFIRM = "confirm"
    """The screen asks for a confirming scan (an unknown room's label)."""
    ERROR = "error"
    """A scan could not be saved, or another step failed."""
    DONE = "done"
    """A room ended: its report is written."""
    READER_LOST = "reader_lost"
    """A reader stopped (a camera gone, a serial cable pulled); the others go on."""
    BUTTON = "button"
    """A button press was taken."""
    BADGE_REFUSED = "badge_refused"
    """A door kiosk refused a badge (unknown, or not allowed in this room)."""
    BADGE = "badge"
    """A door kiosk took a badge: the visit begins."""


SIGNALS: MappingProxyType[VerdictKind | Event | Movement, Signal] = MappingProxyType({
    VerdictKind.VERIFIED: Signal.VERIFIED,
    VerdictKind.REPEAT: Signal.REPEAT,
    VerdictKind.MISLOCATED: Signal.MISLOCATED,
    VerdictKind.RETIRED: Signal.RETIRED,
    VerdictKind.RECOVERED: Signal.RECOVERED,
    VerdictKind.AMBIGUOUS: Signal.AMBIGUOUS,
    VerdictKind.UNREGISTERED: Signal.UNREGISTERED,
    VerdictKind.REJECTED: Signal.REJECTED,
    Event.CONFIRM: Signal.CONFIRM,
    Event.ERROR: Signal.ERROR,
    Event.DONE: Signal.DONE,
    Event.READER_LOST: Signal.READER_LOST,
    Event.BUTTON: Signal.BUTTON,
    Event.BADGE_REFUSED: Signal.BADGE_REFUSED,
    Event.BADGE: Signal.BADGE_ACCEPTED,
    Movement.CHECKED_OUT: Signal.CHECKED_OUT,
    Movement.CHECKED_IN: Signal.CHECKED_IN,
    Movement.REFUSED: Signal.REFUSED,
})
"""The signal for every verdict, every kiosk movement and every event."""


def signal_for(what: VerdictKind | Event | Movement) -> Signal:
    """The signal a verdict, a kiosk movement or an event gives.

    Raises:
        KeyError: ``what`` is none of them.
    """
    return SIGNALS[what]
