"""Reads from several readers at once, and the de-bounce that makes one read of a burst."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

from hal.errors import DeviceError

T = TypeVar("T")

_END = object()


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
                      tick: float | None = None) -> Iterator[list[T]]:
    """Yield reads from every stream as they arrive, every read already waiting as one burst.

    A reader that reports many tags at once (a UHF reader walking past a shelf) gives
    bursts the loop can make durable with one write. Each stream is drained by a daemon
    thread, so the caller waits for whichever has something.

    Args:
        streams: the readers' read iterators.
        most: the largest burst.
        on_failure: called (in the caller's thread) when a reader fails; the others go on,
            and the merge ends when every reader has ended or failed. Without it, the
            first failure is raised as :class:`ReaderFailed`.
        tick: when set, an empty burst is yielded after this many seconds without
            input, so the caller's timers (watchdog, screen dimming, session timeouts)
            run while nothing is scanned.
    """
    inbox: queue.Queue[object] = queue.Queue(maxsize=4 * most)
    for stream in streams:
        threading.Thread(target=_drain, args=(stream, inbox), daemon=True,
                         name="reader").start()
    running = len(streams)
    while running:
        burst: list[T] = []
        try:
            item = inbox.get(timeout=tick)
        except queue.Empty:
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
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
        if burst:
            yield burst


def _drain(stream: Iterable[object], inbox: queue.Queue[object]) -> None:
    try:
        for read in stream:
            inbox.put(read)
    except Exception as exc:  # handed to the consumer, which raises it
        inbox.put(exc)
    finally:
        inbox.put(_END)
