"""The handheld audit's rules: what a scan in a room means. Pure, no I/O.

``AuditSession`` holds the live verdicts of one technician auditing one room
(:class:`firmware.handheld_audit.HandheldAudit` plugs it into the scan path).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any

from sync.asset import audit_overdue
from firmware.identity import Outcome
from firmware.inventory import Asset, AssetState, Inventory, same_place
from firmware.tags import Tag
from firmware.verdicts import Progress, Summary, Verdict, VerdictKind


class AuditSession:
    """Judges each scan against the expected inventory of one room.

    Expected at the room: the assets the register records there whose status is active
    (neither retired nor lost). A retired or lost asset is never expected and never a
    ghost. Every asset (or unknown tag) is counted once; a later scan of it is a ``repeat``.

    Args:
        inventory: the register's assets.
        location: the room being audited; None until a room label is scanned.
        today: the date audits are due against (an asset whose next audit date is before
            it is overdue); None: none is overdue (the device's date is not known).
    """

    def __init__(self, inventory: Inventory, location: str | None,
                 today: date | None = None) -> None:
        self.inventory = inventory
        self.location: str | None = None
        self.today = today
        self.expected: tuple[Asset, ...] = ()
        self.overdue_expected: tuple[Asset, ...] = ()
        self._first_verdict: dict[str, VerdictKind] = {}
        self._verified: set[str] = set()
        self.counts: Counter[str] = Counter()
        self._undo: list[tuple[str, str]] | None = None
        if location is not None:
            self.locate(location)

    def locate(self, location: str) -> None:
        """Set the room once (a session that began before its room label was scanned)."""
        if self.location is not None:
            raise ValueError("this session already has a room")
        self.location = location
        self.expected = self.inventory.expected_at(location)
        self.overdue_expected = tuple(a for a in self.expected if self.overdue(a))

    def overdue(self, asset: Asset) -> bool:
        """Whether ``asset``'s audit is overdue on this session's date."""
        return audit_overdue(asset, self.today)

    def judge(self, tag: Tag) -> Verdict:
        """The verdict on a scanned tag, without counting it (see :meth:`count`).

        Kept apart from counting so that a scan is counted only once its sighting is
        durable: a scan that could not be saved leaves the session as it was.
        """
        if self.location is None:
            return self.rejection(tag.value, "scan a room label (LOC:<room>) first")
        found = self.inventory.resolve(tag)
        asset = found.asset
        label = asset.asset_tag if asset else tag.value
        first = self._first_verdict.get(_key(tag, asset))
        if first is not None:
            return Verdict(VerdictKind.REPEAT, label, asset, reason=f"first {first.value}")
        if found.outcome is Outcome.AMBIGUOUS:
            return Verdict(VerdictKind.AMBIGUOUS, label, reason=f"{len(found.candidates)}"
                           " assets match", candidates=found.candidates)
        if asset is None:
            return Verdict(VerdictKind.UNREGISTERED, label, reason=found.reason)
        state = self.inventory.state(asset)
        overdue = self.overdue(asset)
        if state is AssetState.LOST:
            return Verdict(VerdictKind.RECOVERED, label, asset, recorded_location=asset.location,
                           overdue=overdue)
        if state is AssetState.RETIRED:
            return Verdict(VerdictKind.RETIRED, label, asset)
        if same_place(asset.location, self.location):
            return Verdict(VerdictKind.VERIFIED, label, asset, overdue=overdue)
        return Verdict(VerdictKind.MISLOCATED, label, asset, recorded_location=asset.location,
                       overdue=overdue)

    @staticmethod
    def rejection(label: str, reason: str) -> Verdict:
        """The verdict on a payload that is not a tag, or cannot be judged yet."""
        return Verdict(VerdictKind.REJECTED, label, reason=reason)

    def count(self, verdict: Verdict, tag: Tag | None) -> None:
        """Count a verdict once its sighting is durable."""
        key = None if verdict.kind is VerdictKind.REJECTED or tag is None else _key(tag, verdict.asset)
        verified = verdict.asset.asset_tag if verdict.asset is not None else None
        self._note(verdict.kind.value, key, verified)

    def recount(self, record: Mapping[str, Any]) -> None:
        """Count a sighting record again (a room resumed from its journal)."""
        verdict = str(record.get("verdict"))
        tag = record.get("tag")
        asset_tag = record.get("asset_tag")
        key = None
        if verdict != VerdictKind.REJECTED.value and isinstance(tag, dict):
            key = (f"asset:{asset_tag}" if asset_tag else
                   _tag_key(str(tag.get("kind")), tag.get("site"), str(tag.get("value"))))
        self._note(verdict, key, asset_tag if isinstance(asset_tag, str) else None)

    def begin(self) -> None:
        """Count tentatively from here: :meth:`rollback` undoes it, :meth:`commit` keeps it.

        A burst of scans is judged one after the other (a second scan of an asset in the
        same burst is a repeat) before any of them is durable.
        """
        self._undo = []

    def commit(self) -> None:
        """Keep what was counted since :meth:`begin`."""
        self._undo = None

    def rollback(self) -> None:
        """Undo what was counted since :meth:`begin` (its sightings could not be saved)."""
        for what, value in reversed(self._undo or []):
            if what == "count":
                self.counts[value] -= 1
                if not self.counts[value]:
                    del self.counts[value]
            elif what == "first":
                del self._first_verdict[value]
            else:
                self._verified.discard(value)
        self._undo = None

    def _note(self, verdict: str, key: str | None, asset_tag: str | None) -> None:
        undo = self._undo if self._undo is not None else []
        self.counts[verdict] += 1
        undo.append(("count", verdict))
        if key is None:
            return
        if key not in self._first_verdict:
            self._first_verdict[key] = VerdictKind(verdict)
            undo.append(("first", key))
        if verdict == VerdictKind.VERIFIED.value and asset_tag is not None \
                and asset_tag not in self._verified:
            self._verified.add(asset_tag)
            undo.append(("verified", asset_tag))

    @property
    def scanned(self) -> int:
        """How many scans this session has judged (every verdict)."""
        return sum(self.counts.values())

    def progress(self) -> Progress:
        """Verified of expected, for the live screen."""
        found = sum(a.asset_tag in self._verified for a in self.overdue_expected)
        return Progress(self.location, len(self._verified), len(self.expected),
                        overdue_found=found, overdue_missing=len(self.overdue_expected) - found)

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
            rejected=c["rejected"], ghost=len(self.ghosts()), recovered=c["recovered"],
            ambiguous=c["ambiguous"],
        )


def _key(tag: Tag, asset: Asset | None) -> str:
    """What makes two scans the same thing: the asset, or the unknown tag's value."""
    if asset is not None:
        return f"asset:{asset.asset_tag}"
    return _tag_key(tag.kind.value, tag.site, tag.value)


def _tag_key(kind: str, site: str | None, value: str) -> str:
    return f"{kind}:{site or ''}:{value.strip().casefold()}"
