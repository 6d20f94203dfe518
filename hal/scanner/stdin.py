"""The scanner stand-in: lines on standard input, one scan each, as a wedge scanner types them.

It is also the terminal stand-in for the device's buttons: a line holding only a function
key (F1 end, F2 next, F3 mode; press the key, then Enter) is yielded as a
:class:`~hal.buttons.Press`, not as a scan. See :mod:`hal.buttons.keys` for the sequences.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hal.buttons.base import Press
from hal.buttons.keys import button_of_line
from hal.errors import DeviceError
from hal.read import Read
from hal.scanner.base import Scanner

#: A line longer than this is cut here (and then rejected as over-long by tag parsing).
LINE_LIMIT = 4096

_LINE_END = re.compile(rb"[\r\n]")
_CHUNK = 4096


class StdinScanner(Scanner):
    """One scan per line of a byte stream (standard input by default).

    A line ends with CR, LF or CR LF: scanners are set to send any of them. The bytes of
    each line are passed on untouched but for its ending. A line is yielded as soon as its
    ending arrives, without waiting for more input. Empty lines are not scans (a
    technician pressing Enter); a line of only spaces is, and is rejected later like any
    other bad label. A line longer than :data:`LINE_LIMIT` is passed on cut to
    ``LINE_LIMIT + 1`` bytes (so that it is rejected as over-long) and the rest of it is
    skipped. A line that is a function key alone is a button press (see the module). End
    of input, or no standard input at all, ends the scanner.

    Args:
        stream: a binary stream; ``sys.stdin.buffer`` when None.
        clock: monotonic seconds for ``Read.at``.
    """

    name = "stdin"

    def __init__(self, stream: BinaryIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else getattr(sys.stdin, "buffer", None)
        self._clock = clock

    def reads(self) -> Iterator[Read | Press]:
        """Yield one :class:`Read` per non-empty line until end of input.

        A function-key line gives a :class:`Press` (``source`` ``stdin``) instead.

        Raises:
            DeviceError: the stream cannot be read.
        """
        if self._stream is None:  # started with standard input closed
            return
        line = bytearray()
        while chunk := self._next_chunk():
            *ended, rest = _LINE_END.split(chunk)
            for piece in ended:
                _extend(line, piece)
                if line:
                    yield self._item(bytes(line))
                line.clear()
            _extend(line, rest)
        if line:
            yield self._item(bytes(line))

    def _item(self, line: bytes) -> Read | Press:
        button = button_of_line(line)
        if button is not None:
            return Press(button, self._clock(), self.name)
        return Read(line, "UNKNOWN", self.name, self._clock())

    def _next_chunk(self) -> bytes:
        # read1 returns what has arrived, at most one system call: a scan ending in CR must
        # be seen at once, not when the next scan fills a buffer. A stream without it is
        # read a byte at a time, as read(n) may wait for all n bytes.
        read1 = getattr(self._stream, "read1", None)
        try:
            return read1(_CHUNK) if read1 is not None else self._stream.read(1)
        except (OSError, ValueError) as exc:  # a terminal gone; a closed stream
            raise DeviceError(f"cannot read scans from standard input: {exc}") from exc


def _extend(line: bytearray, piece: bytes) -> None:
    """Add ``piece`` to ``line``, keeping at most one byte past the limit."""
    room = LINE_LIMIT + 1 - len(line)
    if room > 0:
        line += piece[:room]
