"""Verdicts of one room's audit, and what is expected, ghost or retired."""

from __future__ import annotations

from firmware.audit_rules import AuditSession
from firmware.identity import IdentityRules
from firmware.inventory import Asset, Inventory
from firmware.tags import Tag, TagKind
from firmware.verdicts import VerdictKind

SITE = "assets.example.com"

ASSETS = [
    Asset("IT-1", "S1", "Laptop", "Storage B", "Ready to Deploy", id=1),
    Asset("IT-2", "S2", "Dock", "storage b ", "Deployed", id=2),
    Asset("IT-3", "S3", "Screen", "Storage A", "Ready to Deploy", id=3),
    Asset("IT-4", "S4", "Old laptop", "Storage B", "ARCHIVED", id=4),
    Asset("IT-5", "S5", "Phone", "", "Ready to Deploy", id=5),
    Asset("IT-6", "S6", "Tablet", "Storage A", "Stolen", id=6),
]


def tag(value: str, kind: TagKind = TagKind.ASSET_TAG) -> Tag:
    return Tag(kind, value, "plain")


def judged(session: AuditSession, t: Tag):
    verdict = session.judge(t)
    session.count(verdict, t)
    return verdict


def test_expected_excludes_retired_and_other_rooms_and_ignores_case() -> None:
    session = AuditSession(Inventory(ASSETS), "Storage B")
    assert [a.asset_tag for a in session.expected] == ["IT-1", "IT-2"]


def test_every_live_verdict() -> None:
    session = AuditSession(Inventory(ASSETS, rules=IdentityRules(sites=(SITE,))), "Storage B")
    assert judged(session, tag("IT-1")).kind is VerdictKind.VERIFIED
    mislocated = judged(session, Tag(TagKind.ASSET_ID, "3", "url", site=SITE))
    assert (mislocated.kind, mislocated.recorded_location) == (VerdictKind.MISLOCATED, "Storage A")
    assert judged(session, tag("S5", TagKind.SERIAL)).recorded_location == ""
    assert judged(session, tag("IT-99")).kind is VerdictKind.UNREGISTERED
    assert judged(session, tag("IT-4")).kind is VerdictKind.RETIRED
    recovered = judged(session, tag("it-6"))
    assert (recovered.kind, recovered.recorded_location) == (VerdictKind.RECOVERED, "Storage A")
    repeat = judged(session, tag("S1", TagKind.SERIAL))
    assert (repeat.kind, repeat.label, repeat.reason) == (VerdictKind.REPEAT, "IT-1", "first verified")
    assert judged(session, tag("IT-99")).kind is VerdictKind.REPEAT
    assert judged(session, tag("it-99 ")).kind is VerdictKind.REPEAT
    assert session.counts == {"verified": 1, "mislocated": 2, "unregistered": 1, "retired": 1,
                              "recovered": 1, "repeat": 3}
    assert [a.asset_tag for a in session.ghosts()] == ["IT-2"]
    progress = session.progress()
    assert (progress.verified, progress.expected) == (1, 2)
    summary = session.summary()
    assert (summary.ghost, summary.repeat, summary.rejected, summary.recovered) == (1, 3, 0, 1)


def test_a_label_fitting_two_assets_is_ambiguous_and_verifies_neither() -> None:
    inventory = Inventory([Asset("IT-0003", "SN-1", "Laptop", "Storage B"),
                           Asset("IT-0009", "IT-0003", "Dock", "Storage B")])
    session = AuditSession(inventory, "Storage B")
    verdict = judged(session, tag("IT-0003"))
    assert verdict.kind is VerdictKind.AMBIGUOUS and verdict.asset is None
    assert [a.asset_tag for a in verdict.candidates] == ["IT-0003", "IT-0009"]
    assert verdict.reason == "2 assets match"
    assert judged(session, tag("it-0003")).kind is VerdictKind.REPEAT
    assert len(session.ghosts()) == 2 and session.counts["ambiguous"] == 1


def test_a_verdict_not_counted_leaves_the_session_unchanged() -> None:
    session = AuditSession(Inventory(ASSETS), "Storage B")
    session.judge(tag("IT-1"))  # e.g. its sighting could not be saved
    assert session.judge(tag("IT-1")).kind is VerdictKind.VERIFIED
    assert session.scanned == 0 and len(session.ghosts()) == 2


def test_no_room_yet_rejects_then_room_label_sets_it() -> None:
    session = AuditSession(Inventory(ASSETS), None)
    verdict = session.judge(tag("IT-1"))
    assert verdict.kind is VerdictKind.REJECTED and "LOC:" in (verdict.reason or "")
    session.locate("Storage B")
    assert judged(session, tag("IT-1")).kind is VerdictKind.VERIFIED


def test_lost_statuses_are_never_expected_nor_ghosts() -> None:
    session = AuditSession(Inventory(ASSETS, lost_statuses=["stolen"]), "Storage A")
    assert [a.asset_tag for a in session.expected] == ["IT-3"]
    moved = Inventory(ASSETS, retired_statuses=["stolen"], lost_statuses=[])
    assert judged(AuditSession(moved, "Storage B"), tag("IT-6")).kind is VerdictKind.RETIRED
