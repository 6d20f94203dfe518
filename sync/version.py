"""The version stocktaker names itself by on the wire (``User-Agent``, ``Server``).

The version is written once, in :mod:`firmware` (the package's metadata is built from it);
the way out reads it from the installed package's metadata, so it imports nothing above it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def stocktaker_version() -> str:
    """The installed stocktaker's version; ``unknown`` when it runs from a source tree that
    was never installed."""
    try:
        return version("stocktaker")
    except PackageNotFoundError:
        return "unknown"


__version__ = stocktaker_version()
