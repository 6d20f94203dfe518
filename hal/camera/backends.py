"""The camera's settings (``[camera]``), its table of backends and :func:`open_camera`.

Backends: ``files`` (a folder of images), ``video`` (a video file), ``v4l2`` (a USB
webcam), ``picamera2`` (a Raspberry Pi camera) and ``none`` (:class:`NullCamera`). Each
backend's library, and the decoders with numpy, are imported only when a camera is
opened: this module is read by the configuration of devices without a camera too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hal.backends import Absent, Backend, backend_choices, choices, choose, known
from hal.checks import Finding, System
from hal.errors import DeviceError
from hal.resource import Resource
from hal.text import terminal_safe

if TYPE_CHECKING:
    from hal.camera.base import Decoder, FrameSource
    from hal.camera.reader import CameraReader
    from hal.read import Read


class NullCamera(Resource, Absent):
    """The ``none`` backend: no camera fitted; :meth:`reads` ends at once."""

    name = "camera"

    def reads(self) -> Iterator[Read]:
        """Nothing to yield."""
        return iter(())


def _folder(settings: CameraSettings) -> FrameSource:
    from hal.camera.files import FolderFrames

    return FolderFrames(settings.path, fps=settings.fps)


def _video(settings: CameraSettings) -> FrameSource:
    from hal.camera.video import VideoFileFrames

    return VideoFileFrames(settings.path)


def _webcam(settings: CameraSettings) -> FrameSource:
    from hal.camera.sources import webcam_path
    from hal.camera.webcam import WebcamFrames

    return WebcamFrames(webcam_path(settings.device), size=(settings.width, settings.height),
                        fps=settings.fps, exposure_ms=settings.exposure_ms,
                        autofocus=settings.autofocus)


def _picamera(settings: CameraSettings) -> FrameSource:
    from hal.camera.picamera import PicameraFrames
    from hal.camera.sources import camera_number

    return PicameraFrames(camera_number(settings.device), size=(settings.width, settings.height),
                          fps=settings.fps, exposure_ms=settings.exposure_ms,
                          autofocus=settings.autofocus)


@dataclass(frozen=True)
class CameraBackend(Backend[Any]):
    """A camera backend with frames of its own (all but ``none``).

    Attributes:
        source: builds the frame source from the settings (without a decoder: ``bench
            decode --camera`` times the decoder itself).
    """

    source: Callable[[CameraSettings], FrameSource] | None = None


def _camera(source: Callable[[CameraSettings], FrameSource],
            check: Callable[[CameraSettings, System], list[Finding]],
            **rules: Callable[[Any, Any], None]) -> CameraBackend:
    """The entry of a camera whose ``source`` frames are read by the settings' decoder."""
    def open_reader(settings: CameraSettings, *, decoder: Decoder | None = None,
                    name: str = "camera") -> CameraReader:
        from hal.camera.reader import CameraReader

        decoder = decoder or open_settings_decoder(settings)  # before a camera is taken
        return CameraReader(source(settings), decoder, name)

    return CameraBackend(open_reader, check, rules=rules, source=source)


def _open_none(settings: CameraSettings, *, decoder: Decoder | None = None,
               name: str = "camera") -> NullCamera:
    return NullCamera()


def _check_picamera(settings: CameraSettings, system: System) -> list[Finding]:
    if not system.has_module("picamera2"):
        return [Finding("camera", "picamera2", False, "picamera2 cannot be imported",
                        "sudo apt install python3-picamera2, and make the virtual"
                        " environment with --system-site-packages")]
    return [Finding("camera", "picamera2", True, "picamera2 installed")]


def _check_webcam(settings: CameraSettings, system: System) -> list[Finding]:
    node = settings.device or "/dev/video0"
    node = node if node.startswith("/") else f"/dev/video{node}"
    if not system.has_module("linuxpy"):
        return [Finding("camera", node, False, "linuxpy is not installed",
                        "pip install 'stocktaker[v4l2]'")]
    if not system.exists(node):
        return [Finding("camera", node, False, "no such device", "plug the webcam in")]
    if not system.usable(node):
        return [Finding("camera", node, False, "permission denied",
                        system.join_fix(node, "video"))]
    return [Finding("camera", node, True, "present")]


def _check_recorded(settings: CameraSettings, system: System) -> list[Finding]:
    path = str(settings.path)
    if not Path(path).exists():
        return [Finding("camera", f"{settings.backend} {path}", False, "not found",
                        "set camera.path to the folder of images or the video file")]
    return [Finding("camera", f"{settings.backend} {path}", True, "present")]


def _webcam_device(value: str, settings: CameraSettings) -> None:
    device = value.strip()  # empty: the first webcam
    if device and not ((device.isascii() and device.isdecimal()) or device.startswith("/")):
        raise ValueError(f"{device!r} is not a webcam (use /dev/videoN, a /dev/v4l/by-id/…"
                         " path, or N)")


def _camera_number(value: str, settings: CameraSettings) -> None:
    device = value.strip()  # empty: the first camera
    if device and not (device.isascii() and device.isdecimal() and len(device) <= 2):
        raise ValueError(f"{device!r} is not a camera number (0 for the first, 1 for the"
                         " second)")


BACKENDS: dict[str, Backend[Any]] = {
    "files": _camera(_folder, _check_recorded),
    "none": Backend(_open_none),
    "video": _camera(_video, _check_recorded),
    "v4l2": _camera(_webcam, _check_webcam, device=_webcam_device),
    "picamera2": _camera(_picamera, _check_picamera, device=_camera_number),
}
"""The camera backends by name."""


@dataclass(frozen=True)
class CameraSettings:
    """``[camera]``: where frames come from and how they are decoded.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        path: the image folder (``files``) or the video file (``video``).
        device: the webcam (``v4l2``: ``/dev/videoN`` or N, empty for ``/dev/video0``) or
            the camera number (``picamera2``: N, empty for the first camera).
        width, height: the frame size asked of a camera, in pixels.
        fps: the frame rate asked of a camera; for ``files``, the rate the frames'
            timestamps pretend to.
        exposure_ms: a camera's fixed exposure time; 0 leaves exposure automatic, kept short.
        autofocus: focus continuously, where the camera can.
        decoder: ``auto`` (zxing-cpp and zbar together), ``zbar`` or ``zxing``.
        symbologies: the symbologies looked for; empty for the decoder's default set.
        redundancy: frames a code must be found in before it is a read.
    """

    backend: str = field(default="none", metadata=backend_choices(BACKENDS))
    path: Path = Path("frames")
    device: str = ""
    width: int = 640
    height: int = 480
    fps: float = 10.0
    exposure_ms: float = 0.0
    autofocus: bool = True
    decoder: str = field(default="auto", metadata=choices("auto", "zbar", "zxing"))
    symbologies: list[str] = field(default_factory=list)
    redundancy: int = 2


def open_settings_decoder(settings: CameraSettings) -> Decoder:
    """The decoder ``settings`` describe (``decoder``, ``symbologies``, ``redundancy``)."""
    from hal.camera.decode import open_decoder

    return open_decoder(settings.decoder, settings.symbologies or None,
                        redundancy=settings.redundancy)


def open_camera(settings: CameraSettings, *, decoder: Decoder | None = None,
                name: str = "camera") -> Any:
    """The camera ``settings.backend`` names, its frames read by a decoder.

    Args:
        settings: the ``[camera]`` settings.
        decoder: what finds the codes in each frame (called from one thread, in frame
            order); the one the settings describe when None.
        name: the reader's name, the ``source`` of its reads.

    Returns:
        A :class:`~hal.camera.reader.CameraReader`, or a :class:`NullCamera` for ``none``.

    Raises:
        DeviceError: an unknown backend, the backend's library missing (the message says
            how to install it), or the device or file missing or unusable.
    """
    return _backend(settings.backend).open(settings, decoder=decoder, name=name)


def open_frame_source(settings: CameraSettings) -> FrameSource:
    """The frame source of the camera ``settings.backend`` names (no decoder).

    Raises:
        DeviceError: as :func:`open_camera`; ``none`` has no frames.
    """
    source = getattr(_backend(settings.backend), "source", None)
    if source is None:
        raise DeviceError(f"camera backend {terminal_safe(repr(settings.backend))} has no"
                          " frames")
    return source(settings)


def _backend(name: str) -> Backend[Any]:
    return choose(BACKENDS, name, lambda name: DeviceError(
        f"unknown camera backend {terminal_safe(repr(name))} (known: {known(BACKENDS)})"))
