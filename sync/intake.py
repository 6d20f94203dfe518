"""An intake record: an asset found in a room that the register does not know.

An audit that finds an untagged laptop, a switch bought on a card or a label too faded to
read makes one intake record: the room, what was scanned on the asset (serial, GTIN,
model number, MAC), the technician, the time and, when a label started it, that label.
The register creates the asset from it (Snipe-IT: a new asset with a configured status
and model; the ``http`` receiver: an intake list; ``files``: an intake CSV Snipe-IT's
importer takes).

The record rides the sighting queue as it is: its ``intake_id`` is the queue's
``sighting_id`` and its ``verdict`` is ``intake``, which every adapter tells apart as it
tells a door kiosk's events apart. A serial the register already knows is not an intake:
the device gives that asset's verdict instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["IDENTIFIER_KINDS", "INTAKE_MARKER", "INTAKE_VERDICT", "IntakeRecord", "is_intake"]

INTAKE_VERDICT = "intake"
"""The ``verdict`` of every intake record in the queue and on the wire."""

INTAKE_MARKER = "stocktaker intake"
"""Starts the part of a register note that names the intake: ``stocktaker intake <uuid>``."""

IDENTIFIER_KINDS = ("serial", "gtin", "model", "mac")
"""The kinds of identifier an intake carries: serial number, GTIN (from a barcode on the
box or the device), the manufacturer's model number, a MAC address."""

_MAX_TEXT = 255


def is_intake(record: Mapping[str, Any]) -> bool:
    """Whether a queued record is an intake (not a sighting or a kiosk event)."""
    return record.get("verdict") == INTAKE_VERDICT


@dataclass(frozen=True)
class IntakeRecord:
    """One unregistered asset found during an audit, as the device records it.

    Attributes:
        intake_id: a UUID; also the queue's ``sighting_id`` and the marker the register
            keeps, so a replay never creates a second asset.
        device_id: the device that found it.
        session_id: the room session it was found in.
        location: the room.
        technician: who found it.
        wall_time: when (RFC 3339).
        clock_synchronized: whether the device clock was synchronised then.
        identifiers: what was scanned on the asset, by kind (:data:`IDENTIFIER_KINDS`).
        unknown_label: the label that was scanned and found in no record, if one
            started the intake.
        asset_tag: the tag the device gave it from ``register.intake_tag_range`` (its
            label printed on the spot); None: the register assigns one.
        firmware_version: the device's firmware.
    """

    intake_id: str
    device_id: str
    session_id: str
    location: str
    technician: str
    wall_time: str
    clock_synchronized: bool
    identifiers: Mapping[str, str] = field(default_factory=dict)
    unknown_label: str | None = None
    asset_tag: str | None = None
    firmware_version: str = ""

    def __post_init__(self) -> None:
        try:
            uuid.UUID(self.intake_id)
        except (ValueError, AttributeError, TypeError):
            raise ValueError(f"intake_id {self.intake_id!r} is not a UUID") from None
        unknown = sorted(set(self.identifiers) - set(IDENTIFIER_KINDS))
        if unknown:
            raise ValueError(f"unknown identifier kind {unknown[0]!r} (known:"
                             f" {', '.join(IDENTIFIER_KINDS)})")
        for kind, value in self.identifiers.items():
            if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
                raise ValueError(f"identifier {kind} must be text of 1 to {_MAX_TEXT}"
                                 " characters")
        if self.unknown_label is not None and (not isinstance(self.unknown_label, str)
                                               or len(self.unknown_label) > 4096):
            raise ValueError("unknown_label must be text (at most 4096 characters) or None")
        if not self.identifiers and not self.unknown_label:
            raise ValueError("an intake needs at least one identifier or the unknown label")
        if self.asset_tag is not None and (not self.asset_tag.strip()
                                           or len(self.asset_tag) > _MAX_TEXT):
            raise ValueError("asset_tag must be text of 1 to 255 characters, or None")
        object.__setattr__(self, "identifiers", dict(self.identifiers))

    @property
    def sighting_id(self) -> str:
        """The queue's id of this intake: its ``intake_id``."""
        return self.intake_id

    @property
    def verdict(self) -> str:
        """What the queue records as its verdict: ``intake``."""
        return INTAKE_VERDICT

    @property
    def payload(self) -> str:
        """What the queue shows as the scan: the unknown label, else the first identifier."""
        if self.unknown_label:
            return self.unknown_label
        return next(self.identifiers[k] for k in IDENTIFIER_KINDS if k in self.identifiers)

    def to_record(self) -> dict[str, Any]:
        """The queue's (and the wire's) JSON object for this intake."""
        return {
            "sighting_id": self.intake_id,
            "verdict": INTAKE_VERDICT,
            "device_id": self.device_id,
            "session_id": self.session_id,
            "location": self.location,
            "technician": self.technician,
            "wall_time": self.wall_time,
            "clock_synchronized": self.clock_synchronized,
            "identifiers": dict(self.identifiers),
            "unknown_label": self.unknown_label,
            "asset_tag": self.asset_tag,
            "payload": self.payload,
            "firmware_version": self.firmware_version,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IntakeRecord:
        """The intake a queued record holds.

        Raises:
            ValueError: the record is not an intake, or a field is missing or malformed
                (the message names it).
        """
        if not is_intake(record):
            raise ValueError(f"not an intake record (verdict {record.get('verdict')!r})")
        identifiers = record.get("identifiers") or {}
        if not isinstance(identifiers, Mapping):
            raise ValueError("identifiers must be an object of text by kind")
        try:
            return cls(
                intake_id=_text(record, "sighting_id"),
                device_id=_text(record, "device_id"),
                session_id=_text(record, "session_id"),
                location=_text(record, "location"),
                technician=str(record.get("technician") or ""),
                wall_time=_text(record, "wall_time"),
                clock_synchronized=bool(record.get("clock_synchronized", False)),
                identifiers={str(k): v for k, v in identifiers.items()},
                unknown_label=record.get("unknown_label") or None,
                asset_tag=record.get("asset_tag") or None,
                firmware_version=str(record.get("firmware_version") or ""),
            )
        except TypeError as exc:
            raise ValueError(f"malformed intake record: {exc}") from None


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"an intake record needs {key} (text)")
    return value
