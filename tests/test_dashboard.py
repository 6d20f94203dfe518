"""The receiver's dashboard over HTTP: viewer credentials, the devices' token refused, its
numbers equal to ``stocktaker reconcile`` over the same reports, CSV, audits under way.

The receiver runs as the real command (``stocktaker register-server --viewers FILE``) on
127.0.0.1, its viewers file made by ``stocktaker register-viewer``; it is stopped by its
PID whatever happens. The browser's view of the same pages is in
``tests/test_dashboard_browser.py``.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from sync.reconcile_csv import reconciliation_csv
from sync.receiver.viewers import ViewerFile, add_viewer, hash_password
from tests.test_receiver import _first_line, receiver_command, stop_process, write_token

TOKEN = "device-token-0123456789"
VIEWER, PASSWORD = "alice", "viewer-pass-0123"
MARKUP = """<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'"&amp;"""
CAMPAIGN = "Q4 <b>Floor</b> & \"1\""
LAB = "Lab <i>\"3\"</i>"
MANIFEST = f"""Asset Tag,Serial,Asset Name,Location,Status
IT-001,S1,Laptop one,Room A,Ready to Deploy
IT-002,S2,Laptop two,Room A,Ready to Deploy
IT-003,S3,Dock,Room A,Ready to Deploy
IT-004,S4,Monitor,Room B,Ready to Deploy
IT-005,S5,Phone,Room B,Ready to Deploy
IT-006,S6,"{MARKUP.replace('"', '""')}","{LAB.replace('"', '""')}",Ready to Deploy
IT-007,S7,Printer,Storage C,Ready to Deploy
IT-008,S8,Scanner,Storage C,Ready to Deploy
IT-009,S9,Old laptop,Room A,Lost
IT-010,S10,Retired,Room B,Archived
"""


def scan(verdict: str, tag: str | None, at: str, **extra: Any) -> dict[str, Any]:
    return {"verdict": verdict, "asset_tag": tag, "payload": extra.pop("payload", tag),
            "at": at, "source": "scanner", **extra}


def report(session_id: str, device_id: str, room: str, scans: list[dict[str, Any]], *,
           campaign: str | None = CAMPAIGN, technician: str = "ana",
           ended: str = "2026-12-07T05:30:00.000Z") -> dict[str, Any]:
    """A room's report as a device writes it (the fields reconciliation reads)."""
    return {"session_id": session_id, "device_id": device_id, "location": room,
            "technician": technician, "campaign": campaign,
            "started_at": "2026-12-07T05:00:00.000Z", "ended_at": ended,
            "interrupted": False, "counts": {}, "ghosts": [], "scans": scans}


def reports() -> list[dict[str, Any]]:
    """A campaign of four rooms: one found with a ghost, a move, a recovered asset and a
    label full of markup; one with the moved asset's home; a lab with markup in its
    name; a room nobody audited. Plus a report of another campaign."""
    t = "2026-12-07T05:0{}:00.000Z"
    return [
        report("s-room-a", "hh-01", "Room A", [
            scan("verified", "IT-001", t.format(1)), scan("verified", "IT-002", t.format(2)),
            scan("mislocated", "IT-004", t.format(3), recorded_location="Room B"),
            scan("recovered", "IT-009", t.format(4)),
            scan("unregistered", None, t.format(5), payload=MARKUP)]),
        report("s-room-b", "hh-02", "Room B", [scan("verified", "IT-005", t.format(6))]),
        report("s-lab", "hh-02", LAB, [
            scan("verified", "IT-006", t.format(7)),
            scan("ambiguous", None, t.format(8), payload="DELL",
                 candidates=["IT-001", "IT-002"])], technician="<i>tech</i> \"o'neil\""),
        report("s-other", "hh-03", "Storage C", [scan("verified", "IT-007", t.format(9))],
               campaign="Another campaign"),
    ]


# --- a receiver with a dashboard ----------------------------------------------------


@dataclass
class Dashboard:
    url: str
    directory: Path
    manifest: Path

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        assert parts.hostname and parts.port
        return parts.hostname, parts.port

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.address, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode()
            all_headers = dict(headers or {})
            if data is not None:
                all_headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=all_headers)
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            conn.close()

    def device(self, method: str, path: str, body: Any = None,
               **headers: str) -> tuple[int, dict[str, str], bytes]:
        return self.request(method, path, body, {"Authorization": f"Bearer {TOKEN}", **headers})

    def viewer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, headers={"Authorization": basic(VIEWER, PASSWORD)})

    def put_report(self, data: dict[str, Any]) -> None:
        status, _, body = self.device("PUT", f"/api/v1/reports/{data['session_id']}", data)
        assert status in (200, 201), body

    def push(self, session_id: str, device_id: str, room: str, tags: list[str],
             campaign: str | None = CAMPAIGN) -> None:
        """Sightings of an audit under way, as a device sends them."""
        records = [{"sighting_id": str(uuid.uuid4()), "device_id": device_id,
                    "session_id": session_id, "location": room, "technician": "bo",
                    "asset_tag": tag, "payload": tag, "verdict": "verified",
                    "wall_time": "2026-12-07T06:00:00.000Z", "campaign": campaign}
                   for tag in tags]
        status, _, body = self.device("POST", "/api/v1/sightings",
                                      {"device_id": device_id, "sightings": records},
                                      **{"Idempotency-Key": str(uuid.uuid4())})
        assert status == 200, body
        assert all(r["status"] == "accepted" for r in json.loads(body)["results"]), body


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def campaign_query(name: str | None = CAMPAIGN) -> str:
    return "" if name is None else "?campaign=" + quote(name, safe="")


@contextmanager
def dashboard_receiver(directory: Path, db: str | None = None,
                       options: Sequence[str] = ()) -> Iterator[Dashboard]:
    """``stocktaker register-server --viewers FILE [options]`` with the scenario's
    manifest, its viewers file made by ``stocktaker register-viewer``; stopped by PID on
    exit."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "expected.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    token_file = write_token(directory / "token", TOKEN)
    viewers = directory / "viewers"
    made = subprocess.run([sys.executable, "-m", "firmware", "register-viewer", str(viewers),
                           VIEWER], input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    log = directory / "receiver.log"
    command = receiver_command(db or str(directory / "db.sqlite"), manifest, token_file) + [
        "--viewers", str(viewers), *options]
    with log.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log_file, text=True)
    try:
        url = _first_line(proc, timeout=30)
        assert url.startswith("http://127.0.0.1:"), log.read_text(encoding="utf-8")
        yield Dashboard(url, directory, manifest)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def cli_reconcile(directory: Path, manifest: Path, data: list[dict[str, Any]],
                  campaign: str | None = CAMPAIGN,
                  options: Sequence[str] = ()) -> tuple[dict[str, Any], bytes]:
    """``stocktaker reconcile --json --csv`` over the same reports as files: its result
    and its CSV."""
    folder = directory / f"reports-{time.monotonic_ns()}"
    folder.mkdir()
    for item in data:
        (folder / f"report-{item['session_id']}.json").write_text(json.dumps(item),
                                                                 encoding="utf-8")
    command = [sys.executable, "-m", "firmware", "reconcile", str(folder), "--manifest",
               str(manifest), "--json", "--csv", str(folder / "out.csv")]
    if campaign is not None:
        command += ["--campaign", campaign]
    command += options
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), (folder / "out.csv").read_bytes()


def room_numbers(result: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(r["room"], r["status"], r["counts"]["found"], r["expected"])
            for r in result["rooms"]]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dashboard]:
    """The scenario's reports in a receiver on SQLite, and on PostgreSQL (marker
    ``postgres``): one code path, both checked."""
    db = None
    if request.param == "postgresql":
        from tests.postgres import fresh_database

        db = fresh_database(request.getfixturevalue("postgres_server"))
    with dashboard_receiver(tmp_path / "receiver", db) as running:
        for item in reports():
            running.put_report(item)
        yield running


# --- tests ----------------------------------------------------------------------------


def test_numbers_equal_stocktaker_reconcile_over_the_same_reports(board: Dashboard) -> None:
    for name in (CAMPAIGN, "Another campaign", None):
        expected, csv_bytes = cli_reconcile(board.directory, board.manifest, reports(), name)
        status, headers, body = board.viewer("/dashboard/campaign.json" + campaign_query(name))
        assert status == 200, body
        shown = json.loads(body)
        assert shown["progress"] == expected["progress"]
        assert shown["counts"] == expected["counts"]
        assert shown["expected"] == expected["expected"]
        assert [(r["room"], r["status"], r["found"], r["expected"]) for r in shown["rooms"]] \
            == room_numbers(expected)
        status, headers, body = board.viewer("/dashboard/campaign.csv" + campaign_query(name))
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert body == csv_bytes == reconciliation_csv(expected)
    # the scenario is what it says: every category of the issue has something in it
    counts = json.loads(board.viewer("/dashboard/campaign.json" + campaign_query())[2])["counts"]
    assert {c: n for c, n in counts.items() if n} == {
        "found": 4, "moved": 1, "missing": 1, "not_audited": 2, "recovered": 1,
        "unregistered": 1, "ambiguous": 1}


def test_a_label_that_starts_a_formula_is_guarded_in_the_csv(board: Dashboard) -> None:
    board.put_report(report("s-formula", "hh-01", "Storage C", [
        scan("unregistered", None, "2026-12-07T05:40:00.000Z", payload="=HYPERLINK(1)")]))
    body = board.viewer("/dashboard/campaign.csv" + campaign_query())[2].decode("utf-8-sig")
    assert ",'=HYPERLINK(1)," in body and ",=HYPERLINK" not in body


def test_viewer_credentials_are_required_and_the_device_token_is_refused(
        board: Dashboard) -> None:
    pages = ["/dashboard/", "/dashboard/campaign" + campaign_query(), "/dashboard/live.js",
             "/dashboard/campaign.csv", "/dashboard/no-such-page"]
    for path in pages:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"},
                        {"Authorization": basic(VIEWER, "wrong-password")},
                        {"Authorization": basic("mallory", PASSWORD)},
                        {"Authorization": basic(VIEWER, TOKEN)},
                        {"Authorization": "Basic !!not-base64!!"}):
            status, answer_headers, body = board.request("GET", path, headers=headers)
            assert status == 401, (path, headers)
            assert answer_headers["WWW-Authenticate"].startswith('Basic realm="stocktaker')
            assert body == b"viewer credentials are required\n"  # nothing else told
    # viewer credentials do not open the device API
    for path in ("/api/v1/devices", "/api/v1/manifest", "/api/v1/reports/s-room-a"):
        status, _, _ = board.request("GET", path,
                                     headers={"Authorization": basic(VIEWER, PASSWORD)})
        assert status == 401, path
    status, headers, body = board.viewer("/dashboard/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]


def test_the_dashboard_is_read_only(board: Dashboard) -> None:
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = board.request(method, "/dashboard/campaign",
                                           headers={"Authorization": basic(VIEWER, PASSWORD)})
        assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_outside_text_is_escaped_in_every_page(board: Dashboard) -> None:
    for path in ("/dashboard/", "/dashboard/campaign" + campaign_query(),
                 "/dashboard/items" + campaign_query() + "&category=unregistered",
                 "/dashboard/items" + campaign_query() + "&room=" + quote(LAB)):
        status, _, body = board.viewer(path)
        text = body.decode("utf-8")
        assert status == 200, path
        assert "<script>window" not in text and "<img" not in text and "<i>" not in text
        assert "<b>Floor" not in text
    items = board.viewer("/dashboard/items" + campaign_query() + "&category=unregistered")[2]
    assert b"&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;" in items
    lab = board.viewer("/dashboard/items" + campaign_query() + "&room=" + quote(LAB))[2]
    assert b"&lt;i&gt;tech&lt;/i&gt; &quot;o&#x27;neil&quot;" in lab


def test_an_audit_under_way_moves_its_room_and_its_report_then_counts_alone(
        board: Dashboard) -> None:
    def storage() -> dict[str, Any]:
        data = json.loads(board.viewer("/dashboard/campaign.json" + campaign_query())[2])
        return next(r for r in data["rooms"] if r["room"] == "Storage C")

    assert storage() == {"room": "Storage C", "status": "not_audited", "found": 0,
                         "expected": 2, "live": False, "status_text": "not yet audited"}
    board.push("s-live", "hh-04", "Storage C", ["IT-007"])
    assert storage()["found"] == 1 and storage()["status"] == "incomplete"
    assert storage()["live"] is True
    # without a campaign on its sightings, an audit under way takes its device's latest
    board.push("s-live-2", "hh-02", "Storage C", ["IT-008"], campaign=None)
    assert storage()["found"] == 2
    done = report("s-live", "hh-04", "Storage C", [
        scan("verified", "IT-007", "2026-12-07T06:00:00.000Z")], ended="2026-12-07T06:10:00.000Z")
    board.put_report(done)
    assert storage()["status"] == "audited" and storage()["found"] == 1
    assert storage()["live"] is False


def test_devices_show_their_last_contact_and_queue_depth(board: Dashboard) -> None:
    status, _, body = board.device("POST", "/api/v1/heartbeat",
                                   {"device_id": "hh-07", "queue_depth": 4321})
    assert status == 200, body
    page = board.viewer("/dashboard/")[2].decode()
    assert "<code>hh-07</code>" in page and "<td>4321</td>" in page


def test_a_viewer_password_equal_to_the_devices_token_is_refused_at_start(
        tmp_path: Path) -> None:
    viewers = tmp_path / "viewers"
    add_viewer(viewers, "bo", TOKEN)
    token_file = write_token(tmp_path / "token", TOKEN)
    manifest = tmp_path / "expected.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    done = subprocess.run(receiver_command(tmp_path / "db.sqlite", manifest, token_file)
                          + ["--viewers", str(viewers)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "a viewer's password is the devices' token" in done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


def test_viewers_file_holds_salted_hashes_and_bad_lines_are_refused(tmp_path: Path) -> None:
    viewers = tmp_path / "viewers"
    assert add_viewer(viewers, "ana", "first-password")
    assert add_viewer(viewers, "bo", "first-password")
    assert not add_viewer(viewers, "ana", "second-password")
    text = viewers.read_text()
    assert "password" not in text and len(text.splitlines()) == 2
    assert viewers.stat().st_mode & 0o777 == 0o600
    ana, bo = (line.split(":", 1)[1] for line in text.splitlines()[::-1])
    assert ana != bo  # salted: one password, two hashes
    checker = ViewerFile(viewers)
    assert checker.check(basic("ana", "second-password")) == "ana"
    assert checker.check(basic("ana", "first-password")) is None
    assert hash_password("x", salt=b"0" * 16) == hash_password("x", salt=b"0" * 16)
    viewers.write_text("ana:plain-text-password\n")
    with pytest.raises(Exception, match="line 1: not NAME:pbkdf2_sha256"):
        ViewerFile(viewers)
