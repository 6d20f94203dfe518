"""``AuditSession``: the live verdicts of one technician auditing one room."""

from __future__ import annotations

from collections import Counter

from firmware.inventory import Asset, Inventory, same_place
from firmware.tags import Tag
from firmware.verdicts import Progress, Summary, Verdict, VerdictKind


class AuditSession:
    """Judges each scan against the expected inventory of one room.

    Expected at the room: the assets the register records there whose status is not
    retired. A retired asset is never expected and never a ghost. Every asset (or unknown
    tag) is counted once; a later scan of it is a ``repeat``.

    Args:
        inventory: the register's assets.
        location: the room being audited; None until a room label is scanned.
    """

    def __init__(self, inventory: Inventory, location: str | None) -> None:
        self.inventory = inventory
        self.location: str | None = None
        self.expected: tuple[Asset, ...] = ()
        self._first_verdict: dict[str, VerdictKind] = {}
        self._verified: set[str] = set()
        self.counts: Counter[str] = Counter()
        if location is not None:
            self.locate(location)

    def locate(self, location: str) -> None:
        """Set the room once (a session that began before its room label was scanned)."""
        if self.location is not None:
            raise ValueError("this session already has a room")
        self.location = location
        self.expected = self.inventory.expected_at(location)

    def judge(self, tag: Tag) -> Verdict:
        """The verdict on a scanned tag, without counting it (see :meth:`count`).

        Kept apart from counting so that a scan is counted only once its sighting is
        durable: a scan that could not be saved leaves the session as it was.
        """
        if self.location is None:
            return self.rejection(tag.value, "scan a room label (LOC:<room>) first")
        asset = self.inventory.lookup(tag)
        label = asset.asset_tag if asset else tag.value
        first = self._first_verdict.get(_key(tag, asset))
        if first is not None:
            return Verdict(VerdictKind.REPEAT, label, asset, reason=f"first {first.value}")
        if asset is None:
            return Verdict(VerdictKind.UNREGISTERED, label)
        if self.inventory.is_retired(asset):
            return Verdict(VerdictKind.RETIRED, label, asset)
        if same_place(asset.location, self.location):
            return Verdict(VerdictKind.VERIFIED, label, asset)
        return Verdict(VerdictKind.MISLOCATED, label, asset, recorded_location=asset.location)

    @staticmethod
    def rejection(label: str, reason: str) -> Verdict:
        """The verdict on a payload that is not a tag, or cannot be judged yet."""
        return Verdict(VerdictKind.REJECTED, label, reason=reason)

    def count(self, verdict: Verdict, tag: Tag | None) -> None:
        """Count a verdict once its sighting is durable."""
        self.counts[verdict.kind.value] += 1
        if verdict.kind is VerdictKind.REJECTED or tag is None:
            return
        self._first_verdict.setdefault(_key(tag, verdict.asset), verdict.kind)
        if verdict.kind is VerdictKind.VERIFIED and verdict.asset is not None:
            self._verified.add(verdict.asset.asset_tag)

    @property
    def scanned(self) -> int:
        """How many scans this session has judged (every verdict)."""
        return sum(self.counts.values())

    def progress(self) -> Progress:
        """Verified of expected, for the live screen."""
        return Progress(self.location, len(self._verified), len(self.expected))

    def ghosts(self) -> tuple[Asset, ...]:
        """Assets expected here and not seen (so far): to investigate, never to delete."""
        return tuple(a for a in self.expected if a.asset_tag not in self._verified)

    def summary(self) -> Summary:
        """Counts per verdict and ghosts, for the end-of-session screen."""
        c = self.counts
        return Summary(
            location=self.location or "", expected=len(self.expected),
            verified=c["verified"], mislocated=c["mislocated"],
            unregistered=c["unregistered"], retired=c["retired"], repeat=c["repeat"],
            rejected=c["rejected"], ghost=len(self.ghosts()),
        )


def _key(tag: Tag, asset: Asset | None) -> str:
    """What makes two scans the same thing: the asset, or the unknown tag's value."""
    return f"asset:{asset.asset_tag}" if asset else f"{tag.kind.value}:{tag.value}"
