"""zxing-cpp and zbar working together: what each reads is reported once, and only when believed.

Two decoders share one rule for what is believed (:func:`merge`):

* values outside the configured symbologies never come back (the libraries are restricted);
* an EAN/UPC value must pass its check digit;
* readings of 1D codes that overlap in the frame must all agree: when two passes (zbar and
  zxing-cpp, or one library on two pictures) read different values there, nothing is
  reported for that code;
* several codes in one frame are all reported.

:class:`StillDecoder` spends full effort on one picture (``stocktaker decode``): zxing-cpp and
zbar at their defaults, then each library's harder options until something is believed.
:class:`StreamDecoder` is the camera's: a cheap zxing-cpp pass on every frame, zbar and the
harder zxing-cpp pass only on frames that look like they hold a code, and 1D values reported
only once read in ``redundancy`` frames of a short window. Where zxing-cpp is not installed
both degrade to zbar alone. See docs/decoding.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from hal.camera.base import Decoder, check_gray
from hal.camera.decode_checks import LINEAR, code32_from_code39, family, value_ok
from hal.camera.decode_cues import barcode_region
from hal.camera.decode_passes import (
    CONFIRMING, HARDER, PICTURES, ZBAR_DEFAULT, ZXING_DEFAULT, Box, Found, Libraries, Pass,
    zbar_pass, zxing_pass,
)

OVERLAP_MARGIN = 0.35
"""Readings of 1D codes within this fraction of a symbol's longer side are of one code."""

STREAM_FIRST = zxing_pass("zxing lean", try_rotate=False, try_invert=False,
                          return_errors=True)
"""The pass every stream frame gets: zxing-cpp upright and dark-on-light only."""

STREAM_HARDER = zxing_pass("zxing turned", try_rotate=True, try_invert=True)
"""The zxing-cpp pass of a stream frame that looks like it holds a code."""

STREAM_CONFIRMING = (zxing_pass("zxing x2", "double"), zbar_pass("zbar x2", "double"),
                     zxing_pass("zxing sharpened", "sharpened"),
                     *(step for step in CONFIRMING if PICTURES[step.picture][1] >= 2))
"""The second look at a 1D value one library read in a stream frame, by each library in turn
on the code's surroundings: doubled, then sharpened (zxing-cpp) and the still confirming
passes at twice the scale or more. Not the milder 1.5x: a code of about two pixels per
module, rescaled by half again, keeps the aliasing zbar misread it by (upca-2/38 under
sensor noise reads alike at 1x and 1.5x)."""


def _region(reading: Found, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Where to look at a symbol again: zxing-cpp's box grown by :data:`OVERLAP_MARGIN`, in
    whole pixels inside the frame; the whole frame (``None``) for zbar's, whose box of a 1D
    code only spans the points where its scan lines finished decoding, often a sliver."""
    if reading.library == "zbar":
        return None
    left, top, right, bottom = _grown(reading.box, OVERLAP_MARGIN)
    return (max(0, int(left)), max(0, int(top)),
            min(shape[1], int(right) + 1), min(shape[0], int(bottom) + 1))


def _grown(box: Box, margin: float) -> Box:
    grow = margin * max(box[2] - box[0], box[3] - box[1], 1.0)
    return (box[0] - grow, box[1] - grow, box[2] + grow, box[3] + grow)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def merge(found: Iterable[Found]) -> tuple[list[Found], int]:
    """Decide what a set of readings of one frame says.

    Args:
        found: every reading of every pass run on the frame.

    Returns:
        The believed codes, one reading each (the first pass's), in order of first reading;
        and how many codes were dropped because their readings disagreed.
    """
    readings = _as_code32([f for f in found if f.decoded and value_ok(f.payload, f.symbology)])
    readings = _without_zbar_extended_code128(readings)
    linear = [f for f in readings if f.symbology in LINEAR]
    groups: list[list[Found]] = []
    for reading in linear:
        grown = _grown(reading.box, OVERLAP_MARGIN)
        joined = [g for g in groups if any(_overlap(grown, _grown(o.box, OVERLAP_MARGIN))
                                           for o in g if family(o.symbology)
                                           == family(reading.symbology))]
        for group in joined:
            groups.remove(group)
        groups.append([r for group in joined for r in group] + [reading])
    believed: list[Found] = []
    conflicts = 0
    for group in groups:
        if len({r.payload for r in group}) == 1:
            believed.append(group[0])
        else:
            conflicts += 1
    matrix = [f for f in readings if f.symbology not in LINEAR]
    by_zxing = [f for f in matrix if f.library == "zxing"]
    for reading in matrix:
        # zbar transcodes QR text from a charset it guesses: where zxing-cpp read another
        # value at the same place, the raw bytes of zxing-cpp are the ones kept.
        if reading.library != "zxing" and any(
                _overlap(reading.box, z.box) and z.payload != reading.payload for z in by_zxing):
            continue
        believed.append(reading)
    unique: dict[tuple[bytes, str], Found] = {}
    for reading in believed:
        unique.setdefault((reading.payload, family(reading.symbology)), reading)
    order = {id(f): n for n, f in enumerate(readings)}
    return sorted(unique.values(), key=lambda f: order[id(f)]), conflicts


def _as_code32(readings: list[Found]) -> list[Found]:
    """Code 39 readings where a Code 32 was read, given as the Code 32 value they stand for."""
    code32 = [f for f in readings if f.symbology == "CODE32"]
    if not code32:
        return readings
    out = []
    for reading in readings:
        value = code32_from_code39(reading.payload) if reading.symbology == "CODE39" else None
        if value is not None and any(_overlap(_grown(reading.box, OVERLAP_MARGIN), other.box)
                                     for other in code32):
            reading = Found(value, "CODE32", reading.library, reading.box)
        out.append(reading)
    return out


def _without_zbar_extended_code128(readings: list[Found]) -> list[Found]:
    """zbar cannot decode Code 128's extended (FNC4, beyond ASCII) characters: where
    zxing-cpp read such a Code 128, zbar's readings at that place are no evidence."""
    extended = [f for f in readings if f.library == "zxing" and f.symbology == "CODE128"
                and not f.payload.isascii()]
    return [f for f in readings if not (
        f.library == "zbar" and f.symbology == "CODE128"
        and any(_overlap(_grown(f.box, OVERLAP_MARGIN), z.box) for z in extended))]


def _key(reading: Found) -> tuple[bytes, str]:
    return reading.payload, family(reading.symbology)


class _Passes:
    """Which passes of a still picture read each 1D value, and through which looks.

    A look is one library on one sampling of the picture (its scale): contrast stretching,
    sharpening or another binarizer show a library the same pixels again, so a misread
    born of those pixels comes back through every one of them; a value counts as read
    twice only through two looks (another library, or another scale).
    """

    def __init__(self) -> None:
        self.count: dict[tuple[bytes, str], int] = {}
        self.looks: dict[tuple[bytes, str], set[tuple[str, float]]] = {}

    def add(self, step: Pass, found: Iterable[Found]) -> None:
        """Count one pass's 1D readings (``found`` may hold several libraries' defaults)."""
        for key, library in {(_key(f), f.library) for f in found
                             if f.decoded and f.symbology in LINEAR}:
            self.count[key] = self.count.get(key, 0) + 1
            self.looks.setdefault(key, set()).add((library, PICTURES[step.picture][1]))

    def confirmed(self, believed: list[Found]) -> list[Found]:
        """The believed codes that are 2D, or 1D and read through two looks at least."""
        return [f for f in believed
                if f.symbology not in LINEAR or len(self.looks.get(_key(f), ())) >= 2]


DOMINANCE = 3
"""How many times more passes the value kept must have than any other where readings of a
still picture disagree (see :func:`_dominant`)."""


def _dominant(found: list[Found], passes: dict[tuple[bytes, str], int]) -> list[Found]:
    """Where every pass has run and the readings of a still picture still disagree: the 1D
    value both libraries read, and :data:`DOMINANCE` times as many passes read as any other
    value, is believed (a stray edge line that passed a check digit once or twice against a
    code read clean by every pass); otherwise nothing."""
    linear = [f for f in found if f.decoded and f.symbology in LINEAR]
    ranked = sorted({_key(f) for f in linear}, key=lambda k: -passes.get(k, 0))
    if not ranked:
        return []
    top = ranked[0]
    runner_up = max((passes.get(k, 0) for k in ranked[1:]), default=0)
    libraries = {f.library for f in linear if _key(f) == top}
    if libraries != {"zxing", "zbar"} or passes.get(top, 0) < DOMINANCE * max(runner_up, 1):
        return []
    believed, _ = merge(f for f in found if f.symbology not in LINEAR or _key(f) == top)
    return [f for f in believed if _key(f) == top]


def _pairs(believed: Sequence[Found]) -> list[tuple[bytes, str]]:
    return [(f.payload, f.symbology) for f in believed]


class StillDecoder(Decoder):
    """Full effort on one picture: both libraries at their defaults, then their harder options.

    A 1D value is believed once read through two looks (:class:`_Passes`): both libraries
    at their defaults, or one of them and another scale, as a scanner's redundancy asks two
    scans of a code: one odd sampling of a blurred picture can pass a check digit by chance,
    two rarely agree. 2D codes carry their own error correction and are believed at once.
    While a 1D value lacks its second look, the harder options (zxing-cpp's other binarizers
    and a doubled picture; zbar on a contrast-stretched, rescaled or sharpened copy) are
    tried one after the other; each is merged with all readings so far, so a misread by one
    option against a good read by another reports nothing rather than a wrong value. A value
    still read through one look gets a second from the confirming passes (other scales),
    which count only for values already read.

    Args:
        libraries: the decoder libraries, restricted to the configured symbologies.
    """

    def __init__(self, libraries: Libraries) -> None:
        self._libraries = libraries

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode every code believed in a picture.

        Raises:
            ValueError: ``gray`` is not a 2-D ``uint8`` array.
        """
        check_gray(gray)
        found = self._libraries.run(ZXING_DEFAULT, gray) + self._libraries.run(ZBAR_DEFAULT, gray)
        passes = _Passes()
        passes.add(ZXING_DEFAULT, found)  # a library at its defaults counts as one pass
        believed, _ = merge(found)
        for step in HARDER:
            if believed and len(passes.confirmed(believed)) == len(believed):
                return _pairs(believed)
            step_found = self._libraries.run(step, gray)
            passes.add(step, step_found)
            found += step_found
            believed, _ = merge(found)
        for step in CONFIRMING:  # a second look at values one look read
            if len(passes.confirmed(believed)) == len(believed):
                break
            step_found = [f for f in self._libraries.run(step, gray)
                          if f.decoded and _key(f) in passes.count]
            passes.add(step, step_found)
            found += step_found
            believed, _ = merge(found)
        confirmed = passes.confirmed(believed)
        if confirmed:
            return _pairs(confirmed)
        return _pairs(_dominant(found, passes.count))


class Redundancy:
    """A commercial scanner's redundancy setting: a 1D value counts once read in N frames.

    A 1D value is reported from the frame in which it has been read ``required`` times
    within the last ``2 * required`` frames (a frame without it in between is tolerated),
    and in every later frame that reads it while that still holds. QR, DataMatrix and other
    2D codes, which carry their own error correction, pass on their first frame.

    Args:
        required: frames that must read a 1D value; 1 reports it at once.

    Raises:
        ValueError: ``required`` is not 1 or more.
    """

    def __init__(self, required: int) -> None:
        if isinstance(required, bool) or not isinstance(required, int) or required < 1:
            raise ValueError(f"redundancy must be a whole number of frames, 1 or more,"
                             f" not {required!r}")
        self.required = required
        self._recent: deque[frozenset[tuple[bytes, str]]] = deque(maxlen=2 * required - 1)

    def admit(self, believed: Sequence[Found]) -> list[Found]:
        """Feed one frame's believed codes, in frame order; returns those to report now."""
        keys = frozenset((f.payload, family(f.symbology)) for f in believed
                         if f.symbology in LINEAR)
        admitted = []
        for reading in believed:
            key = (reading.payload, family(reading.symbology))
            if reading.symbology not in LINEAR or 1 + sum(
                    key in frame for frame in self._recent) >= self.required:
                admitted.append(reading)
        if self.required > 1:
            self._recent.append(keys)
        return admitted


class StreamDecoder(Decoder):
    """The camera's decoder: cheap on every frame, thorough on frames that hold a code.

    Every frame gets zxing-cpp restricted to the configured symbologies, upright and
    dark-on-light only. A frame where it located a code it could not decode, or read a 1D
    code (to cross-check it), or whose bars test (:func:`barcode_region`) fires, also gets
    zbar (on the bar-like region only, when that is all there is) and zxing-cpp turned and
    inverted. 1D values then go through :class:`Redundancy`.

    It keeps state between frames: call it once per frame, in frame order, from one thread.
    Without zxing-cpp, zbar decodes every frame.

    Args:
        libraries: the decoder libraries, restricted to the configured symbologies.
        redundancy: frames that must read a 1D value before it is reported.
    """

    def __init__(self, libraries: Libraries, redundancy: int = 2) -> None:
        self._libraries = libraries
        self._redundancy = Redundancy(redundancy)
        self.thorough_frames = 0
        """How many frames were decoded beyond the cheap pass (for figures and tests)."""

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode one frame of the stream; returns the codes to report from it.

        Raises:
            ValueError: ``gray`` is not a 2-D ``uint8`` array.
        """
        check_gray(gray)
        libraries = self._libraries
        passes = _Passes()
        if libraries.zxing is None:
            found = libraries.run(ZBAR_DEFAULT, gray)
            passes.add(ZBAR_DEFAULT, found)
            return _pairs(self._redundancy.admit(self._second_look(gray, found, passes)))
        first = libraries.run(STREAM_FIRST, gray)
        passes.add(STREAM_FIRST, first)
        located = any(not f.decoded for f in first)
        linear = any(f.decoded and f.symbology in LINEAR for f in first)
        found = [f for f in first if f.decoded]
        if located or linear or not found:
            region = None if (located or linear) else barcode_region(gray)
            if located or linear or region is not None:
                self.thorough_frames += 1
                by_zbar = libraries.run(ZBAR_DEFAULT, gray, None if located or linear else region)
                passes.add(ZBAR_DEFAULT, by_zbar)
                found += by_zbar
                believed, _ = merge(found)
                if not believed or any(  # nothing yet, or a 1D value zxing-cpp has not seen
                        f.symbology in LINEAR and f.library == "zbar" for f in believed):
                    turned = libraries.run(STREAM_HARDER, gray)
                    passes.add(STREAM_HARDER, turned)
                    found += turned
        return _pairs(self._redundancy.admit(self._second_look(gray, found, passes)))

    def _second_look(self, gray: np.ndarray, found: list[Found], passes: _Passes) -> list[Found]:
        """The believed codes of a frame, a 1D value among them only once read through two
        looks, as on still pictures: one library's reading gets a second from the passes of
        :data:`STREAM_CONFIRMING` on the code's surroundings; what they read joins the
        frame's readings, so a disagreement there drops the value."""
        believed, _ = merge(found)
        lacking = [f for f in believed if f not in passes.confirmed([f])]
        if not lacking:  # the usual frame: no code, 2D codes, or 1D values both libraries read
            return believed
        for reading in lacking:
            region = _region(reading, gray.shape)
            for step in STREAM_CONFIRMING:
                again = [f for f in self._libraries.run(step, gray, region) if f.decoded]
                passes.add(step, again)
                found = found + again
                if reading in passes.confirmed([reading]):
                    break
        return passes.confirmed(merge(found)[0])
