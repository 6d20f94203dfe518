"""EPC decoding: the Tag Data Standard test vectors, rejections, and encode/decode round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.epc import (
    _GIAI96_PARTITIONS,
    _GIAI202_PARTITIONS,
    _GRAI_PARTITIONS,
    _SGTIN_PARTITIONS,
    AI82_CHARACTERS,
    EpcError,
    EpcKey,
    decode_epc,
    gs1_check_digit,
)

# Golden vectors from the project's input-layer reference (docs of the research on HID
# scanners and RFID, section 3.4 "EPC Tag Data Standard facts for asset tags"), each decoded
# identically there by epcpy 0.1.8 and epc-encoding-utils 1.3. The SGTIN row is the classic
# GS1 TDS example (company prefix 0614141, item reference 812345, serial 6789).
VECTORS = [
    ("3074257BF7194E4000001A85",
     "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
     "urn:epc:id:sgtin:0614141.812345.6789",
     "(01)80614141123458(21)6789"),
    ("3414257BF400000000BC6038",
     "urn:epc:tag:giai-96:0.0614141.12345400",
     "urn:epc:id:giai:0614141.12345400",
     "(8004)061414112345400"),
    ("3314257BF40C0E400000162E",
     "urn:epc:tag:grai-96:0.0614141.12345.5678",
     "urn:epc:id:grai:0614141.12345.5678",
     "(8003)006141411234525678"),
    ("3814257BF60C286B58B266BFC000000000000000000000000000",
     "urn:epc:tag:giai-202:0.0614141.ABC-123%2Fx",
     "urn:epc:id:giai:0614141.ABC-123%2Fx",
     "(8004)0614141ABC-123/x"),
]


@pytest.mark.parametrize(("hex_epc", "tag_uri", "uri", "element_string"), VECTORS)
def test_reference_vectors(hex_epc: str, tag_uri: str, uri: str, element_string: str) -> None:
    key = decode_epc(hex_epc)
    assert key.tag_uri == tag_uri
    assert key.uri == uri
    assert key.element_string == element_string
    # the same EPC as lower-case text, as ASCII bytes from a reader, and as raw binary
    assert decode_epc(hex_epc.lower()) == key
    assert decode_epc(hex_epc.encode("ascii")) == key
    assert decode_epc(bytes.fromhex(hex_epc)) == key


def test_reference_vector_fields() -> None:
    sgtin, giai96, grai, giai202 = (decode_epc(v[0]) for v in VECTORS)
    assert sgtin == EpcKey("sgtin-96", 3, "0614141", "812345", serial="6789",
                           gtin="80614141123458")
    assert giai96 == EpcKey("giai-96", 0, "0614141", "12345400", giai="061414112345400")
    assert grai == EpcKey("grai-96", 0, "0614141", "12345", serial="5678",
                          grai="006141411234525678")
    assert giai202 == EpcKey("giai-202", 0, "0614141", "ABC-123/x", giai="0614141ABC-123/x")


def test_check_digit() -> None:
    # GTIN-13 5901234123457 and GTIN-14 80614141123458 are published GS1 examples.
    assert gs1_check_digit("590123412345") == "7"
    assert gs1_check_digit("8061414112345") == "8"


def test_giai202_in_51_hex_digits_is_the_same_epc() -> None:
    full = VECTORS[3][0]
    assert decode_epc(full[:51]) == decode_epc(full)


@pytest.mark.parametrize(("epc", "reason"), [
    ("E2801160600002084B5E1234", "unknown header 0xE2"),
    ("3514257BF400000000BC6038", "unknown header 0x35"),  # GID-96: not supported
    ("", "not hexadecimal"),
    ("3414257BF400000000BC603G", "not hexadecimal"),
    ("0x3414257BF400000000BC60", "not hexadecimal"),
    ("3414_257BF400000000BC6038", "not hexadecimal"),
    ("3414257BF400000000BC60", "needs 96 bits, got 88"),
    ("3414257BF400000000BC603800", "needs 96 bits, got 104"),
    ("3814257BF60C286B58B266BFC0000000000000000000000000", "needs 202 bits"),
    ("3814257BF60C286B58B266BFC000000000000000000000000001", "bits after the 202nd"),
    # partition 7 (bits 11-13 all ones) exists in no table
    ("341C257BF400000000BC6038", "invalid partition 7"),
    ("301C257BF7194E4000001A85", "invalid partition 7"),
])
def test_rejections(epc: str, reason: str) -> None:
    with pytest.raises(EpcError, match=reason):
        decode_epc(epc)


def test_rejects_non_ascii_bytes_and_other_types() -> None:
    with pytest.raises(EpcError, match="not hexadecimal"):
        decode_epc(b"\xff" * 24)
    with pytest.raises(EpcError):
        decode_epc(12345)  # type: ignore[arg-type]
    assert issubclass(EpcError, ValueError)


def test_company_prefix_too_large_for_its_digits() -> None:
    # GIAI-96 partition 0: 40 bits for 12 digits; 2**40 - 1 has 13.
    hex_epc = _encode(0x34, 0, 0, (1 << 40) - 1, 0, None, _GIAI96_PARTITIONS)
    with pytest.raises(EpcError, match="company prefix .* more than 12 digits"):
        decode_epc(hex_epc)


def test_item_reference_too_large_for_its_digits() -> None:
    # SGTIN-96 partition 5: 20 bits for a 6-digit item reference; 1,000,000 has 7.
    hex_epc = _encode(0x30, 1, 5, 614141, 1_000_000, 1, _SGTIN_PARTITIONS)
    with pytest.raises(EpcError, match="item reference 1000000 has more than 6 digits"):
        decode_epc(hex_epc)


def test_grai_partition_0_has_no_asset_type_digits() -> None:
    # twelve-digit company prefix, asset type of 0 digits: any non-zero value is too large
    key = decode_epc(_encode(0x33, 0, 0, 61414100001, 0, 42, _GRAI_PARTITIONS))
    body = "0061414100001"
    assert key.reference == "" and key.grai == body + gs1_check_digit(body) + "42"
    assert key.uri == "urn:epc:id:grai:061414100001..42"
    with pytest.raises(EpcError, match="asset type 1 has more than 0 digits"):
        decode_epc(_encode(0x33, 0, 0, 61414100001, 1, 42, _GRAI_PARTITIONS))


def test_giai202_rejects_characters_outside_ai82_and_stray_bits() -> None:
    with pytest.raises(EpcError, match="0x40 is not in GS1 AI-82"):  # '@'
        decode_epc(_encode_giai202(0, 5, "0614141", "A@B"))
    with pytest.raises(EpcError, match="0x20 is not in GS1 AI-82"):  # space
        decode_epc(_encode_giai202(0, 5, "0614141", "A B"))
    # a character after the terminating NUL
    with pytest.raises(EpcError, match="bits after the asset reference"):
        decode_epc(_encode_giai202(0, 5, "0614141", "AB\x00C", check=False))
    with pytest.raises(EpcError, match="empty asset reference"):
        decode_epc(_encode_giai202(0, 5, "0614141", "", check=False))
    # partition 0 has room for 21 characters in its 148 bits, but a GIAI allows 18 there
    with pytest.raises(EpcError, match="longer than 18 characters"):
        decode_epc(_encode_giai202(0, 0, "061414100000", "A" * 19, check=False))


def test_giai202_percent_escapes_in_uri_only() -> None:
    key = decode_epc(_encode_giai202(1, 5, "0614141", "a\"%&/<>?b"))
    assert key.giai == "0614141a\"%&/<>?b"
    assert key.uri == "urn:epc:id:giai:0614141.a%22%25%26%2F%3C%3E%3Fb"


def test_leading_zeros_of_the_company_prefix_are_kept() -> None:
    key = decode_epc(_encode(0x34, 0, 0, 1, 7, None, _GIAI96_PARTITIONS))
    assert key.company_prefix == "000000000001" and key.giai == "0000000000017"


# --- a test-only encoder, written from the Tag Data Standard layout -------------------------

def _encode(header: int, filter_value: int, partition: int, prefix: int, reference: int,
            serial: int | None, table: dict[int, tuple[int, int, int, int]]) -> str:
    m, _, n, _ = table[partition]
    value = (header << 3 | filter_value) << 3 | partition
    value = (value << m | prefix) << n | reference
    bits = 14 + m + n
    if serial is not None:
        value = value << 38 | serial
        bits += 38
    assert bits == 96
    return f"{value:024X}"


def _encode_giai202(filter_value: int, partition: int, prefix: str, reference: str,
                    check: bool = True) -> str:
    m, l, n, most = _GIAI202_PARTITIONS[partition]
    if check:
        assert len(prefix) == l and 0 < len(reference) <= most
    field = 0
    for char in reference:
        field = field << 7 | ord(char)
    field <<= n - 7 * len(reference)
    value = (((0x38 << 3 | filter_value) << 3 | partition) << m | int(prefix)) << n | field
    return f"{value << 6:052X}"  # 202 bits in a 208-bit memory bank


@st.composite
def prefixes(draw: st.DrawFn, digits: int) -> str:
    # leading zeros on purpose: they must survive the round trip
    return draw(st.text("0123456789", min_size=digits, max_size=digits))


PARTITIONS = st.integers(0, 6)
FILTERS = st.integers(0, 7)
SERIALS = st.integers(0, (1 << 38) - 1)


@given(FILTERS, PARTITIONS, st.data(), SERIALS)
def test_sgtin96_round_trip(filter_value: int, partition: int, data: st.DataObject,
                            serial: int) -> None:
    _, l, _, d = _SGTIN_PARTITIONS[partition]
    prefix = data.draw(prefixes(l))
    item = data.draw(st.text("0123456789", min_size=d, max_size=d))
    key = decode_epc(_encode(0x30, filter_value, partition, int(prefix), int(item), serial,
                             _SGTIN_PARTITIONS))
    body = item[0] + prefix + item[1:]
    assert key == EpcKey("sgtin-96", filter_value, prefix, item, serial=str(serial),
                         gtin=body + gs1_check_digit(body))
    assert len(key.gtin or "") == 14
    assert key.uri == f"urn:epc:id:sgtin:{prefix}.{item}.{serial}"


@given(FILTERS, PARTITIONS, st.data(), SERIALS)
def test_grai96_round_trip(filter_value: int, partition: int, data: st.DataObject,
                           serial: int) -> None:
    _, l, _, d = _GRAI_PARTITIONS[partition]
    prefix = data.draw(prefixes(l))
    asset_type = data.draw(st.text("0123456789", min_size=d, max_size=d))
    key = decode_epc(_encode(0x33, filter_value, partition, int(prefix), int(asset_type or 0),
                             serial, _GRAI_PARTITIONS))
    body = "0" + prefix + asset_type
    assert key == EpcKey("grai-96", filter_value, prefix, asset_type, serial=str(serial),
                         grai=body + gs1_check_digit(body) + str(serial))
    assert len(body) == 13


@given(FILTERS, PARTITIONS, st.data())
def test_giai96_round_trip(filter_value: int, partition: int, data: st.DataObject) -> None:
    _, l, n, d = _GIAI96_PARTITIONS[partition]
    prefix = data.draw(prefixes(l))
    reference = data.draw(st.integers(0, (1 << n) - 1))
    key = decode_epc(_encode(0x34, filter_value, partition, int(prefix), reference, None,
                             _GIAI96_PARTITIONS))
    assert key == EpcKey("giai-96", filter_value, prefix, str(reference),
                         giai=prefix + str(reference))
    assert len(str(reference)) <= d and len(key.giai or "") <= 30


@given(FILTERS, PARTITIONS, st.data())
def test_giai202_round_trip(filter_value: int, partition: int, data: st.DataObject) -> None:
    _, l, _, most = _GIAI202_PARTITIONS[partition]
    prefix = data.draw(prefixes(l))
    reference = data.draw(st.text(sorted(AI82_CHARACTERS), min_size=1, max_size=most))
    key = decode_epc(_encode_giai202(filter_value, partition, prefix, reference))
    assert key == EpcKey("giai-202", filter_value, prefix, reference, giai=prefix + reference)
    assert len(key.giai or "") <= 30
