"""Reconciliation of a campaign's reports: each category, moves, double sightings, re-audits."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.campaign import Campaign, CampaignError
from sync.reconcile import CATEGORIES, EXPECTED_CATEGORIES, ExpectedAsset, reconcile

_ids = itertools.count(1)


def scan(verdict: str, tag: str | None = None, *, payload: str | None = None,
         recorded: str | None = None, at: str = "2026-12-01T10:00:00.000Z",
         candidates: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"sighting_id": f"s{next(_ids)}", "asset_tag": tag, "verdict": verdict,
            "serial": "", "name": f"name of {tag}" if tag else "", "source": "camera",
            "at": at, "payload": payload or tag, "symbology": "CODE128",
            "recorded_location": recorded, "reason": None, "gtin": None,
            "candidates": list(candidates), "clock_synchronized": True}


def report(room: str, scans: list[dict[str, Any]], *, ghosts: tuple[str, ...] = (),
           device: str = "hh-1", technician: str = "ana", day: int = 1, hour: int = 10,
           interrupted: bool = False, campaign: str | None = "Q4",
           session: str | None = None) -> dict[str, Any]:
    return {"session_id": session or f"sess-{next(_ids)}", "device_id": device,
            "location": room, "technician": technician, "campaign": campaign,
            "started_at": f"2026-12-{day:02d}T{hour:02d}:00:00.000Z",
            "ended_at": f"2026-12-{day:02d}T{hour:02d}:30:00.000Z",
            "clock_synchronized": True, "interrupted": interrupted, "resumed": 0,
            "expected": 0, "counts": {},
            "ghosts": [{"asset_tag": g, "serial": "", "name": ""} for g in ghosts],
            "scans": scans}


REGISTER = [ExpectedAsset("A-1", "Storage A", "laptop 1"), ExpectedAsset("A-2", "Storage A"),
            ExpectedAsset("A-3", "Storage A"), ExpectedAsset("B-1", "Storage B"),
            ExpectedAsset("C-1", "Storage C")]


def by_key(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in result["items"]}


def room(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in result["rooms"] if r["room"] == name)


# (what, reports, register, expected {key: (category, room, from, to)})
CASES = [
    ("expected found (verified)",
     [report("Storage A", [scan("verified", "A-1")])], REGISTER,
     {"asset:A-1": ("found", "Storage A", "Storage A", "Storage A")}),
    ("expected not found: a true ghost",
     [report("Storage A", [scan("verified", "A-1")], ghosts=("A-2", "A-3"))], REGISTER,
     {"asset:A-2": ("missing", "Storage A", "Storage A", None),
      "asset:A-3": ("missing", "Storage A", "Storage A", None)}),
    ("a ghost of A found by a colleague in B moved, it is not missing",
     [report("Storage A", [scan("verified", "A-1")], ghosts=("A-2", "A-3"), device="hh-1"),
      report("Storage B", [scan("verified", "B-1"), scan("mislocated", "A-2", recorded="Storage A")],
             device="hh-2", technician="bo")],
     REGISTER,
     {"asset:A-2": ("moved", "Storage A", "Storage A", "Storage B"),
      "asset:A-3": ("missing", "Storage A", "Storage A", None),
      "asset:B-1": ("found", "Storage B", "Storage B", "Storage B")}),
    ("an asset found in a room nobody has audited yet's neighbour: moved, not missing",
     [report("Storage B", [scan("mislocated", "C-1", recorded="Storage C")])], REGISTER,
     {"asset:C-1": ("moved", "Storage C", "Storage C", "Storage B"),
      "asset:A-1": ("not_audited", "Storage A", "Storage A", None)}),
    ("unregistered label (new)",
     [report("Storage A", [scan("unregistered", payload="IT-9999")])], REGISTER,
     {"label:IT-9999": ("unregistered", "Storage A", None, "Storage A")}),
    ("recovered: the register has it as lost",
     [report("Storage A", [scan("recovered", "L-1", recorded="Storage C")])], REGISTER,
     {"asset:L-1": ("recovered", "Storage A", "Storage C", "Storage A")}),
    ("retired asset seen",
     [report("Storage A", [scan("retired", "R-1")])], REGISTER,
     {"asset:R-1": ("retired", "Storage A", None, "Storage A")}),
    ("ambiguous label",
     [report("Storage A", [scan("ambiguous", payload="SER-1", candidates=("A-1", "B-1"))])],
     REGISTER, {"label:SER-1": ("ambiguous", "Storage A", None, "Storage A")}),
    ("found out of scope: an asset of a room outside the campaign",
     [report("Storage A", [scan("mislocated", "X-1", recorded="Basement")])], REGISTER,
     {"asset:X-1": ("out_of_scope", "Storage A", "Basement", "Storage A")}),
    ("a room never audited: its assets are not yet audited, not missing",
     [report("Storage A", [scan("verified", "A-1")])], REGISTER,
     {"asset:B-1": ("not_audited", "Storage B", "Storage B", None),
      "asset:C-1": ("not_audited", "Storage C", "Storage C", None)}),
    ("an interrupted audit is not complete: unseen assets are not yet audited",
     [report("Storage A", [scan("verified", "A-1")], ghosts=("A-2", "A-3"), interrupted=True)],
     REGISTER,
     {"asset:A-1": ("found", "Storage A", "Storage A", "Storage A"),
      "asset:A-2": ("not_audited", "Storage A", "Storage A", None)}),
    ("without a register: a room's expected assets come from its report",
     [report("Storage A", [scan("verified", "A-1")], ghosts=("A-2",)),
      report("Storage B", [scan("mislocated", "A-2", recorded="Storage A")])], None,
     {"asset:A-1": ("found", "Storage A", "Storage A", "Storage A"),
      "asset:A-2": ("moved", "Storage A", "Storage A", "Storage B")}),
]


@pytest.mark.parametrize("what, reports, register, expected", CASES, ids=[c[0] for c in CASES])
def test_categories(what: str, reports: list, register: list | None,
                    expected: dict[str, tuple]) -> None:
    result = reconcile(reports, Campaign("Q4"), register)
    items = by_key(result)
    for key, (category, in_room, origin, destination) in expected.items():
        item = items[key]
        assert (item["category"], item["room"], item["from"], item["to"]) == (
            category, in_room, origin, destination), key
    assert_consistent(result, register)


def test_moved_asset_is_listed_in_both_rooms_and_counted_once() -> None:
    reports = [report("Storage A", [], ghosts=("A-1", "A-2", "A-3")),
               report("Storage B", [scan("mislocated", "A-1", recorded="Storage A")])]
    result = reconcile(reports, Campaign("Q4"), REGISTER)
    assert result["counts"]["moved"] == 1
    assert room(result, "Storage A")["counts"]["moved"] == 1
    assert room(result, "Storage B")["counts"]["moved"] == 0
    assert room(result, "Storage B")["moved_in"] == ["asset:A-1"]


def test_asset_seen_in_two_rooms_by_two_devices_lists_each_sighting_and_needs_a_look() -> None:
    reports = [report("Storage A", [scan("verified", "A-1", at="2026-12-01T10:05:00.000Z")],
                      device="hh-1", technician="ana"),
               report("Storage B", [scan("mislocated", "A-1", recorded="Storage A",
                                         at="2026-12-02T11:05:00.000Z")],
                      device="hh-2", technician="bo", day=2, hour=11)]
    result = reconcile(reports, Campaign("Q4"), REGISTER)
    item = by_key(result)["asset:A-1"]
    assert item["category"] == "found" and item["needs_look"] is True
    assert [(s["room"], s["device_id"], s["technician"], s["at"]) for s in item["sightings"]] == [
        ("Storage A", "hh-1", "ana", "2026-12-01T10:05:00.000Z"),
        ("Storage B", "hh-2", "bo", "2026-12-02T11:05:00.000Z")]
    assert result["multiple_sightings"] == ["asset:A-1"]
    assert result["counts"]["found"] == 1 and result["counts"]["moved"] == 0


def test_expected_asset_seen_in_two_other_rooms_moved_to_the_latest() -> None:
    reports = [report("Storage B", [scan("mislocated", "A-1", recorded="Storage A")], day=3),
               report("Storage C", [scan("mislocated", "A-1", recorded="Storage A")], day=2)]
    item = by_key(reconcile(reports, Campaign("Q4"), REGISTER))["asset:A-1"]
    assert (item["category"], item["to"], item["needs_look"]) == ("moved", "Storage B", True)
    assert [s["room"] for s in item["sightings"]] == ["Storage C", "Storage B"]


def test_reaudited_room_uses_its_latest_complete_audit_and_says_so() -> None:
    first = report("Storage A", [scan("verified", "A-1"), scan("verified", "A-2"),
                                 scan("unregistered", payload="OLD-1")], day=1, session="first")
    second = report("Storage A", [scan("verified", "A-1")], ghosts=("A-2", "A-3"), day=5,
                    session="second")
    later_interrupted = report("Storage A", [scan("verified", "A-3")], day=6, interrupted=True,
                               session="third")
    result = reconcile([second, later_interrupted, first], Campaign("Q4"), REGISTER)
    entry = room(result, "Storage A")
    assert entry["status"] == "audited"
    assert [a["session_id"] for a in entry["audits"]] == ["second"]
    assert [a["session_id"] for a in entry["superseded"]] == ["first", "third"]
    assert "latest complete audit" in entry["note"] and "second" in entry["note"]
    items = by_key(result)
    assert items["asset:A-2"]["category"] == "missing"
    # the earlier sighting is listed, not used
    assert [(s["session_id"], s["used"]) for s in items["asset:A-2"]["sightings"]] == [
        ("first", False)]
    assert items["asset:A-1"]["category"] == "found"
    assert len(items["asset:A-1"]["sightings"]) == 2 and items["asset:A-1"]["needs_look"] is False
    assert "label:OLD-1" not in items  # the latest audit of its room did not see it
    assert result["counts"]["found"] == 1


def test_room_with_only_interrupted_audits_uses_all_of_them_and_is_not_complete() -> None:
    reports = [report("Storage A", [scan("verified", "A-1")], interrupted=True, day=1),
               report("Storage A", [scan("verified", "A-2")], interrupted=True, day=2)]
    result = reconcile(reports, Campaign("Q4"), REGISTER)
    entry = room(result, "Storage A")
    assert entry["status"] == "incomplete" and len(entry["audits"]) == 2
    items = by_key(result)
    assert [items[f"asset:A-{n}"]["category"] for n in (1, 2, 3)] == [
        "found", "found", "not_audited"]
    assert result["progress"] == {"audited": 0, "rooms": 3}


def test_progress_counts_rooms_with_a_complete_audit_of_every_room_of_the_register() -> None:
    reports = [report("Storage A", [scan("verified", "A-1")]),
               report("storage  b", [scan("verified", "B-1")])]  # spelt differently
    result = reconcile(reports, Campaign("Q4"), REGISTER)
    assert result["progress"] == {"audited": 2, "rooms": 3}
    assert [r["status"] for r in result["rooms"]] == ["audited", "audited", "not_audited"]


def test_named_rooms_and_period_select_reports() -> None:
    campaign = Campaign.from_mapping({"name": "q4", "rooms": ["Storage A", "Storage B"],
                                      "from": "2026-12-02", "to": "2026-12-03"})
    reports = [report("Storage A", [scan("verified", "A-1")], day=2, session="in"),
               report("Storage A", [scan("verified", "A-1")], day=1, session="early"),
               report("Storage A", [scan("verified", "A-1")], day=4, session="late"),
               report("Storage C", [scan("verified", "C-1")], day=2, session="outside"),
               report("Storage B", [scan("verified", "B-1")], day=3, session="other",
                      campaign="Q3"),
               report("Storage B", [scan("verified", "B-1")], day=3, session="untagged",
                      campaign=None)]
    result = reconcile(reports, campaign, REGISTER)
    reasons = {e["session_id"]: e["reason"] for e in result["excluded"]}
    assert reasons == {"early": "started before the campaign's period",
                       "late": "started after the campaign's period",
                       "outside": "a room outside the campaign",
                       "other": "tagged with another campaign (Q3)",
                       "untagged": "not tagged with a campaign"}
    assert result["progress"] == {"audited": 1, "rooms": 2}
    assert "asset:C-1" not in by_key(result)


def test_the_same_session_twice_is_used_once() -> None:
    one = report("Storage A", [scan("verified", "A-1")], session="dup")
    result = reconcile([one, dict(one)], Campaign("Q4"), REGISTER)
    assert len(by_key(result)["asset:A-1"]["sightings"]) == 1
    assert result["excluded"][0]["reason"] == "the same session given again"


def test_odd_report_content_is_skipped_and_said() -> None:
    odd = report("Storage A", [scan("verified", "A-1"), "junk", {"verdict": "verified"}])
    result = reconcile([odd, {"no": "session"}], Campaign("Q4"), REGISTER)
    assert by_key(result)["asset:A-1"]["category"] == "found"
    assert any("unexpected shape" in n for n in result["notes"])
    assert result["excluded"][0]["reason"] == "not an audit report (no session_id)"


@pytest.mark.parametrize("data, message", [
    ({"name": " "}, "an empty name"),
    ({"rooms": []}, "an empty list of rooms"),
    ({"rooms": "Storage A"}, "rooms must be a list"),
    ({"from": "2026-12-05", "to": "2026-12-01"}, "ends before it starts"),
    ({"from": "yesterday"}, "is not a date"),
    ({"when": "now"}, "unknown key 'when'"),
])
def test_bad_campaign_definitions(data: dict, message: str) -> None:
    with pytest.raises(CampaignError, match=message):
        Campaign.from_mapping(data)


def test_period_end_day_is_inclusive() -> None:
    campaign = Campaign.from_mapping({"to": "2026-12-01"})
    assert campaign.end == datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=timezone.utc)


def assert_consistent(result: dict[str, Any], register: list | None) -> None:
    """Every item once, every expected asset in exactly one category, counts add up."""
    keys = [item["key"] for item in result["items"]]
    assert len(keys) == len(set(keys))
    if register is not None:
        for asset in register:
            matches = [i for i in result["items"] if i["asset_tag"] == asset.asset_tag]
            assert len(matches) == 1
            assert matches[0]["category"] in EXPECTED_CATEGORIES and matches[0]["expected"]
    for category in CATEGORIES:
        in_items = sum(i["category"] == category for i in result["items"])
        assert result["counts"][category] == in_items
        assert sum(r["counts"][category] for r in result["rooms"]) == in_items
    assert result["expected"] == sum(i["expected"] for i in result["items"])
    assert result["progress"]["rooms"] == len(result["rooms"])
    assert result["progress"]["audited"] == sum(r["status"] == "audited" for r in result["rooms"])
    room_names = {r["room"] for r in result["rooms"]}
    assert all(i["room"] in room_names for i in result["items"])
    sighting_ids = [(s["session_id"], s["room"], s["at"], s["payload"])
                    for i in result["items"] for s in i["sightings"]]
    assert len(sighting_ids) == len(set(sighting_ids))


# --- properties ------------------------------------------------------------------------

ROOMS = ["Storage A", "Storage B", "Storage C", "Lab"]
TAGS = [f"T-{n}" for n in range(8)]


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[ExpectedAsset], list]:
    register = [ExpectedAsset(tag, draw(st.sampled_from(ROOMS[:3]))) for tag in
                draw(st.lists(st.sampled_from(TAGS), unique=True))]
    home = {a.asset_tag: a.location for a in register}
    reports = []
    for n in range(draw(st.integers(0, 6))):
        where = draw(st.sampled_from(ROOMS))
        scans = []
        for k in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(["asset", "asset", "unregistered", "ambiguous",
                                         "recovered", "repeat", "rejected"]))
            at = f"2026-12-0{1 + n % 9}T10:{k:02d}:00.000Z"
            if kind == "asset":
                tag = draw(st.sampled_from(TAGS))
                if home.get(tag) == where:
                    scans.append(scan("verified", tag, at=at))
                else:
                    scans.append(scan("mislocated", tag, recorded=home.get(tag, "Elsewhere"),
                                      at=at))
            elif kind in ("unregistered", "ambiguous"):
                scans.append(scan(kind, payload=draw(st.sampled_from(["U-1", "U-2"])), at=at))
            else:
                scans.append(scan(kind, draw(st.sampled_from(["L-1", "T-0"])), at=at))
        seen = {s["asset_tag"] for s in scans}
        ghosts = tuple(t for t, r in home.items() if r == where and t not in seen)
        reports.append(report(where, scans, ghosts=ghosts, day=1 + draw(st.integers(0, 8)),
                              hour=draw(st.integers(0, 23)),
                              interrupted=draw(st.booleans()),
                              device=draw(st.sampled_from(["hh-1", "hh-2"]))))
    return reports, register, draw(st.sampled_from([None, ROOMS[:2], ROOMS]))


@settings(max_examples=300, deadline=None)
@given(campaigns(), st.booleans())
def test_property_every_expected_asset_in_exactly_one_category(
        drawn: tuple, with_register: bool) -> None:
    reports, register, rooms = drawn
    campaign = Campaign("Q4", tuple(rooms) if rooms else None)
    result = reconcile(reports, campaign, register if with_register else None)
    assert_consistent(result, [a for a in register if campaign.covers_room(a.location)]
                      if with_register else None)
    # every used sighting of an item-making scan is in exactly one item
    used_sessions = {a["session_id"] for r in result["rooms"] for a in r["audits"]}
    listed = [(s["session_id"], s["payload"], s["at"]) for i in result["items"]
              for s in i["sightings"] if s["used"]]
    wanted = [(r["session_id"], s["payload"], s["at"]) for r in reports
              if r["session_id"] in used_sessions for s in r["scans"]
              if s["verdict"] not in ("repeat", "rejected")]
    assert sorted(listed) == sorted(wanted)


@settings(max_examples=100, deadline=None)
@given(campaigns(), st.randoms())
def test_property_order_of_reports_does_not_matter(drawn: tuple, rnd: Any) -> None:
    reports, register, _ = drawn
    shuffled = list(reports)
    rnd.shuffle(shuffled)
    first = reconcile(reports, Campaign("Q4"), register)
    second = reconcile(shuffled, Campaign("Q4"), register)
    strip = lambda r: sorted((i["key"], i["category"], i["room"], i["to"]) for i in r["items"])  # noqa: E731
    assert strip(first) == strip(second) and first["counts"] == second["counts"]


def test_sources_must_be_one_per_report() -> None:
    with pytest.raises(ValueError, match="2 reports but 1 sources"):
        reconcile([report("Storage A", []), report("Storage B", [])], sources=["a.json"])


def test_intakes_are_new_items_of_their_room_once_and_only_from_the_audit_used() -> None:
    intake = {"intake_id": "5f0c1a62-0000-4000-8000-000000000001", "asset_tag": "FIELD-0001",
              "identifiers": {"serial": "SN-NEW", "gtin": "09506000134352"},
              "unknown_label": "<b>faded</b>", "at": "2026-12-01T10:05:00.000Z"}
    old = report("Lab", [scan("verified", "IT-1")], day=1)
    old["intakes"] = [dict(intake, intake_id="5f0c1a62-0000-4000-8000-000000000009")]
    latest = report("Lab", [scan("verified", "IT-1")], day=2)
    latest["intakes"] = [intake, "not an intake"]
    result = reconcile([old, latest], expected=[ExpectedAsset("IT-1", "Lab")])
    new = [i for i in result["items"] if i["category"] == "new"]
    assert [(i["key"], i["asset_tag"], i["serial"], i["room"], i["label"]) for i in new] == [
        ("intake:" + intake["intake_id"], "FIELD-0001", "SN-NEW", "Lab", "<b>faded</b>")]
    assert result["counts"]["new"] == 1 and result["counts"]["found"] == 1
    assert result["rooms"][0]["counts"]["new"] == 1
    assert any("intake of an unexpected shape" in note for note in result["notes"])
