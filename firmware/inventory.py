"""The expected inventory: the register's assets, indexed the way scans look them up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from firmware.tags import Tag, TagKind

DEFAULT_RETIRED_STATUSES = ("archived", "retired", "disposed")
DEFAULT_LOST_STATUSES = ("lost", "stolen")


@dataclass(frozen=True)
class Asset:
    """One asset as the register records it."""

    asset_tag: str
    serial: str = ""
    name: str = ""
    location: str = ""
    status: str = ""
    assigned_to: str = ""
    id: int | None = None
    origin: str = ""
    """Where the record came from, for messages (``expected.csv, line 5``)."""


ASSET_COLUMNS = ("asset_tag", "serial", "name", "location", "status", "assigned_to", "id")
"""The register fields a record may carry (the keys of ``[register.columns]``)."""


def same_place(a: str, b: str) -> bool:
    """True when two location names name the same room (case and outer spaces ignored)."""
    return a.strip().casefold() == b.strip().casefold()


class Inventory:
    """The register's assets with look-ups by asset tag, register id and serial.

    Args:
        assets: the register's records; asset tags must be unique.
        retired_statuses: status names (any case) meaning the asset is out of service.
    """

    def __init__(
        self, assets: Iterable[Asset], retired_statuses: Iterable[str] = DEFAULT_RETIRED_STATUSES
    ) -> None:
        self.assets: tuple[Asset, ...] = tuple(assets)
        self._retired = frozenset(s.strip().casefold() for s in retired_statuses)
        self._by_tag = {a.asset_tag: a for a in self.assets}
        self._by_id = {a.id: a for a in self.assets if a.id is not None}
        self._by_serial: dict[str, Asset] = {}
        for asset in self.assets:
            if asset.serial:
                self._by_serial.setdefault(asset.serial, asset)

    def __len__(self) -> int:
        return len(self.assets)

    def is_retired(self, asset: Asset) -> bool:
        """True when the register's status for ``asset`` means retired."""
        return asset.status.strip().casefold() in self._retired

    def lookup(self, tag: Tag) -> Asset | None:
        """The asset a tag names: by asset tag, then by id (URL labels), then by serial."""
        if tag.kind is TagKind.ASSET_ID:
            return self._by_id.get(int(tag.value)) if tag.value.isdigit() else None
        if tag.kind is TagKind.LOCATION:
            return None
        found = self._by_tag.get(tag.value)
        if found is None and tag.serial:
            found = self._by_serial.get(tag.serial)
        return found or self._by_serial.get(tag.value)

    def expected_at(self, location: str) -> tuple[Asset, ...]:
        """Assets recorded at ``location`` that are not retired, in register order."""
        return tuple(
            a for a in self.assets if same_place(a.location, location) and not self.is_retired(a)
        )
