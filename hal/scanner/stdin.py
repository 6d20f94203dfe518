"""The scanner stand-in: lines on standard input, one scan each, as a wedge scanner types them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hal.read import Read
from hal.scanner.base import Scanner

#: A line longer than this is cut here (and then rejected as over-long by tag parsing).
LINE_LIMIT = 4096


class StdinScanner(Scanner):
    """One scan per line of a byte stream (standard input by default).

    The bytes of each line are passed on untouched except the line ending (LF or CR LF).
    Empty lines are not scans (a technician pressing Enter); a line of only spaces is,
    and is rejected later like any other bad label. End of input ends the scanner.

    Args:
        stream: a binary stream; ``sys.stdin.buffer`` when None.
        clock: monotonic seconds for ``Read.at``.
    """

    name = "stdin"

    def __init__(self, stream: BinaryIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._clock = clock

    def reads(self) -> Iterator[Read]:
        """Yield one :class:`Read` per non-empty line until end of input."""
        while True:
            line = self._stream.readline(LINE_LIMIT + 1)
            if not line:
                return
            if len(line) > LINE_LIMIT and not line.endswith(b"\n"):
                self._skip_rest_of_line()
            payload = line.rstrip(b"\n").removesuffix(b"\r")[: LINE_LIMIT + 1]
            if payload:
                yield Read(payload, "UNKNOWN", self.name, self._clock())

    def _skip_rest_of_line(self) -> None:
        while True:
            chunk = self._stream.readline(LINE_LIMIT)
            if not chunk or chunk.endswith(b"\n"):
                return
