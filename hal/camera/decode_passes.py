"""One decoding attempt at a time: a library, its options, and the picture it is shown.

A :class:`Pass` is zxing-cpp or zbar run once, on the frame as it is or on a rescaled,
contrast-stretched or sharpened copy. :class:`Libraries` loads the decoder libraries once and
runs passes; what a pass finds comes back as :class:`Found` values, with the symbol's place
in the original frame so that readings of one code by several passes can be told apart
from readings of two codes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from hal.camera.decode_checks import LINEAR, normalise, upce_to_upca
from hal.camera.decode_quiet import upce_is_whole
from hal.camera.symbologies import ZBAR_NAMES, ZXING_FORMATS, ZXING_NAMES
from hal.errors import DeviceError

logger = logging.getLogger("hal.camera")

Box = tuple[float, float, float, float]
"""Where a symbol lies: left, top, right, bottom, in pixels of the original frame."""


@dataclass(frozen=True)
class Found:
    """One symbol one pass decoded.

    Attributes:
        payload: the symbol's content: text as UTF-8 (zxing-cpp transcodes it from the
            symbol's ECI or guessed charset, as zbar does), binary data as raw bytes;
            UPC-A as its 13-digit GTIN.
        symbology: stocktaker's name of its symbology.
        library: ``zxing`` or ``zbar``.
        box: where it lies in the frame.
        decoded: ``False`` for a symbol zxing-cpp located but could not decode (asked for
            with ``return_errors``): a hint that the frame holds a code, never a value.
    """

    payload: bytes
    symbology: str
    library: str
    box: Box
    decoded: bool = True


@dataclass(frozen=True)
class Pass:
    """One way of running one library.

    Attributes:
        name: short label for logs and figures (``zxing``, ``zbar x2``...).
        library: ``zxing`` or ``zbar``.
        picture: what the library is shown: ``as-is``, ``half``, ``double``, ``stretched``
            (contrast stretched from the 1st to the 99th percentile) or ``sharpened``.
        options: keyword arguments of ``zxingcpp.read_barcodes`` beyond the formats, as
            names and values (binarizer by name).
    """

    name: str
    library: str
    picture: str = "as-is"
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def _scaled(gray: np.ndarray, factor: float) -> np.ndarray:
    height, width = gray.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resample = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(np.ascontiguousarray(gray)).resize(size, resample))


def _stretched(gray: np.ndarray) -> np.ndarray:
    low, high = np.percentile(gray, (1, 99))
    if high - low < 8:
        return gray
    lut = np.clip((np.arange(256, dtype=np.float32) - low) * (255.0 / (high - low)), 0, 255)
    return lut.astype(np.uint8)[gray]


def _sharpened(gray: np.ndarray) -> np.ndarray:
    mask = ImageFilter.UnsharpMask(radius=2, percent=150, threshold=2)
    return np.asarray(Image.fromarray(np.ascontiguousarray(gray)).filter(mask))


PICTURES: Mapping[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = MappingProxyType({
    "as-is": (lambda gray: gray, 1.0),
    "half": (lambda gray: _scaled(gray, 0.5), 0.5),
    "x1.5": (lambda gray: _scaled(gray, 1.5), 1.5),
    "double": (lambda gray: _scaled(gray, 2.0), 2.0),
    "x2.5": (lambda gray: _scaled(gray, 2.5), 2.5),
    "triple": (lambda gray: _scaled(gray, 3.0), 3.0),
    "stretched": (_stretched, 1.0),
    "sharpened": (_sharpened, 1.0),
    "sharpened x1.5": (lambda gray: _sharpened(_scaled(gray, 1.5)), 1.5),
    "sharpened x2": (lambda gray: _sharpened(_scaled(gray, 2.0)), 2.0),
})
"""Picture name -> (how it is made from the frame, its scale relative to the frame)."""

MAX_DOUBLED_PIXELS = 1_500_000
"""A frame is only doubled below this many pixels: beyond, codes are large enough as they are."""


class Libraries:
    """The decoder libraries, loaded once, restricted to some symbologies.

    zbar is needed; zxing-cpp is used when installed. Symbologies neither library can read
    are refused; those only the missing zxing-cpp reads are dropped with a log line.

    zbar's 1D readings are kept only when the code reads both ways (see
    :meth:`_read_both_ways`), and its UPC-E readings only when the UPC-E is a whole barcode
    between blank margins, not a stretch of a wider one (see
    :func:`~hal.camera.decode_quiet.upce_is_whole`).

    Args:
        symbologies: stocktaker's names of the symbologies to report, in upper case.
        use_zxing: ``False`` keeps zxing-cpp out even when it is installed.
        both_ways: ``False`` keeps zbar's 1D readings as zbar gives them, without the
            both-ways and quiet-zone checks (for figures of the bare library).

    Raises:
        DeviceError: zbar cannot be loaded, or none of the symbologies can be read.
        ValueError: a symbology neither library knows.
    """

    def __init__(self, symbologies: frozenset[str], use_zxing: bool = True,
                 both_ways: bool = True) -> None:
        self.both_ways = both_ways
        unknown = sorted(symbologies - set(ZXING_FORMATS) - set(ZBAR_NAMES.values()))
        if unknown:
            raise ValueError(f"no decoder reads {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(set(ZXING_FORMATS) | set(ZBAR_NAMES.values())))}")
        self.zxing = _load_zxing() if use_zxing else None
        self.zbar = _load_zbar()
        by_zbar = symbologies & set(ZBAR_NAMES.values())
        if self.zxing is None:
            lost = sorted(symbologies - by_zbar)
            if lost:
                logger.warning("zxing-cpp is not installed: %s cannot be read (pip install "
                               "'stocktaker[zxing]')", ", ".join(lost))
            symbologies = by_zbar
        if not symbologies:
            raise DeviceError("none of the configured symbologies can be read without zxing-cpp;"
                              " install it with: pip install 'stocktaker[zxing]'")
        self.symbologies = symbologies
        ours_to_zbar = {ours: theirs for theirs, ours in ZBAR_NAMES.items()}
        # zbar reads UPC-A only with EAN-13 on; its PDF417 decoder was never completed.
        # With UPC-E off, zbar gives a UPC-E symbol as the UPC-A (or EAN-13) it expands to:
        # it is turned on so that zbar says which symbols were UPC-E (see _zbar).
        wanted = (set(by_zbar) | ({"EAN13"} if "UPCA" in by_zbar else set())
                  | ({"UPCE"} if by_zbar & {"UPCA", "EAN13"} else set())) - {"PDF417"}
        self._zbar_symbols = [self.zbar.ZBarSymbol[ours_to_zbar[name]] for name in sorted(wanted)]
        if self.zxing is not None:
            formats = self.zxing.BarcodeFormat
            self._zxing_formats = tuple(getattr(formats, ZXING_FORMATS[name])
                                        for name in sorted(symbologies) if name in ZXING_FORMATS)
            if "CODE39" in symbologies:  # a Code 32 is printed as Code 39 bars
                self._zxing_formats += (formats.Code32,)

    def run(self, step: Pass, gray: np.ndarray,
            region: tuple[int, int, int, int] | None = None) -> list[Found]:
        """Run one pass on a frame, or on a region of it (left, top, right, bottom).

        Returns:
            What it found among the configured symbologies, placed in the whole frame.
        """
        if step.library == "zxing" and (self.zxing is None or not self._zxing_formats):
            return []
        if step.library == "zbar" and not self._zbar_symbols:
            return []
        left, top = 0, 0
        if region is not None:
            left, top, right, bottom = region
            gray = gray[top:bottom, left:right]
            if gray.size == 0:
                return []
        make, scale = PICTURES[step.picture]
        if scale > 1 and gray.size > MAX_DOUBLED_PIXELS:
            return []
        picture = make(gray)
        found = self._zxing(picture, step) if step.library == "zxing" else self._zbar(picture)
        kept = []
        for payload, symbology, box, decoded in found:
            if (symbology in self.symbologies
                    or (symbology == "EAN13" and "UPCA" in self.symbologies
                        and payload[:1] == b"0")
                    or (symbology == "CODE32" and "CODE39" in self.symbologies)):
                box = (left + box[0] / scale, top + box[1] / scale,
                       left + box[2] / scale, top + box[3] / scale)
                kept.append(Found(normalise(payload, symbology), symbology, step.library, box,
                                  decoded))
        return kept

    def _zxing(self, picture: np.ndarray, step: Pass) -> list[tuple[bytes, str, Box, bool]]:
        zxing = self.zxing
        assert zxing is not None  # run() gives zxing passes nothing without it
        options = dict(step.options)
        if "binarizer" in options:
            options["binarizer"] = getattr(zxing.Binarizer, options["binarizer"])
        found = zxing.read_barcodes(picture, formats=self._zxing_formats,
                                    text_mode=zxing.TextMode.Plain, **options)
        out = []
        for code in found:
            corners = code.position
            xs = [p.x for p in (corners.top_left, corners.top_right,
                                corners.bottom_left, corners.bottom_right)]
            ys = [p.y for p in (corners.top_left, corners.top_right,
                                corners.bottom_left, corners.bottom_right)]
            name = ZXING_NAMES.get(code.format.name, code.format.name.upper())
            out.append((_payload(self.zxing, code) if code.valid else b"", name,
                        (min(xs), min(ys), max(xs), max(ys)), bool(code.valid)))
        return out

    def _zbar(self, picture: np.ndarray) -> list[tuple[bytes, str, Box, bool]]:
        found = self.zbar.decode(picture, symbols=self._zbar_symbols)
        if self.both_ways:
            found = self._read_both_ways(picture, found)
        out = []
        for symbol in found:
            left, top, width, height = symbol.rect
            name = ZBAR_NAMES.get(symbol.type, symbol.type.upper())
            data = symbol.data
            if name == "UPCE":
                if self.both_ways and not upce_is_whole(
                        picture, [(p.x, p.y) for p in symbol.polygon],
                        getattr(symbol, "orientation", None)):
                    logger.debug("zbar read UPC-E %r inside a wider barcode: not kept", data)
                    continue
                if "UPCE" not in self.symbologies:
                    name, data = self._as_zbar_expands(data)
                    if not data:
                        continue
            out.append((data, name, (left, top, left + width, top + height), True))
        return out

    def _as_zbar_expands(self, upce: bytes) -> tuple[str, bytes]:
        """A UPC-E where UPC-E is not configured, given as zbar gives it with UPC-E off: the
        UPC-A it expands to (12 digits), or as an EAN-13 where only EAN-13 is configured."""
        expanded = upce_to_upca(upce)
        if expanded is None:
            return "UPCE", b""
        return ("UPCA", expanded) if "UPCA" in self.symbologies else ("EAN13", b"0" + expanded)

    def _read_both_ways(self, picture: np.ndarray, found: list[Any]) -> list[Any]:
        """zbar's symbols less the 1D ones it cannot read again with the scan run backwards.

        zbar runs each scan line one way, and locates edges with a filter that lags behind
        the scan, so on a code only a few pixels per module wide the edges it finds depend
        on the direction: such a code can read, one way only, as another value that passes
        the check digit. A printed code reads both ways. The picture mirrored along the
        code's axis (left-right for a code zbar reports upright or upside down, top-bottom
        for one it reports turned) is scanned the other way along every line.
        """
        mirrored: dict[str, set[bytes]] = {}
        kept = []
        for symbol in found:
            if ZBAR_NAMES.get(symbol.type, symbol.type) not in LINEAR:
                kept.append(symbol)
                continue
            axes = {"UP": ("x",), "DOWN": ("x",), "LEFT": ("y",), "RIGHT": ("y",)}.get(
                getattr(symbol, "orientation", None) or "", ("x", "y"))
            for axis in axes:
                if axis not in mirrored:
                    flipped = picture[:, ::-1] if axis == "x" else picture[::-1]
                    mirrored[axis] = {s.data for s in self.zbar.decode(
                        np.ascontiguousarray(flipped), symbols=self._zbar_symbols)}
            if any(symbol.data in mirrored[axis] for axis in axes):
                kept.append(symbol)
            else:
                logger.debug("zbar read %r one way only: not kept", symbol.data[:32])
        return kept


def _payload(zxingcpp: Any, code: Any) -> bytes:
    """A symbol's text as UTF-8 unless it holds binary data (as zbar gives it), else its raw
    bytes."""
    if code.content_type != zxingcpp.ContentType.Binary:
        return code.text.encode("utf-8", "surrogateescape")
    return bytes(code.bytes)


def _load_zxing() -> Any:
    try:
        import zxingcpp
    except ImportError:
        return None
    return zxingcpp


def _load_zbar() -> Any:
    try:
        from pyzbar import pyzbar
    except ImportError as exc:
        raise DeviceError(f"the zbar barcode library cannot be loaded ({exc}); "
                          "install it with: sudo apt install libzbar0") from exc
    return pyzbar


def zxing_pass(name: str, picture: str = "as-is", **options: Any) -> Pass:
    """A zxing-cpp pass with ``read_barcodes`` options (binarizer given by name)."""
    return Pass(name, "zxing", picture, MappingProxyType(options))


def zbar_pass(name: str, picture: str = "as-is") -> Pass:
    """A zbar pass on the frame or a copy of it."""
    return Pass(name, "zbar", picture)


ZXING_DEFAULT = zxing_pass("zxing")
"""zxing-cpp at its defaults: rotation, inversion and downscaling tried, local binarizer."""

ZBAR_DEFAULT = zbar_pass("zbar")
"""zbar at its defaults."""

HARDER = (
    zxing_pass("zxing global", binarizer="GlobalHistogram"),
    zbar_pass("zbar stretched", "stretched"),
    zbar_pass("zbar x2", "double"),
    zbar_pass("zbar x0.5", "half"),
    zxing_pass("zxing fixed", binarizer="FixedThreshold"),
    zbar_pass("zbar sharpened", "sharpened"),
    zxing_pass("zxing x2", "double"),
    zxing_pass("zxing sharpened", "sharpened"),
)
"""The harder options of each library, tried on still images only when the defaults found
nothing or disagreed, in this order."""

CONFIRMING = (
    zxing_pass("zxing x2 global", "double", binarizer="GlobalHistogram"),
    *(make(f"{library} {picture}", picture)
      for picture in ("x1.5", "sharpened x1.5", "sharpened x2", "x2.5", "triple")
      for library, make in (("zxing", zxing_pass), ("zbar", zbar_pass))),
)
"""Passes run on a still image only to confirm a 1D value read through a single look (one
library at one scale), smallest pictures first, until every value has its second look: they
add no value of their own to what is believed, only a second reading of the same one, by the
other library or at another scale."""
