"""The ``Feedback`` interface (buzzer and LEDs), the signal patterns and the null backend.

Each :class:`~hal.feedback.signals.Signal` has its own beep rhythm, so a technician knows
what happened without looking at the screen:

- ``verified``: one short beep, LED green.
- ``repeat``: one click, LED unchanged.
- ``mislocated``: two short beeps, LED amber.
- ``retired``: three short beeps, LED red.
- ``recovered``: three medium beeps, LED amber (a lost or stolen asset found: news).
- ``ambiguous``: two long beeps, LED red (the label fits several assets).
- ``confirm``: one medium beep, LED amber (the screen asks for a confirming scan).
- ``unregistered``: one long beep, LED red.
- ``rejected``: one long and one short beep, LED red.
- ``error``: three long beeps, LED red.
- ``done``: two short beeps and a long one, LED green.
- ``reader_lost``: one long, one short and one long beep, LED red.
- ``button``: two clicks, LED unchanged (a button press taken).
- ``badge_refused``: one short and one long beep, LED red.
- ``badge_accepted``: one click and one short beep, LED green (a kiosk greets someone).
- ``checked_out``: one short beep then one medium beep, LED green (an asset leaves).
- ``checked_in``: one medium beep then one short beep, LED green (an asset comes back).
- ``refused``: two long beeps and one short beep, LED red (the kiosk will not move it).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from hal.backends import Absent
from hal.errors import DeviceError
from hal.feedback.signals import Signal
from hal.resource import Resource

Colour = Literal["green", "amber", "red"]


@dataclass(frozen=True)
class Pattern:
    """What the buzzer and the LEDs do for one signal.

    Attributes:
        beeps: ``(on_seconds, off_seconds)`` for each beep, in order.
        led: the colour the LEDs show from the start of the pattern until the next
            signal that sets one; ``None`` leaves them as they are.
    """

    beeps: tuple[tuple[float, float], ...]
    led: Colour | None

    @property
    def duration(self) -> float:
        """Seconds from the first beep to the end of the last pause."""
        return sum(on + off for on, off in self.beeps)

    def describe(self) -> str:
        """The pattern in words, e.g. ``beep 100ms, beep 100ms | LED amber``."""
        beeps = ", ".join(f"beep {round(on * 1000)}ms" for on, _ in self.beeps)
        return f"{beeps} | LED {self.led or 'unchanged'}"


_CLICK, _SHORT, _GAP, _LONG = 0.02, 0.06, 0.08, 0.4

PATTERNS: MappingProxyType[Signal, Pattern] = MappingProxyType(
    {
        Signal.VERIFIED: Pattern(((_SHORT, 0.0),), "green"),
        Signal.REPEAT: Pattern(((_CLICK, 0.0),), None),
        Signal.MISLOCATED: Pattern(((0.1, _GAP), (0.1, 0.0)), "amber"),
        Signal.RETIRED: Pattern(((_SHORT, _GAP),) * 2 + ((_SHORT, 0.0),), "red"),
        Signal.RECOVERED: Pattern(((0.2, _GAP),) * 2 + ((0.2, 0.0),), "amber"),
        Signal.AMBIGUOUS: Pattern(((_LONG, 0.1), (_LONG, 0.0)), "red"),
        Signal.CONFIRM: Pattern(((0.15, 0.0),), "amber"),
        Signal.UNREGISTERED: Pattern(((_LONG, 0.0),), "red"),
        Signal.REJECTED: Pattern(((_LONG, 0.1), (_SHORT, 0.0)), "red"),
        Signal.ERROR: Pattern(((_LONG, 0.15),) * 2 + ((_LONG, 0.0),), "red"),
        Signal.DONE: Pattern(((_SHORT, _GAP), (_SHORT, _GAP), (_LONG, 0.0)), "green"),
        Signal.READER_LOST: Pattern(((_LONG, 0.1), (_SHORT, 0.1), (_LONG, 0.0)), "red"),
        Signal.BUTTON: Pattern(((_CLICK, _SHORT), (_CLICK, 0.0)), None),
        Signal.BADGE_REFUSED: Pattern(((_SHORT, _GAP), (_LONG, 0.0)), "red"),
        Signal.BADGE_ACCEPTED: Pattern(((_CLICK, _GAP), (_SHORT, 0.0)), "green"),
        Signal.CHECKED_OUT: Pattern(((_SHORT, 0.04), (0.2, 0.0)), "green"),
        Signal.CHECKED_IN: Pattern(((0.2, 0.04), (_SHORT, 0.0)), "green"),
        Signal.REFUSED: Pattern(((_LONG, 0.1), (_LONG, 0.1), (_SHORT, 0.0)), "red"),
    }
)


def pattern_for(signal: Signal) -> Pattern:
    """The pattern for ``signal``.

    Raises:
        TypeError: ``signal`` is not a :class:`Signal` (a verdict name, say: the firmware
            maps those to signals).
    """
    if not isinstance(signal, Signal):
        raise TypeError(f"feedback takes a hal.feedback.Signal, not {type(signal).__name__}"
                        f" {signal!r}")
    return PATTERNS[signal]


class Feedback(Resource, abc.ABC):
    """Beeps and LEDs telling a technician what a scan meant.

    Use it as a context manager, or call :meth:`close` when done.
    """

    @abc.abstractmethod
    def signal(self, signal: Signal) -> None:
        """Start the pattern for ``signal`` and return at once.

        Raises:
            TypeError: ``signal`` is not a :class:`Signal`.
        """

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the last pattern has finished playing.

        Returns:
            True if it finished, False if ``timeout`` seconds passed first.
        """
        return True

    @abc.abstractmethod
    def close(self) -> None:
        """Stop any pattern, switch buzzer and LEDs off, release them. Safe to call twice."""


class NullFeedback(Feedback, Absent):
    """Feedback that does nothing (no buzzer or LEDs fitted)."""

    _closed = False

    def signal(self, signal: Signal) -> None:
        """Check ``signal`` and do nothing.

        Raises:
            TypeError: ``signal`` is not a :class:`Signal`.
            DeviceError: the feedback is closed.
        """
        pattern_for(signal)
        if self._closed:
            raise DeviceError("the feedback is closed")

    def close(self) -> None:
        """Nothing to release; signals are refused from now on."""
        self._closed = True
