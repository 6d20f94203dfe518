"""The camera seam: frames come from a ``FrameSource``, codes from a ``Decoder``.

:class:`hal.camera.reader.CameraReader` turns the frames of any source into reads; sources
are *live* (a camera) or *recorded* (a folder, a video file), as each says with
:attr:`FrameSource.live`.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from hal.resource import Resource


@dataclass(frozen=True, eq=False)
class Frame:
    """One grayscale picture from a camera or its stand-in.

    Frames compare by identity: comparing pixel arrays element-wise is never what is meant.

    Attributes:
        gray: the picture, a 2-D ``uint8`` array (rows, columns); may be a non-contiguous
            view, such as the Y plane sliced out of a padded YUV420 buffer.
        at: when it was taken, in monotonic seconds of the source's own clock.
        name: what the source calls it (a file name, a frame number), for logs.
    """

    gray: np.ndarray
    at: float
    name: str

    def __post_init__(self) -> None:
        check_gray(self.gray)


def check_gray(gray: np.ndarray) -> None:
    """Check that ``gray`` is a grayscale picture as decoders take it.

    Args:
        gray: the array to check.

    Raises:
        ValueError: it is not a non-empty 2-D ``uint8`` array.
    """
    if isinstance(gray, np.ndarray) and gray.ndim == 2 and gray.dtype == np.uint8 and gray.size:
        return
    shape = getattr(gray, "shape", None)
    dtype = getattr(gray, "dtype", type(gray).__name__)
    raise ValueError(
        f"a grayscale frame is a non-empty 2-D uint8 array, not {dtype} of shape {shape}"
    )


def check_fps(fps: float) -> None:
    """Refuse a frame rate that is not a positive, finite number.

    Raises:
        ValueError: ``fps`` is zero, negative, infinite or NaN.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps!r}")


class FrameSource(Resource, abc.ABC):
    """Where frames come from: a camera, a folder of images, a video file.

    Use it as a context manager, so the device is released however the loop ends.

    Attributes:
        live: True for a camera, whose frames come at its own pace whether or not they
            are taken (a slow decoder drops frames); False for a recording, whose every
            frame waits until it is taken.
    """

    live: ClassVar[bool] = False

    @abc.abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Yield frames in the order they were taken, until the source ends or is closed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop :meth:`frames` and release the device. Closing twice is harmless.

        It may be called from another thread while :meth:`frames` waits for a frame: the
        source then ends :meth:`frames` soon and releases the device once that read has
        returned, never under it.
        """


class Decoder(abc.ABC):
    """Finds and decodes the codes in one grayscale frame."""

    @abc.abstractmethod
    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode every code visible in a frame.

        Args:
            gray: a 2-D ``uint8`` array, possibly a non-contiguous view.

        Returns:
            One ``(payload, symbology)`` pair per code found, payload as the decoder
            delivered it and symbology as stocktaker names it (``QR``, ``CODE128``...);
            empty when the frame shows no code.
        """
