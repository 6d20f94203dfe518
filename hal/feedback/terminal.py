"""The feedback stand-in: one line of text per signal instead of beeps and LEDs."""

from __future__ import annotations

import sys
from typing import TextIO

from hal.errors import DeviceError
from hal.feedback.base import Feedback, pattern_for
from hal.feedback.signals import Signal


class TerminalFeedback(Feedback):
    """Prints ``[feedback] <signal>: <pattern>`` for every signal and records them.

    Args:
        stream: where lines are printed (standard output by default).

    Attributes:
        signals: the value of every signal given so far (``"verified"``...), in order.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self.signals: list[str] = []
        self._closed = False

    def signal(self, signal: Signal) -> None:
        """Print the pattern for ``signal`` and record it.

        Raises:
            TypeError: ``signal`` is not a :class:`Signal`; nothing is recorded.
            DeviceError: the feedback is closed; nothing is printed or recorded.
            DeviceError: the line cannot be printed (the stream is closed, a pipe reader
                has gone); the signal is recorded all the same.
        """
        pattern = pattern_for(signal)
        if self._closed:
            raise DeviceError("the terminal feedback is closed")
        name = signal.value
        self.signals.append(name)
        try:
            self._stream.write(f"[feedback] {name}: {pattern.describe()}\n")
            self._stream.flush()
        except (OSError, ValueError) as error:  # a closed pipe or file
            reason = getattr(error, "strerror", None) or error
            raise DeviceError(f"cannot print feedback on its terminal: {reason}") from error

    def close(self) -> None:
        """Nothing to release; the recorded signals stay readable, new ones are refused."""
        self._closed = True
