"""The feedback stand-in: one line of text per signal instead of beeps and LEDs."""

from __future__ import annotations

import sys
from typing import TextIO

from hal.errors import DeviceError
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
        """Print the pattern for ``kind`` and record it.

        Raises:
            ValueError: ``kind`` is not a signal kind; nothing is recorded.
            DeviceError: the line cannot be printed (the stream is closed, a pipe reader
                has gone); the signal is recorded all the same.
        """
        pattern = pattern_for(kind)
        name = str(getattr(kind, "value", kind))
        self.signals.append(name)
        try:
            self._stream.write(f"[feedback] {name}: {pattern.describe()}\n")
            self._stream.flush()
        except (OSError, ValueError) as error:  # a closed pipe or file
            reason = getattr(error, "strerror", None) or error
            raise DeviceError(f"cannot print feedback on its terminal: {reason}") from error

    def close(self) -> None:
        """Nothing to release; the recorded signals stay readable."""
