"""The door kiosk's rules: what a scan at a storage room's door means. Pure, no I/O.

A person identifies with a badge; each asset scanned in their session is then:

- **checked out** to them when it is in stock in this room (no one holds it, its status
  lets it leave);
- **checked in** to this room when someone holds it (returns need no badge: without one
  the return is recorded as anonymous);
- **refused** with a reason when it cannot move: unknown, ambiguous, retired, lost, in a
  status that does not allow check-out, in stock in another room, or already held by
  someone else when the person forced a check-out.

``MODE:IN`` / ``MODE:OUT`` labels, or the mode button, force the direction for the rest of
the session. The kiosk's own events count over the register's state it has cached, so an
asset checked out here an hour ago and not yet synced is out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.asset import Asset
from firmware.identity import Outcome
from firmware.inventory import AssetState, Inventory, same_place
from sync.person import Person, person_key
from firmware.tags import Tag

BADGE_PREFIX = "BADGE:"
MODE_PREFIX = "MODE:"


class Movement(str, enum.Enum):
    """What the kiosk made of an asset scan; the value is the sighting's ``verdict``."""

    CHECKED_OUT = "checked_out"
    CHECKED_IN = "checked_in"
    REFUSED = "refused"


MOVEMENTS = frozenset(m.value for m in Movement)
"""The sighting verdicts that are kiosk events."""


class Direction(str, enum.Enum):
    """Which way assets go in a session: decided per asset (``auto``) or forced."""

    AUTO = "auto"
    OUT = "out"
    IN = "in"

    def next(self) -> Direction:
        """The direction the mode button moves to: auto -> out -> in -> auto."""
        order = (Direction.AUTO, Direction.OUT, Direction.IN)
        return order[(order.index(self) + 1) % len(order)]


DEFAULT_BLOCKED_STATUSES = ("pending", "broken", "out for repair", "in repair", "undeployable")
"""Statuses that keep an asset in the room (any case): it can be returned, not taken."""


@dataclass(frozen=True)
class Decision:
    """The kiosk's answer to one asset scan.

    Attributes:
        movement: checked out, checked in or refused.
        label: what was scanned, as a person reads it (asset tag, or the payload).
        asset: the asset, when the label names exactly one.
        person: who takes or returns it; None for a return without a badge.
        holder: for a check-in, who held it before (as the kiosk knew it).
        reason: for a refusal, why, in a few words the screen shows.
    """

    movement: Movement
    label: str
    asset: Asset | None = None
    person: Person | None = None
    holder: str | None = None
    reason: str | None = None


@dataclass
class Holdings:
    """Who holds each asset: the register's cached state, overlaid with this kiosk's events.

    Args:
        inventory: the register's assets as cached.
        events: this kiosk's own events (sighting records) newer than the cache, oldest
            first; each moves its asset.
    """

    inventory: Inventory
    _held: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    _by_tag: dict[str, list[Asset]] | None = None

    @classmethod
    def replayed(cls, inventory: Inventory, events: Iterable[Mapping[str, Any]]) -> Holdings:
        """Holdings with ``events`` applied in order."""
        holdings = cls(inventory)
        for record in events:
            holdings.apply_record(record)
        return holdings

    def holder(self, asset: Asset) -> str | None:
        """Who holds ``asset`` now (a name or username), or None when it is in stock."""
        own = self._held.get(_key(asset))
        if own is not None:
            return own[0]
        return asset.assigned_to.strip() or None

    def location(self, asset: Asset) -> str:
        """Where ``asset`` is kept when in stock."""
        own = self._held.get(_key(asset))
        return own[1] if own is not None else asset.location

    def apply(self, decision: Decision, room: str) -> None:
        """Count a decision made here."""
        if decision.asset is None or decision.movement is Movement.REFUSED:
            return
        if decision.movement is Movement.CHECKED_OUT:
            person = decision.person
            self._held[_key(decision.asset)] = (person.label() if person else "?",
                                                self.location(decision.asset))
        else:
            self._held[_key(decision.asset)] = (None, room)

    def apply_record(self, record: Mapping[str, Any]) -> None:
        """Count an event from its sighting record (after a restart)."""
        verdict, tag = record.get("verdict"), record.get("asset_tag")
        if verdict not in (Movement.CHECKED_OUT.value, Movement.CHECKED_IN.value) or not tag:
            return
        if self._by_tag is None:  # built once: a restart replays every event since the fetch
            self._by_tag = {}
            for asset in self.inventory.assets:
                self._by_tag.setdefault(asset.asset_tag, []).append(asset)
        assets = self._by_tag.get(tag, [])
        if len(assets) != 1:
            return
        person = record.get("person") or {}
        who = (person.get("name") or person.get("username") or person.get("employee_num")
               or person.get("badge") or "?")
        if verdict == Movement.CHECKED_OUT.value:
            self._held[_key(assets[0])] = (who, self.location(assets[0]))
        else:
            self._held[_key(assets[0])] = (None, str(record.get("location") or ""))


def _key(asset: Asset) -> str:
    return asset.asset_tag


class KioskRules:
    """Decides what an asset scan at this room's door means.

    Args:
        room: the kiosk's room, as the register spells it.
        inventory: the register's assets (cached).
        blocked_statuses: statuses (any case) that keep an asset from being checked out.
    """

    def __init__(self, room: str, inventory: Inventory,
                 blocked_statuses: Iterable[str] = DEFAULT_BLOCKED_STATUSES) -> None:
        self.room = room
        self.inventory = inventory
        self.blocked = frozenset(s.strip().casefold() for s in blocked_statuses)

    def decide(self, tag: Tag, person: Person | None, direction: Direction,
               holdings: Holdings) -> Decision:
        """The decision on one asset scan in a session of ``person`` (None: no badge)."""
        resolution = self.inventory.resolve(tag)
        if resolution.outcome is Outcome.AMBIGUOUS:
            tags = ", ".join(a.asset_tag for a in resolution.candidates)
            return Decision(Movement.REFUSED, tag.value, person=person,
                            reason=f"label fits {len(resolution.candidates)} assets: {tags}")
        asset = resolution.asset
        if asset is None:
            return Decision(Movement.REFUSED, tag.value, person=person,
                            reason=resolution.reason or "not in the register")
        state = self.inventory.state(asset)
        if state is AssetState.RETIRED:
            return self._refuse(asset, person, f"retired ({asset.status})")
        if state is AssetState.LOST:
            return self._refuse(asset, person, f"marked {asset.status}: hand it to an admin")
        holder = holdings.holder(asset)
        wanted = direction if direction is not Direction.AUTO else (
            Direction.IN if holder else Direction.OUT)
        if wanted is Direction.IN:
            if holder is None:
                where = holdings.location(asset)
                if same_place(where, self.room):
                    return self._refuse(asset, person, "not checked out: already here")
                return self._refuse(asset, person,
                                    f"not checked out: it is kept in {where or 'no room'}")
            return Decision(Movement.CHECKED_IN, asset.asset_tag, asset, person, holder=holder)
        if person is None:
            return self._refuse(asset, None, "scan your badge first")
        if holder is not None:
            return self._refuse(asset, person, f"held by {holder}: return it first")
        where = holdings.location(asset)
        if not same_place(where, self.room):
            return self._refuse(asset, person, f"kept in {where or 'no room'}, not here")
        if asset.status.strip().casefold() in self.blocked:
            return self._refuse(asset, person, f"cannot leave: {asset.status}")
        return Decision(Movement.CHECKED_OUT, asset.asset_tag, asset, person)

    @staticmethod
    def _refuse(asset: Asset, person: Person | None, reason: str) -> Decision:
        return Decision(Movement.REFUSED, asset.asset_tag, asset, person, reason=reason)


def badge_text(text: str) -> str | None:
    """The id on a printed badge label (``BADGE:<id>``), or None when it is no badge label."""
    if text[:len(BADGE_PREFIX)].upper() != BADGE_PREFIX:
        return None
    badge = text[len(BADGE_PREFIX):].strip()
    return badge or None


def mode_label(text: str) -> Direction | None:
    """The direction a ``MODE:IN`` / ``MODE:OUT`` / ``MODE:AUTO`` label forces, else None."""
    if text[:len(MODE_PREFIX)].upper() != MODE_PREFIX:
        return None
    try:
        return Direction(text[len(MODE_PREFIX):].strip().casefold())
    except ValueError:
        return None


def is_employee_number(text: str) -> bool:
    """Whether ``text`` could be an employee number typed alone (digits, 1 to 20)."""
    key = person_key(text)
    return key.isdigit() and len(key) <= 20
