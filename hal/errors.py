"""The root of stocktaker's error family, shared by every layer, and the errors of the
lowest one: a part of the device failed, a setting is wrong."""

from __future__ import annotations


class StocktakerError(Exception):
    """Anything stocktaker reports to a technician or an admin.

    ``exit_code`` is what the command line exits with when this error stops it.
    """

    exit_code = 1


class DeviceError(StocktakerError, OSError):
    """A part of the device (camera, scanner, display, buzzer) failed or is missing."""

    exit_code = 3


class ConfigError(StocktakerError, ValueError):
    """The configuration file is missing, unreadable or names a wrong key or value."""

    exit_code = 2
