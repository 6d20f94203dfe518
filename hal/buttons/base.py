"""``Press`` values, the ``Buttons`` interface, the queue presses wait in, and the null backend."""

from __future__ import annotations

import abc
import queue
from collections.abc import Iterator
from dataclasses import dataclass

from hal.backends import Absent
from hal.resource import Resource

BUTTONS = ("end", "next", "mode")
"""The buttons a device has: ``end`` ends the room, ``next`` moves on or confirms, ``mode``
switches what the device does."""


@dataclass(frozen=True)
class Press:
    """One button press.

    Attributes:
        button: which button, one of :data:`BUTTONS`.
        at: monotonic seconds when the press arrived.
        source: what delivered it: ``gpio``, or ``stdin`` for a function key typed in
            the terminal.

    Raises:
        ValueError: ``button`` is not one of :data:`BUTTONS`.
    """

    button: str
    at: float
    source: str

    def __post_init__(self) -> None:
        if self.button not in BUTTONS:
            raise ValueError(f"unknown button {self.button!r}; expected one of"
                             f" {', '.join(BUTTONS)}")


_CLOSED = object()


class PressQueue:
    """Presses handed from callback threads to the one thread that drains them.

    :meth:`put` is all a callback does (it never blocks: the queue has no bound, and a
    technician cannot press faster than the loop drains). :meth:`drain` blocks until a
    press arrives and ends once :meth:`close` is called from any thread.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False

    def put(self, press: Press) -> None:
        """Hand a press over; ignored once closed."""
        if not self._closed:
            self._queue.put(press)

    def drain(self) -> Iterator[Press]:
        """Yield presses as they arrive, blocking in between, until :meth:`close`.

        Presses that arrived before :meth:`close` are still yielded.
        """
        while True:
            if self._closed and self._queue.empty():
                return
            item = self._queue.get()
            if not isinstance(item, Press):  # only _CLOSED is put besides presses
                return
            yield item

    def close(self) -> None:
        """End :meth:`drain`, waking it if it is waiting. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSED)


class Buttons(Resource, abc.ABC):
    """The device's buttons: :meth:`presses` yields each :class:`Press` as it happens.

    Use it as a context manager, or call :meth:`close` when done; :meth:`close` from
    another thread ends a :meth:`presses` that is waiting.
    """

    @abc.abstractmethod
    def presses(self) -> Iterator[Press]:
        """Yield each press as it arrives, blocking in between; ends at :meth:`close`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the buttons and end :meth:`presses`. Safe to call twice."""


class NoButtons(Buttons):
    """No buttons of its own: :meth:`presses` ends at once.

    The ``terminal`` backend: there, presses are function keys that arrive on standard
    input and come out of the stdin scanner's reads (see :mod:`hal.buttons.keys`).
    """

    def presses(self) -> Iterator[Press]:
        """Nothing to yield."""
        return iter(())

    def close(self) -> None:
        """Nothing to release."""


class NullButtons(NoButtons, Absent):
    """The ``none`` backend: no buttons fitted."""
