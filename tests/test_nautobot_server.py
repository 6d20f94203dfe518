"""The test Nautobot's own contract: loopback only, and nothing left running after stop.

Also the ``stocktaker bench nautobot`` figure, printed: 200 sightings by default,
``STOCKTAKER_NAUTOBOT_SIGHTINGS=1000`` for the README's figure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.bench_nautobot import bench_nautobot
from tests.nautobot import server as nautobot
from tests.nautobot.server import NautobotServer, SetupError

pytestmark = pytest.mark.nautobot

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "nautobot" / "server.py"
SIGHTINGS = int(os.environ.get("STOCKTAKER_NAUTOBOT_SIGHTINGS", "200"))
"""Sightings of the bench run (the README's figure: 1000, about 8 minutes on 2 cores)."""


def alive(pid: int) -> bool:
    return nautobot.running(pid)


def listening_addresses() -> set[tuple[str, int]]:
    """(address, port) of every listening IPv4 TCP socket, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":
            address, port = local.split(":")
            octets = [str(int(address[i:i + 2], 16)) for i in range(6, -1, -2)]
            found.add((".".join(octets), int(port, 16)))
    return found


def test_every_server_listens_on_loopback_only(nautobot_server: NautobotServer) -> None:
    env = nautobot_server._env
    ports = {int(env["NAUTOBOT_DB_PORT"]), int(env["NAUTOBOT_REDIS_PORT"]),
             nautobot_server.web_port}
    listening = listening_addresses()
    for port in ports:
        assert {address for address, p in listening if p == port} == {"127.0.0.1"}, port


def test_the_servers_run_as_children_recorded_by_pid(nautobot_server: NautobotServer) -> None:
    names = [child.name for child in nautobot_server.children]
    assert names == ["postgres", "redis", "nautobot"]
    assert all(alive(pid) for pid in nautobot_server.pids)


def test_start_and_stop_by_hand_leave_nothing_running() -> None:
    started = subprocess.run([sys.executable, str(SCRIPT), "start"], capture_output=True,
                             text=True, timeout=900)
    assert started.returncode == 0, started.stderr
    state = json.loads(nautobot.STATE.read_text())
    pids = [p["pid"] for p in state["processes"]]
    assert [p["name"] for p in state["processes"]] == ["postgres", "redis", "nautobot"]
    assert all(alive(pid) for pid in pids)
    assert started.stdout.startswith(f"url {state['url']}\ntoken_file ")

    stopped = subprocess.run([sys.executable, str(SCRIPT), "stop"], capture_output=True,
                             text=True, timeout=120)

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.count("stopped") == 3, stopped.stdout
    assert not any(alive(pid) for pid in pids)
    assert not nautobot.STATE.exists() and not Path(state["run_dir"]).exists()


def test_sigterm_to_the_owner_stops_every_server_it_started(tmp_path: Path) -> None:
    code = ("import json, sys, time\n"
            "from tests.nautobot.server import NautobotServer\n"
            "server = NautobotServer().start()\n"
            "print(json.dumps(server.pids), flush=True)\n"
            "time.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert owner.stdout is not None
        pids = json.loads(owner.stdout.readline())
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
        owner.send_signal(signal.SIGTERM)
        owner.wait(timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    assert owner.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


def test_a_failed_step_is_an_error_naming_the_step_and_its_output() -> None:
    with pytest.raises(SetupError, match=r"pip install nautobot failed \(exit 1\):\nno network"):
        nautobot._run([sys.executable, "-c", "import sys; print('no network'); sys.exit(1)"],
                      "pip install nautobot")


def test_bench_sync_to_nautobot(nautobot_server: NautobotServer,
                                capsys: pytest.CaptureFixture[str]) -> None:
    count = SIGHTINGS
    lines = bench_nautobot(nautobot_server.url, nautobot_server.token_file, sightings=count)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print("nautobot set-up: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds
                                               in nautobot_server.timings.items()))
    assert f"notes made {count} (one per sighting: True)" in lines[2]
    assert "50 of 50 answered duplicate" in lines[2]
