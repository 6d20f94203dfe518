"""First boot from the boot partition: the settings applied, the service READY by itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.vm.service import error_lines, exposure, wait_ready

README = Path(__file__).resolve().parents[2] / "README.md"

BOOT_FILE = """\
[device]
id = "box-07"

[register]
adapter = "files"
token = "first-boot-secret"
"""


def readme_exposure() -> float:
    found = re.search(r"of the running unit in the box gives exposure ([0-9.]+)",
                      README.read_text())
    assert found, "README states the running unit's exposure"
    return float(found.group(1))


@pytest.fixture(scope="module")
def first_boot(tmp_path_factory: pytest.TempPathFactory, vm_image: Path):
    from tests.vm.conftest import Box

    box = Box(vm_image, tmp_path_factory.mktemp("first-boot"))
    box.disk.boot_file("stocktaker.toml", BOOT_FILE)
    box.machine.start()
    try:
        box.machine.wait_agent()
        state = wait_ready(box.machine)
        yield box, state
    finally:
        box.close()


def test_the_service_is_ready_by_itself(first_boot) -> None:
    box, state = first_boot
    assert state["ActiveState"] == "active" and state["NRestarts"] == "0"
    assert state["StatusText"], "the service sends a STATUS= line"
    _, status = box.machine.sh("systemctl status --no-pager stocktaker.service", check=False)
    assert f"Status: \"{state['StatusText']}\"" in status


def test_the_boot_partition_settings_are_applied_and_the_secret_removed(first_boot) -> None:
    box, _ = first_boot
    _, config = box.machine.sh("cat /etc/stocktaker/config.toml")
    assert 'id = "box-07"' in config
    _, token = box.machine.sh("stat -c '%U %a' /etc/stocktaker/token && cat /etc/stocktaker/token")
    assert token.splitlines() == ["stocktaker 600", "first-boot-secret"]
    _, listing = box.machine.sh("ls /boot/firmware")
    assert "stocktaker.toml" not in listing.split()
    assert "stocktaker-applied.txt" in listing.split()


def test_the_running_unit_is_as_exposed_as_readme_says(first_boot) -> None:
    box, _ = first_boot
    assert exposure(box.machine) == readme_exposure()


def test_no_error_lines_in_the_boot_journal(first_boot) -> None:
    box, _ = first_boot
    assert error_lines(box.machine) == []


def test_systemd_finds_the_folders_as_the_units_declare_them(first_boot) -> None:
    """ConfigurationDirectory= once said 0755 where the installer makes 0750: systemd warned
    at every start."""
    box, _ = first_boot
    _, journal = box.machine.sh("journalctl -b --no-pager -o cat -u stocktaker.service",
                                check=False)
    assert "mode is different" not in journal
