"""How a scan event is stamped into a :class:`~sync.sighting.Sighting` (the record type
itself is the sync layer's: the queue and every register take it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from firmware import __version__
from hal.clock import Clock, iso_utc
from firmware.tags import Tag
from firmware.verdicts import Verdict
from hal.read import Read
from sync.sighting import Sighting


@dataclass(frozen=True)
class Stamp:
    """Who and where a sighting is made: fixed for one audit session."""

    device_id: str
    session_id: str
    location: str | None
    technician: str


def tag_record(tag: Tag | None) -> dict[str, Any] | None:
    """A tag as a sighting records it (``kind``, ``value``, ``scheme``, ``aim``, ``serial``,
    ``gtin``, ``site``), or None for a payload that is no tag."""
    if tag is None:
        return None
    return {"kind": tag.kind.value, "value": tag.value, "scheme": tag.scheme, "aim": tag.aim,
            "serial": tag.serial, "gtin": tag.gtin, "site": tag.site}


def make_sighting(
    stamp: Stamp, read: Read, payload: str, tag: Tag | None, clock: Clock, *, verdict: str,
    asset_tag: str | None, recorded_location: str | None = None, reason: str | None = None,
    candidates: tuple[str, ...] = (), person: dict[str, Any] | None = None,
    campaign: str | None = None,
) -> Sighting:
    """Stamp what a mode made of a read into a new :class:`Sighting`: a fresh UUID, the
    read, the clock's state. Every mode makes its sightings here (see :func:`verdict_fields`
    for an audit's verdict); the mode says only what it decided.

    Args:
        stamp: who and where.
        read: the read, as the reader gave it.
        payload: its text.
        tag: the tag parsed from it, or None when it is no tag.
        clock: the clock.
        verdict: the sighting's ``verdict`` (an audit verdict, a kiosk movement).
        asset_tag: the asset it names, when it names exactly one.
        recorded_location: where the register (or the kiosk) had the asset.
        reason: why, for a refusal or a rejection.
        candidates: for ``ambiguous``, every asset tag the label fits.
        person: at a kiosk, who took or returned it.
        campaign: in an audit, its room's campaign.
    """
    return Sighting(
        sighting_id=str(uuid.uuid4()),
        device_id=stamp.device_id,
        session_id=stamp.session_id,
        location=stamp.location,
        technician=stamp.technician,
        tag=tag_record(tag),
        asset_tag=asset_tag,
        payload=payload,
        symbology=read.symbology,
        source=read.source,
        verdict=verdict,
        recorded_location=recorded_location,
        reason=reason,
        wall_time=iso_utc(clock.wall()),
        clock_synchronized=clock.synced(),
        monotonic=clock.mono(),
        boot_id=clock.boot_id(),
        firmware_version=__version__,
        candidates=candidates,
        person=person,
        campaign=campaign,
    )


def verdict_fields(verdict: Verdict) -> dict[str, Any]:
    """What a sighting records of an audit's verdict: :func:`make_sighting`'s keywords."""
    return {"verdict": verdict.kind.value,
            "asset_tag": verdict.asset.asset_tag if verdict.asset else None,
            "recorded_location": verdict.recorded_location, "reason": verdict.reason,
            "candidates": tuple(a.asset_tag for a in verdict.candidates)}
