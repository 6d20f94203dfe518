"""Card numbers from keyboard-emulating RFID readers, normalised in one place.

A 125 kHz (EM4100) or 13.56 MHz (MIFARE) reader that types like a keyboard gives a card's
number in one of several conventions, and the register may have stored it in another:

========================  ======================  =====================================
format                    typed for card 8EB2F9   what it is
========================  ======================  =====================================
``decimal``               ``0009351929``          the first 4 UID bytes (EM4100: the
                                                  32-bit ID) as one number, 10 digits
``decimal-reversed``      ``4189228544``          the same 4 bytes in reverse order
``hex``                   ``008EB2F9``            every UID byte in card order
``hex-reversed``          ``F9B28E00``            every UID byte in reverse order
``facility``              ``142,45817``           Wiegand-26 style: bits 16-23 as the
                                                  facility code, the low 16 bits as the
                                                  card number
========================  ======================  =====================================

:func:`parse_card` reads what a reader typed in its configured format;
:func:`format_card` writes a card in the format the register uses, so both sides are
compared the way the register spells them. Converting to a format needs the bits it
shows: a ``facility`` reading (24 bits) cannot become a ``decimal`` (32 bits), and
:func:`check_convertible` says so when the configuration is loaded.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class CardFormat(str, enum.Enum):
    """How a card number is written (see the module's table)."""

    DECIMAL = "decimal"
    DECIMAL_REVERSED = "decimal-reversed"
    HEX = "hex"
    HEX_REVERSED = "hex-reversed"
    FACILITY = "facility"


FORMATS = tuple(fmt.value for fmt in CardFormat)
"""The format names as the configuration spells them."""

#: Bits each format carries at most; hex carries the whole UID (up to 10 bytes).
_BITS = {CardFormat.DECIMAL: 32, CardFormat.DECIMAL_REVERSED: 32, CardFormat.HEX: 80,
         CardFormat.HEX_REVERSED: 80, CardFormat.FACILITY: 24}

_DECIMAL_RE = re.compile(r"[0-9]{1,10}")
_HEX_RE = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{2,20})")
_FACILITY_RE = re.compile(r"([0-9]{1,3})\s*[,:/-]\s*([0-9]{1,5})")


class CardNumberError(ValueError):
    """The text is not a card number in the expected format; the message says why."""


@dataclass(frozen=True)
class Card:
    """A card's identifier as far as a reading shows it.

    Attributes:
        uid: the UID bytes in card order, as many as the reading showed; for a 32-bit
            decimal reading the 4 bytes, for a facility reading the low 3 bytes of the
            32-bit ID.
        bits: how many low-order bits of the 32-bit ID (or of the whole UID for hex)
            the reading carries: 24, 32 or the UID's length in bits.
    """

    uid: bytes
    bits: int


def parse_card(text: str, fmt: CardFormat | str) -> Card:
    """Read a card number typed by a reader in format ``fmt``.

    Raises:
        CardNumberError: ``text`` is not a number of that format, or out of its range.
    """
    fmt = CardFormat(fmt)
    text = text.strip()
    if fmt in (CardFormat.DECIMAL, CardFormat.DECIMAL_REVERSED):
        if not _DECIMAL_RE.fullmatch(text):
            raise CardNumberError(f"not a card number in {fmt.value} format (up to 10 digits)")
        value = int(text)
        if value >= 1 << 32:
            raise CardNumberError(f"card number {text} is over 32 bits")
        uid = value.to_bytes(4, "big")
        return Card(uid[::-1] if fmt is CardFormat.DECIMAL_REVERSED else uid, 32)
    if fmt in (CardFormat.HEX, CardFormat.HEX_REVERSED):
        match = _HEX_RE.fullmatch(text)
        if not match or len(match[1]) % 2:
            raise CardNumberError(f"not a card number in {fmt.value} format "
                                  "(2 to 20 hex digits, whole bytes)")
        uid = bytes.fromhex(match[1])
        return Card(uid[::-1] if fmt is CardFormat.HEX_REVERSED else uid, 8 * len(uid))
    match = _FACILITY_RE.fullmatch(text)
    if not match:
        raise CardNumberError("not a card number in facility format (facility,card)")
    facility, number = int(match[1]), int(match[2])
    if facility > 0xFF or number > 0xFFFF:
        raise CardNumberError(f"facility {facility} or card {number} out of range "
                              "(0-255, 0-65535)")
    return Card(bytes([facility]) + number.to_bytes(2, "big"), 24)


def format_card(card: Card, fmt: CardFormat | str) -> str:
    """Write ``card`` the way format ``fmt`` spells it.

    A UID longer than 4 bytes becomes a decimal of its first 4 bytes, as MIFARE readers
    type it; ``facility`` takes the low 24 bits of the 32-bit number.

    Raises:
        CardNumberError: the reading carries fewer bits than ``fmt`` shows.
    """
    fmt = CardFormat(fmt)
    uid = card.uid
    if fmt in (CardFormat.HEX, CardFormat.HEX_REVERSED):
        if card.bits < 32 and len(uid) < 4:
            raise CardNumberError(f"a {card.bits}-bit reading cannot be written as {fmt.value}")
        shown = uid if fmt is CardFormat.HEX else uid[::-1]
        return shown.hex().upper()
    four = uid[:4]
    if fmt is CardFormat.FACILITY:
        low = four[-3:] if len(four) >= 3 else None
        if low is None:
            raise CardNumberError("a reading under 24 bits cannot be written as facility")
        return f"{low[0]:03d},{int.from_bytes(low[1:], 'big'):05d}"
    if len(four) < 4:
        raise CardNumberError(f"a {card.bits}-bit reading cannot be written as {fmt.value}")
    if fmt is CardFormat.DECIMAL_REVERSED:
        four = four[::-1]
    return f"{int.from_bytes(four, 'big'):010d}"


def check_convertible(reader: CardFormat | str, register: CardFormat | str) -> None:
    """Check that what a reader in format ``reader`` gives can be written as ``register``.

    Raises:
        CardNumberError: the reader's format carries fewer bits than the register's.
    """
    reader, register = CardFormat(reader), CardFormat(register)
    needed = 32 if register is not CardFormat.FACILITY else 24
    if _BITS[reader] < needed:
        raise CardNumberError(f"a reader typing {reader.value} numbers ({_BITS[reader]} bits) "
                              f"cannot be matched to {register.value} numbers in the register")


@dataclass(frozen=True)
class CardRules:
    """How the card reader types numbers and how the register spells them.

    Raises:
        CardNumberError: the reader's numbers carry too few bits for the register's.
    """

    reader: CardFormat = CardFormat.DECIMAL
    register: CardFormat = CardFormat.DECIMAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "reader", CardFormat(self.reader))
        object.__setattr__(self, "register", CardFormat(self.register))
        check_convertible(self.reader, self.register)

    def normalise(self, text: str) -> str:
        """What the reader typed, rewritten the way the register spells card numbers.

        Raises:
            CardNumberError: ``text`` is not a card number in the reader's format.
        """
        return format_card(parse_card(text, self.reader), self.register)
