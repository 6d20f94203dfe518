"""Payload parsing: every kind of label, every rejection, and properties over arbitrary input."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import pytest
from biip.symbology import GS1Symbology
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.gs1 import GS1Error, parse_digital_link
from firmware.tags import (
    DEFAULT_TAG_PATTERN,
    MAX_PAYLOAD_CHARS,
    Tag,
    TagKind,
    TagRejected,
    parse_read,
    payload_text,
    symbology_from_aim,
)
from hal.read import Read

GS = "\x1d"
A, ID, SER, LOC = TagKind.ASSET_TAG, TagKind.ASSET_ID, TagKind.SERIAL, TagKind.LOCATION
GI = TagKind.GIAI
EX = "assets.example.com"

# GS1 AI 8004 and AI 21 values: GS1 character set 82.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

PROPERTY = settings(max_examples=300, deadline=None)


def parse(payload: bytes | str, symbology: str = "UNKNOWN", **kwargs: object) -> Tag:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return parse_read(Read(data, symbology, "test", 0.0), **kwargs)  # type: ignore[arg-type]


def rejection(payload: bytes | str, symbology: str = "UNKNOWN") -> str:
    with pytest.raises(TagRejected) as info:
        parse(payload, symbology)
    return info.value.reason


def gtin14(body: str) -> str:
    """``body`` (13 digits) with its GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str(-total % 10)


# --- accepted labels -------------------------------------------------------------------------

ACCEPTED = [
    # plain text: asset tag when it matches the pattern, else a manufacturer serial
    ("IT-004512", Tag(A, "IT-004512", "plain")),
    ("LAP_0042", Tag(A, "LAP_0042", "plain")),
    ("004512", Tag(A, "004512", "plain")),
    ("  IT-004512 \r\n", Tag(A, "IT-004512", "plain")),
    ("IT-004512\n", Tag(A, "IT-004512", "plain")),
    ("5CG1234XYZ", Tag(SER, "5CG1234XYZ", "plain")),
    ("C02XK1ABJG5H\r", Tag(SER, "C02XK1ABJG5H", "plain")),
    ("9780804816632", Tag(SER, "9780804816632", "plain")),  # never guessed as GS1
    ("Größe 42", Tag(SER, "Größe 42", "plain")),
    # AIM symbology identifiers are stripped and recorded
    ("]Q1IT-004512", Tag(A, "IT-004512", "plain", aim="]Q1")),
    ("]C0IT-004512\r\n", Tag(A, "IT-004512", "plain", aim="]C0")),
    ("]A0SN12345ABC", Tag(SER, "SN12345ABC", "plain", aim="]A0")),
    ("]E09780804816632", Tag(SER, "9780804816632", "plain", aim="]E0")),
    ("]Q1https://a.example/hardware/7", Tag(ID, "7", "url", aim="]Q1", site="a.example")),
    ("]Q1LOC:Store 2", Tag(LOC, "Store 2", "location", aim="]Q1")),
    # room labels
    ("LOC:Room 4.12", Tag(LOC, "Room 4.12", "location")),
    ("loc:  B-204  ", Tag(LOC, "B-204", "location")),
    # register URLs
    ("https://assets.example.com/hardware/42", Tag(ID, "42", "url", site=EX)),
    ("https://assets.example.com/snipeit/hardware/42/", Tag(ID, "42", "url", site=EX + "/snipeit")),
    ("http://10.0.0.5:8080/hardware/0042/view", Tag(ID, "0042", "url", site="10.0.0.5:8080")),
    ("HTTPS://ASSETS.EXAMPLE.COM/HARDWARE/42", Tag(ID, "42", "url", site=EX)),
    ("https://assets.example.com/ht/IT-004512", Tag(A, "IT-004512", "url", site=EX)),
    ("https://assets.example.com/ht/IT-004512/", Tag(A, "IT-004512", "url", site=EX)),
    ("https://assets.example.com/ht/IT%20004%2F512", Tag(A, "IT 004/512", "url", site=EX)),
    ("https://assets.example.com/ht/Gr%C3%B6%C3%9Fe", Tag(A, "Größe", "url", site=EX)),
    ("https://assets.example.com/hardware/bytag/IT-9", Tag(A, "IT-9", "url", site=EX)),
    ("https://assets.example.com/scan?tag=IT-004512", Tag(A, "IT-004512", "url", site=EX + "/scan")),
    ("https://a.example/scan?x=1&tag=IT+0045%2B12#top", Tag(A, "IT 0045+12", "url", site="a.example/scan")),
    ("https://a.example/hardware/bytag?assetTag=IT%2D7", Tag(A, "IT-7", "url", site="a.example/hardware/bytag")),
    # GS1 element strings, HRI, AIM-flagged GS1
    ("8004ABC123" + GS + "21SN-9", Tag(GI, "ABC123", "gs1", serial="SN-9")),
    (GS + "8004ABC123", Tag(GI, "ABC123", "gs1")),
    ("0109506000134352" + "21XYZ" + GS + "10LOT1", Tag(SER, "XYZ", "gs1", gtin="09506000134352")),
    ("(8004)0614141ABC(21)SN9", Tag(GI, "0614141ABC", "gs1", serial="SN9")),
    ("(01)09506000134352(21)XYZ", Tag(SER, "XYZ", "gs1", gtin="09506000134352")),
    ("]C1800406141411234540", Tag(GI, "06141411234540", "gs1", aim="]C1")),
    ("]d28004ABC" + GS + "21S1", Tag(GI, "ABC", "gs1", aim="]d2", serial="S1")),
    ("]Q38004ABC", Tag(GI, "ABC", "gs1", aim="]Q3")),
    ("]e00109506000134352" + "21XYZ", Tag(SER, "XYZ", "gs1", aim="]e0", gtin="09506000134352")),
    # GS1 Digital Link
    ("https://id.gs1.org/8004/0614141ABC123", Tag(GI, "0614141ABC123", "gs1-digital-link")),
    (
        "https://id.example.com/x/8004/0614141%2F12?21=S1",
        Tag(GI, "0614141/12", "gs1-digital-link", serial="S1"),
    ),
    ("https://id.gs1.org/01/09506000134352/21/SN%2F7", Tag(SER, "SN/7", "gs1-digital-link", gtin="09506000134352")),
    ("]Q1https://id.gs1.org/8004/ABC", Tag(GI, "ABC", "gs1-digital-link", aim="]Q1")),
]


@pytest.mark.parametrize(("payload", "expected"), ACCEPTED)
def test_accepted(payload: str, expected: Tag) -> None:
    assert parse(payload) == expected


def test_reader_symbology_marks_gs1_without_aim_prefix() -> None:
    assert parse("800406141411234540", "GS1-128") == Tag(GI, "06141411234540", "gs1")
    assert parse("800406141411234540", "CODE128") == Tag(SER, "800406141411234540", "plain")


def test_tag_pattern_from_config_string_or_compiled() -> None:
    assert parse("SN12345ABC", tag_pattern=r"SN[0-9A-Z]+").kind is A
    assert parse("IT-004512", tag_pattern=r"SN[0-9A-Z]+").kind is SER
    assert parse("sn1", tag_pattern=re.compile(r"sn\d", re.IGNORECASE)).kind is A
    # the whole text must match, not a part of it
    assert parse("IT-004512-B").kind is SER


def test_default_tag_pattern_is_a_documented_string() -> None:
    assert isinstance(DEFAULT_TAG_PATTERN, str)
    assert re.fullmatch(DEFAULT_TAG_PATTERN, "IT-004512")


def test_longest_label_is_accepted() -> None:
    assert parse("A" * MAX_PAYLOAD_CHARS).value == "A" * MAX_PAYLOAD_CHARS
    assert parse("é" * MAX_PAYLOAD_CHARS).value == "é" * MAX_PAYLOAD_CHARS  # 512 bytes


# --- rejected payloads ---------------------------------------------------------------------

NO_KEY = "GS1 data without an asset identifier (AI 8004) or serial (AI 21)"

REJECTED = [
    (b"", "empty label"),
    (b"   \r\n", "empty label"),
    (b"]Q1", "empty label"),
    (b"]C0  \r\n", "empty label"),
    (b"A" * (MAX_PAYLOAD_CHARS + 1), "label over 256 characters"),
    ("é" * (MAX_PAYLOAD_CHARS + 1), "label over 256 characters"),
    (b"\xff" * 1_000_000, "label over 256 characters"),  # length is checked before decoding
    (b"IT-\xff", "not UTF-8 text"),
    (b"\xc0\xaf", "not UTF-8 text"),  # overlong encoding
    (b"\xed\xa0\x80", "not UTF-8 text"),  # encoded surrogate
    ("IT-\x07004512", "control character U+0007 in label"),
    ("IT-004512\x7f", "control character U+007F in label"),
    ("IT-\x85004512", "control character U+0085 in label"),
    ("IT-004512\t", "control character U+0009 in label"),
    ("IT-00\n4512", "control character U+000A in label"),
    ("\x00", "control character U+0000 in label"),
    ("IT-\u200b004512", "control character U+200B in label"),
    ("\u202eIT-004512", "control character U+202E in label"),
    ("\ufeffIT-004512", "control character U+FEFF in label"),
    ("IT-004\u2028512", "control character U+2028 in label"),
    ("8004ABC\x1e21X", "control character U+001E in label"),
    # GS belongs to GS1 element strings only
    ("IT-004" + GS + "512", "control character U+001D in label"),
    ("]Q1IT" + GS + "1", "control character U+001D in label"),
    ("LOC:Room" + GS + "1", "control character U+001D in label"),
    ("https://a.example/ht/IT" + GS + "1", "control character U+001D in label"),
    ("(8004)ABC" + GS + "(21)X", "control character U+001D in label"),
    ("https://a.example/ht/IT%1D1", "control character U+001D in label"),
    ("https://a.example/ht/%E2%80%8BIT", "control character U+200B in label"),
    # room labels
    ("LOC:", "location label without a room name"),
    ("loc:   ", "location label without a room name"),
    # URLs
    ("https://assets.example.com/hardware/abc", "URL does not name an asset"),
    ("https://assets.example.com/hardware/42x", "URL does not name an asset"),
    ("https://assets.example.com/hardware/", "URL does not name an asset"),
    ("https://assets.example.com/ht/", "URL does not name an asset"),
    ("https://assets.example.com/locations/3", "URL does not name an asset"),
    ("https://www.example.com/", "URL does not name an asset"),
    ("https://id.gs1.org/8004/", "URL does not name an asset"),
    ("https://a.example/scan?tag=", "URL with an empty asset tag"),
    ("https://a.example/ht/%20", "URL with an empty asset tag"),
    ("https://a.example/ht/%FF", "not UTF-8 text in URL"),
    ("https://a.example/scan?tag=%C0", "not UTF-8 text in URL"),
    ("http://[abc/hardware/1", "malformed URL"),
    # GS1
    ("]C1IT-004512", "invalid GS1 data: "),
    ("]C18004", "invalid GS1 data: "),
    ("8004" + GS + "21X", "invalid GS1 data: "),
    ("(9999)X", "invalid GS1 data: "),
    ("(8004)", "invalid GS1 data: "),
    ("https://id.gs1.org/8004/A/B/C", "invalid GS1 data: "),
    ("https://id.gs1.org/01/ABC/21/X", "invalid GS1 data: "),
    ("]Q30109506000134352", NO_KEY),
    ("(01)09506000134352", NO_KEY),
    ("0109506000134352" + GS + "10LOT", NO_KEY),
    ("https://id.gs1.org/01/09506000134352", NO_KEY),
]


@pytest.mark.parametrize(("payload", "reason"), REJECTED, ids=lambda v: repr(v)[:40])
def test_rejected(payload: bytes | str, reason: str) -> None:
    got = rejection(payload)
    assert got.startswith(reason) if reason.endswith(": ") else got == reason


def test_gs1_reason_is_short_and_single_line() -> None:
    reason = rejection("]C18004")
    assert len(reason) <= 120 and reason.isprintable()
    assert "pattern" not in reason


def test_digital_link_keys_are_those_biip_knows() -> None:
    from biip.gs1_digital_link_uris import _PRIMARY_IDENTIFIER_MAP

    from firmware.gs1 import _DL_PRIMARY_KEYS

    assert set(_PRIMARY_IDENTIFIER_MAP) == _DL_PRIMARY_KEYS


def test_digital_link_tolerates_malformed_host() -> None:
    # urllib raises ValueError here, inside biip; it must come out as a GS1 error.
    with pytest.raises(GS1Error):
        parse_digital_link("https://[abc/8004/ABC")


# --- AIM symbology identifiers ------------------------------------------------------------

@pytest.mark.parametrize(
    ("aim", "symbology"),
    [
        ("]A0", "CODE39"),
        ("]A4", "CODE39"),
        ("]C0", "CODE128"),
        ("]C1", "GS1-128"),
        ("]C2", "CODE128"),
        ("]E0", "EAN13"),
        ("]E3", "EAN13"),
        ("]E4", "EAN8"),
        ("]I0", "ITF"),
        ("]I1", "ITF"),
        ("]d1", "DATAMATRIX"),
        ("]d2", "GS1-DATAMATRIX"),
        ("]Q0", "QR"),
        ("]Q1", "QR"),
        ("]Q2", "QR"),
        ("]Q3", "GS1-QR"),
        ("]Q5", "QR"),
        ("]e0", "DATABAR"),
        ("]z0", "AZTEC"),
        ("]L0", "PDF417"),
        ("Q1", "QR"),
    ],
)
def test_symbology_from_aim(aim: str, symbology: str) -> None:
    assert symbology_from_aim(aim) == symbology


@pytest.mark.parametrize("aim", ["", "]", "]Q", "Q", "]X0", "]Z0", "]Q1x", "]1Q", "]Q-"])
def test_symbology_from_aim_unknown(aim: str) -> None:
    assert symbology_from_aim(aim) is None


def test_symbology_from_aim_knows_every_gs1_identifier() -> None:
    for symbology in GS1Symbology:
        assert symbology_from_aim("]" + symbology.value), symbology


# --- payload_text --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"IT-004512", "IT-004512"),
        ("Größe 42 😀".encode(), "Größe 42 😀"),
        (b"IT\x07\r\n", "IT\\x07\\x0d\\x0a"),
        (b"a\xffb", "a\\xffb"),
        (b"8004A\x1d21B", "8004A\\x1d21B"),
        ("\u200b\u00a0\u2028".encode(), "\\u200b\\u00a0\\u2028"),
        (b"", ""),
    ],
)
def test_payload_text(payload: bytes, text: str) -> None:
    assert payload_text(payload) == text


# --- properties ------------------------------------------------------------------------------

def assert_sound(tag: Tag) -> None:
    assert isinstance(tag, Tag)
    assert 0 < len(tag.value) <= MAX_PAYLOAD_CHARS
    for value in (tag.value, tag.serial or ""):
        assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value), value
    if tag.kind is ID:
        assert tag.value.isascii() and tag.value.isdigit()


def parses_or_rejects(payload: bytes, symbology: str = "UNKNOWN") -> None:
    try:
        tag = parse(payload, symbology)
    except TagRejected as exc:
        assert exc.reason and exc.reason.isprintable()
    else:
        assert_sound(tag)


@PROPERTY
@given(st.binary(max_size=600), st.sampled_from(["UNKNOWN", "QR", "GS1-128"]))
def test_any_bytes_parse_or_are_rejected(payload: bytes, symbology: str) -> None:
    parses_or_rejects(payload, symbology)


@PROPERTY
@given(st.text())
def test_any_text_parses_or_is_rejected(text: str) -> None:
    parses_or_rejects(text.encode("utf-8"))


PREFIXES = st.sampled_from(
    ["", " ", "]Q1", "]C1", "]d2", "]Q3", "]e0", "LOC:", GS, "8004", "21", "(8004)", "(21)",
     "https://a.example/ht/", "https://a.example/hardware/", "HTTP://a.example/x?tag=",
     "https://id.gs1.org/8004/", "https://id.gs1.org/01/09506000134352/21/", "http://["]
)
PIECES = st.sampled_from(list(CSET82 + " %\x1d\x07\u200b\r\né") + ["%1D", "%FF", "%2F", "%C3%A9"])


@PROPERTY
@given(PREFIXES, st.lists(PIECES, max_size=30).map("".join))
def test_label_like_text_parses_or_is_rejected(prefix: str, rest: str) -> None:
    parses_or_rejects((prefix + rest).encode("utf-8"))


@PROPERTY
@given(st.binary(max_size=2000))
def test_payload_text_is_one_printable_line(payload: bytes) -> None:
    text = payload_text(payload)
    assert text.isprintable()
    assert len(text.splitlines()) <= 1


@PROPERTY
@given(st.text().filter(str.isprintable))
def test_payload_text_keeps_printable_text(text: str) -> None:
    assert payload_text(text.encode("utf-8")) == text


GIAI = st.text(alphabet=CSET82, min_size=1, max_size=30)
SERIAL = st.text(alphabet=CSET82, min_size=1, max_size=20)


@PROPERTY
@given(GIAI, st.none() | SERIAL, st.sampled_from(["", "]C1", "]d2", "]Q3"]))
def test_gs1_element_string_round_trip(giai: str, serial: str | None, aim: str) -> None:
    # Without an AIM prefix, a leading GS stands for FNC1 in first position.
    data = (aim or GS) + "8004" + giai + (GS + "21" + serial if serial else "")
    assert parse(data) == Tag(GI, giai, "gs1", aim=aim or None, serial=serial)


@PROPERTY
@given(GIAI.filter(lambda v: "(" not in v), st.none() | SERIAL.filter(lambda v: "(" not in v))
def test_gs1_hri_round_trip(giai: str, serial: str | None) -> None:
    data = f"(8004){giai}" + (f"(21){serial}" if serial else "")
    assert parse(data) == Tag(GI, giai, "gs1", serial=serial)


@PROPERTY
@given(GIAI, st.none() | SERIAL)
def test_gs1_digital_link_giai_round_trip(giai: str, serial: str | None) -> None:
    url = "https://id.example.com/8004/" + quote(giai, safe="")
    if serial:
        url += "?21=" + quote(serial, safe="")
    assert parse(url) == Tag(GI, giai, "gs1-digital-link", serial=serial)


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=13, max_size=13), SERIAL, st.booleans())
def test_gs1_serial_round_trip(gtin_body: str, serial: str, as_link: bool) -> None:
    gtin = gtin14(gtin_body)
    if as_link:
        data = f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}"
        expected = Tag(SER, serial, "gs1-digital-link", gtin=gtin)
    else:
        data, expected = f"]C101{gtin}21{serial}", Tag(SER, serial, "gs1", aim="]C1", gtin=gtin)
    assert parse(data) == expected
