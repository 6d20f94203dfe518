"""The camera's stand-in: a folder of images replayed as frames, on a virtual clock."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from hal.camera.base import Frame, FrameSource, check_fps
from hal.errors import DeviceError

logger = logging.getLogger("hal.camera")

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".pgm", ".ppm", ".gif", ".tif", ".tiff"}
)
"""File name endings taken as images (compared case-insensitively)."""


def load_gray(path: str | Path) -> np.ndarray:
    """Load an image file as an 8-bit grayscale array, as a camera's Y plane would be.

    Only the first picture of an animated GIF or multi-page TIFF is taken.

    Args:
        path: the image file.

    Returns:
        A 2-D ``uint8`` array.

    Raises:
        DeviceError: the file is missing, unreadable or not an image Pillow can decode;
            the message names the file and the reason.
    """
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DeviceError(f"cannot read image {path}: {exc}") from exc


class FolderFrames(FrameSource):
    """Every image in a folder, one frame each, in file-name order.

    Frame ``i`` (the ``i``-th image file by name) is stamped ``at = i / fps``: the folder
    replays as fast as it is decoded, yet the times between frames are those a camera at
    ``fps`` would record, so de-bouncing behaves as on the device, deterministically. A file
    that cannot be read is logged and skipped, and leaves a gap in time like a dropped frame.

    Args:
        path: the folder.
        fps: the frame rate the timestamps pretend to.

    Raises:
        DeviceError: the folder is missing, not a directory or cannot be looked at
            (no permission, a name too long).
        ValueError: ``fps`` is not a positive finite number.
    """

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        check_fps(fps)
        self.path = Path(path)
        try:
            is_dir = self.path.is_dir()
            exists = is_dir or self.path.exists()
        except OSError as exc:  # no permission on a parent folder, a name too long...
            reason = exc.strerror or str(exc)
            raise DeviceError(f"cannot use camera image folder {self.path}: {reason}") from exc
        if not is_dir:
            what = "is not a directory" if exists else "does not exist"
            raise DeviceError(f"camera image folder {self.path} {what}")
        self.fps = fps
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        """Yield one frame per image file, until the folder is done or the source is closed.

        Raises:
            DeviceError: the folder cannot be listed.
            ValueError: the source was closed before this call.
        """
        if self._closed:
            raise ValueError(f"image folder {self.path} is closed")
        for index, path in enumerate(self._image_files()):
            if self._closed:
                return
            try:
                gray = load_gray(path)
            except DeviceError as exc:
                logger.warning("skipping frame: %s", exc)
                continue
            yield Frame(gray=gray, at=index / self.fps, name=path.name)

    def close(self) -> None:
        """Stop any replay in progress. Closing twice is harmless."""
        self._closed = True

    def _image_files(self) -> list[Path]:
        try:
            entries = sorted(self.path.iterdir(), key=lambda entry: entry.name)
            # is_file() too: a folder that may be read but not searched lists its names
            # yet refuses to stat them.
            return [e for e in entries if e.suffix.lower() in IMAGE_SUFFIXES and e.is_file()]
        except OSError as exc:
            raise DeviceError(f"cannot list camera image folder {self.path}: {exc}") from exc
