"""The rig's own checks must fail when the device is wrong: a broken unit, a service that
never sends READY, a scan lost on its way to the register."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.vm.machine import MachineError
from tests.vm.service import error_lines, unit_state, wait_ready
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


#: A deliberately broken unit: another user, who cannot read the configuration.
BROKEN_UNIT = "[Service]\nUser=nobody\nGroup=nogroup\n"
#: A service that starts and runs but never says READY=1 (not restarted: the start's
#: timeout fails it for good, the check need not wait out the restarts).
NEVER_READY = ("[Service]\nExecStart=\nExecStart=/bin/sleep 600\nTimeoutStartSec=40\n"
               "Restart=no\n")
DROP_IN = "/etc/systemd/system/stocktaker.service.d/zz-test.conf"


@pytest.fixture(scope="module")
def broken_box(tmp_path_factory: pytest.TempPathFactory, vm_image: Path):
    """One machine for both checks: it boots with the broken unit; the never-READY service
    is put in its place afterwards (a boot costs minutes under TCG)."""
    from tests.vm.conftest import Box

    box = Box(vm_image, tmp_path_factory.mktemp("harness"), drop_in=BROKEN_UNIT)
    box.machine.start()
    try:
        box.machine.wait_agent()
        yield box
    finally:
        box.close()


def test_a_broken_unit_fails_the_first_boot_check(broken_box) -> None:
    machine = broken_box.machine
    with pytest.raises(MachineError, match="not READY"):
        wait_ready(machine, timeout=240)
    assert error_lines(machine) != []


def test_a_service_that_never_sends_ready_fails_the_first_boot_check(broken_box) -> None:
    machine = broken_box.machine
    machine.sh(f"cat > {DROP_IN}", stdin=NEVER_READY.encode())
    machine.sh("systemctl daemon-reload && systemctl reset-failed stocktaker.service"
               " && systemctl start --no-block stocktaker.service")
    with pytest.raises(MachineError, match="not READY"):
        wait_ready(machine, timeout=240)
    # it failed for want of READY=1, not for another reason
    assert unit_state(machine)["Result"] == "timeout"
