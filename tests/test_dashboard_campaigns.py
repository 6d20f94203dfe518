"""Campaigns defined with ``register-server --campaigns FILE``: the dashboard reconciles each
with its rooms and period exactly as ``stocktaker reconcile --campaign-file`` does over the
same reports, shows rooms nobody audited yet, and lists on a campaign's page only the
devices that sent its reports or sightings.

The receiver runs as the real command on 127.0.0.1 (``tests/test_dashboard.py``'s
scenario), stopped by its PID whatever happens.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.reconcile_csv import reconciliation_csv
from tests import chromium
from tests.test_dashboard import (CAMPAIGN, MANIFEST, PASSWORD, TOKEN, VIEWER, Dashboard, basic,
                                  campaign_query, cli_reconcile, dashboard_receiver, report,
                                  reports, room_numbers, scan)
from tests.test_dashboard_browser import SCREENSHOTS
from tests.test_receiver import receiver_command, write_token

Q1 = "Q1 spot check"
CAMPAIGNS = f"""\
# The campaigns of the scenario: one with named rooms and a period, one of every room.
[[campaign]]
name = {json.dumps(CAMPAIGN)}
rooms = ["Room A", "room  b", "Storage C"]
from = 2026-12-01
to = 2026-12-31

[[campaign]]
name = "{Q1}"
from = 2027-01-01
"""


def defined_reports() -> list[dict[str, Any]]:
    """The scenario's reports, plus one of the campaign started before its period (a room of
    it) and one of it in a room it does not name (the lab, already in the scenario)."""
    early = report("s-early", "hh-05", "Room B", [
        scan("verified", "IT-004", "2026-11-20T09:01:00.000Z")])
    early.update(started_at="2026-11-20T09:00:00.000Z", ended_at="2026-11-20T09:30:00.000Z")
    return [*reports(), early]


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Dashboard]:
    campaigns = tmp_path / "campaigns.toml"
    campaigns.write_text(CAMPAIGNS, encoding="utf-8")
    with dashboard_receiver(tmp_path / "receiver", options=["--campaigns", str(campaigns)]) \
            as running:
        for item in defined_reports():
            running.put_report(item)
        yield running


def shown(board: Dashboard, name: str | None) -> dict[str, Any]:
    status, _, body = board.viewer("/dashboard/campaign.json" + campaign_query(name))
    assert status == 200, body
    data: dict[str, Any] = json.loads(body)
    return data


def test_a_defined_campaign_equals_stocktaker_reconcile_with_the_campaign_file(
        board: Dashboard) -> None:
    campaigns = board.directory.parent / "campaigns.toml"
    expected, csv_bytes = cli_reconcile(board.directory, board.manifest, defined_reports(),
                                        CAMPAIGN, ["--campaign-file", str(campaigns)])
    data = shown(board, CAMPAIGN)
    assert data["defined"] is True
    assert data["definition"] == expected["campaign"] == {
        "name": CAMPAIGN, "rooms": ["Room A", "room  b", "Storage C"],
        "from": "2026-12-01T00:00:00.000Z", "to": "2026-12-31T23:59:59.999Z"}
    assert data["progress"] == expected["progress"] == {"audited": 2, "rooms": 3}
    assert data["counts"] == expected["counts"]
    assert data["expected"] == expected["expected"]
    assert [(r["room"], r["status"], r["found"], r["expected"]) for r in data["rooms"]] \
        == room_numbers(expected)
    assert next(r for r in data["rooms"] if r["room"] == "Storage C")["status_text"] \
        == "not yet audited"
    # left out exactly as the command leaves them out: the early report and the lab's
    of_campaign = [(e["session_id"], e["reason"]) for e in expected["excluded"]
                   if e["campaign"] == CAMPAIGN]
    assert [(e["session_id"], e["reason"]) for e in data["excluded"]] == of_campaign == [
        ("s-early", "started before the campaign's period"),
        ("s-lab", "a room outside the campaign")]
    status, headers, body = board.viewer("/dashboard/campaign.csv" + campaign_query())
    assert status == 200 and body == csv_bytes == reconciliation_csv(expected)
    page = board.viewer("/dashboard/campaign" + campaign_query())[2].decode()
    assert "3 named rooms · 2026-12-01 to 2026-12-31" in page
    assert "started before the campaign&#x27;s period" in page


def test_a_campaign_only_reports_name_still_covers_every_room(board: Dashboard) -> None:
    expected, _ = cli_reconcile(board.directory, board.manifest, defined_reports(),
                                "Another campaign")
    data = shown(board, "Another campaign")
    assert data["defined"] is False and data["definition"]["rooms"] is None
    assert data["progress"] == expected["progress"]
    assert data["counts"] == expected["counts"]
    assert [(r["room"], r["status"], r["found"], r["expected"]) for r in data["rooms"]] \
        == room_numbers(expected)


def test_a_defined_campaign_without_reports_is_shown_not_yet_audited(board: Dashboard) -> None:
    data = shown(board, Q1)
    assert data["progress"] == {"audited": 0, "rooms": 4}
    assert {r["status"] for r in data["rooms"]} == {"not_audited"}
    index = board.viewer("/dashboard/")[2].decode()
    assert Q1 in index and "every room of the register · 2027-01-01 to any time" in index


def test_a_campaign_page_lists_only_the_devices_of_the_campaign(board: Dashboard) -> None:
    status, _, body = board.device("POST", "/api/v1/heartbeat",
                                   {"device_id": "hh-01", "queue_depth": 4321})
    assert status == 200, body
    board.push("s-live", "hh-06", "Storage C", ["IT-007"])  # sightings only, no report yet
    board.push("s-other-live", "hh-07", "Storage C", ["IT-008"], campaign="Another campaign")
    assert shown(board, CAMPAIGN)["devices"] == ["hh-01", "hh-02", "hh-05", "hh-06"]
    page = board.viewer("/dashboard/campaign" + campaign_query())[2].decode()
    devices = page[page.index("<h2>Devices</h2>"):]
    for device in ("hh-01", "hh-02", "hh-05", "hh-06"):
        assert f"<code>{device}</code>" in devices
    assert "<td>4321</td>" in devices
    assert "<code>hh-03</code>" not in devices and "<code>hh-07</code>" not in devices
    other = board.viewer("/dashboard/campaign" + campaign_query("Another campaign"))[2].decode()
    assert "<code>hh-03</code>" in other and "<code>hh-07</code>" in other
    assert "<code>hh-01</code>" not in other
    index = board.viewer("/dashboard/")[2].decode()  # the first page keeps every device
    assert all(f"<code>hh-0{n}</code>" in index for n in (1, 2, 3, 5, 6, 7))
    empty = board.viewer("/dashboard/campaign" + campaign_query(Q1))[2].decode()
    assert "No device has sent a report or a sighting of this campaign yet." in empty


@pytest.mark.parametrize("text, message", [
    (None, "campaigns.toml: no such campaign file"),
    ("[[campaign]\n", "campaigns.toml: not TOML"),
    ('[[campaign]]\nname = "A"\n[[campaign]]\nname = "B"\nroom = ["X"]\n',
     "campaigns.toml: campaign 2: campaign: unknown key 'room'"),
    ('[campaign]\nname = "A"\nfrom = 2026-12-31\nto = 2026-12-01\n',
     "campaigns.toml: campaign: the period ends before it starts"),
    ('[[campaign]]\nname = "Q4"\n[[campaign]]\nname = " q4 "\n',
     "campaigns.toml: campaign 2: campaign ' q4 ' is defined twice"),
    ('[[campaign]]\nrooms = ["Room A"]\n', "campaigns.toml: campaign: no name"),
    ('campaign = "Q4"\n', "campaigns.toml: campaign must be a table"),
])
def test_a_bad_campaigns_file_is_one_line_and_exit_2(tmp_path: Path, text: str | None,
                                                     message: str) -> None:
    campaigns = tmp_path / "campaigns.toml"
    if text is not None:
        campaigns.write_text(text, encoding="utf-8")
    manifest = tmp_path / "expected.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    token_file = write_token(tmp_path / "token", TOKEN)
    done = subprocess.run(receiver_command(tmp_path / "db.sqlite", manifest, token_file)
                          + ["--campaigns", str(campaigns)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "--campaigns" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "db.sqlite").exists()  # refused before anything is made


def test_reconcile_takes_one_campaign_of_a_file_of_several(tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns.toml"
    campaigns.write_text(CAMPAIGNS, encoding="utf-8")
    manifest = tmp_path / "expected.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "report-s.json").write_text(json.dumps(reports()[0]), encoding="utf-8")
    for extra, message in (([], "holds several campaigns: name one with --campaign NAME"),
                           (["--campaign", "Q3"], "no campaign of this name in it")):
        done = subprocess.run(
            [sys.executable, "-m", "firmware", "reconcile", str(tmp_path / "report-s.json"),
             "--manifest", str(manifest), "--campaign-file", str(campaigns), *extra],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_an_audit_under_way_takes_the_campaign_of_its_latest_sighting(board: Dashboard) -> None:
    """A ``CAMPAIGN:`` label scanned in a room tags the sightings after it; the room's report
    will carry that campaign, so the audit under way is placed by it already."""
    board.push("s-relabelled", "hh-08", "Storage C", ["IT-007"], campaign=None)
    assert "hh-08" not in shown(board, CAMPAIGN)["devices"]
    board.push("s-relabelled", "hh-08", "Storage C", ["IT-008"])
    data = shown(board, CAMPAIGN)
    assert data["live_sessions"] == ["s-relabelled"] and "hh-08" in data["devices"]
    storage = next(r for r in data["rooms"] if r["room"] == "Storage C")
    assert (storage["status"], storage["found"], storage["live"]) == ("incomplete", 2, True)


@pytest.mark.skipif(not chromium.available(), reason=f"no Chromium at {chromium.CHROMIUM}")
def test_a_defined_campaigns_page_in_a_browser(board: Dashboard) -> None:
    """What a person sees: the rooms and period, the room nobody audited, the reports left
    out, only the campaign's devices; no console error. Screenshot in build/screenshots/."""
    with chromium.Browser() as browser:
        browser.headers({"Authorization": basic(VIEWER, PASSWORD)})
        assert browser.open(board.url + "/dashboard/campaign" + campaign_query()) == 200
        text = browser.evaluate("document.body.innerText")
        assert "3 named rooms · 2026-12-01 to 2026-12-31" in text
        assert re.search(r"Storage C\s+not yet audited", text), text
        assert re.search(r"s-early\s+Room B\s+started before the campaign's period", text)
        devices = browser.evaluate(
            "Array.from(document.querySelectorAll('table.devices tbody tr td:first-child'),"
            " td => td.textContent)")
        assert devices == ["hh-01", "hh-02", "hh-05"]
        browser.screenshot(SCREENSHOTS / "dashboard-defined-campaign.png")
        assert browser.problems == []
