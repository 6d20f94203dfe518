"""GS1 data on asset labels: element strings, HRI, Digital Link URIs, and AIM symbology identifiers.

Pure helpers for :mod:`firmware.tags`. All GS1 parsing is done by ``biip``; this module
only decides when a payload is GS1 at all and picks the two AIs an asset label carries:
8004 (GIAI, the GS1 key for an individual asset) and 21 (serial number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from biip.gs1_element_strings import GS1ElementStrings

GS = "\x1d"
"""ASCII group separator: FNC1 used as a field separator, as scanners transmit it."""

GIAI_AI = "8004"
SERIAL_AI = "21"
GTIN_AI = "01"

# ISO/IEC 15424 flag character, code character, one modifier character.
_AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# AIM identifiers whose data is always a GS1 message (]C1, ]d2, ]Q3, ]e0, ]J1).
GS1_AIMS = frozenset({"]C1", "]J1", "]Q3", "]d2", "]e0"})

# Symbology names (as readers report them) whose data is always a GS1 message.
GS1_SYMBOLOGIES = frozenset({"GS1-128", "GS1-DATAMATRIX", "GS1-QR", "GS1-DOTCODE", "DATABAR"})

_SYMBOLOGY_BY_CODE = {
    "A": "CODE39",
    "B": "TELEPEN",
    "C": "CODE128",
    "E": "EAN13",
    "F": "CODABAR",
    "G": "CODE93",
    "H": "CODE11",
    "I": "ITF",
    "J": "DOTCODE",
    "K": "CODE16K",
    "L": "PDF417",
    "M": "MSI",
    "O": "CODABLOCK",
    "P": "PLESSEY",
    "Q": "QR",
    "R": "STANDARD2OF5",
    "S": "STANDARD2OF5",
    "T": "CODE49",
    "U": "MAXICODE",
    "d": "DATAMATRIX",
    "e": "DATABAR",
    "z": "AZTEC",
}
_SYMBOLOGY_BY_AIM = {
    "C1": "GS1-128",
    "E1": "EAN2",
    "E2": "EAN5",
    "E4": "EAN8",
    "J1": "GS1-DOTCODE",
    "Q3": "GS1-QR",
    "d2": "GS1-DATAMATRIX",
}

_HRI_RE = re.compile(r"\([0-9]+\)")
# FNC1 in first position may arrive as a leading GS when no AIM prefix is sent.
_ELEMENT_START_RE = re.compile(r"\x1d*[0-9]")

# GS1 Digital Link primary keys (/01/, /8004/, /414/...): the ones biip 5.2 accepts.
_DL_PRIMARY_KEYS = frozenset(
    {"00", "01", "253", "255", "401", "402", "414", "415", "417"}
    | {"8003", "8004", "8006", "8010", "8013", "8017", "8018"}
)



@dataclass(frozen=True)
class _Biip:
    message: Any
    digital_link: Any
    error: type[Exception]
    config: Any


@functools.cache
def _biip() -> _Biip:
    """biip, imported at the first GS1 label: its tables hold about 20 MB that a device
    reading only plain tags and register URLs never needs (one-time cost: about 0.1 s)."""
    from biip import BiipException, ParseConfig
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI
    from biip.gs1_messages import GS1Message

    return _Biip(GS1Message, GS1DigitalLinkURI, BiipException,
                 ParseConfig(separator_chars=(GS,)))

_REASON_MAX = 100


class GS1Error(ValueError):
    """GS1 data that biip cannot parse; the message is short enough for a screen."""


@dataclass(frozen=True)
class AssetKeys:
    """The asset identifiers found in one GS1 message.

    Attributes:
        giai: the AI 8004 value, if present.
        serial: the AI 21 value, if present.
        gtin: the AI 01 value (the product a serial belongs to), if present.
    """

    giai: str | None
    serial: str | None
    gtin: str | None = None


def split_aim(text: str) -> tuple[str | None, str]:
    """Split a leading AIM symbology identifier (``]Q1``, ``]C0``...) off ``text``.

    Args:
        text: a payload as text.

    Returns:
        ``(aim, rest)``; ``aim`` is None when ``text`` does not start with one.
    """
    if _AIM_RE.match(text):
        return text[:3], text[3:]
    return None, text


def symbology_from_aim(aim: str) -> str | None:
    """The symbology name an AIM symbology identifier stands for.

    Args:
        aim: an identifier such as ``]Q1``, ``]C1`` or ``]d2`` (the leading ``]`` may be omitted).

    Returns:
        ``QR``, ``CODE128``, ``GS1-128``, ``EAN13``, ``GS1-DATAMATRIX``... or None when the
        identifier is malformed or names a symbology stocktaker has no name for.
    """
    code = aim[1:] if aim.startswith("]") else aim
    if not _AIM_RE.fullmatch("]" + code):
        return None
    return _SYMBOLOGY_BY_AIM.get(code) or _SYMBOLOGY_BY_CODE.get(code[0])


def is_hri(text: str) -> bool:
    """True when ``text`` looks like GS1 human-readable form: ``(8004)...``."""
    return _HRI_RE.match(text) is not None


def is_element_string(text: str) -> bool:
    """True when ``text`` carries a GS separator and starts like a GS1 element string (digits)."""
    return GS in text and _ELEMENT_START_RE.match(text) is not None


def is_digital_link(path_segments: list[str]) -> bool:
    """True when a URL path names a GS1 primary key followed by a value (``/8004/ABC123``)."""
    return any(
        seg in _DL_PRIMARY_KEYS and path_segments[i + 1]
        for i, seg in enumerate(path_segments[:-1])
    )


def parse_message(text: str) -> AssetKeys:
    """Parse a GS1 element string (``8004...<GS>21...``) or its HRI (``(8004)...(21)...``).

    Args:
        text: the data, without an AIM symbology identifier.

    Returns:
        The asset identifiers the message carries (either may be None).

    Raises:
        GS1Error: biip rejected the data.
    """
    biip = _biip()
    try:
        if is_hri(text):
            message = biip.message.parse_hri(text, config=biip.config)
        else:
            message = biip.message.parse(text, config=biip.config)
    except biip.error as exc:
        raise GS1Error(_short(exc)) from None
    return _asset_keys(message.element_strings)


def parse_digital_link(url: str) -> AssetKeys:
    """Parse a GS1 Digital Link URI (``https://id.example.com/8004/0614141ABC``).

    Args:
        url: the whole URI.

    Returns:
        The asset identifiers the URI carries (either may be None).

    Raises:
        GS1Error: biip rejected the URI.
    """
    biip = _biip()
    try:
        uri = biip.digital_link.parse(url, config=biip.config)
    except biip.error as exc:
        raise GS1Error(_short(exc)) from None
    except ValueError as exc:
        # urllib's urlsplit, called inside biip, raises ValueError on a malformed
        # host part such as "http://[abc".
        raise GS1Error(_short(exc)) from None
    return _asset_keys(uri.element_strings)


def _asset_keys(element_strings: GS1ElementStrings) -> AssetKeys:
    values = {es.ai.ai: es.value for es in reversed(element_strings)}
    return AssetKeys(giai=values.get(GIAI_AI), serial=values.get(SERIAL_AI),
                     gtin=values.get(GTIN_AI))


def _short(exc: Exception) -> str:
    """biip's message without the regular expression it quotes, cut to screen size."""
    text = re.sub(r" with GS1 AI \((\d+)\) pattern .*", r" as AI (\1)", str(exc))
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."
