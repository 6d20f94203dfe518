"""A USB webcam through Video4Linux2, for a laptop or a Pi with a USB camera.

The device is driven with linuxpy (``pip install 'stocktaker[v4l2]'``), a maintained,
pure-Python V4L2 binding: no FFmpeg or OpenCV underneath, which matters on a Pi, and
the camera's own controls (exposure, focus) within reach, which a video library's V4L2
input does not give. Of the pixel formats the webcam offers, gray (``GREY``) or YUV 4:2:2
(``YUYV``: every other byte is the luminance) is taken as it comes, without a colour
conversion; a webcam that only offers Motion-JPEG (``MJPG``) has each frame decoded to
gray by Pillow.
"""

from __future__ import annotations

import io
import logging
import select
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from hal.camera.base import Frame, FrameSource, check_fps
from hal.errors import DeviceError
from hal.resource import ReadGuard
from hal.text import terminal_safe

log = logging.getLogger("hal.camera")

INSTALL_HINT = "pip install 'stocktaker[v4l2]' (linuxpy)"
#: Pixel formats taken, best first.
PIXEL_FORMATS = ("GREY", "YUYV", "MJPG")
#: Seconds without a frame, on top of one frame's time, after which the webcam is lost.
STALL_TIMEOUT = 2.0
#: Longest single wait for a frame, so that a close is noticed while the webcam is silent.
POLL = 0.25


def load_linuxpy() -> tuple[Any, Any]:
    """linuxpy's ``Device`` and ``VideoCapture`` classes.

    Raises:
        DeviceError: linuxpy is not installed; the message says how to install it.
    """
    try:
        from linuxpy.video.device import Device, VideoCapture
    except ImportError as exc:
        raise DeviceError(f"the v4l2 camera backend needs linuxpy: {INSTALL_HINT}") from exc
    return Device, VideoCapture


class WebcamFrames(FrameSource):
    """Frames from a V4L2 webcam, as they come (a live source).

    Args:
        path: the device node (``/dev/video0``, a ``/dev/v4l/by-id/…`` link).
        size: (width, height) asked for; the webcam may choose the nearest it has.
        fps: the frame rate asked for.
        exposure_ms: a fixed exposure time, where the webcam allows one; 0 leaves its
            auto-exposure on.
        autofocus: switch on continuous autofocus, where the webcam has it.
        stall_timeout: seconds without a frame, beyond one frame's time, after which the
            webcam counts as lost.
        device_class: linuxpy's ``Device``; loaded with :func:`load_linuxpy` when None.
        capture_class: linuxpy's ``VideoCapture``; loaded with it when None.
        clock: monotonic seconds for each frame's ``at``, read when the frame arrives.

    Raises:
        DeviceError: linuxpy is missing; the device is missing, not a camera, not
            permitted (the ``video`` group), busy, or offers none of :data:`PIXEL_FORMATS`.
        ValueError: a frame rate that is not positive.
    """

    live = True

    def __init__(self, path: str = "/dev/video0", *, size: tuple[int, int] = (640, 480),
                 fps: float = 10.0, exposure_ms: float = 0.0, autofocus: bool = True,
                 stall_timeout: float = STALL_TIMEOUT, device_class: Any = None,
                 capture_class: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_fps(fps)
        if device_class is None or capture_class is None:
            device_class, capture_class = load_linuxpy()
        self.path = path
        self._clock = clock
        self._timeout = stall_timeout + 1.0 / fps
        self._device = device_class(path, blocking=False)
        try:
            self._device.open()
        except OSError as exc:
            raise DeviceError(f"cannot open webcam {self._shown()}: {_reason(exc)}"
                              f"{_hint(exc)}") from exc
        self._capture = capture_class(self._device)
        self._guard = ReadGuard(self._release)
        try:
            fourcc = self._pick_format()
            self._capture.set_format(int(size[0]), int(size[1]), fourcc)
            self._capture.set_fps(fps)
            self.format = self._capture.get_format()
            self.pixel_format = _fourcc(self.format.pixel_format)
            if self.pixel_format not in PIXEL_FORMATS:
                raise DeviceError(f"gave {self.pixel_format} frames, not {fourcc}")
            self._set_controls(exposure_ms, autofocus)
            self._capture.open()
        # ioctls raise OSError; linuxpy raises its own V4L2Error (not a camera, no streaming).
        except Exception as exc:
            self.close()
            raise DeviceError(f"cannot start webcam {self._shown()}: {_reason(exc)}") from exc
        log.info("webcam %s started: %dx%d %s", self._shown(), self.format.width,
                 self.format.height, self.pixel_format)

    def frames(self) -> Iterator[Frame]:
        """Yield the webcam's frames until :meth:`close`.

        A Motion-JPEG frame that cannot be decoded (a webcam may send a torn one) is
        logged and skipped.

        Raises:
            DeviceError: no frame came for a few seconds, or the webcam failed (unplugged).
        """
        number = 0
        while True:
            data = self._next_buffer()
            if data is None:
                return
            at = self._clock()
            try:
                gray = self._gray(data)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                log.warning("webcam %s: skipping a frame that cannot be decoded: %s",
                            self._shown(), _reason(exc))
                continue
            yield Frame(gray=gray, at=at, name=f"frame {number}")
            number += 1

    def close(self) -> None:
        """Stop streaming and close the device (once a read in progress has returned)."""
        self._guard.close()

    def _next_buffer(self) -> bytearray | None:
        """The next frame's bytes, copied out of the driver's buffer; None once closed."""
        waited = 0.0
        while self._guard.enter():
            try:
                ready, _, _ = select.select([self._device], [], [], POLL)
                if not ready:
                    waited += POLL
                    if waited >= self._timeout:
                        raise DeviceError(f"no frame from webcam {self._shown()} for"
                                          f" {self._timeout:.1f} s: unplugged, or it hung")
                    continue
                into = bytearray(self.format.size)
                frame = self._capture.buffer.raw_read(into)
                return into[:len(frame.data)]
            except OSError as exc:
                if isinstance(exc, DeviceError):
                    raise
                raise DeviceError(f"webcam {self._shown()} failed: {_reason(exc)}") from exc
            finally:
                self._guard.leave()
        return None

    def _gray(self, data: bytearray) -> np.ndarray:
        width, height, line = self.format.width, self.format.height, self.format.bytes_per_line
        if self.pixel_format == "MJPG":
            with Image.open(io.BytesIO(data)) as image:
                image.draft("L", (width, height))  # JPEG decodes straight to luminance
                return np.asarray(image.convert("L"))
        if len(data) < line * height:
            raise ValueError(f"a short frame: {len(data)} of {line * height} bytes")
        rows = np.frombuffer(data, dtype=np.uint8, count=line * height).reshape(height, line)
        if self.pixel_format == "YUYV":
            return rows[:, 0:2 * width:2]  # Y0 U Y1 V: the Y bytes, a view
        return rows[:, :width]

    def _pick_format(self) -> str:
        offered = {_fourcc(f.pixel_format) for f in self._device.info.formats}
        for fourcc in PIXEL_FORMATS:
            if fourcc in offered:
                return fourcc
        names = ", ".join(sorted(offered)) or "none"
        raise DeviceError(f"offers none of {', '.join(PIXEL_FORMATS)} (it offers {names})")

    def _set_controls(self, exposure_ms: float, autofocus: bool) -> None:
        """Best effort: a webcam without a control, or refusing it, is noted and used as is."""
        wanted: list[tuple[str, object]] = []
        if exposure_ms > 0:
            # auto_exposure 1 is V4L2_EXPOSURE_MANUAL; the time is in units of 100 µs.
            wanted += [("auto_exposure", 1),
                       ("exposure_time_absolute", max(1, round(exposure_ms * 10)))]
        if autofocus:
            wanted.append(("focus_automatic_continuous", True))
        for name, value in wanted:
            try:
                self._device.controls[name].value = value
            except KeyError:
                log.info("webcam %s has no %s control", self._shown(), name)
            except (OSError, AttributeError, ValueError) as exc:
                log.warning("webcam %s refused %s = %s: %s", self._shown(), name, value,
                            _reason(exc))

    def _release(self) -> None:
        for step in (self._capture.close, self._device.close):
            try:
                step()
            except (OSError, ValueError) as exc:  # a webcam unplugged fails to stop
                log.warning("webcam %s did not close cleanly: %s", self._shown(), _reason(exc))

    def _shown(self) -> str:
        return terminal_safe(self.path)


def _fourcc(code: Any) -> str:
    """A V4L2 pixel format as its four characters (``YUYV``)."""
    value = int(code)
    return "".join(chr((value >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip()


def _hint(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return " (add the user to the 'video' group)"
    if isinstance(exc, FileNotFoundError):
        return " (is it plugged in? 'v4l2-ctl --list-devices' lists the webcams)"
    return ""


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(terminal_safe(text).split())
