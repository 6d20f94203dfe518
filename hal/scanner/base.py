"""The scanner seam: something that yields one :class:`Read` per scan."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from hal.backends import Absent
from hal.read import Read
from hal.resource import Resource


class Scanner(Resource, ABC):
    """A reader of scans; ``reads()`` ends when the scanner has no more input."""

    name = "scanner"

    @abstractmethod
    def reads(self) -> Iterator[Read]:
        """Yield each scan as it arrives."""

    def close(self) -> None:
        """Release the device."""


class NullScanner(Scanner, Absent):
    """The ``none`` backend: no scanner fitted; :meth:`reads` ends at once."""

    name = "none"

    def reads(self) -> Iterator[Read]:
        """Nothing to yield."""
        return iter(())
