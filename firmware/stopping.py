"""Stop signals: SIGTERM, SIGINT, SIGHUP and SIGQUIT end the device loop cleanly.

systemd stops a service with SIGTERM, Ctrl-C sends SIGINT, a closed terminal SIGHUP and
Ctrl-\\ SIGQUIT. Their default actions skip every cleanup, so the room's report would
only be rebuilt at the next start. Here each raises :class:`StopRequested` in the main
thread — but never in the middle of a scan: while a scan is being saved the signal is
held and raised once the scan is done, so a scan is either wholly counted or not at all.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

__all__ = ["STOP_SIGNALS", "StopRequested", "StopSignals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


class StopRequested(BaseException):
    """A stop signal arrived; ``signum`` says which.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception``
    on the way swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Turns the stop signals into :class:`StopRequested` while in use (a context manager).

    Only the first signal counts; later ones are ignored while the loop winds down.
    """

    def __init__(self) -> None:
        self._saved: dict[int, Any] = {}
        self._holding = 0
        self._held: int | None = None
        self.stopping = False

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._saved[signum] = signal.signal(signum, self._arrived)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold stop signals during a step that must finish (a scan being saved)."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding and self._held is not None and not self.stopping:
            self.stopping = True
            raise StopRequested(self._held)

    def wind_down(self) -> None:
        """From now on stop signals are ignored: the loop is already ending."""
        self.stopping = True

    def _arrived(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        if self._holding:
            self._held = signum
            return
        self.stopping = True
        raise StopRequested(signum)
