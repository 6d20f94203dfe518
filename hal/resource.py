"""``Resource``: a part that holds a device or file, released by ``close()`` or ``with``;
``ReadGuard``: closing such a part from another thread while it reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self


class Resource:
    """A context manager whose exit calls :meth:`close`, even when the body raised."""

    def close(self) -> None:
        """Release what this holds. Safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ReadGuard:
    """Lets one thread read a device while any thread may close it, never under a read.

    The reading thread brackets each blocking read with :meth:`enter` and :meth:`leave`;
    :meth:`close` releases the device at once when no read is in progress, or leaves the
    release to :meth:`leave` when one is. Either way ``release`` runs exactly once.

    Args:
        release: what releases the device.
        wake: called by :meth:`close` before the release, to wake a read that is blocked
            (a byte into a self-pipe the read also waits on); it must not block.
    """

    def __init__(self, release: Callable[[], None],
                 wake: Callable[[], None] | None = None) -> None:
        self._release = release
        self._wake = wake
        self._lock = threading.Lock()
        self._closed = False
        self._busy = False
        self._released = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def enter(self) -> bool:
        """A read begins; False (and no read may begin) once closed."""
        with self._lock:
            if self._closed:
                return False
            self._busy = True
            return True

    def leave(self) -> bool:
        """The read has returned; False once closed, the device then released."""
        with self._lock:
            self._busy = False
            closed = self._closed
        if closed:
            self._release_once()
        return not closed

    def close(self) -> None:
        """Stop further reads; release the device now, or when the read in progress returns."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            busy = self._busy
            if self._wake is not None:
                # Under the lock: the release (which closes what wake writes to) waits.
                self._wake()
        if not busy:
            self._release_once()

    def _release_once(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._release()
