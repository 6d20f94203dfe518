"""A cheap test of whether a frame looks like it holds a barcode, before paying for a decoder.

The frame is thinned to every other pixel, and its gradients are summed over square tiles into a structure tensor.
A tile of bars has many strong edges (high edge density relative to its contrast) that all
run one way (high coherence); print, wood grain and shelf edges rarely have both. A frame
"looks like a code" when a few neighbouring tiles do. It costs about a tenth of a zbar pass
on the same frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP = 2
"""Only every STEP-th pixel of every STEP-th row is looked at."""

TILE = 12
"""Side of a tile in pixels of the thinned frame."""


@dataclass(frozen=True)
class CueThresholds:
    """What a barcode-like tile must show.

    Attributes:
        contrast: least swing of grey levels in a tile (twice its standard deviation).
        density: least mean absolute gradient per unit of contrast (edges per pixel).
        coherence: least agreement of edge directions, 0 (any) to 1 (all parallel).
        tiles: least number of such tiles with another one next to them.
    """

    contrast: float = 40.0
    density: float = 0.16
    coherence: float = 0.75
    tiles: int = 3


def barcode_like_tiles(gray: np.ndarray, limits: CueThresholds = CueThresholds()) -> np.ndarray:
    """Which tiles of the frame look like bars: a 2-D boolean array, one cell per tile."""
    half = gray[::STEP, ::STEP]
    rows, cols = half.shape[0] // TILE, half.shape[1] // TILE
    if rows < 1 or cols < 1:
        return np.zeros((0, 0), dtype=bool)
    img = half[: rows * TILE, : cols * TILE].astype(np.int16)
    gx = np.zeros_like(img)
    gy = np.zeros_like(img)
    gx[:, 1:-1] = img[:, 2:] - img[:, :-2]
    gy[1:-1, :] = img[2:, :] - img[:-2, :]

    def tiles(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, TILE, cols * TILE).sum(axis=1).reshape(
            rows, cols, TILE).sum(axis=2)

    gx32, gy32 = gx.astype(np.float32), gy.astype(np.float32)
    jxx, jyy, jxy = tiles(gx32 * gx32), tiles(gy32 * gy32), tiles(gx32 * gy32)
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / np.maximum(energy, 1.0)
    pixels = img.astype(np.float32)
    count = TILE * TILE
    variance = tiles(pixels * pixels) / count - (tiles(pixels) / count) ** 2
    contrast = 2.0 * np.sqrt(np.maximum(variance, 0.0))  # the swing of a tile of bars
    density = tiles(np.abs(gx32) + np.abs(gy32)) / (count * np.maximum(contrast, 1.0))
    return ((contrast >= limits.contrast) & (density >= limits.density)
            & (coherence >= limits.coherence))


def barcode_region(gray: np.ndarray, limits: CueThresholds = CueThresholds(),
                   margin: int = 2) -> tuple[int, int, int, int] | None:
    """Where a frame looks like it holds bars, or ``None`` when it does not.

    Args:
        gray: the frame.
        limits: what a bar-like tile must show, and how many of them it takes.
        margin: tiles added on every side of the bar-like ones, for the quiet zone.

    Returns:
        ``(left, top, right, bottom)`` in pixels of the frame, around every bar-like tile
        that has a bar-like neighbour; ``None`` when there are fewer than ``limits.tiles``.
    """
    marked = barcode_like_tiles(gray, limits)
    if marked.sum() < limits.tiles:
        return None
    neighbours = np.zeros(marked.shape, dtype=np.int8)
    neighbours[1:, :] += marked[:-1, :]
    neighbours[:-1, :] += marked[1:, :]
    neighbours[:, 1:] += marked[:, :-1]
    neighbours[:, :-1] += marked[:, 1:]
    kept = marked & (neighbours > 0)
    if int(kept.sum()) < limits.tiles:
        return None
    rows, cols = np.nonzero(kept)
    step = STEP * TILE  # a tile covers STEP * TILE pixels of the full frame
    height, width = gray.shape
    return (max(0, (int(cols.min()) - margin) * step), max(0, (int(rows.min()) - margin) * step),
            min(width, (int(cols.max()) + 1 + margin) * step),
            min(height, (int(rows.max()) + 1 + margin) * step))
