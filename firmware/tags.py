"""``Tag``: what a raw payload means (an asset tag, a register id, a serial, a room label).

``parse_read`` turns a :class:`hal.read.Read` into a :class:`Tag` or raises
:class:`TagRejected` with a reason a technician can act on. It is a pure function.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hal.read import Read


class TagKind(str, enum.Enum):
    """Which register field a tag's value names."""

    ASSET_TAG = "asset_tag"
    ASSET_ID = "asset_id"
    SERIAL = "serial"
    LOCATION = "location"


@dataclass(frozen=True)
class Tag:
    """The meaning of one payload.

    Attributes:
        kind: which register field ``value`` names.
        value: the identifier itself (asset tag, numeric register id as text, serial, room name).
        scheme: how it was encoded: ``plain``, ``url``, ``gs1``, ``gs1-digital-link``, ``location``.
        aim: the AIM symbology identifier (``]Q1``, ``]C0``...) stripped from the payload, if any.
        serial: a second identifier carried alongside an asset tag (GS1 AI 21 next to AI 8004).
    """

    kind: TagKind
    value: str
    scheme: str
    aim: str | None = None
    serial: str | None = None


class TagRejected(ValueError):
    """A payload that cannot be a tag; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
