"""The display stand-in: luma's dummy device, printed to a terminal and saved as PNG."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from luma.core.device import dummy
from PIL import Image

from hal.display.base import HEIGHT, WIDTH, Display, check_frame
from hal.errors import DeviceError
from hal.text import terminal_safe

STYLES = ("braille", "halfblock")

# The braille dot raised by a lit pixel at [y][x] of a 2x4 cell, as bits of U+2800 + n.
_BRAILLE_WEIGHTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]])
_HALF_BLOCKS = np.array([" ", "\u2580", "\u2584", "\u2588"])  # none, upper, lower, both lit


def _pixels(image: Image.Image, cell_w: int, cell_h: int) -> np.ndarray:
    """The image's lit pixels as a bool array, padded with unlit ones to whole cells."""
    lit = np.asarray(image.convert("1", dither=Image.Dither.NONE), dtype=bool)
    rows, cols = -(-lit.shape[0] // cell_h) * cell_h, -(-lit.shape[1] // cell_w) * cell_w
    return np.pad(lit, ((0, rows - lit.shape[0]), (0, cols - lit.shape[1])))


def to_braille(image: Image.Image) -> str:
    """Render an image's lit pixels as Unicode braille, 2x4 pixels per character.

    Lit pixels are raised dots; an image whose size is not a multiple of the cell is
    padded with unlit pixels. Lines are joined with ``\\n``, without a final newline.
    """
    lit = _pixels(image, 2, 4)
    cells = lit.reshape(lit.shape[0] // 4, 4, lit.shape[1] // 2, 2).astype(int)
    codes = 0x2800 + np.einsum("rycx,yx->rc", cells, _BRAILLE_WEIGHTS)
    return "\n".join("".join(map(chr, row)) for row in codes.tolist())


def to_halfblock(image: Image.Image) -> str:
    """Render an image's lit pixels with half blocks, 1x2 pixels per character.

    ``▀`` is a lit upper pixel, ``▄`` a lit lower one, ``█`` both, a space neither.
    Lines are joined with ``\\n``, without a final newline.
    """
    lit = _pixels(image, 1, 2).astype(int)
    index = lit[0::2] + 2 * lit[1::2]
    return "\n".join("".join(row) for row in _HALF_BLOCKS[index].tolist())


def slug(caption: str) -> str:
    """A file-name-safe form of a caption: lower case, runs of other characters as ``-``."""
    text = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")
    return text[:40].rstrip("-") or "frame"


@dataclass(frozen=True)
class Frame:
    """One frame the terminal display showed."""

    caption: str
    image: Image.Image


class TerminalDisplay(Display):
    """Draws every frame on luma's ``dummy`` device and prints it as text.

    Args:
        stream: where frames are printed (standard output by default).
        screens_dir: if given, every frame is also saved there as ``NNNN-<caption>.png``.
        style: ``braille`` (64x16 characters) or ``halfblock`` (128x32 characters).

    Attributes:
        frames: every frame shown so far, in order, as the dummy device held it.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        screens_dir: Path | None = None,
        style: str = "braille",
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown display style {style!r}; choose one of {', '.join(STYLES)}")
        self._device = dummy(width=WIDTH, height=HEIGHT, mode="1")
        self._device.persist = True  # nothing to blank, and nothing to send at exit
        self._stream = stream if stream is not None else sys.stdout
        self._render = to_braille if style == "braille" else to_halfblock
        self._screens_dir = Path(screens_dir) if screens_dir is not None else None
        self.frames: list[Frame] = []
        self._closed = False

    def show(self, image: Image.Image, caption: str = "") -> None:
        """Draw the frame on the dummy device, print it, record it and save it if asked.

        Raises:
            ValueError: the frame has the wrong size.
            DeviceError: the display is closed (nothing is drawn), or the frame cannot be
                printed (the stream is closed, a pipe reader has gone) or saved; it is
                recorded in :attr:`frames`, and saved if it could not be printed, all the same.
        """
        if self._closed:
            raise DeviceError("the terminal display is closed")
        self._device.display(check_frame(image))
        frame = Frame(caption, self._device.image.copy())
        self.frames.append(frame)
        text = self._render(frame.image)
        # A caption names what was scanned: outside text, escaped like every other.
        shown = f"{terminal_safe(caption)}\n{text}\n" if caption else f"{text}\n"
        unprinted: Exception | None = None
        try:
            self._stream.write(shown)
            self._stream.flush()
        except (OSError, ValueError) as error:  # a closed pipe or file; a non-UTF-8 terminal
            unprinted = error
        if self._screens_dir is not None:
            self._save(frame, len(self.frames), self._screens_dir)
        if unprinted is not None:
            reason = getattr(unprinted, "strerror", None) or unprinted
            raise DeviceError(f"cannot print the display on its terminal: {reason}") from unprinted

    def _save(self, frame: Frame, number: int, folder: Path) -> None:
        path = folder / f"{number:04d}-{slug(frame.caption)}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.image.save(path)
        except OSError as error:
            raise DeviceError(f"cannot save screen {path}: {error.strerror or error}") from error

    def close(self) -> None:
        """Release the dummy device; the recorded frames stay readable. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._device.cleanup()
