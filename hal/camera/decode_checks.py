"""What a decoded value must pass before stocktaker believes it: symbology families, check digits.

Pure functions on ``(payload, symbology)`` pairs as the decoders report them, with stocktaker's
symbology names. Nothing here imports a decoder library.
"""

from __future__ import annotations

LINEAR = frozenset({
    "CODE128", "CODE39", "CODE32", "CODE93", "CODABAR", "ITF", "EAN13", "EAN8", "UPCA", "UPCE",
    "DATABAR", "DATABAR_LTD", "DATABAR_EXP",
})
"""1D symbologies: a misread of one of them is a plausible value, so they are cross-checked
between decoders and, in a stream, must be read in several frames."""

RETAIL = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})
"""EAN/UPC: every value carries a mod-10 check digit that must hold."""

_RETAIL_LENGTHS = {"EAN13": 13, "UPCA": 13, "EAN8": 8, "UPCE": 8}


def normalise(payload: bytes, symbology: str) -> bytes:
    """One spelling of a value whichever decoder read it.

    A UPC-A is given as its 13-digit GTIN (``0`` + the 12 printed digits), as zxing-cpp
    reports it; zbar reports the 12 digits alone when it tells UPC-A from EAN-13.
    """
    if symbology == "UPCA" and len(payload) == 12 and payload.isdigit():
        return b"0" + payload
    return payload


def gtin_check_ok(digits: bytes) -> bool:
    """Whether the last digit is the GS1 mod-10 check digit of the others (EAN-8/13, UPC-A)."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    body = [d - 48 for d in digits[:-1]]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == digits[-1] - 48


def upce_to_upca(digits: bytes) -> bytes | None:
    """The 12-digit UPC-A a UPC-E (8 digits: number system, 6 digits, check) stands for."""
    if len(digits) != 8 or not digits.isdigit() or digits[0] not in b"01":
        return None
    system, body, check = digits[:1], digits[1:7], digits[7:]
    last = body[5:6]
    if last in (b"0", b"1", b"2"):
        middle = body[:2] + last + b"0000" + body[2:5]
    elif last == b"3":
        middle = body[:3] + b"00000" + body[3:5]
    elif last == b"4":
        middle = body[:4] + b"00000" + body[4:5]
    else:
        middle = body[:5] + b"0000" + last
    return system + middle + check


def value_ok(payload: bytes, symbology: str) -> bool:
    """Whether a decoded value is well-formed for its symbology.

    EAN/UPC values must be all digits, of their length, with a correct check digit (a UPC-E
    through the UPC-A it expands to). Every value must be non-empty.
    """
    if not payload:
        return False
    if symbology not in RETAIL:
        return True
    if len(payload) != _RETAIL_LENGTHS[symbology]:
        return False
    if symbology == "UPCE":
        expanded = upce_to_upca(payload)
        return expanded is not None and gtin_check_ok(expanded)
    return gtin_check_ok(payload)


def family(symbology: str) -> str:
    """The symbology whose values are compared across decoders: EAN-13 and UPC-A are one,
    and so are Code 39 and the Italian pharmacode Code 32 printed with its bars."""
    return {"UPCA": "EAN13", "CODE32": "CODE39"}.get(symbology, symbology)


_CODE32_DIGITS = b"0123456789BCDFGHJKLMNPQRSTUVWXYZ"


def code32_from_code39(payload: bytes) -> bytes | None:
    """The Code 32 value (``A`` + 9 digits) six Code 39 characters stand for, if they do.

    zbar gives the Code 39 characters of a Code 32 symbol; zxing-cpp gives the Code 32 value.
    ``None`` when the characters are not base-32 or the value's check digit fails.
    """
    if len(payload) != 6 or any(ch not in _CODE32_DIGITS for ch in payload):
        return None
    number = 0
    for ch in payload:
        number = number * 32 + _CODE32_DIGITS.index(ch)
    digits = f"{number:09d}".encode()
    if len(digits) != 9:
        return None
    odd = sum(d - 48 for d in digits[0:8:2])
    even = sum(sum(divmod(2 * (d - 48), 10)) for d in digits[1:8:2])
    return b"A" + digits if (odd + even) % 10 == digits[8] - 48 else None
