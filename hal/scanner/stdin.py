"""The scanner stand-in: lines on standard input, one scan each, as a wedge scanner types them.

It is also the terminal stand-in for the device's buttons: a line holding only a function
key (F1 end, F2 next, F3 mode; press the key, then Enter) is yielded as a
:class:`~hal.buttons.Press`, not as a scan. See :mod:`hal.buttons.keys` for the sequences.

Standard input is read through its file descriptor, waiting in ``poll`` on it together with
a self-pipe that :meth:`StdinScanner.close` writes to: a stop ends the reading thread at
once, while input is still open, and no thread is left inside a read of ``sys.stdin`` (whose
buffer lock the interpreter needs at exit).
"""

from __future__ import annotations

import os
import re
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hal.buttons.base import Press
from hal.buttons.keys import button_of_line
from hal.errors import DeviceError
from hal.read import Read
from hal.resource import ReadGuard
from hal.scanner.base import Scanner

#: A line longer than this is cut here (and then rejected as over-long by tag parsing).
LINE_LIMIT = 4096

_LINE_END = re.compile(rb"[\r\n]")
_CHUNK = 4096


class StdinScanner(Scanner[Read | Press]):
    """One scan per line of a byte stream (standard input by default).

    A line ends with CR, LF or CR LF: scanners are set to send any of them. The bytes of
    each line are passed on untouched but for its ending. A line is yielded as soon as its
    ending arrives, without waiting for more input. Empty lines are not scans (a
    technician pressing Enter); a line of only spaces is, and is rejected later like any
    other bad label. A line longer than :data:`LINE_LIMIT` is passed on cut to
    ``LINE_LIMIT + 1`` bytes (so that it is rejected as over-long) and the rest of it is
    skipped. A line that is a function key alone is a button press (see the module). End
    of input, or no standard input at all, ends the scanner.

    :meth:`close` (from any thread) ends :meth:`reads` at once, input still open or not; a
    line not yet ended is then dropped, never yielded. A stream with a file descriptor (a
    pipe, a terminal, a file) is read through the descriptor, not through the stream's own
    buffer, which must therefore hold nothing yet; the descriptor is never closed here.

    Args:
        stream: a binary stream; ``sys.stdin.buffer`` when None.
        clock: monotonic seconds for ``Read.at``.
    """

    name = "stdin"

    def __init__(self, stream: BinaryIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else getattr(sys.stdin, "buffer", None)
        self._clock = clock
        self._fd = _descriptor(self._stream)
        self._lock = threading.Lock()
        self._wake_r = self._wake_w = -1
        if self._fd is not None:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
        # The reading thread waits only between enter() and leave(); close() from another
        # thread then leaves closing the pipe to it, so no fd is closed under a poll.
        self._guard = ReadGuard(self._shutdown, wake=self._wake)

    def reads(self) -> Iterator[Read | Press]:
        """Yield one :class:`Read` per non-empty line until end of input or :meth:`close`.

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
        if line and chunk is not None:  # input ended after a last line without its ending
            yield self._item(bytes(line))

    def close(self) -> None:
        """End :meth:`reads` (from any thread: it returns promptly). Safe to call twice."""
        self._guard.close()

    def _item(self, line: bytes) -> Read | Press:
        button = button_of_line(line)
        if button is not None:
            return Press(button, self._clock(), self.name)
        return Read(line, "UNKNOWN", self.name, self._clock())

    def _next_chunk(self) -> bytes | None:
        """What has arrived; ``b""`` at end of input, None once closed."""
        if self._fd is None:
            return None if self._guard.closed else self._next_from_stream()
        if not self._guard.enter():
            return None
        try:
            chunk = self._wait_and_read(self._fd)
        except OSError as exc:  # a terminal gone; a descriptor closed
            if self._guard.leave():
                raise DeviceError(f"cannot read scans from standard input: {exc}") from exc
            return None
        except BaseException:
            self._guard.leave()
            raise
        return chunk if self._guard.leave() else None

    def _wait_and_read(self, fd: int) -> bytes | None:
        """The bytes that arrived on ``fd`` (at most one read), or None when woken by close."""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = {ready_fd for ready_fd, _ in poller.poll()}
            if self._wake_r in ready:
                return None
            # Readable, hung up or in error: one read says which (data, b"" or OSError).
            try:
                return os.read(fd, _CHUNK)
            except BlockingIOError:
                continue  # a non-blocking descriptor whose input another reader took

    def _next_from_stream(self) -> bytes:
        # read1 returns what has arrived, at most one system call: a scan ending in CR must
        # be seen at once, not when the next scan fills a buffer. A stream without it is
        # read a byte at a time, as read(n) may wait for all n bytes.
        stream = self._stream
        assert stream is not None  # reads() ends at once without a stream
        read1 = getattr(stream, "read1", None)
        try:
            return read1(_CHUNK) if read1 is not None else stream.read(1)
        except (OSError, ValueError) as exc:  # a terminal gone; a closed stream
            raise DeviceError(f"cannot read scans from standard input: {exc}") from exc

    def _wake(self) -> None:
        if self._wake_w < 0:
            return
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: the reader wakes anyway

    def _shutdown(self) -> None:
        with self._lock:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)


def _descriptor(stream: object) -> int | None:
    """The stream's file descriptor; None when it has none (an in-memory stream)."""
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return None
    try:
        fd: int = fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation; a closed stream
        return None
    return fd


def _extend(line: bytearray, piece: bytes) -> None:
    """Add ``piece`` to ``line``, keeping at most one byte past the limit."""
    room = LINE_LIMIT + 1 - len(line)
    if room > 0:
        line += piece[:room]
