"""``Sighting``: the durable record of one scan event, as queued and as sent to a register.

The queue keeps sightings as JSON objects (:meth:`Sighting.to_record`); the sync engine
reads each queued record back once (:func:`read_queued`) and every register receives
typed records: a :class:`Sighting`, or an :class:`~sync.intake.IntakeRecord` for an asset
the register lacked (the two ride the same queue). A record that cannot be read back is
refused with the reason (:class:`UnreadableRecord`) and goes to the dead letters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hal.clock import Clock, corrected_epoch, iso_utc
from sync.intake import IntakeRecord, is_intake

__all__ = ["Outgoing", "Sighting", "UnreadableRecord", "read_queued"]


class UnreadableRecord(ValueError):
    """A queued record that is no sighting (damaged, or from another version); the
    message says which field is wrong."""


@dataclass(frozen=True)
class Sighting:
    """One scan event, as queued on the device and synced to the register.

    ``sighting_id`` is a UUID made at scan time; it is the idempotency key of every later
    transfer, so a sighting sent twice is applied once.
    """

    sighting_id: str
    device_id: str
    session_id: str
    location: str | None
    technician: str
    tag: dict[str, Any] | None
    asset_tag: str | None
    payload: str
    symbology: str
    source: str
    verdict: str
    recorded_location: str | None
    reason: str | None
    wall_time: str
    clock_synchronized: bool
    monotonic: float
    boot_id: str
    firmware_version: str
    candidates: tuple[str, ...] = ()
    """For an ``ambiguous`` verdict, the asset tags of every asset the label fits."""
    person: dict[str, Any] | None = None
    """At a door kiosk: who took or returned the asset (``id``, ``username``,
    ``employee_num``, ``name``, ``badge``); None for an audit, or a return without a badge."""
    campaign: str | None = None
    """In an audit, the campaign of its room (``audit.campaign``, a ``CAMPAIGN:`` label);
    None (left out of the record) for a kiosk's, or an audit without one."""
    wall_time_device: str | None = None
    """Set by :meth:`corrected`: the wall time the device stamped before its clock was
    synchronised (``wall_time`` is then the corrected one)."""
    wall_time_corrected: bool = False
    """Set by :meth:`corrected`: ``wall_time`` was corrected after the clock synchronised."""

    def to_record(self) -> dict[str, Any]:
        """The sighting as a JSON-able dict (the queue, outbox and wire format).

        ``wall_time_device`` and ``wall_time_corrected`` appear only on a corrected
        sighting, after every other field, as the wire has always carried them;
        ``campaign`` only when there is one, so every other record is written as before.
        """
        record = asdict(self)
        if self.campaign is None:
            del record["campaign"]
        if not self.wall_time_corrected:
            del record["wall_time_device"], record["wall_time_corrected"]
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Sighting:
        """A sighting from its record (as :meth:`to_record` made it, or an older one
        without ``candidates`` or ``person``).

        Raises:
            UnreadableRecord: the record is not a mapping, a field is missing, unknown or
                of the wrong type (the message names it).
        """
        if not isinstance(record, Mapping):
            raise UnreadableRecord(f"a sighting record is an object, not"
                                   f" {type(record).__name__}")
        unknown = sorted(str(key) for key in record if key not in _FIELDS)
        if unknown:
            raise UnreadableRecord(f"unknown field {unknown[0]!r} in a sighting record")
        values: dict[str, Any] = {}
        for name, (kinds, required) in _FIELDS.items():
            if name not in record:
                if required:
                    raise UnreadableRecord(f"a sighting record needs {name!r}")
                continue
            value = record[name]
            if not _is(value, kinds):
                raise UnreadableRecord(f"field {name!r} of a sighting record is"
                                       f" {type(value).__name__}, not {_names(kinds)}")
            values[name] = value
        if not values["sighting_id"]:
            raise UnreadableRecord("field 'sighting_id' of a sighting record is empty")
        candidates = values.get("candidates") or ()
        if not all(isinstance(tag, str) for tag in candidates):
            raise UnreadableRecord("field 'candidates' of a sighting record holds a"
                                   " value that is not text")
        values["candidates"] = tuple(candidates)
        return cls(**values)

    def corrected(self, clock: Clock) -> Sighting:
        """This sighting with its wall time corrected, when it was made before the clock
        was synchronised, in this boot, and the clock is synchronised now.

        The device's original time is kept in ``wall_time_device`` and
        ``wall_time_corrected`` is set; otherwise the sighting is returned as it is.
        """
        if self.wall_time_corrected or not clock.synced():
            return self
        fixed = corrected_epoch(self.clock_synchronized, self.monotonic, self.boot_id,
                                now_wall=clock.wall(), now_mono=clock.mono(),
                                boot_id=clock.boot_id())
        if fixed is None:
            return self
        return dataclasses.replace(self, wall_time=iso_utc(fixed),
                                   wall_time_device=self.wall_time,
                                   wall_time_corrected=True)


Outgoing = Sighting | IntakeRecord
"""What the queue holds and a register receives: a sighting, or an intake record."""


def read_queued(record: Mapping[str, Any]) -> Outgoing:
    """The typed record a queued JSON object holds: an intake record (``verdict`` is
    ``intake``) or a sighting.

    Raises:
        UnreadableRecord: it is neither (the message says why).
    """
    if isinstance(record, Mapping) and is_intake(record):
        try:
            return IntakeRecord.from_record(record)
        except ValueError as exc:
            raise UnreadableRecord(str(exc)) from None
    return Sighting.from_record(record)


_TEXT: tuple[type, ...] = (str,)
_TEXT_OR_NONE: tuple[type, ...] = (str, type(None))
_OBJECT_OR_NONE: tuple[type, ...] = (dict, type(None))

_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "sighting_id": (_TEXT, True),
    "device_id": (_TEXT, True),
    "session_id": (_TEXT, True),
    "location": (_TEXT_OR_NONE, True),
    "technician": (_TEXT, True),
    "tag": (_OBJECT_OR_NONE, True),
    "asset_tag": (_TEXT_OR_NONE, True),
    "payload": (_TEXT, True),
    "symbology": (_TEXT, True),
    "source": (_TEXT, True),
    "verdict": (_TEXT, True),
    "recorded_location": (_TEXT_OR_NONE, True),
    "reason": (_TEXT_OR_NONE, True),
    "wall_time": (_TEXT, True),
    "clock_synchronized": ((bool,), True),
    "monotonic": ((int, float), True),
    "boot_id": (_TEXT, True),
    "firmware_version": (_TEXT, True),
    "candidates": ((list, tuple, type(None)), False),
    "person": (_OBJECT_OR_NONE, False),
    "campaign": (_TEXT_OR_NONE, False),
    "wall_time_device": (_TEXT_OR_NONE, False),
    "wall_time_corrected": ((bool,), False),
}
"""Each field of a sighting record: the JSON types it may have, and whether it must be there."""


def _is(value: object, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON true is no number
    return isinstance(value, kinds)


def _names(kinds: tuple[type, ...]) -> str:
    words = {str: "text", dict: "an object", list: "a list", tuple: "a list", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return " or ".join(dict.fromkeys(words[kind] for kind in kinds))
