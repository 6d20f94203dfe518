"""The rig's own checks must fail when the device is wrong: a broken unit, a service that
never sends READY, a scan lost on its way to the register."""

from __future__ import annotations

import json

import pytest

from tests.vm.machine import MachineError
from tests.vm.service import error_lines, wait_ready
from tests.vm.test_power_cuts import check_outcome


def sighting(tag: str) -> bytes:
    return json.dumps({"sighting_id": f"id-{tag}", "asset_tag": tag}).encode()


def report(*tags: str) -> bytes:
    return json.dumps({"location": "Storage A",
                       "scans": [{"asset_tag": tag} for tag in tags]}).encode()


def test_a_lost_scan_fails_the_power_cut_check() -> None:
    whole = {"sightings-box.jsonl": sighting("A") + b"\n" + sighting("B") + b"\n",
             "report-1.json": report("A", "B")}
    assert check_outcome(["A", "B"], [], whole) == []
    lost = {"sightings-box.jsonl": sighting("A") + b"\n", "report-1.json": report("A", "B")}
    assert check_outcome(["A", "B"], [], lost) == ["B: 0 at the register, 1 in reports"]
    unreported = {**whole, "report-1.json": report("A")}
    assert check_outcome(["A", "B"], [], unreported) == ["B: 1 at the register, 0 in reports"]
    doubled = {**whole, "report-2.json": report("B")}
    assert check_outcome(["A", "B"], [], doubled) == ["B: 1 at the register, 2 in reports"]
    torn = {**whole, "report-2.json": b'{"location": "Sto'}
    assert check_outcome(["A", "B"], [], torn) == [
        "torn: report-2.json: not JSON (17 bytes: b'{\"location\": \"Sto')"]
    damaged = {**whole, "sightings-box-20261207-damaged.jsonl": b""}
    assert check_outcome(["A", "B"], [], damaged) == [
        "set aside: sightings-box-20261207-damaged.jsonl"]


@pytest.mark.parametrize("drop_in", [
    # a service that starts and runs but never says READY=1
    "[Service]\nExecStart=\nExecStart=/bin/sleep 600\nTimeoutStartSec=40\n",
    # a deliberately broken unit: another user, who cannot read the configuration
    "[Service]\nUser=nobody\nGroup=nogroup\n",
], ids=["never-ready", "broken-unit"])
def test_a_service_that_is_not_ready_fails_the_first_boot_check(make_box, drop_in: str) -> None:
    box = make_box(drop_in=drop_in)
    box.machine.start()
    box.machine.wait_agent()
    with pytest.raises(MachineError, match="not READY"):
        wait_ready(box.machine, timeout=240)
    if "User=" in drop_in:
        assert error_lines(box.machine) != []
