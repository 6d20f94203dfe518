"""The HTML page and the CSV of a reconciliation, straight from :func:`reconcile`."""

from __future__ import annotations

import csv
import io

from sync.campaign import Campaign
from sync.reconcile import reconcile
from sync.reconcile_csv import reconciliation_csv
from sync.reconcile_html import reconciliation_html
from tests.test_reconcile import REGISTER, report, scan

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_campaign_name_rooms_and_period_are_escaped_and_readable() -> None:
    campaign = Campaign.from_mapping({"name": HOSTILE, "rooms": ["Storage A", HOSTILE],
                                      "from": "2026-12-01", "to": "2026-12-31"})
    page = reconciliation_html(reconcile(
        [report("Storage A", [scan("verified", "A-1")], campaign=HOSTILE)], campaign, REGISTER))
    assert HOSTILE not in page and "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img" in page
    assert "from 2026-12-01 to 2026-12-31" in page
    assert "1 of 2</strong> rooms audited (50%)" in page


def test_superseded_audit_and_its_sighting_are_said() -> None:
    reports = [report("Storage A", [scan("verified", "A-2")], day=1, session="old"),
               report("Storage A", [], ghosts=("A-1", "A-2", "A-3"), day=2, session="new")]
    result = reconcile(reports, Campaign("Q4"), REGISTER)
    page = reconciliation_html(result)
    assert "audited 2 times: the latest complete audit (new, ended" in page
    assert "Superseded audit 2026-12-01 10:00:00 UTC" in page
    assert "(earlier audit, not used)" in page
    rows = list(csv.DictReader(io.StringIO(reconciliation_csv(result).decode("utf-8-sig"))))
    a2 = [r for r in rows if r["asset_tag"] == "A-2"]
    assert [(r["category"], r["session_id"], r["used"]) for r in a2] == [("missing", "old",
                                                                         "false")]
    assert {r["room_status"] for r in rows if r["room"] == "Storage B"} == {"not_audited"}
