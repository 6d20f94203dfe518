"""``Resource``: a part that holds a device or file, released by ``close()`` or ``with``."""

from __future__ import annotations

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
