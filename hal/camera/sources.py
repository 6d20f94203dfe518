"""How ``camera.device`` names a webcam or a Raspberry Pi camera.

The backends themselves are chosen in :mod:`hal.camera.backends`.
"""

from __future__ import annotations

from hal.errors import DeviceError
from hal.text import terminal_safe


def webcam_path(device: str) -> str:
    """The V4L2 device node ``device`` names: a path as it is, ``N`` as ``/dev/videoN``.

    Raises:
        DeviceError: neither a path nor a number.
    """
    device = device.strip()
    if not device:
        return "/dev/video0"
    if device.isdecimal() and device.isascii():
        return f"/dev/video{int(device)}"
    if device.startswith("/"):
        return device
    raise DeviceError(f"camera.device: {terminal_safe(repr(device))} is not a webcam"
                      " (use /dev/videoN, a /dev/v4l/by-id/… path, or N)")


def camera_number(device: str) -> int:
    """The Raspberry Pi camera number ``device`` names; the first (0) when empty.

    Raises:
        DeviceError: not a number.
    """
    device = device.strip()
    if not device:
        return 0
    if device.isdecimal() and device.isascii() and len(device) <= 2:
        return int(device)
    raise DeviceError(f"camera.device: {terminal_safe(repr(device))} is not a camera number"
                      " (0 for the first camera, 1 for the second)")
