"""Frame sources chosen by name, and the guard that lets a source be closed mid-read.

:func:`open_camera` is the one place a camera backend is named: ``files`` (a folder of
images), ``video`` (a video file), ``v4l2`` (a USB webcam), ``picamera2`` (a Raspberry Pi
camera) or ``none``. Each backend's library is imported only when that backend is built.
"""

from __future__ import annotations

from pathlib import Path

from hal.camera.base import Decoder, FrameSource
from hal.camera.reader import CameraReader
from hal.errors import DeviceError
from hal.text import terminal_safe

BACKENDS = ("files", "video", "v4l2", "picamera2", "none")
"""Every value ``camera.backend`` may take."""


def open_camera(backend: str, *, decoder: Decoder, path: str | Path = "frames",
                device: str = "", size: tuple[int, int] = (640, 480), fps: float = 10.0,
                exposure_ms: float = 0.0, autofocus: bool = True,
                name: str = "camera") -> CameraReader | None:
    """The camera ``backend`` names, reading codes with ``decoder``; None for ``none``.

    Args:
        backend: one of :data:`BACKENDS`.
        decoder: what finds the codes in each frame; called from one thread, in frame order.
        path: the image folder (``files``) or the video file (``video``).
        device: the webcam (``v4l2``: ``/dev/videoN`` or N, empty for ``/dev/video0``) or
            the camera number (``picamera2``: N, empty for the first camera).
        size: the frame size asked of a camera, (width, height) in pixels.
        fps: the frame rate asked of a camera; for ``files``, the rate the frames'
            timestamps pretend to.
        exposure_ms: a camera's fixed exposure time; 0 leaves exposure automatic, kept short.
        autofocus: focus continuously, where the camera can.
        name: the reader's name, the ``source`` of its reads.

    Raises:
        DeviceError: an unknown backend, the backend's library missing (the message says
            how to install it), or the device or file missing or unusable.
    """
    if backend == "none":
        return None
    source = open_frame_source(backend, path=path, device=device, size=size, fps=fps,
                               exposure_ms=exposure_ms, autofocus=autofocus)
    return CameraReader(source, decoder, name)


def open_frame_source(backend: str, *, path: str | Path = "frames", device: str = "",
                      size: tuple[int, int] = (640, 480), fps: float = 10.0,
                      exposure_ms: float = 0.0, autofocus: bool = True) -> FrameSource:
    """The frame source ``backend`` names; see :func:`open_camera` for the arguments."""
    if backend == "files":
        from hal.camera.files import FolderFrames

        return FolderFrames(path, fps=fps)
    if backend == "video":
        from hal.camera.video import VideoFileFrames

        return VideoFileFrames(path)
    if backend == "v4l2":
        from hal.camera.webcam import WebcamFrames

        return WebcamFrames(webcam_path(device), size=size, fps=fps, exposure_ms=exposure_ms,
                            autofocus=autofocus)
    if backend == "picamera2":
        from hal.camera.picamera import PicameraFrames

        return PicameraFrames(camera_number(device), size=size, fps=fps,
                              exposure_ms=exposure_ms, autofocus=autofocus)
    raise DeviceError(f"unknown camera backend {terminal_safe(repr(backend))}"
                      f" (known: {', '.join(BACKENDS)})")


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
