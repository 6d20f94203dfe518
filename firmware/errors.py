"""The error family: one root, raised at the boundary, worded for the person who must act.

Each error lives in the layer that raises it (:mod:`hal.errors`, :mod:`sync.errors`); the
application imports the whole family from here.
"""

from __future__ import annotations

from hal.errors import ConfigError, DeviceError, StocktakerError
from sync.errors import (
    ManifestError, QueueError, RegisterError, RegisterRefused, RegisterUnavailable,
)

__all__ = [
    "ConfigError",
    "DeviceError",
    "ManifestError",
    "QueueError",
    "RegisterError",
    "RegisterRefused",
    "RegisterUnavailable",
    "StocktakerError",
]
