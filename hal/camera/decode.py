"""Decoders for grayscale frames: zbar (through pyzbar), zxing-cpp (optional), and the pipeline
that makes them cooperate (``auto``, the default; :mod:`hal.camera.pipeline`).

Both report symbologies by stocktaker's names (``QR``, ``CODE128``, ``EAN13``, ``ITF``...),
whatever the library calls them. Each library is imported only when its decoder is built.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from hal.camera.base import Decoder, check_gray
from hal.camera.files import load_gray
from hal.camera.symbologies import ZBAR_NAMES, ZXING_FORMATS, ZXING_NAMES
from hal.errors import DeviceError, StocktakerError
from hal.read import Read

SYMBOLOGIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "auto": frozenset(ZBAR_NAMES.values()) | frozenset(ZXING_FORMATS),
        "zbar": frozenset(ZBAR_NAMES.values()),
        "zxing": frozenset(ZXING_FORMATS),
    }
)
"""Per decoder name, the stocktaker symbology names it can be restricted to (any case)."""

DEFAULT_SYMBOLOGIES: tuple[str, ...] = (
    "QR", "MICROQR", "DATAMATRIX", "CODE128", "CODE39", "EAN13", "UPCA",
)
"""What the camera looks for unless configured otherwise (``camera.symbologies = []``): the asset-label symbologies (QR,
Micro QR, DataMatrix, Code 128, Code 39) and retail EAN-13/UPC-A. Each one more costs time
on every frame and gives misreads one more chance."""


def _restriction(
    symbologies: Sequence[str] | None, known: Mapping[str, Any], decoder: str
) -> list[Any] | None:
    """Translate stocktaker's symbology names through ``known``; ``None`` means all of them."""
    if symbologies is None:
        return None
    if isinstance(symbologies, str):
        symbologies = [symbologies]
    wanted = [name.upper() for name in symbologies]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise ValueError(
            f"{decoder} cannot be restricted to {', '.join(unknown) or 'no symbology'}; "
            f"it knows {', '.join(sorted(known))}"
        )
    return [known[name] for name in dict.fromkeys(wanted)]


class ZbarDecoder(Decoder):
    """Decodes frames with zbar, through pyzbar. Needs the system library ``libzbar0``.

    zbar reads QR, EAN/UPC, Code 128, Code 39, Code 93, ITF, Codabar and DataBar, but not
    Micro QR, DataMatrix, Aztec nor light-on-dark QR codes. It transcodes QR byte-mode text to
    UTF-8 from the charset it guesses, so a payload beyond ASCII may not be the printed bytes.

    Args:
        symbologies: stocktaker names of the only symbologies to look for; all when ``None``.

    Raises:
        DeviceError: libzbar is not installed.
        ValueError: a symbology zbar does not read.
    """

    def __init__(self, symbologies: Sequence[str] | None = None) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:
            raise DeviceError(
                f"the zbar barcode library cannot be loaded ({exc}); "
                "install it with: sudo apt install libzbar0"
            ) from exc
        known = {ours: pyzbar.ZBarSymbol[theirs] for theirs, ours in ZBAR_NAMES.items()}
        self._symbols = _restriction(symbologies, known, "zbar")
        self._decode: Callable[..., list[Any]] = pyzbar.decode

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode every code zbar finds in a 2-D ``uint8`` frame (a view is fine).

        Raises:
            ValueError: ``gray`` is not a 2-D ``uint8`` array.
        """
        check_gray(gray)
        found = self._decode(gray, symbols=self._symbols)
        return [(symbol.data, ZBAR_NAMES.get(symbol.type, symbol.type.upper())) for symbol in found]


class ZxingDecoder(Decoder):
    """Decodes frames with zxing-cpp (``pip install 'stocktaker[zxing]'``).

    Reads everything zbar reads, plus Micro QR, DataMatrix, Aztec, PDF417 and inverted codes;
    payloads are the raw bytes of the symbol. Restricting the symbologies is the largest speed
    gain it offers, and it also avoids misreads between look-alike retail codes.

    Args:
        symbologies: stocktaker names of the only symbologies to look for; all when ``None``.

    Raises:
        DeviceError: zxing-cpp is not installed.
        ValueError: a symbology zxing-cpp does not read.
    """

    def __init__(self, symbologies: Sequence[str] | None = None) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise DeviceError(
                f"the zxing decoder is not installed ({exc}); "
                "install it with: pip install 'stocktaker[zxing]'"
            ) from exc
        formats = zxingcpp.BarcodeFormat
        known = {ours: getattr(formats, theirs) for ours, theirs in ZXING_FORMATS.items()}
        restriction = _restriction(symbologies, known, "zxing")
        options: dict[str, Any] = {"text_mode": zxingcpp.TextMode.Plain}
        if restriction is not None:
            # A tuple: zxing-cpp 3 deprecates combining formats with ``|``.
            options["formats"] = tuple(restriction)
        self._options = options
        self._read: Callable[..., list[Any]] = zxingcpp.read_barcodes

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode every code zxing-cpp finds in a 2-D ``uint8`` frame (a view is fine).

        Raises:
            ValueError: ``gray`` is not a 2-D ``uint8`` array.
        """
        check_gray(gray)
        found = self._read(gray, **self._options)
        return [(bytes(code.bytes), _zxing_name(code.format.name)) for code in found]


def _zxing_name(format_name: str) -> str:
    return ZXING_NAMES.get(format_name, format_name.upper())


DECODERS: Mapping[str, Callable[[Sequence[str] | None], Decoder]] = MappingProxyType(
    {"zbar": ZbarDecoder, "zxing": ZxingDecoder}
)
"""The single-library decoders by their configured names (``auto`` is the pipeline)."""


def open_decoder(name: str, symbologies: Sequence[str] | None = None, *,
                 still: bool = False, redundancy: int = 2) -> Decoder:
    """Build the decoder configured by name.

    Args:
        name: ``auto`` (zxing-cpp and zbar together, see :mod:`hal.camera.pipeline`; zbar
            alone where zxing-cpp is not installed), ``zbar`` or ``zxing``.
        symbologies: stocktaker names of the only symbologies to look for; when ``None``,
            those of :data:`DEFAULT_SYMBOLOGIES` the decoder reads. For ``auto`` without
            zxing-cpp, those only zxing-cpp reads are dropped (logged).
        still: for ``auto``, a decoder of single pictures (full effort, no state between
            calls) rather than of a camera's stream of frames.
        redundancy: for an ``auto`` stream, how many frames must read a 1D value before it
            is reported.

    Returns:
        The decoder.

    Raises:
        ValueError: an unknown decoder name or symbology, or a redundancy below 1.
        DeviceError: the decoder's library is not installed.
    """
    if symbologies is None and name in SYMBOLOGIES:
        symbologies = [s for s in DEFAULT_SYMBOLOGIES if s in SYMBOLOGIES[name]]
    if name == "auto":
        from hal.camera.decode_passes import Libraries
        from hal.camera.pipeline import Redundancy, StillDecoder, StreamDecoder

        Redundancy(redundancy)  # refused before any library is loaded
        wanted = _restriction(symbologies, {n: n for n in SYMBOLOGIES["auto"]}, "auto")
        assert wanted is not None  # symbologies was given its default above
        libraries = Libraries(frozenset(wanted))
        return StillDecoder(libraries) if still else StreamDecoder(libraries, redundancy)
    try:
        kind = DECODERS[name]
    except KeyError:
        valid = ", ".join(("auto", *DECODERS))
        raise ValueError(f"unknown decoder {name!r}; valid decoders: {valid}") from None
    return kind(symbologies)


def decode_image_file(path: str | Path, decoder: Decoder, source: str = "file") -> list[Read]:
    """Decode the codes in one image file, as ``stocktaker decode IMAGE...`` does.

    Args:
        path: the image file; it is converted to 8-bit grayscale first.
        decoder: what finds the codes.
        source: the ``source`` given to each read.

    Returns:
        One read per code found, each at time 0.0; empty when the image shows no code.

    Raises:
        DeviceError: the file cannot be read as an image, or the decoder fails on it; the
            message names the file and says why.
    """
    gray = load_gray(path)
    try:
        found = decoder.decode(gray)
    except StocktakerError:
        raise
    # A decoder is third-party native code fed an arbitrary picture (as in CameraReader).
    except Exception as exc:
        raise DeviceError(f"cannot decode image {path}: {type(exc).__name__}: {exc}") from exc
    return [Read(payload=data, symbology=kind, source=source, at=0.0) for data, kind in found]
