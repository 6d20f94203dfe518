"""The camera seam: frames come from a ``FrameSource``, codes from a ``Decoder``, reads from both.

``CameraReader`` is the only thing above it that the rest of stocktaker sees: it turns the
frames of any source into :class:`hal.read.Read` values, one per code found.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from hal.read import Read
from hal.resource import Resource

logger = logging.getLogger("hal.camera")


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


class FrameSource(Resource, abc.ABC):
    """Where frames come from: a camera, a folder of images, a video file.

    Use it as a context manager, so the device is released however the loop ends.
    """

    @abc.abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Yield frames in the order they were taken, until the source ends or is closed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device. Closing twice is harmless."""


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


class CameraReader(Resource):
    """Turns the frames of a source into reads: one :class:`Read` per code found in each frame.

    A frame the decoder fails on is logged (logger ``hal.camera``) and skipped: one bad frame
    never stops the camera. Errors of the source itself (a camera gone) do propagate.

    Args:
        source: where frames come from; the reader owns it and closes it.
        decoder: what finds the codes in each frame.
        name: the reader's configured name, given to each read as its ``source``.
    """

    def __init__(self, source: FrameSource, decoder: Decoder, name: str = "camera") -> None:
        self._source = source
        self._decoder = decoder
        self.name = name

    def reads(self) -> Iterator[Read]:
        """Yield reads as frames arrive, stamped with their frame's time."""
        for frame in self._source.frames():
            try:
                found = self._decoder.decode(frame.gray)
            # A decoder is third-party native code fed arbitrary pictures: whatever it
            # raises on one frame must not end the scanning session.
            except Exception:
                logger.warning(
                    "%s: could not decode frame %s", self.name, frame.name, exc_info=True
                )
                continue
            for payload, symbology in found:
                yield Read(payload=payload, symbology=symbology, source=self.name, at=frame.at)

    def close(self) -> None:
        """Close the frame source. Closing twice is harmless."""
        self._source.close()
