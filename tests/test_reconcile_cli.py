"""``stocktaker reconcile`` end to end, on reports written by ``stocktaker run`` on two devices."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from firmware.reconcile_command import terminal_safe_json
from tests.rooms import LOST, RETIRED, make_room, write_config

HOSTILE_ROOM = "<b>Lab</b> \"><img src=x onerror=alert(1)>"
HOSTILE_LABELS = ("<script>alert('x')</script>", '"><img src=x onerror=alert(1)>',
                  "=HYPERLINK(\"http://evil.example\",\"click\")")
HOSTILE_TECHNICIAN = "<script>steal()</script> & co"


def stocktaker(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "firmware", *args], input=stdin,
                          capture_output=True, timeout=300, cwd=cwd)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def device_run(folder: Path, device_id: str, technician: str, lines: list[str],
               campaign: str | None = None) -> None:
    """One handheld's day: ``stocktaker run`` fed ``lines`` on its scanner."""
    folder.mkdir()
    write_config(folder / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    text = (folder / "stocktaker.toml").read_text(encoding="utf-8")
    text = text.replace('id = "hh-test"', f'id = "{device_id}"')
    text = text.replace('technician = "ana"', f"technician = {json.dumps(technician)}"
                        + (f"\ncampaign = {json.dumps(campaign)}" if campaign else ""))
    text = text.replace('manifest = "expected.csv"', 'manifest = "../expected.csv"')
    (folder / "stocktaker.toml").write_text(text, encoding="utf-8")
    done = stocktaker("run", "--config", "stocktaker.toml", cwd=folder,
                      stdin=("\n".join(lines) + "\n").encode("utf-8"))
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three devices' reports: two of campaign Q4 (label and key), one untagged."""
    root = tmp_path_factory.mktemp("campaign")
    room = make_room(7)  # a seed under 10: make_room's twin tag differs
    room.write_manifest(root / "expected.csv")
    active = [a for a in room.assets[:45] if a.status not in RETIRED + LOST]
    in_a = [a for a in active if a.location == "Storage A"]
    in_b = [a for a in active if a.location == "Storage B"][3:]  # [0..2]: colliding ids
    moved, ghost, twice = in_a[0], in_a[1], in_a[2]
    # device 1: Storage A (all but two), then a room of its own with hostile labels
    device_run(root / "hh-a", "hh-a", HOSTILE_TECHNICIAN,
               ["CAMPAIGN:Q4", "LOC:Storage A"] + [a.asset_tag for a in in_a[2:]]
               + [f"LOC:{HOSTILE_ROOM}", f"LOC:{HOSTILE_ROOM}", *HOSTILE_LABELS])
    # device 2: Storage B, where the colleague finds one of Storage A's ghosts, and sees
    # an asset device 1 saw in Storage A
    device_run(root / "hh-b", "hh-b", "bo",
               ["LOC:Storage B"] + [a.asset_tag for a in in_b] + [moved.asset_tag,
                                                                   twice.asset_tag],
               campaign="Q4")
    # device 3: untagged, Server Room
    device_run(root / "hh-c", "hh-c", "cy", ["LOC:Server Room", "AT-070002"])
    out = root / "result"
    out.mkdir()
    done = stocktaker("reconcile", "../hh-a/out", "../hh-b/out", "../hh-c/out",
                      "--campaign", "q4", "--manifest", "../expected.csv",
                      "--html", "campaign.html", "--csv", "campaign.csv", cwd=out)
    assert done.returncode == 0, done.stderr
    as_json = stocktaker("reconcile", "../hh-a/out", "../hh-b/out", "../hh-c/out",
                         "--campaign", "Q4", "--manifest", "../expected.csv", "--json", cwd=out)
    assert as_json.returncode == 0, as_json.stderr
    return {"root": root, "summary": done.stdout, "result": json.loads(as_json.stdout),
            "html": (out / "campaign.html").read_text(encoding="utf-8"),
            "csv": (out / "campaign.csv").read_bytes(), "moved": moved.asset_tag,
            "ghost": ghost.asset_tag, "twice": twice.asset_tag, "in_a": in_a, "in_b": in_b}


class Tags(HTMLParser):
    """The element and attribute names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes.update(name for name, _ in attrs)


def items(result: dict) -> dict[str, dict]:
    return {item["key"]: item for item in result["items"]}


def test_reconciles_the_rooms_of_two_devices(campaign: dict) -> None:
    result = campaign["result"]
    found = items(result)
    moved = found["asset:" + campaign["moved"]]
    assert (moved["category"], moved["from"], moved["to"]) == ("moved", "Storage A", "Storage B")
    assert found["asset:" + campaign["ghost"]]["category"] == "missing"
    twice = found["asset:" + campaign["twice"]]
    assert twice["category"] == "found" and twice["needs_look"] is True
    assert sorted((s["room"], s["device_id"]) for s in twice["sightings"]) == [
        ("Storage A", "hh-a"), ("Storage B", "hh-b")]
    assert all(s["at"] for s in twice["sightings"])
    statuses = {r["room"]: r["status"] for r in result["rooms"]}
    assert statuses["Storage A"] == statuses["Storage B"] == "audited"
    assert statuses["Server Room"] == "not_audited"
    assert result["progress"] == {"audited": 3, "rooms": 4}
    assert {e["reason"] for e in result["excluded"]} == {"not tagged with a campaign"}
    server = [i for i in result["items"] if i["room"] == "Server Room"]
    assert server and {i["category"] for i in server} == {"not_audited"}
    assert {i["label"] for i in result["items"] if i["category"] == "unregistered"} >= set(
        HOSTILE_LABELS)
    expected_tags = [i["asset_tag"] for i in result["items"] if i["expected"]]
    assert len(expected_tags) == len(set(expected_tags)) == result["expected"]
    assert sum(result["counts"].values()) == len(result["items"])


def test_the_summary_is_terminal_safe(campaign: dict) -> None:
    summary = campaign["summary"]
    assert "Campaign q4: 3 of 4 rooms audited" in summary
    assert "moved 1" in summary and "missing " in summary
    assert "needs a look" in summary and "left out" in summary
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", summary)


def test_the_html_page_is_self_contained_and_escapes_outside_text(campaign: dict) -> None:
    page = campaign["html"]
    assert page.startswith("<!DOCTYPE html>")
    for hostile in (*HOSTILE_LABELS, HOSTILE_ROOM, HOSTILE_TECHNICIAN):
        assert hostile not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;Lab&lt;/b&gt;" in page and "&lt;script&gt;steal()&lt;/script&gt; &amp; co" in page
    # nothing to load or run: only these elements, no src/href/on* attribute, no url()
    tags = Tags()
    tags.feed(page)
    assert tags.names <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
                          "p", "div", "span", "strong", "table", "thead", "tbody", "tr", "th",
                          "td", "ul", "li", "code", "br"}
    assert not {a for a in tags.attributes if a in ("src", "href") or a.startswith("on")}
    style = page[page.index("<style>"):page.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert "Content-Security-Policy" in page
    # what a person looks for
    assert "3 of 4</strong> rooms audited" in page
    assert "needs a look" in page and "Moved assets" in page
    assert f"{campaign['moved']}</code>" in page
    assert "Storage A → Storage B" in page
    assert "device hh-b · bo" in page


def test_the_csv_opens_in_a_spreadsheet(campaign: dict) -> None:
    data = campaign["csv"]
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    by_tag: dict[str, list[dict]] = {}
    for row in rows:
        by_tag.setdefault(row["asset_tag"] or row["label"], []).append(row)
    moved = by_tag[campaign["moved"]]
    assert [(r["category"], r["from_room"], r["to_room"], r["device_id"]) for r in moved] == [
        ("moved", "Storage A", "Storage B", "hh-b")]
    assert len(by_tag[campaign["twice"]]) == 2  # one row per sighting
    assert {r["needs_look"] for r in by_tag[campaign["twice"]]} == {"true"}
    ghost = by_tag[campaign["ghost"]]
    assert [(r["category"], r["seen_at"]) for r in ghost] == [("missing", "")]
    formula = by_tag["'" + HOSTILE_LABELS[2]]
    assert formula[0]["category"] == "unregistered"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())
    items_in_csv = {(r["asset_tag"], r["label"]) for r in rows}
    assert len(items_in_csv) == len(campaign["result"]["items"])


def test_named_rooms_and_a_campaign_file(campaign: dict, tmp_path: Path) -> None:
    (tmp_path / "campaign.toml").write_text(
        '[campaign]\nname = "Q4"\nrooms = ["Storage A", "Storage B"]\nfrom = 2026-01-01\n',
        encoding="utf-8")
    root = campaign["root"]
    done = stocktaker("reconcile", str(root / "hh-a" / "out"), str(root / "hh-b" / "out"),
                      "--campaign-file", "campaign.toml", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["progress"] == {"audited": 2, "rooms": 2}
    assert [e["reason"] for e in result["excluded"]] == ["a room outside the campaign"]
    assert result["campaign"]["from"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("args, message", [
    (["nowhere.json"], "nowhere.json: no such report file"),
    (["--campaign-file", "missing.toml", "r.json"], "missing.toml: no such campaign file"),
    (["--from", "last week", "r.json"], "campaign: from 'last week' is not a date"),
    (["--room", " ", "r.json"], "campaign: an empty room name"),
    (["--manifest", "nope.csv", "r.json"], "nope.csv"),
    ([str(Path(__file__).parent)], "no report-*.json file in this folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "r.json").write_text(json.dumps({"session_id": "s", "counts": {}, "scans": []}),
                                     encoding="utf-8")
    done = stocktaker("reconcile", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_json_for_a_terminal_escapes_what_a_terminal_acts_on() -> None:
    value = {"room": "Büro \u202eevil\x7f\x9b", "emoji": "\U0001f600", "n": [1, None]}
    text = terminal_safe_json(value)
    assert json.loads(text) == value
    assert "Büro" in text and "\\u202e" in text and "\\u007f" in text and "\\u009b" in text
    assert all(ch == "\n" or ch.isprintable() for ch in text)
