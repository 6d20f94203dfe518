"""The feedback stand-in: one line of text per signal instead of beeps and LEDs."""

from __future__ import annotations

import sys
from typing import TextIO

from hal.feedback.base import Feedback, pattern_for


class TerminalFeedback(Feedback):
    """Prints ``[feedback] <kind>: <pattern>`` for every signal and records the kinds.

    Args:
        stream: where lines are printed (standard output by default).

    Attributes:
        signals: every kind signalled so far, in order.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self.signals: list[str] = []

    def signal(self, kind: str) -> None:
        """Print the pattern for ``kind`` and record it."""
        pattern = pattern_for(kind)
        name = str(getattr(kind, "value", kind))
        self.signals.append(name)
        self._stream.write(f"[feedback] {name}: {pattern.describe()}\n")
        self._stream.flush()

    def close(self) -> None:
        """Nothing to release; the recorded signals stay readable."""
