"""The handheld audit's settings: the parts of the configuration its loop needs."""

from __future__ import annotations

import dataclasses

from firmware.cards import CardRules


@dataclasses.dataclass(frozen=True)
class Settings:
    """The parts of the configuration the audit loop needs."""

    device_id: str
    technician: str
    location: str | None
    repeat_window: float
    tag_pattern: str
    room_confirm_window: float = 10.0
    resume_within: float = 12 * 3600.0
    """Seconds since its last scan within which an interrupted room is resumed."""
    cards: CardRules = CardRules()
    """How the RFID card reader types card numbers and how the register spells them."""
    campaign: str | None = None
    """The audit campaign reports are tagged with until a ``CAMPAIGN:`` label changes it."""
    intake: bool = False
    """Whether an unregistered asset can be taken in on the spot (``register.intake``)."""
    intake_timeout: float = 20.0
    """Seconds without a scan after which an intake being gathered closes."""

