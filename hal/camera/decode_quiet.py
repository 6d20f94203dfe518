"""The quiet-zone check of a UPC-E zbar decoded: the symbol must be a whole barcode.

EAN and UPC symbols are printed with blank margins (quiet zones) on both sides: 9 modules
for UPC-A and left of a UPC-E, 7 right of a UPC-E. A scanner decodes a symbol only between
blank margins. That is how it refuses the short UPC-E (6 digits in 51 modules, 17 bars, no
centre guard) that a stretch of a wider barcode can spell: the UPC-E end guard ``010101``
is the UPC-A centre guard ``01010`` and a bar, and a blurred UPC-A of about two pixels per
module, scanned by zbar, can give a UPC-E made of its right half or of a stretch across its
centre, with a valid check digit.

zbar checks no margin, and gives no span for its symbols: only the points where its scan
lines finished decoding one, at one end or the other. So the check runs along the scan line
through each point: the barcode there is the run of bars whose gaps are all narrower than a
margin (:data:`GAP_MODULES`), and with blank margins on both sides of the UPC-E that run is
the UPC-E itself and has its 17 bars. A UPC-E read inside a UPC-A or EAN-13 (30 bars)
lies in a run of the wider code's bars on every line. As a scanner needs one
line with blank margins, one point whose run has about a UPC-E's bars
(:data:`MIN_BARS` to :data:`MAX_BARS`) is enough: on a photo, print or a neighbouring code
beside some lines of a real UPC-E (a curved pack) spoils the margins of those lines only.
Counting bars, not measuring the width, keeps the check independent of the module width,
which a blurred picture gives only roughly.

Pure numpy; nothing here imports a decoder library.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

UPCE_BARS = 17
"""Bars of a UPC-E: 2 in the start guard, 2 per digit, 3 in the end guard."""

MAX_BARS = UPCE_BARS + 6
"""The most bars a run through a UPC-E's point may have: the UPC-E's 17 and a margin for
bars split in two by noise, well below the 30 of a UPC-A or EAN-13. (An EAN-8 has 22: a
UPC-E read inside one is not told apart.)"""

MIN_BARS = UPCE_BARS - 5
"""The fewest: fewer and the line lost bars of the symbol itself (blur, glare), so the
run is no evidence either way."""

GAP_MODULES = 5.5
"""A gap between bars at least this wide (in modules) ends a barcode: wider than any space
inside an EAN/UPC symbol (4 modules), narrower than the margin it asks for (7 or 9)."""

ELEMENT_MODULES = 1.6
"""The mean width of an EAN/UPC bar or space, in modules (UPC-A: 95 modules in 59
elements; UPC-E: 51 in 33): the module width is the mean element width over this."""

_SPAN = 40
"""Pixels each side of a point whose bars and spaces estimate the module width."""

_LOCAL = 3
"""Half-width in pixels of the neighbourhood that tells a bar from a space where bars are
only a few pixels wide (their contrast is low: blur spreads them)."""


def upce_is_whole(picture: np.ndarray, points: Sequence[tuple[int, int]],
                  orientation: str | None) -> bool:
    """Whether a UPC-E zbar decoded is a whole barcode with its blank margins.

    Args:
        picture: the 2-D ``uint8`` picture zbar was shown.
        points: zbar's location polygon of the symbol (x, y in ``picture``): the points
            where its scan lines finished decoding it.
        orientation: zbar's ``UP``/``DOWN`` (scan lines along x) or ``LEFT``/``RIGHT``
            (along y); unknown is taken as along x.

    Returns:
        ``True`` when the run of bars through some point has about a UPC-E's bars
        (:data:`MIN_BARS` to :data:`MAX_BARS`), or when no point can tell (no contrast,
        outside the picture, too few bars). ``False`` when every point that can tell lies
        in a run of more than :data:`MAX_BARS` bars: the UPC-E was read inside a wider code.
    """
    if orientation in ("LEFT", "RIGHT"):
        picture = picture.T
        points = [(y, x) for x, y in points]
    wider = False
    for x, y in points:
        bars = _bars_through(picture, x, y)
        if bars is None or bars < MIN_BARS:
            continue
        if bars <= MAX_BARS:
            return True
        wider = True
    return not wider


def _bars_through(picture: np.ndarray, x: int, y: int) -> int | None:
    """How many bars the barcode through ``(x, y)`` has along its row; ``None`` when the
    row cannot tell."""
    if not (0 <= y < picture.shape[0] and 0 <= x < picture.shape[1]):
        return None
    line = picture[max(0, y - 1):y + 2].astype(np.float32).mean(axis=0)  # against noise
    dark = _dark(line, x)
    if dark is None:
        return None
    module = _module_width(dark, x)
    if module is None:
        return None
    starts, ends, is_bar = _runs(dark)
    here = int(np.searchsorted(ends, x, side="right"))
    if not is_bar[here]:  # the point lies in a space: start from the bar beside it
        beside = [i for i in (here - 1, here + 1) if 0 <= i < len(starts)]
        if not beside:
            return None
        here = min(beside, key=lambda i: min(abs(starts[i] - x), abs(ends[i] - 1 - x)))
    gap = GAP_MODULES * module
    first = last = here
    while first > 0 and not _margin(starts, ends, first - 1, gap, dark.size):
        first -= 1
    while last < len(starts) - 1 and not _margin(starts, ends, last + 1, gap, dark.size):
        last += 1
    return int(np.count_nonzero(is_bar[first:last + 1]))


def _margin(starts: np.ndarray, ends: np.ndarray, run: int, gap: float, size: int) -> bool:
    """Whether a space ends a barcode: as wide as a margin, or reaching the picture's edge.
    (A bar never does: the walk goes through bars.)"""
    touches_edge = starts[run] == 0 or ends[run] == size
    return bool(touches_edge or ends[run] - starts[run] >= gap)


def _dark(line: np.ndarray, x: int) -> np.ndarray | None:
    """Which pixels of the line are bars; ``None`` where there is no contrast to tell.

    Halfway between the darkest and lightest pixels of a few pixels' neighbourhood where
    it holds enough contrast (narrow bars, low contrast once blurred), else halfway between
    the dark and light levels of the line around ``x``."""
    around = line[max(0, x - 3 * _SPAN):x + 3 * _SPAN + 1]
    low, high = np.percentile(around, (5, 95))
    if high - low < 16:
        return None
    window = sliding_window_view(np.pad(line, _LOCAL, mode="edge"), 2 * _LOCAL + 1)
    darkest, lightest = window.min(axis=1), window.max(axis=1)
    fine = lightest - darkest >= 0.25 * (high - low)
    return np.where(fine, line < (darkest + lightest) / 2, line < (low + high) / 2)


def _module_width(dark: np.ndarray, x: int) -> float | None:
    """Pixels per module: the mean width of the bars and spaces within :data:`_SPAN`
    pixels of ``x`` over :data:`ELEMENT_MODULES`, on the side with the narrower ones (the
    barcode's side: the other may be its margin)."""
    widths = []
    for stretch in (dark[max(0, x - _SPAN):x + 1], dark[x:x + _SPAN + 1]):
        changes = np.count_nonzero(stretch[1:] != stretch[:-1])
        if changes >= 2:
            widths.append(stretch.size / changes)
    return min(widths) / ELEMENT_MODULES if widths else None


def _runs(dark: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The line as runs of bar or space: their starts, ends (exclusive) and kinds."""
    edges = np.flatnonzero(dark[1:] != dark[:-1]) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [dark.size]))
    return starts, ends, dark[starts]
