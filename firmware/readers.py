"""Reads from several readers at once, and the de-bounce that makes one read of a burst."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

from hal.errors import DeviceError

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Longest wait, in seconds, for the reader threads once the readers have been told to stop.
STOP_WAIT = 5.0

_END = object()
_NOTHING = object()


class RepeatFilter:
    """Drops a read of the same thing from the same source within ``window`` seconds.

    The window slides: a label held in front of the camera for ten seconds is one read.
    Times are the readers' own monotonic times (``Read.at``), compared per source only.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._last: dict[tuple[str, Hashable], float] = {}

    def admit(self, source: str, key: Hashable, at: float) -> bool:
        """True when this read is new, False when it repeats one within the window."""
        last = self._last.get((source, key))
        self._last[(source, key)] = at
        if len(self._last) > 4096:
            self._forget_older_than(at - self.window)
        return last is None or at - last >= self.window

    def restart(self, source: str, key: Hashable) -> None:
        """Start a new window at this read (a badge, a room label: who or where changed).

        Every earlier read is forgotten, so the same asset read again at once is a new
        read; this one is kept, so it is not taken twice while it is still being read.
        """
        kept = self._last.get((source, key))
        self._last = {} if kept is None else {(source, key): kept}

    def forget(self, source: str, key: Hashable) -> None:
        """Let the next read of ``key`` through (its scan could not be saved)."""
        self._last.pop((source, key), None)

    def _forget_older_than(self, limit: float) -> None:
        self._last = {k: t for k, t in self._last.items() if t >= limit}


class ReaderFailed(DeviceError):
    """A reader stopped with an error; ``__cause__`` holds it."""


def merge_read_bursts(streams: Sequence[Iterable[T]], most: int = 500, *,
                      on_failure: Callable[[ReaderFailed], None] | None = None,
                      tick: float | None = None,
                      stop_readers: Callable[[], None] | None = None
                      ) -> Generator[list[T], None, None]:
    """Yield reads from every stream as they arrive, every read already waiting as one burst.

    A reader that reports many tags at once (a UHF reader walking past a shelf) gives
    bursts the loop can make durable with one write. Each stream is drained by a thread
    of its own, so the caller waits for whichever has something.

    However the merge ends (every stream ended, or the caller stopped early: a stop
    signal, a failure raised, ``close()``), ``stop_readers`` is then called, which must
    make every stream end (by closing the readers: each wakes its blocked read), and the
    threads are joined, so none is left inside a read when the process exits. Reads still
    waiting are dropped then. Close the generator (``contextlib.closing``) rather than
    leave it to the collector, so this happens before the caller goes on.

    Args:
        streams: the readers' read iterators.
        most: the largest burst.
        on_failure: called (in the caller's thread) when a reader fails; the others go on,
            and the merge ends when every reader has ended or failed. Without it, the
            first failure is raised as :class:`ReaderFailed`.
        tick: when set, an empty burst is yielded after this many seconds without
            input, so the caller's timers (watchdog, screen dimming, session timeouts)
            run while nothing is scanned.
        stop_readers: ends every stream from the caller's thread. Without it, a stream
            that has not ended by itself is left to its thread (which hands nothing more
            over) and not waited for.
    """
    inbox = _Inbox(4 * most)
    threads = [threading.Thread(target=_drain, args=(stream, inbox), daemon=True,
                                name="reader") for stream in streams]
    for thread in threads:
        thread.start()
    try:
        yield from _bursts(inbox, len(threads), most, on_failure, tick)
    finally:
        inbox.close()  # a thread waiting to hand a read over gives up
        if stop_readers is not None:
            stop_readers()
            _join(threads)


def _bursts(inbox: _Inbox, running: int, most: int,
            on_failure: Callable[[ReaderFailed], None] | None,
            tick: float | None) -> Iterator[list[T]]:
    while running:
        burst: list[T] = []
        item = inbox.get(tick)
        if item is _NOTHING:
            yield burst
            continue
        while True:
            if item is _END:
                running -= 1
            elif isinstance(item, BaseException):
                failure = ReaderFailed(str(item))
                failure.__cause__ = item
                if on_failure is None:
                    if burst:
                        yield burst
                    raise failure
                on_failure(failure)
            else:
                burst.append(item)  # type: ignore[arg-type]
            if len(burst) >= most:
                break
            item = inbox.get(0.0)
            if item is _NOTHING:
                break
        if burst:
            yield burst


def _join(threads: list[threading.Thread]) -> None:
    """Wait for the reader threads, at most :data:`STOP_WAIT` seconds in all."""
    deadline = time.monotonic() + STOP_WAIT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        # A driver that ignores its close: the thread is a daemon, the process still ends.
        log.warning("%d reader(s) still inside a read after %.0f s; not waiting longer",
                    stuck, STOP_WAIT)


class _Inbox:
    """The reads on their way from the reader threads to the caller, at most ``size``.

    A full inbox makes a reader thread wait (the caller is behind); :meth:`close` ends
    every wait and makes later hand-overs refused.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: deque[object] = deque()
        self._changed = threading.Condition()
        self._closed = False

    def put(self, item: object) -> bool:
        """Hand ``item`` over, waiting while full; False once closed (``item`` dropped)."""
        with self._changed:
            while len(self._items) >= self._size and not self._closed:
                self._changed.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def get(self, timeout: float | None) -> object:
        """The oldest item, waiting at most ``timeout`` seconds (None: no limit) for one;
        :data:`_NOTHING` when none came."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._items, timeout):
                return _NOTHING
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def close(self) -> None:
        """Drop what waits, wake every waiting thread, refuse what comes later."""
        with self._changed:
            self._closed = True
            self._items.clear()
            self._changed.notify_all()


def _drain(stream: Iterable[object], inbox: _Inbox) -> None:
    try:
        for read in stream:
            if not inbox.put(read):
                break  # the merge has ended
    except Exception as exc:  # handed to the consumer, which raises it
        inbox.put(exc)
    finally:
        # A generator's own clean-up (releasing a device) runs here, in its own thread.
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        inbox.put(_END)
