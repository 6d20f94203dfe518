"""An audit under way, end to end: two ``stocktaker run`` handhelds of one campaign (one by a
scanned ``CAMPAIGN:`` label, one by ``audit.campaign``) push their sightings to a real
``stocktaker register-server --campaigns FILE``, and the dashboard's campaign page shows
their rooms' progress before any report arrives; once the rooms end, their reports count.

Each sighting carries its room's campaign: without it the receiver could place an audit
under way only by its device's latest report, and these devices have sent none yet.
Every process is stopped by its PID whatever happens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from firmware.sightings import Stamp, make_sighting
from hal.clock import SystemClock
from hal.read import Read
from sync.sighting import Sighting
from tests.test_dashboard import Dashboard, campaign_query, dashboard_receiver
from tests.test_receiver import stop_process

CAMPAIGN = "Floor 3 <b>Q4</b>"
T = TypeVar("T")


def campaigns_file(folder: Path) -> Path:
    """The campaign: three rooms, from yesterday to tomorrow (UTC), so today's audits are
    in its period whenever the test runs."""
    today = datetime.now(timezone.utc).date()
    path = folder / "campaigns.toml"
    path.write_text(f"[[campaign]]\nname = {json.dumps(CAMPAIGN)}\n"
                    'rooms = ["Room A", "Room B", "Storage C"]\n'
                    f"from = {today - timedelta(days=1)}\nto = {today + timedelta(days=1)}\n",
                    encoding="utf-8")
    return path


def handheld_config(folder: Path, board: Dashboard, device: str, audit: str) -> Path:
    """A handheld reading standard input, syncing to ``board``'s receiver every half second."""
    folder.mkdir(parents=True)
    path = folder / "stocktaker.toml"
    path.write_text("\n".join([
        "[device]", f'id = "{device}"', "[audit]", 'technician = "ana"', audit,
        "[camera]", 'backend = "none"', "[scanner]", 'backend = "stdin"',
        "[display]", 'backend = "none"', "[feedback]", 'backend = "none"',
        "[register]", 'adapter = "http"', f'url = "{board.url}"',
        f'token_file = "{board.directory / "token"}"', "timeout = 5",
        "[sync]", "interval = 0.5", "[queue]", 'path = "state"']) + "\n", encoding="utf-8")
    return path


@contextmanager
def running_handheld(config: Path) -> Iterator[subprocess.Popen[str]]:
    """``stocktaker run --config FILE`` reading scans from a pipe; stopped by PID on exit."""
    with (config.parent / "out.log").open("w") as out, \
            (config.parent / "err.log").open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config",
                                 str(config)], cwd=config.parent, stdin=subprocess.PIPE,
                                stdout=out, stderr=err, text=True)
        try:
            yield proc
        finally:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            stop_process(proc)


def scan(stdin: IO[str] | None, *lines: str) -> None:
    assert stdin is not None
    stdin.write("".join(line + "\n" for line in lines))
    stdin.flush()


def wait_for(what: str, probe: Callable[[], T | None], within: float = 120.0) -> T:
    """``probe()`` once it is not None; fails after ``within`` seconds (a bound for a
    loaded machine, not a speed check)."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.2)


def rooms(board: Dashboard) -> dict[str, dict[str, Any]]:
    status, _, body = board.viewer("/dashboard/campaign.json" + campaign_query(CAMPAIGN))
    assert status == 200, body
    return {room["room"]: room for room in json.loads(body)["rooms"]}


def test_a_campaigns_rooms_move_on_the_dashboard_before_their_reports_arrive(
        tmp_path: Path) -> None:
    campaigns = campaigns_file(tmp_path)
    with dashboard_receiver(tmp_path / "receiver", options=["--campaigns", str(campaigns)]) \
            as board, ExitStack() as stack:
        by_label = stack.enter_context(running_handheld(handheld_config(
            tmp_path / "hh-label", board, "hh-label", "")))
        by_config = stack.enter_context(running_handheld(handheld_config(
            tmp_path / "hh-config", board, "hh-config",
            f'campaign = {json.dumps(CAMPAIGN)}\nlocation = "Room B"')))
        scan(by_label.stdin, f"CAMPAIGN:{CAMPAIGN}", "LOC:Room A", "IT-001", "IT-002")
        scan(by_config.stdin, "IT-005")

        def under_way() -> dict[str, dict[str, Any]] | None:
            shown = rooms(board)
            done = shown["Room A"]["found"] == 2 and shown["Room B"]["found"] == 1
            return shown if done else None

        shown = wait_for("both rooms' sightings on the dashboard", under_way)
        for room in ("Room A", "Room B"):
            assert shown[room]["status"] == "incomplete" and shown[room]["live"] is True
        assert shown["Storage C"]["status"] == "not_audited"
        assert board.viewer("/dashboard/")[0] == 200
        status, _, body = board.viewer("/dashboard/campaign" + campaign_query(CAMPAIGN))
        page = body.decode("utf-8")
        assert status == 200 and page.count("audit under way") == 2
        assert '<span data-k="audited">0</span> of <span data-k="rooms">3</span>' in page
        assert '<span data-k="room-0-found">2</span>' in page  # Room A, its first room
        devices = page[page.index("<h2>Devices</h2>"):]
        assert "<code>hh-label</code>" in devices and "<code>hh-config</code>" in devices
        assert "Floor 3 &lt;b&gt;Q4&lt;/b&gt;" in page and "<b>Q4" not in page
        stored = json.loads(board.viewer("/dashboard/campaign.json"
                                         + campaign_query(CAMPAIGN))[2])
        assert stored["excluded"] == [] and len(stored["live_sessions"]) == 2

        for proc in (by_label, by_config):  # the rooms end: their reports are sent
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(timeout=120) == 0

        def audited() -> dict[str, dict[str, Any]] | None:
            shown = rooms(board)
            done = all(shown[r]["status"] == "audited" for r in ("Room A", "Room B"))
            return shown if done else None

        shown = wait_for("both rooms audited", audited)
        assert (shown["Room A"]["found"], shown["Room B"]["found"]) == (2, 1)
        assert not shown["Room A"]["live"] and not shown["Room B"]["live"]


def test_a_sighting_record_carries_its_campaign() -> None:
    stamp = Stamp("hh-1", "s-1", "Room A", "ana")
    read = Read(payload=b"IT-001", symbology="UNKNOWN", source="stdin", at=1.0)
    clock = SystemClock()
    tagged = make_sighting(stamp, read, "IT-001", None, clock, verdict="verified",
                           asset_tag="IT-001", campaign=CAMPAIGN)
    assert tagged.to_record()["campaign"] == CAMPAIGN
    assert Sighting.from_record(tagged.to_record()) == tagged
    untagged = make_sighting(stamp, read, "IT-001", None, clock, verdict="verified",
                             asset_tag="IT-001")
    assert "campaign" not in untagged.to_record()  # a kiosk's, or an untagged audit's
    assert Sighting.from_record(untagged.to_record()) == untagged
