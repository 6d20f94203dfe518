"""The scanner seam: something that yields one :class:`Read` per scan."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType

from hal.read import Read


class Scanner(ABC):
    """A reader of scans; ``reads()`` ends when the scanner has no more input."""

    name = "scanner"

    @abstractmethod
    def reads(self) -> Iterator[Read]:
        """Yield each scan as it arrives."""

    def close(self) -> None:
        """Release the device."""

    def __enter__(self) -> Scanner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
