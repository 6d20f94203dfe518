"""The service's life on one booted device, a room open throughout: the scanner unplugged
and plugged back, the USB stick pulled and put back, the loop frozen (the watchdog restarts
it), ``systemctl stop`` and a clean reboot — and at the end one report holding every scan.

The scenarios run in this order on one machine (a boot costs minutes under TCG); each
starts from a READY service and leaves one.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.vm.audit import (NEXT_ROOM, ROOM, enter_room, feedback_after, make_room,
                            read_epc, reports, scan, sightings)
from tests.vm.box import stick_files
from tests.vm.machine import MachineError
from tests.vm.service import error_lines, unit_state, wait_ready

#: what each scenario measured, for README's figures (printed with -s)
FIGURES: dict[str, float] = {}


class Walk:
    """The box, the room and every tag whose feedback was seen."""

    def __init__(self, box, room) -> None:
        self.box = box
        self.machine = box.machine
        self.room = room
        self.next = 0
        self.acknowledged: list[str] = []

    def scan_next(self) -> str:
        tag = self.room.tags[self.next]
        self.next += 1
        line = scan(self.machine, tag)
        assert line.startswith("[feedback] verified"), (tag, line)
        self.acknowledged.append(tag)
        return line


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, vm_image: Path):
    from tests.vm.conftest import Box

    folder = tmp_path_factory.mktemp("life")
    room = make_room(tags=30, epcs=2)
    room.write_manifest(folder / "expected.csv")
    box = Box(vm_image, folder, manifest=folder / "expected.csv")
    box.machine.start()
    try:
        box.machine.wait_agent()
        started = time.monotonic()
        wait_ready(box.machine)
        FIGURES["boot to READY (s, from agent)"] = time.monotonic() - started
        enter_room(box.machine, ROOM)
        walk = Walk(box, room)
        walk.scan_next()
        yield walk
    finally:
        box.close()


def test_the_scanner_unplugged_and_plugged_back(walk: Walk) -> None:
    machine = walk.machine
    before = unit_state(machine)
    start = machine.feedback.count()
    machine.unplug("scanner")
    _, line = feedback_after(machine, start)
    assert line.startswith("[feedback] reader_lost"), line
    time.sleep(2.0)
    machine.plug_scanner()
    # the device is found again by its by-id name: scans go on, no restart
    deadline = time.monotonic() + 120
    while True:
        _, text = machine.sh("ls /dev/input/by-id/", check=False)
        if "SCANNER01" in text or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    time.sleep(3.0)
    walk.scan_next()
    after = unit_state(machine)
    assert (after["MainPID"], after["NRestarts"]) == (before["MainPID"], before["NRestarts"])


def test_the_stick_pulled_and_put_back(walk: Walk) -> None:
    machine = walk.machine
    machine.unplug("stick")
    for _ in range(3):  # scans while the register is away: queued
        walk.scan_next()
    time.sleep(2.0)
    machine.plug_stick()
    walk.scan_next()
    assert unit_state(machine)["NRestarts"] == "0"


def test_a_frozen_loop_is_killed_by_the_watchdog_and_the_room_resumes(walk: Walk) -> None:
    machine = walk.machine
    before = unit_state(machine)
    started = time.monotonic()
    machine.sh(f"kill -STOP {before['MainPID']}")
    state = wait_ready(machine, restarts=int(before["NRestarts"]) + 1,
                       after_pid=before["MainPID"])
    FIGURES["SIGSTOP to READY again (s)"] = time.monotonic() - started
    _, journal = machine.sh("journalctl -b --no-pager -o cat -u stocktaker.service", check=False)
    assert "Watchdog timeout" in journal
    assert ROOM in state["StatusText"]
    walk.scan_next()


def test_stop_and_a_clean_reboot_keep_the_room(walk: Walk) -> None:
    machine = walk.machine
    _, boot_id = machine.sh("cat /proc/sys/kernel/random/boot_id")
    machine.sh("systemctl stop stocktaker.service")
    machine.reboot()
    deadline = time.monotonic() + 600
    while True:  # the agent may answer once more before the old system is down
        time.sleep(5.0)
        try:
            machine.wait_agent()
            code, now = machine.sh("cat /proc/sys/kernel/random/boot_id", check=False)
        except (OSError, MachineError):
            machine.agent.close()
            continue
        if code == 0 and now != boot_id:
            break
        assert time.monotonic() < deadline, "the machine did not reboot"
    state = wait_ready(machine)
    assert ROOM in state["StatusText"]
    walk.scan_next()


def test_at_the_end_one_report_holds_every_acknowledged_scan(walk: Walk) -> None:
    machine = walk.machine
    for epc in walk.room.epcs:
        assert read_epc(machine, epc).startswith("[feedback] verified")
    assert "[feedback] done" in enter_room(machine, NEXT_ROOM)
    errors = error_lines(machine)
    machine.sh("systemctl stop stocktaker.service && sync", check=False)
    machine.power_off()
    files = stick_files(walk.box.stick)
    done = [r for r in reports(files) if r.get("location") == ROOM]
    assert len(done) == 1
    seen = [s["asset_tag"] for s in sightings(files) if s.get("location") == ROOM]
    assert sorted(seen) == sorted(walk.acknowledged + [str(r) for r in walk.room.references])
    assert errors == []
    print("figures:", FIGURES)
