"""The receiver's dashboard in a real headless Chromium (``tests/chromium.py``).

The receiver is the real command on 127.0.0.1 (``tests/test_dashboard.py`` starts it);
the browser loads its pages through the DevTools protocol and the test reads what a
person would see (the DOM's text). Checked: pages load without a console error or an
uncaught exception (the Content-Security-Policy refusing anything would be one), the
numbers shown are ``stocktaker reconcile``'s over the same reports, markup in labels,
rooms, names and the campaign is shown as text and runs nothing, viewer credentials are
required and the devices' token refused, and a campaign's page follows a device's
pushes. Screenshots of the main pages go to ``build/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import chromium
from tests.test_dashboard import (CAMPAIGN, LAB, MARKUP, PASSWORD, TOKEN, VIEWER, Dashboard,
                                  basic, campaign_query, cli_reconcile, dashboard_receiver,
                                  reports)

pytestmark = pytest.mark.skipif(
    not chromium.available(),
    reason=f"no Chromium at {chromium.CHROMIUM} (apt-get install chromium; ./dev.sh test"
           " installs it)")

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"

_DATA = ("JSON.stringify(Object.fromEntries(Array.from(document.querySelectorAll('[data-k]'),"
         " n => [n.dataset.k, n.textContent])))")


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Dashboard]:
    with dashboard_receiver(tmp_path / "receiver") as running:
        for item in reports():
            running.put_report(item)
        yield running


@pytest.fixture
def browser() -> Iterator[chromium.Browser]:
    with chromium.Browser() as running:
        yield running


def viewer(browser: chromium.Browser) -> None:
    browser.headers({"Authorization": basic(VIEWER, PASSWORD)})


def shown_numbers(browser: chromium.Browser) -> dict[str, str]:
    data: dict[str, str] = json.loads(browser.evaluate(_DATA))
    return data


def test_pages_show_the_reconciliation_of_stocktaker_reconcile_without_errors(
        board: Dashboard, browser: chromium.Browser) -> None:
    expected, _ = cli_reconcile(board.directory, board.manifest, reports())
    viewer(browser)
    assert browser.open(board.url + "/dashboard/") == 200
    text = browser.evaluate("document.body.innerText")
    p = expected["progress"]
    assert f"Campaign {CAMPAIGN}" in text
    assert re.search(rf"{p['audited']} of {p['rooms']} rooms\s+"
                     rf"{expected['counts']['found']} of {expected['expected']}", text), text
    assert "hh-01" in text and "hh-02" in text
    browser.screenshot(SCREENSHOTS / "dashboard-campaigns.png")

    assert browser.open(board.url + "/dashboard/campaign" + campaign_query()) == 200
    shown = shown_numbers(browser)
    assert (shown["audited"], shown["rooms"]) == (str(p["audited"]), str(p["rooms"]))
    assert (shown["found"], shown["expected"]) == (str(expected["counts"]["found"]),
                                                   str(expected["expected"]))
    for category, count in expected["counts"].items():
        assert shown[f"count-{category}"] == str(count), category
    for index, room in enumerate(expected["rooms"]):
        assert shown[f"room-{index}-found"] == str(room["counts"]["found"]), room["room"]
        assert shown[f"room-{index}-expected"] == str(room["expected"]), room["room"]
    assert browser.evaluate("document.querySelector('progress').value") == p["audited"]
    browser.screenshot(SCREENSHOTS / "dashboard-campaign.png")

    moved = board.url + "/dashboard/items" + campaign_query() + "&category=moved"
    assert browser.open(moved) == 200
    text = browser.evaluate("document.body.innerText")
    assert "IT-004" in text and "Room B → Room A" in text and "device hh-01" in text
    assert "2026-12-07 05:03:00 UTC" in text  # when, who (ana), which device
    assert browser.open(board.url + "/dashboard/items" + campaign_query()) == 200
    rows = browser.evaluate("document.querySelectorAll('table.items tbody tr').length")
    assert rows == len(expected["items"])
    browser.screenshot(SCREENSHOTS / "dashboard-items.png")
    assert browser.problems == []


def test_markup_from_outside_is_shown_as_text_and_runs_nothing(
        board: Dashboard, browser: chromium.Browser) -> None:
    viewer(browser)
    pages = {
        "campaigns": "/dashboard/",
        "campaign": "/dashboard/campaign" + campaign_query(),
        "unregistered": "/dashboard/items" + campaign_query() + "&category=unregistered",
        "lab": "/dashboard/items" + campaign_query() + "&room=" + quote(LAB, safe=""),
    }
    texts: dict[str, Any] = {}
    for name, path in pages.items():
        assert browser.open(board.url + path) == 200, name
        texts[name] = browser.evaluate("document.body.innerText")
        assert browser.evaluate("typeof window.__pwned") == "undefined", name
        assert browser.evaluate("document.images.length") == 0, name
        scripts = browser.evaluate("Array.from(document.scripts, s => s.src)")
        assert all(s.endswith("/dashboard/live.js") for s in scripts), (name, scripts)
        assert browser.evaluate("document.querySelectorAll('b, i').length") == 0, name
    assert CAMPAIGN in texts["campaigns"] and CAMPAIGN in texts["campaign"]
    assert LAB in texts["campaign"]
    assert MARKUP in texts["unregistered"]
    assert MARKUP in texts["lab"]  # the asset's name in the manifest
    assert "<i>tech</i> \"o'neil\"" in texts["lab"]
    assert "IT-001, IT-002" in texts["lab"]  # the ambiguous label's candidates
    browser.screenshot(SCREENSHOTS / "dashboard-markup-as-text.png")
    assert browser.problems == []


def test_viewer_credentials_are_required_and_the_devices_token_is_refused(
        board: Dashboard, browser: chromium.Browser) -> None:
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"},
                    {"Authorization": basic(VIEWER, "not-the-password")}):
        browser.headers(headers)
        for path in ("/dashboard/", "/dashboard/campaign" + campaign_query()):
            assert browser.open(board.url + path) == 401, (headers, path)
            # headless Chromium holds the 401's body back as a sign-in prompt would
            text = browser.evaluate("document.body ? document.body.innerText : ''")
            assert text.strip() in ("", "viewer credentials are required"), text
    browser.problems.clear()  # the browser logs each 401 as a failed load, as it should
    viewer(browser)
    assert browser.open(board.url + "/dashboard/") == 200
    assert browser.problems == []


def test_a_campaigns_page_follows_a_device_pushing_sightings(
        board: Dashboard, browser: chromium.Browser) -> None:
    viewer(browser)
    assert browser.open(board.url + "/dashboard/campaign" + campaign_query()) == 200
    rooms = [r["room"] for r in cli_reconcile(board.directory, board.manifest,
                                              reports())[0]["rooms"]]
    index = rooms.index("Storage C")
    found, status = f"room-{index}-found", f"room-{index}-status"
    before = shown_numbers(browser)
    assert (before[found], before[f"room-{index}-expected"]) == ("0", "2")
    assert before[status] == "not yet audited"
    board.push("s-live", "hh-04", "Storage C", ["IT-007"])
    changed = browser.wait_for(f"document.querySelector(\"[data-k='{found}']\").textContent"
                               " === '1'")
    assert changed, shown_numbers(browser)
    assert shown_numbers(browser)[status] == "in progress or interrupted"
    board.push("s-live", "hh-04", "Storage C", ["IT-008"])
    assert browser.wait_for(f"document.querySelector(\"[data-k='{found}']\").textContent"
                            " === '2'"), shown_numbers(browser)
    assert shown_numbers(browser)["found"] == str(int(before["found"]) + 2)
    browser.screenshot(SCREENSHOTS / "dashboard-campaign-live.png")
    assert browser.problems == []
