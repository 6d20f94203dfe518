"""A video file as a camera: every frame in order, stamped with its time in the file.

For development on a laptop (a phone recording of a walk through a storeroom) and for
repeatable tests of the whole camera path. Files are read with PyAV (``pip install
'stocktaker[video]'``): the maintained Python binding of FFmpeg, whose wheels bring their
own FFmpeg, so any format a phone records is read without system packages. For planar
YUV and gray pictures the luminance plane is taken as it is decoded, without a copy or a
colour conversion; other pixel formats are converted to gray by FFmpeg.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hal.camera.base import Frame, FrameSource
from hal.errors import DeviceError
from hal.resource import ReadGuard
from hal.text import terminal_safe

INSTALL_HINT = "pip install 'stocktaker[video]' (PyAV)"
#: Pixel formats whose first plane is the luminance, one byte per pixel.
LUMA_FIRST = frozenset({"gray", "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p",
                        "yuvj444p", "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12",
                        "nv21", "nv16", "nv24"})


def load_av() -> Any:
    """The ``av`` module (PyAV).

    Raises:
        DeviceError: PyAV is not installed; the message says how to install it.
    """
    try:
        import av
    except ImportError as exc:
        raise DeviceError(f"the video camera backend needs PyAV: {INSTALL_HINT}") from exc
    return av


class VideoFileFrames(FrameSource):
    """Every frame of a video file's first video stream, in order (a recorded source).

    Frame ``at`` is the frame's presentation time in the file, in seconds, so repeats are
    told apart as they were recorded, however fast the file is decoded.

    Args:
        path: the video file.

    Raises:
        DeviceError: PyAV is missing, or the file is missing, unreadable, not a video or
            has no video stream; the message names the file.
    """

    def __init__(self, path: str | Path) -> None:
        av = load_av()
        self.path = Path(path)
        self._av = av
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise DeviceError(f"cannot open video file {self._shown()}: {_reason(exc)}"
                              ) from exc
        if not self._container.streams.video:
            self._container.close()
            raise DeviceError(f"video file {self._shown()} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._guard = ReadGuard(self._container.close)

    def frames(self) -> Iterator[Frame]:
        """Yield the frames of the file until its end or :meth:`close`.

        Raises:
            DeviceError: the file is broken past what FFmpeg can skip.
            ValueError: the source was closed before this call.
        """
        if self._guard.closed:
            raise ValueError(f"video file {self._shown()} is closed")
        rate = float(self._stream.average_rate or self._stream.guessed_rate or 0) or 10.0
        pictures = self._container.decode(self._stream)
        number = 0
        while self._guard.enter():
            try:
                picture = next(pictures, None)
            except self._av.error.FFmpegError as exc:
                raise DeviceError(f"video file {self._shown()} is broken at frame {number}:"
                                  f" {_reason(exc)}") from exc
            finally:
                alive = self._guard.leave()
            if not alive or picture is None:
                return
            at = picture.time if picture.time is not None else number / rate
            yield Frame(gray=luminance(picture), at=float(at), name=f"frame {number}")
            number += 1

    def close(self) -> None:
        """Stop the replay and close the file (after the frame being decoded, if one is)."""
        self._guard.close()

    def _shown(self) -> str:
        return terminal_safe(str(self.path))


def luminance(picture: Any) -> np.ndarray:
    """The gray picture of a decoded ``av.VideoFrame``: its Y plane where it has one.

    The Y plane is a view of the decoded frame (cut to its width: rows are padded to a
    line size); other pixel formats are converted to gray.
    """
    width, height = picture.width, picture.height
    if picture.format.name in LUMA_FIRST:
        plane = picture.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8, count=plane.line_size * height)
        return rows.reshape(height, plane.line_size)[:, :width]
    return picture.to_ndarray(format="gray")


def _reason(exc: BaseException) -> str:
    return " ".join(terminal_safe(str(exc) or type(exc).__name__).split())
