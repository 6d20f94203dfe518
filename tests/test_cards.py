"""Card numbers from keyboard-emulating RFID readers: every convention, normalised once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.cards import (
    Card,
    CardFormat,
    CardNumberError,
    CardRules,
    check_convertible,
    format_card,
    parse_card,
)
from firmware.tags import TagKind, TagRejected, parse_read
from hal.read import Read

# The EM4100 worked example of the reference: RDM6300 data 61 00 8E B2 F9.
EM_DECIMAL, EM_FACILITY = "0009351929", "142,45817"
# The MIFARE example: UID 90 D7 52 C5 (MFRC522 order).
MIFARE = bytes.fromhex("90D752C5")


def test_the_em4100_example_in_every_format() -> None:
    card = parse_card(EM_DECIMAL, "decimal")
    assert card == Card(bytes.fromhex("008EB2F9"), 32)
    assert format_card(card, "facility") == EM_FACILITY
    assert format_card(card, "hex") == "008EB2F9"
    assert format_card(card, "hex-reversed") == "F9B28E00"
    assert format_card(card, "decimal-reversed") == f"{0xF9B28E00:010d}"
    assert parse_card(EM_FACILITY, "facility") == Card(bytes.fromhex("8EB2F9"), 24)


def test_the_mifare_example_in_both_byte_orders() -> None:
    standard = parse_card("2430030533", "decimal")
    reversed_ = parse_card("3310540688", "decimal-reversed")
    assert standard.uid == reversed_.uid == MIFARE
    assert parse_card("C552D790", "hex-reversed").uid == MIFARE
    assert parse_card("0x90d752c5", "hex").uid == MIFARE
    assert format_card(standard, "decimal-reversed") == "3310540688"


def test_a_seven_byte_uid_in_decimal_is_its_first_four_bytes() -> None:
    uid = bytes.fromhex("04A224C2B15E80")
    card = parse_card(uid.hex(), "hex")
    assert card.bits == 56
    assert format_card(card, "hex") == uid.hex().upper()
    assert format_card(card, "decimal") == f"{int.from_bytes(uid[:4], 'big'):010d}"


@pytest.mark.parametrize(("text", "fmt"), [
    ("", "decimal"), ("12a4", "decimal"), ("4294967296", "decimal"), ("12345678901", "decimal"),
    ("ABC", "hex"), ("G0", "hex"), ("", "hex-reversed"), ("1" * 22, "hex"),
    ("256,1", "facility"), ("1,65536", "facility"), ("142 45817", "facility"), ("x,1", "facility"),
])
def test_what_is_not_a_number_of_the_format_is_refused(text: str, fmt: str) -> None:
    with pytest.raises(CardNumberError):
        parse_card(text, fmt)


def test_a_facility_reading_cannot_become_a_32_bit_number() -> None:
    card = parse_card("001,00002", "facility")
    assert format_card(card, "facility") == "001,00002"
    for fmt in ("decimal", "decimal-reversed", "hex", "hex-reversed"):
        with pytest.raises(CardNumberError, match="cannot be written"):
            format_card(card, fmt)
        with pytest.raises(CardNumberError, match="cannot be matched"):
            check_convertible("facility", fmt)
        check_convertible(fmt, "facility")  # the other way loses bits, which is fine


@given(st.binary(min_size=4, max_size=4), st.sampled_from(list(CardFormat)))
def test_four_byte_cards_survive_a_round_trip_through_any_format(uid: bytes,
                                                                   fmt: CardFormat) -> None:
    card = Card(uid, 32)
    again = parse_card(format_card(card, fmt), fmt)
    if fmt is CardFormat.FACILITY:
        assert again.uid == uid[1:]
    else:
        assert again.uid == uid


@given(st.text(max_size=24), st.sampled_from(list(CardFormat)))
def test_any_text_parses_or_is_refused_with_a_reason(text: str, fmt: CardFormat) -> None:
    try:
        card = parse_card(text, fmt)
    except CardNumberError as exc:
        assert str(exc)
    else:
        assert 1 <= len(card.uid) <= 10


def card_read(text: str) -> Read:
    return Read(text.encode(), "CARD", "card", 1.0)


def test_a_card_read_names_the_asset_tag_the_register_spells() -> None:
    rules = CardRules(reader="decimal", register="facility")
    tag = parse_read(card_read(EM_DECIMAL), cards=rules)
    assert (tag.kind, tag.value, tag.scheme) == (TagKind.ASSET_TAG, EM_FACILITY, "card")
    assert parse_read(card_read("C552D790"), cards=CardRules("hex-reversed", "decimal")
                      ).value == "2430030533"


def test_a_card_read_that_is_no_number_is_rejected_with_the_reason() -> None:
    with pytest.raises(TagRejected, match="card: not a card number in decimal"):
        parse_read(card_read("LOC:Room 1"))
    with pytest.raises(TagRejected):
        parse_read(card_read("12\x1b[2J"))
    # The same text from a barcode scanner is an ordinary label.
    assert parse_read(Read(b"0009351929", "UNKNOWN", "hid", 1.0)).value == "0009351929"


def test_rules_that_cannot_match_are_refused_when_made() -> None:
    with pytest.raises(CardNumberError):
        CardRules(reader="facility", register="hex")
