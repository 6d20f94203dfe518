"""The ``Feedback`` interface (buzzer and LEDs), the signal patterns and the null backend.

Each kind of signal has its own beep rhythm, so a technician knows the verdict without
looking at the screen:

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
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

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


_SHORT, _GAP, _LONG = 0.06, 0.08, 0.4

PATTERNS: MappingProxyType[str, Pattern] = MappingProxyType(
    {
        "verified": Pattern(((_SHORT, 0.0),), "green"),
        "repeat": Pattern(((0.02, 0.0),), None),
        "mislocated": Pattern(((0.1, _GAP), (0.1, 0.0)), "amber"),
        "retired": Pattern(((_SHORT, _GAP),) * 2 + ((_SHORT, 0.0),), "red"),
        "recovered": Pattern(((0.2, _GAP),) * 2 + ((0.2, 0.0),), "amber"),
        "ambiguous": Pattern(((_LONG, 0.1), (_LONG, 0.0)), "red"),
        "confirm": Pattern(((0.15, 0.0),), "amber"),
        "unregistered": Pattern(((_LONG, 0.0),), "red"),
        "rejected": Pattern(((_LONG, 0.1), (_SHORT, 0.0)), "red"),
        "error": Pattern(((_LONG, 0.15),) * 2 + ((_LONG, 0.0),), "red"),
        "done": Pattern(((_SHORT, _GAP), (_SHORT, _GAP), (_LONG, 0.0)), "green"),
    }
)
KINDS = tuple(PATTERNS)


def pattern_for(kind: str) -> Pattern:
    """The pattern for a signal kind (a verdict value, ``error`` or ``done``).

    Raises:
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    try:
        return PATTERNS[kind]
    except KeyError:
        choices = ", ".join(KINDS)
        raise ValueError(f"unknown feedback signal {kind!r}; expected one of {choices}") from None


class Feedback(Resource, abc.ABC):
    """Beeps and LEDs telling a technician what a scan meant.

    Use it as a context manager, or call :meth:`close` when done.
    """

    @abc.abstractmethod
    def signal(self, kind: str) -> None:
        """Start the pattern for ``kind`` and return at once.

        Args:
            kind: a verdict value (``verified``, ``mislocated``...), ``error`` or ``done``.

        Raises:
            ValueError: unknown kind.
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



class NullFeedback(Feedback):
    """Feedback that does nothing (no buzzer or LEDs fitted)."""

    def signal(self, kind: str) -> None:
        """Check ``kind`` and do nothing."""
        pattern_for(kind)

    def close(self) -> None:
        """Nothing to release."""
