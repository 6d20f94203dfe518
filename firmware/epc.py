"""EPC binary encodings (GS1 EPC Tag Data Standard) read from UHF tags, turned into GS1 keys.

Four schemes are decoded: GIAI-96 and GIAI-202 (asset identifiers, AI 8004), GRAI-96
(returnable assets, AI 8003) and SGTIN-96 (trade items, AI 01 + AI 21). The binary form is
self-describing: the header byte names the scheme, and the partition value fixes how many
bits and digits the company prefix and the reference take. The company prefix keeps its
leading zeros (``0614141`` stays seven digits), as the element string must carry them.
Everything else on a tag (factory EPCs such as ``E280…``, other schemes) is an
:class:`EpcError`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EpcError", "EpcKey", "decode_epc", "gs1_check_digit"]

SGTIN_96 = 0x30
GRAI_96 = 0x33
GIAI_96 = 0x34
GIAI_202 = 0x38

_SCHEMES = {SGTIN_96: "sgtin-96", GRAI_96: "grai-96", GIAI_96: "giai-96", GIAI_202: "giai-202"}

#: Partition P -> (company prefix bits, company prefix digits, reference bits, reference
#: digits). SGTIN-96: the item reference digits include the indicator digit. GRAI-96: the
#: same bits, one digit fewer (no indicator), 0 to 6 digits.
_SGTIN_PARTITIONS = {
    0: (40, 12, 4, 1), 1: (37, 11, 7, 2), 2: (34, 10, 10, 3), 3: (30, 9, 14, 4),
    4: (27, 8, 17, 5), 5: (24, 7, 20, 6), 6: (20, 6, 24, 7),
}
_GRAI_PARTITIONS = {p: (m, l, n, d - 1) for p, (m, l, n, d) in _SGTIN_PARTITIONS.items()}
#: GIAI-96: the asset reference is an integer of at most that many digits.
_GIAI96_PARTITIONS = {
    0: (40, 12, 42, 13), 1: (37, 11, 45, 14), 2: (34, 10, 48, 15), 3: (30, 9, 52, 16),
    4: (27, 8, 55, 17), 5: (24, 7, 58, 18), 6: (20, 6, 62, 19),
}
#: GIAI-202: the asset reference is at most that many 7-bit characters, zero-padded.
_GIAI202_PARTITIONS = {
    0: (40, 12, 148, 18), 1: (37, 11, 151, 19), 2: (34, 10, 154, 20), 3: (30, 9, 158, 21),
    4: (27, 8, 161, 22), 5: (24, 7, 164, 23), 6: (20, 6, 168, 24),
}
_SERIAL_BITS = 38

#: GS1 AI encodable character set 82: what a GIAI-202 asset reference may hold.
AI82_CHARACTERS = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
#: Characters of the set the EPC URI writes percent-escaped.
_URI_ESCAPES = {c: f"%{ord(c):02X}" for c in "\"%&/<>?"}


class EpcError(ValueError):
    """The bytes are not an EPC of a supported scheme; the message says why, briefly."""


@dataclass(frozen=True)
class EpcKey:
    """The GS1 key an EPC carries, and where it came from.

    Attributes:
        scheme: ``sgtin-96``, ``grai-96``, ``giai-96`` or ``giai-202``.
        filter: the 3-bit filter value (0 to 7).
        company_prefix: the GS1 company prefix, 6 to 12 digits, leading zeros kept.
        reference: the scheme's reference as the pure identity URI writes it: the item
            reference with its indicator digit (SGTIN), the asset type (GRAI), the
            individual asset reference (GIAI), unescaped.
        serial: the serial number (SGTIN, GRAI), else None.
        gtin: the GTIN-14, indicator digit first and check digit last (SGTIN), else None.
        grai: the GRAI as AI 8003 carries it: ``0``, prefix, asset type, check digit,
            serial (GRAI), else None.
        giai: the GIAI as AI 8004 carries it: prefix and asset reference (GIAI), else None.
    """

    scheme: str
    filter: int
    company_prefix: str
    reference: str
    serial: str | None = None
    gtin: str | None = None
    grai: str | None = None
    giai: str | None = None

    @property
    def uri(self) -> str:
        """The pure identity EPC URI, e.g. ``urn:epc:id:giai:0614141.12345400``."""
        kind = self.scheme.split("-")[0]
        return f"urn:epc:id:{kind}:{self._uri_body()}"

    @property
    def tag_uri(self) -> str:
        """The EPC tag URI, with scheme and filter, e.g. ``urn:epc:tag:giai-96:0.0614141.1``."""
        return f"urn:epc:tag:{self.scheme}:{self.filter}.{self._uri_body()}"

    @property
    def element_string(self) -> str:
        """The GS1 element string in human-readable form, e.g. ``(8004)0614141ABC``."""
        if self.gtin is not None:
            return f"(01){self.gtin}(21){self.serial}"
        if self.grai is not None:
            return f"(8003){self.grai}"
        return f"(8004){self.giai}"

    def _uri_body(self) -> str:
        reference = "".join(_URI_ESCAPES.get(c, c) for c in self.reference)
        parts = [self.company_prefix, reference]
        if self.serial is not None:
            parts.append(self.serial)
        return ".".join(parts)


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of ``digits`` (weights 3, 1, 3… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def decode_epc(epc: str | bytes | bytearray | memoryview) -> EpcKey:
    """Decode an EPC of a supported scheme into its GS1 key.

    Args:
        epc: the EPC as hexadecimal text (``str``, or ASCII bytes as a reader reports it;
            outer spaces ignored, either case), or as raw binary: bytes of length 12
            (96 bits) or 26 (GIAI-202 in its 208-bit memory bank) are taken as binary,
            as no hexadecimal EPC has that many digits.

    Raises:
        EpcError: not hexadecimal; an unknown or unsupported header; the wrong length for
            the scheme; an invalid partition; a company prefix or reference too large for
            its digits; a GIAI-202 reference with a character outside GS1 AI-82 or bits
            after it that are not zero.
    """
    value, bits = _to_int(epc)
    if bits < 8:
        raise EpcError("too short for an EPC")
    header = value >> (bits - 8)
    scheme = _SCHEMES.get(header)
    if scheme is None:
        raise EpcError(f"unknown header 0x{header:02X}")
    if header == GIAI_202:
        if bits not in (204, 208):
            raise EpcError(f"{scheme} needs 202 bits (204 or 208 stored), got {bits}")
        padding = bits - 202
        if value & ((1 << padding) - 1):
            raise EpcError(f"{scheme}: bits after the 202nd are not zero")
        value >>= padding
        bits = 202
    elif bits != 96:
        raise EpcError(f"{scheme} needs 96 bits, got {bits}")
    fields = _Bits(value, bits)
    fields.take(8)
    filter_value = fields.take(3)
    partition = fields.take(3)
    if partition > 6:
        raise EpcError(f"invalid partition {partition}")
    if header == SGTIN_96:
        return _sgtin(fields, filter_value, partition)
    if header == GRAI_96:
        return _grai(fields, filter_value, partition)
    if header == GIAI_96:
        return _giai96(fields, filter_value, partition)
    return _giai202(fields, filter_value, partition)


class _Bits:
    """Reads fields of an integer from its most significant bit on."""

    def __init__(self, value: int, bits: int) -> None:
        self._value = value
        self._left = bits

    def take(self, n: int) -> int:
        self._left -= n
        return (self._value >> self._left) & ((1 << n) - 1)


def _digits(value: int, digits: int, what: str) -> str:
    if value >= 10 ** digits:
        raise EpcError(f"{what} {value} has more than {digits} digits")
    return str(value).zfill(digits) if digits else ""


def _prefix(fields: _Bits, bits: int, digits: int) -> str:
    return _digits(fields.take(bits), digits, "company prefix")


def _sgtin(fields: _Bits, filter_value: int, partition: int) -> EpcKey:
    m, l, n, d = _SGTIN_PARTITIONS[partition]
    prefix = _prefix(fields, m, l)
    item = _digits(fields.take(n), d, "item reference")
    serial = str(fields.take(_SERIAL_BITS))
    body = item[0] + prefix + item[1:]
    return EpcKey("sgtin-96", filter_value, prefix, item, serial=serial,
                  gtin=body + gs1_check_digit(body))


def _grai(fields: _Bits, filter_value: int, partition: int) -> EpcKey:
    m, l, n, d = _GRAI_PARTITIONS[partition]
    prefix = _prefix(fields, m, l)
    asset_type = _digits(fields.take(n), d, "asset type")
    serial = str(fields.take(_SERIAL_BITS))
    body = "0" + prefix + asset_type
    return EpcKey("grai-96", filter_value, prefix, asset_type, serial=serial,
                  grai=body + gs1_check_digit(body) + serial)


def _giai96(fields: _Bits, filter_value: int, partition: int) -> EpcKey:
    m, l, n, d = _GIAI96_PARTITIONS[partition]
    prefix = _prefix(fields, m, l)
    # Always fits: 2**n < 10**d in every row. An integer has no leading zeros to keep.
    reference = str(fields.take(n))
    return EpcKey("giai-96", filter_value, prefix, reference, giai=prefix + reference)


def _giai202(fields: _Bits, filter_value: int, partition: int) -> EpcKey:
    m, l, n, most = _GIAI202_PARTITIONS[partition]
    prefix = _prefix(fields, m, l)
    field = fields.take(n)
    chars: list[str] = []
    left = n
    while left >= 7:
        left -= 7
        code = (field >> left) & 0x7F
        if code == 0:
            break
        char = chr(code)
        if char not in AI82_CHARACTERS:
            raise EpcError(f"asset reference character 0x{code:02X} is not in GS1 AI-82")
        chars.append(char)
    if field & ((1 << left) - 1):
        raise EpcError("bits after the asset reference are not zero")
    if not chars:
        raise EpcError("empty asset reference")
    if len(chars) > most:
        raise EpcError(f"asset reference longer than {most} characters")
    reference = "".join(chars)
    return EpcKey("giai-202", filter_value, prefix, reference, giai=prefix + reference)


def _to_int(epc: str | bytes | bytearray | memoryview) -> tuple[int, int]:
    """The EPC as an integer and its length in bits."""
    if isinstance(epc, (bytes, bytearray, memoryview)):
        raw = bytes(epc)
        if len(raw) in (12, 26):
            return int.from_bytes(raw, "big"), 8 * len(raw)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise EpcError("not hexadecimal") from None
    elif isinstance(epc, str):
        text = epc
    else:
        raise EpcError(f"not an EPC: {type(epc).__name__}")
    text = text.strip()
    # int(…, 16) alone would also take "0x", "_" and non-ASCII digits.
    if not text or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise EpcError("not hexadecimal")
    return int(text, 16), 4 * len(text)
