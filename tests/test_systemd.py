"""The systemd units and udev rules in systemd/: verified and scored by systemd's own tools.

``systemd-analyze verify`` checks that ExecStart= exists, so it runs with ``--root`` on a
throw-away tree holding the units, executables at the installed paths and a copy of this
machine's system units (the targets the units name). Any output fails: verify exits 0 on
unknown keys and bad values and only prints them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNITS = ["stocktaker.service", "stocktaker-sync.service", "stocktaker-sync.timer",
         "stocktaker-firstboot.service", "media-stocktaker.mount"]
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
#: The main service's exposure, as README.md and docs/operations.md state it.
DOCUMENTED_EXPOSURE = "1.6"


def analyze() -> str:
    path = shutil.which("systemd-analyze")
    assert path, "systemd-analyze is missing: ./dev.sh installs systemd"
    return path


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unit-root")
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    system = root / "etc/systemd/system"
    system.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(REPO / "systemd" / unit, system / unit)
        for command in re.findall(r"^Exec\w+=-?(/\S+)", (REPO / "systemd" / unit).read_text(),
                                  re.M):
            executable = root / command.lstrip("/")
            executable.parent.mkdir(parents=True, exist_ok=True)
            executable.write_text("#!/bin/sh\n")
            executable.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_verifies_without_a_word(unit_root: Path, unit: str) -> None:
    run = subprocess.run([analyze(), "verify", "--man=no", f"--root={unit_root}",
                          f"/etc/systemd/system/{unit}"], capture_output=True, text=True,
                         cwd=unit_root, timeout=60)
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


def test_verify_would_catch_a_broken_unit(unit_root: Path) -> None:
    broken = unit_root / "etc/systemd/system/broken.service"
    text = (REPO / "systemd/stocktaker.service").read_text()
    broken.write_text(text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    run = subprocess.run([analyze(), "verify", "--man=no", f"--root={unit_root}",
                          "/etc/systemd/system/broken.service"], capture_output=True, text=True,
                         cwd=unit_root, timeout=60)
    broken.unlink()
    assert "Unknown key" in run.stderr


def exposure(unit: str) -> float:
    run = subprocess.run([analyze(), "security", "--offline=true", "--no-pager",
                          str(REPO / "systemd" / unit)], capture_output=True, text=True,
                         timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", run.stdout)
    assert match, run.stdout + run.stderr
    return float(match[1])


def test_the_main_service_is_hardened_and_the_figure_is_documented() -> None:
    score = exposure("stocktaker.service")
    assert score <= 4.0
    assert f"{score:.1f}" == DOCUMENTED_EXPOSURE
    for doc in ("README.md", "docs/operations.md"):
        assert f"exposure {DOCUMENTED_EXPOSURE}" in (REPO / doc).read_text(), doc


def test_the_sync_service_is_hardened_too() -> None:
    assert exposure("stocktaker-sync.service") <= 4.0


def test_the_main_service_watchdog_notify_and_device_access() -> None:
    text = (REPO / "systemd/stocktaker.service").read_text()
    settings = re.findall(r"^(\w+)=(.*)$", text, re.M)
    single = dict(settings)
    assert single["Type"] == "notify" and single["NotifyAccess"] == "main"
    assert int(single["WatchdogSec"]) > 0 and single["Restart"] == "on-failure"
    assert "StartLimitBurst" in single and single["DevicePolicy"] == "closed"
    assert "PrivateDevices" not in single and single["ProtectSystem"] == "strict"
    allowed = {value.split()[0] for key, value in settings if key == "DeviceAllow"}
    assert {"char-input", "char-video4linux", "char-i2c", "char-gpiochip", "char-spi",
            "char-ttyUSB", "char-ttyACM"} <= allowed
    groups = single["SupplementaryGroups"].split()
    assert {"input", "video", "i2c", "gpio"} <= set(groups)
    assert "--config /etc/stocktaker/config.toml" in single["ExecStart"]


# The udev rules: the syntax udev accepts, checked line by line (udevadm verify exists
# only from systemd 254; where it is installed it checks the file as well).
_UDEV_KEY = re.compile(r'\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*')
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTRS", "ENV", "DRIVERS", "SUBSYSTEMS"}
_ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "ENV", "TAG", "OWNER"}


def test_the_udev_rules_parse_and_name_the_devices() -> None:
    rules = (REPO / "systemd/99-stocktaker.rules").read_text()
    links = set()
    for number, line in enumerate(rules.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        position, pairs = 0, []
        while position < len(line):
            match = _UDEV_KEY.match(line, position)
            assert match, f"line {number}: cannot parse from {line[position:]!r}"
            pairs.append(match.groups())
            position = match.end()
            if position < len(line):
                assert line[position] == ",", f"line {number}: expected ',' at {position}"
                position += 1
        for key, _, op, value in pairs:
            allowed = _MATCH_KEYS if op in ("==", "!=") else _ASSIGN_KEYS
            assert key in allowed, f"line {number}: {key}{op} is not a valid use"
            if key == "SYMLINK":
                links.add(value)
        assert any(op == "==" for _, _, op, _ in pairs), f"line {number}: matches nothing"
    assert {"stocktaker/scanner", "stocktaker/badge", "stocktaker/rfid"} <= links
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in rules
    udevadm = shutil.which("udevadm")
    if udevadm and "verify" in subprocess.run([udevadm, "--help"], capture_output=True,
                                              text=True).stdout:
        run = subprocess.run([udevadm, "verify", str(REPO / "systemd/99-stocktaker.rules")],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_stick_is_checked_before_each_mount() -> None:
    """A stick pulled in the middle of a write came back with a damaged FAT, mounted as it
    was, and the kernel made it read-only at the first write: nothing reached it again
    (found by tests/vm/test_stick_pull.py). Each mount now waits for fsck of the device."""
    text = (REPO / "systemd/media-stocktaker.mount").read_text()
    what = re.search(r"^What=(\S+)$", text, re.M)
    assert what is not None
    # the fsck instance's name is the device path, escaped as systemd-escape --path does
    escaped = what.group(1).strip("/").replace("-", "\\x2d").replace("/", "-")
    fsck = f"systemd-fsck@{escaped}.service"
    assert re.search(rf"^Requires=.*{re.escape(fsck)}", text, re.M)
    assert re.search(rf"^After=.*{re.escape(fsck)}", text, re.M)
