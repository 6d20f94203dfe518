"""The expected inventory: the register's assets, their states and rooms, and identity look-ups."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable

from sync.asset import (
    ASSET_COLUMNS, DEFAULT_LOST_STATUSES, DEFAULT_RETIRED_STATUSES, Asset, room_key, same_place,
)
from firmware.identity import AssetIndex, IdentityRules, Resolution, resolve
from firmware.tags import Tag

__all__ = [
    "ASSET_COLUMNS",
    "DEFAULT_LOST_STATUSES",
    "DEFAULT_RETIRED_STATUSES",
    "Asset",
    "AssetState",
    "Inventory",
    "room_key",
    "same_place",
]


class AssetState(str, enum.Enum):
    """What the register's status means for an audit."""

    ACTIVE = "active"
    RETIRED = "retired"
    LOST = "lost"


class Inventory:
    """The register's assets with identity look-ups, states and known rooms.

    Args:
        assets: the register's records.
        retired_statuses: status names (any case) meaning out of service for good.
        lost_statuses: status names (any case) meaning lost or stolen: finding one is news.
        rules: how scanned identifiers are compared with the records.
    """

    def __init__(
        self,
        assets: Iterable[Asset],
        retired_statuses: Iterable[str] = DEFAULT_RETIRED_STATUSES,
        lost_statuses: Iterable[str] = DEFAULT_LOST_STATUSES,
        rules: IdentityRules = IdentityRules(),
    ) -> None:
        self.assets: tuple[Asset, ...] = tuple(assets)
        self._retired = frozenset(s.strip().casefold() for s in retired_statuses)
        self._lost = frozenset(s.strip().casefold() for s in lost_statuses)
        self.index = AssetIndex(self.assets, rules)
        self._rooms: dict[str, str] = {}
        for asset in self.assets:
            if asset.location.strip():
                self._rooms.setdefault(room_key(asset.location), " ".join(asset.location.split()))

    def __len__(self) -> int:
        return len(self.assets)

    def state(self, asset: Asset) -> AssetState:
        """What the register's status for ``asset`` means (lost wins when listed in both)."""
        status = asset.status.strip().casefold()
        if status in self._lost:
            return AssetState.LOST
        if status in self._retired:
            return AssetState.RETIRED
        return AssetState.ACTIVE

    def resolve(self, tag: Tag) -> Resolution:
        """Which asset ``tag`` names (see :func:`firmware.identity.resolve`)."""
        return resolve(tag, self.index)

    def expected_at(self, location: str) -> tuple[Asset, ...]:
        """Assets recorded at ``location`` that are active, in register order."""
        return tuple(a for a in self.assets
                     if same_place(a.location, location) and self.state(a) is AssetState.ACTIVE)

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms the register knows (every asset's location), as the register spells them."""
        return tuple(self._rooms.values())

    def room_named(self, name: str) -> str | None:
        """The register's spelling of room ``name`` (case and spacing ignored), or None."""
        return self._rooms.get(room_key(name))

    def closest_rooms(self, name: str, count: int = 2) -> list[str]:
        """Known rooms whose names are closest to ``name``, best first (for a typo'd label)."""
        near = difflib.get_close_matches(room_key(name), list(self._rooms), n=count, cutoff=0.5)
        return [self._rooms[key] for key in near]
