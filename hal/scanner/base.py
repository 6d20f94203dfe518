"""The scanner seam: something that yields one :class:`Read` per scan.

A scanner may yield other events among its reads (a device gone, a function key, a scan
thrown away); its type parameter names them all, so a consumer can narrow on each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Generic, TypeVar

from hal.backends import Absent
from hal.read import Read
from hal.resource import Resource


EventT = TypeVar("EventT", covariant=True)
"""What a scanner's :meth:`Scanner.reads` yields: :class:`Read` and its own other events."""


class Scanner(Resource, ABC, Generic[EventT]):
    """A reader of scans; ``reads()`` ends when the scanner has no more input."""

    name = "scanner"

    @abstractmethod
    def reads(self) -> Iterator[EventT]:
        """Yield each scan as it arrives."""

    def close(self) -> None:
        """Release the device."""


class NullScanner(Scanner[Read], Absent):
    """The ``none`` backend: no scanner fitted; :meth:`reads` ends at once."""

    name = "none"

    def reads(self) -> Iterator[Read]:
        """Nothing to yield."""
        return iter(())
