"""The card reader: a keyboard-emulating 125 kHz / 13.56 MHz RFID reader that types card
numbers, read like a scanner (reads of source ``card``, symbology ``CARD``).

The backends are chosen with :func:`open_cards` from the table :data:`BACKENDS` (see
:mod:`hal.cards.backends`); what the typed numbers mean is the firmware's
(:mod:`firmware.cards`).
"""

from __future__ import annotations

from hal.cards.backends import BACKENDS, CardsSettings, open_cards

__all__ = ["BACKENDS", "CardsSettings", "open_cards"]
