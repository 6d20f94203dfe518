"""``Tag``: what a raw payload means (an asset tag, a register id, a serial, a room label).

``parse_read`` turns a :class:`hal.read.Read` into a :class:`Tag` or raises
:class:`TagRejected` with a reason a technician can act on. It is a pure function.

What a payload may be, in the order it is tried (after an AIM symbology identifier such
as ``]Q1`` is stripped and recorded):

* ``LOC:<room>``: a room label;
* ``CAMPAIGN:<name>``: the audit campaign the next rooms belong to;
* ``INTAKE``: start an intake (an asset the register does not know) on the device;
* an ``http(s)`` URL: a register page (``.../hardware/42``, ``.../ht/IT-004512``,
  ``...?tag=IT-004512``) or a GS1 Digital Link (``https://id.example.com/8004/...``);
* GS1 data (AI 8004 GIAI and AI 21 serial), recognised by a GS1 AIM identifier or
  symbology, a GS separator, or the human-readable ``(8004)...`` form;
* plain text: an asset tag when it matches the configured pattern, else a serial number.

A read of symbology ``EPC`` (a UHF RFID tag) is decoded by :mod:`firmware.epc`: a GIAI
is matched like the same GIAI in a GS1 barcode, an SGTIN's serial like an AI 21 serial.
A read of symbology ``CARD`` (a keyboard-emulating 125 kHz / 13.56 MHz reader) is a card
number, rewritten by :mod:`firmware.cards` the way the register spells card numbers.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sync.asset import MAX_ID_DIGITS
from firmware.cards import CardNumberError, CardRules
from firmware.epc import EpcError, decode_epc
from firmware.gs1 import (
    GS,
    GS1_AIMS,
    GS1_SYMBOLOGIES,
    AssetKeys,
    GS1Error,
    is_digital_link,
    is_element_string,
    is_hri,
    parse_digital_link,
    parse_message,
    split_aim,
    symbology_from_aim,
)
from hal.read import Read
from hal.text import terminal_safe

__all__ = [
    "DEFAULT_TAG_PATTERN",
    "MAX_PAYLOAD_CHARS",
    "Tag",
    "TagKind",
    "TagRejected",
    "parse_read",
    "payload_text",
    "url_site",
    "symbology_from_aim",
]


class TagKind(str, enum.Enum):
    """Which register field a tag's value names."""

    ASSET_TAG = "asset_tag"
    ASSET_ID = "asset_id"
    SERIAL = "serial"
    GIAI = "giai"
    LOCATION = "location"
    CAMPAIGN = "campaign"
    INTAKE = "intake"
    RELABEL = "relabel"


@dataclass(frozen=True)
class Tag:
    """The meaning of one payload.

    Attributes:
        kind: which register field ``value`` names. For plain text it is a guess from
            ``audit.tag_pattern`` only: identity resolution matches plain text against
            asset tags and serials alike (see :mod:`firmware.identity`).
        value: the identifier itself (asset tag, numeric register id as text, serial,
            GIAI, room name).
        scheme: how it was encoded: ``plain``, ``url``, ``gs1``, ``gs1-digital-link``,
            ``location``, ``epc``, ``card``.
        aim: the AIM symbology identifier (``]Q1``, ``]C0``...) stripped from the payload, if any.
        serial: a second identifier carried alongside a GIAI (GS1 AI 21 next to AI 8004).
        gtin: the GS1 product number (AI 01) carried beside a serial, if any.
        site: for a register URL, the site it points at: lower-case host, ``:port`` when
            not the scheme's default, and the path before the asset part
            (``assets.example.com/snipeit``; the whole path for a ``?tag=`` query).
    """

    kind: TagKind
    value: str
    scheme: str
    aim: str | None = None
    serial: str | None = None
    gtin: str | None = None
    site: str | None = None


class TagRejected(ValueError):
    """A payload that cannot be a tag; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


MAX_PAYLOAD_CHARS = 256
"""Longest payload, in characters, that can be a tag."""

DEFAULT_TAG_PATTERN = r"[A-Za-z]{0,10}[-_ ]?[0-9]{1,12}"
"""What a plain asset tag looks like unless configured otherwise.

Up to ten letters, an optional ``-``, ``_`` or space, then 1 to 12 digits: ``IT-004512``,
``LAP_0042``, ``004512``. Plain text that does not match the whole pattern is taken as a
manufacturer serial number (``5CG1234XYZ``); the register lookup tries both fields anyway.
"""

# A UTF-8 character is at most 4 bytes: anything longer cannot be short enough.
_MAX_PAYLOAD_BYTES = 4 * MAX_PAYLOAD_CHARS
_TOO_LONG = f"label over {MAX_PAYLOAD_CHARS} characters"

# Cc/Cf: C0/C1 controls, DEL, zero-width and bidi characters. Zl/Zp: Unicode line breaks,
# which would split a label over two lines on screen and in reports.
_REJECTED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

_LOCATION_RE = re.compile(r"LOC:", re.IGNORECASE)
_CAMPAIGN_RE = re.compile(r"CAMPAIGN:", re.IGNORECASE)
_INTAKE_RE = re.compile(r"INTAKE", re.IGNORECASE)
_RELABEL_RE = re.compile(r"RELABEL", re.IGNORECASE)
_URL_RE = re.compile(r"https?://", re.IGNORECASE)
# Register page URLs, matched at the end of the path so any base path may come before.
# QR codes in alphanumeric mode are upper case, hence IGNORECASE.
_ID_PATH_RE = re.compile(r"/hardware/([0-9]+)(?:/view)?/?\Z", re.IGNORECASE)
_TAG_PATH_RE = re.compile(r"/(?:ht|hardware/bytag)/([^/]+)/?\Z", re.IGNORECASE)
_TAG_QUERY_KEYS = frozenset({"tag", "assettag"})


_DEFAULT_CARDS = CardRules()


def parse_read(read: Read, *, tag_pattern: str | re.Pattern[str] = DEFAULT_TAG_PATTERN,
               cards: CardRules = _DEFAULT_CARDS) -> Tag:
    """Give a raw read its meaning.

    Args:
        read: the raw read; only ``payload`` and ``symbology`` are looked at.
        tag_pattern: regular expression a whole plain-text payload must match to be an
            asset tag rather than a serial number (a string from the configuration, or
            an already compiled pattern).
        cards: for a read of symbology ``CARD`` (a keyboard-emulating RFID reader), how
            the reader types card numbers and how the register spells them.

    Returns:
        The tag the payload names.

    Raises:
        TagRejected: the payload is not a tag: empty, over ``MAX_PAYLOAD_CHARS``, not
            UTF-8, holding control characters, invalid GS1, or a URL naming no asset.
    """
    if read.symbology == "EPC":
        return _from_epc(read.payload)
    text = _decode(read.payload)
    if read.symbology == "CARD":
        return _from_card(text, cards)
    _reject_controls(text, allow_gs=True)
    aim, text = split_aim(text)
    text = text.strip(" ")
    if not text:
        raise TagRejected("empty label")
    if _LOCATION_RE.match(text):
        return _location(text, aim)
    if _CAMPAIGN_RE.match(text):
        return _campaign(text, aim)
    if _INTAKE_RE.fullmatch(text):
        return Tag(TagKind.INTAKE, "INTAKE", "intake", aim)
    if _RELABEL_RE.fullmatch(text):
        return Tag(TagKind.RELABEL, "RELABEL", "relabel", aim)
    if _URL_RE.match(text):
        return _from_url(text, aim)
    if is_hri(text):
        _reject_controls(text, allow_gs=False)
        return _from_gs1(parse_message, text, "gs1", aim)
    if aim in GS1_AIMS or read.symbology in GS1_SYMBOLOGIES or is_element_string(text):
        return _from_gs1(parse_message, text, "gs1", aim)
    _reject_controls(text, allow_gs=False)
    pattern = tag_pattern if isinstance(tag_pattern, re.Pattern) else _compiled(tag_pattern)
    kind = TagKind.ASSET_TAG if pattern.fullmatch(text) else TagKind.SERIAL
    return Tag(kind, text, "plain", aim)


def payload_text(payload: bytes) -> str:
    """A printable, single-line rendering of any raw payload, for reports and screens.

    Printable UTF-8 text is kept as is; other characters are shown as ``\\x07``,
    ``\\u200b`` or ``\\U0001f600`` and bytes that are not UTF-8 as ``\\xff``.

    Args:
        payload: the bytes a reader delivered.

    Returns:
        The rendering; never raises.
    """
    return terminal_safe(bytes(payload).decode("utf-8", errors="backslashreplace"))


def _decode(payload: bytes) -> str:
    if len(payload) > _MAX_PAYLOAD_BYTES:
        raise TagRejected(_TOO_LONG)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise TagRejected("not UTF-8 text") from None
    if len(text) > MAX_PAYLOAD_CHARS:
        raise TagRejected(_TOO_LONG)
    # HID scanners end a read with Enter (CR, LF or both), sometimes after padding spaces.
    return text.rstrip("\r\n ").lstrip(" ")


def _reject_controls(text: str, *, allow_gs: bool) -> None:
    for ch in text:
        if ch == GS and allow_gs:
            continue
        if unicodedata.category(ch) in _REJECTED_CATEGORIES:
            raise TagRejected(f"control character U+{ord(ch):04X} in label")


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _location(text: str, aim: str | None) -> Tag:
    room = text[len("LOC:") :].strip(" ")
    _reject_controls(room, allow_gs=False)
    if not room:
        raise TagRejected("location label without a room name")
    return Tag(TagKind.LOCATION, room, "location", aim)


def _campaign(text: str, aim: str | None) -> Tag:
    name = " ".join(text[len("CAMPAIGN:") :].split())
    _reject_controls(name, allow_gs=False)
    if not name:
        raise TagRejected("campaign label without a campaign name")
    return Tag(TagKind.CAMPAIGN, name, "campaign", aim)


def _from_url(url: str, aim: str | None) -> Tag:
    _reject_controls(url, allow_gs=False)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TagRejected("malformed URL") from None
    if match := _ID_PATH_RE.search(parts.path):
        if len(match[1]) > MAX_ID_DIGITS:
            raise TagRejected("URL with an over-long asset id")
        return Tag(TagKind.ASSET_ID, match[1], "url", aim,
                   site=url_site(url, parts.path[: match.start()]))
    if match := _TAG_PATH_RE.search(parts.path):
        return _url_tag(match[1], aim, url_site(url, parts.path[: match.start()]))
    if is_digital_link(parts.path.split("/")):
        return _from_gs1(parse_digital_link, url, "gs1-digital-link", aim)
    for field in parts.query.split("&"):
        key, _, value = field.partition("=")
        if unquote(key).casefold() in _TAG_QUERY_KEYS:
            return _url_tag(value.replace("+", " "), aim, url_site(url, parts.path))
    raise TagRejected("URL does not name an asset")


def url_site(url: str, base_path: str | None = None) -> str:
    """The site a URL points at, in the form :attr:`Tag.site` uses.

    Lower-case host, ``:port`` unless it is the scheme's default, then the base path
    without a trailing slash (``https://Assets.example.com:443/snipeit/`` gives
    ``assets.example.com/snipeit``). The scheme is left out: a label printed when the
    register still answered on http names the same register.

    Args:
        url: an http(s) URL.
        base_path: the part of the path that names the register rather than the asset;
            the URL's whole path when None.

    Raises:
        TagRejected: the URL has no host or a malformed port.
    """
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise TagRejected("malformed URL port") from None
    if not host:
        raise TagRejected("URL without a host")
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    where = host.rstrip(".") + (f":{port}" if port is not None and port != default else "")
    path = parts.path if base_path is None else base_path
    return where + "/" + path.strip("/") if path.strip("/") else where


def _url_tag(value: str, aim: str | None, site: str) -> Tag:
    # Strict, unlike urllib's default, which turns invalid UTF-8 into U+FFFD silently.
    try:
        value = unquote(value, errors="strict").strip(" ")
    except UnicodeDecodeError:
        raise TagRejected("not UTF-8 text in URL") from None
    _reject_controls(value, allow_gs=False)
    if not value:
        raise TagRejected("URL with an empty asset tag")
    return Tag(TagKind.ASSET_TAG, value, "url", aim, site=site)


def _from_card(text: str, cards: CardRules) -> Tag:
    """A card number, spelled as the register spells card numbers, names an asset tag."""
    _reject_controls(text, allow_gs=False)
    try:
        return Tag(TagKind.ASSET_TAG, cards.normalise(text), "card")
    except CardNumberError as exc:
        raise TagRejected(f"card: {exc}") from None


def _from_epc(payload: bytes) -> Tag:
    """A UHF tag's EPC: GIAI as a GIAI, SGTIN as a serial with its GTIN, GRAI as an asset tag."""
    try:
        key = decode_epc(payload)
    except EpcError as exc:
        raise TagRejected(f"EPC: {exc}") from None
    if key.giai is not None:
        return Tag(TagKind.GIAI, key.giai, "epc")
    if key.grai is not None:
        # A returnable asset's GRAI (AI 8003, with its serial) is what a register
        # would record as the asset tag of, say, a rack or a transport case.
        return Tag(TagKind.ASSET_TAG, key.grai, "epc")
    if key.serial is not None:
        return Tag(TagKind.SERIAL, key.serial, "epc", gtin=key.gtin)
    raise TagRejected("EPC without an asset identifier")


def _from_gs1(parse: Callable[[str], AssetKeys], data: str, scheme: str, aim: str | None) -> Tag:
    try:
        keys = parse(data)
    except GS1Error as exc:
        raise TagRejected(f"invalid GS1 data: {exc}") from None
    if keys.giai is not None:
        return Tag(TagKind.GIAI, keys.giai, scheme, aim, serial=keys.serial, gtin=keys.gtin)
    if keys.serial is not None:
        return Tag(TagKind.SERIAL, keys.serial, scheme, aim, gtin=keys.gtin)
    raise TagRejected("GS1 data without an asset identifier (AI 8004) or serial (AI 21)")
