"""``stocktaker doctor``: each part checked on a prepared system tree, with the fix said."""

from __future__ import annotations

import grp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.config import (
    ButtonsConfig,
    CameraConfig,
    CardsConfig,
    Config,
    DisplayConfig,
    FeedbackConfig,
    QueueConfig,
    RegisterConfig,
    RfidConfig,
    ScannerConfig,
)
from firmware.doctor import System, examine, report_lines


def make_tree(root: Path) -> None:
    """A Pi with a scanner on event3 (by-id link), a serial reader, I2C bus 1, GPIO."""
    sysfs = root / "sys/class/input/event3/device"
    (sysfs / "id").mkdir(parents=True)
    (sysfs / "name").write_text("Symbol Bar Code Scanner\n")
    (sysfs / "id/vendor").write_text("05e0\n")
    (sysfs / "id/product").write_text("1200\n")
    (root / "dev/input/by-id").mkdir(parents=True)
    (root / "dev/input/event3").touch()
    os.symlink("../event3", root / "dev/input/by-id/usb-Symbol_Scanner-event-kbd")
    for node in ("dev/ttyUSB0", "dev/i2c-1", "dev/gpiochip0", "dev/video0"):
        (root / node).touch()
    (root / "proc").mkdir()


def hold(root: Path, pid: int, comm: str, node: str) -> None:
    """Process ``pid`` named ``comm`` has ``node`` open."""
    fd = root / "proc" / str(pid) / "fd"
    fd.mkdir(parents=True)
    (root / "proc" / str(pid) / "comm").write_text(comm + "\n")
    os.symlink(node, fd / "5")  # as the kernel shows it: the path on the device


def config(tmp_path: Path, **sections) -> Config:
    parts = {"queue": QueueConfig(path=tmp_path / "state"),
             "register": RegisterConfig(manifest=tmp_path / "expected.csv"),
             "scanner": ScannerConfig(backend="none"), "display": DisplayConfig(backend="none"),
             "feedback": FeedbackConfig(backend="none"), "buttons": ButtonsConfig(backend="none")}
    return Config(**{**parts, **sections})


def system(root: Path, denied: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> System:
    return System(root, access=lambda path, mode: not any(path.endswith(d) for d in denied),
                  user="stocktaker", module_available=lambda name: name not in missing)


def by_part(findings):
    return {f.part: f for f in findings}


@pytest.mark.parametrize("spec", ["05e0:1200", "Symbol Bar Code Scanner",
                                  "/dev/input/by-id/usb-Symbol_Scanner-event-kbd"])
def test_a_scanner_is_found_by_path_ids_or_name(tmp_path: Path, spec: str) -> None:
    make_tree(tmp_path / "root")
    (tmp_path / "expected.csv").write_text("asset_tag,location\n")
    found = examine(config(tmp_path, scanner=ScannerConfig(backend="evdev", device=spec)),
                    system(tmp_path / "root"))
    scanner = by_part(found)["scanner"]
    assert scanner.ok and scanner.found == "/dev/input/event3, free to grab"


def test_each_problem_names_its_fix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(root)
    hold(root, 4242, "barcode-server", "/dev/input/event3")
    hold(root, 733, "ModemManager", "/dev/ttyUSB0")
    found = by_part(examine(config(
        tmp_path,
        scanner=ScannerConfig(backend="evdev", device="05e0:1200"),
        cards=CardsConfig(backend="evdev", device="dead:beef"),
        rfid=RfidConfig(backend="serial", port="/dev/ttyUSB0"),
        display=DisplayConfig(backend="oled", interface="spi"),
        feedback=FeedbackConfig(backend="gpio"),
        camera=CameraConfig(backend="picamera2")),
        system(root, missing=("picamera2", "lgpio"))))
    assert "open in PID 4242 (barcode-server)" in found["scanner"].found
    assert "not found; input devices: Symbol Bar Code Scanner (05e0:1200)" in found["cards"].found
    assert "ModemManager" in found["rfid"].fix
    assert found["display"].found == "SPI is off" and "do_spi 0" in found["display"].fix
    assert "python3-lgpio" in found["feedback"].fix
    assert "python3-picamera2" in found["camera"].fix
    assert "plug it in" in found["inventory"].fix  # no expected.csv
    lines = list(report_lines(list(found.values())))
    assert lines[-1] == f"{sum(not f.ok for f in found.values())} problem(s) to fix"


def test_no_permission_says_which_group_to_join(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(root)
    found = by_part(examine(config(
        tmp_path, scanner=ScannerConfig(backend="evdev", device="05e0:1200"),
        display=DisplayConfig(backend="oled")), system(root, denied=("event3", "i2c-1"))))
    assert found["scanner"].found == "/dev/input/event3: permission denied"
    assert "sudo usermod -aG" in found["scanner"].fix and "stocktaker" in found["scanner"].fix
    assert found["display"].found == "permission denied"


def test_a_node_of_roots_group_is_given_by_a_udev_rule_not_by_joining_root(
        tmp_path: Path) -> None:
    """Debian leaves /dev/gpiochip* to root:root: the fix is a udev rule for the gpio
    group, never ``usermod -aG root`` (the files here are root's group when the tests run
    as root; another owner group is named as it is)."""
    root = tmp_path / "root"
    make_tree(root)
    found = by_part(examine(config(
        tmp_path, buttons=ButtonsConfig(backend="gpio"),
        rfid=RfidConfig(backend="serial", port="/dev/ttyUSB0"),
        display=DisplayConfig(backend="oled"), camera=CameraConfig(backend="v4l2")),
        system(root, denied=("gpiochip0", "ttyUSB0", "i2c-1", "video0"))))
    owner = grp.getgrgid((root / "dev/gpiochip0").stat().st_gid).gr_name
    for part, group in (("buttons", "gpio"), ("rfid", "dialout"), ("display", "i2c"),
                        ("camera", "video")):
        assert found[part].found.endswith("permission denied"), found[part]
        assert "-aG root" not in found[part].fix
        if owner == "root":
            assert "udev rule" in found[part].fix and f"GROUP=\"{group}\"" in found[part].fix
        else:
            assert found[part].fix == f"sudo usermod -aG {owner} stocktaker"


def test_gpiozeros_mock_pins_need_no_chip(tmp_path: Path) -> None:
    """GPIOZERO_PIN_FACTORY=mock in the device's environment: gpiozero drives no real pin,
    so no chip, permission or pin library is missing."""
    root = tmp_path / "root"
    make_tree(root)
    (root / "dev/gpiochip0").unlink()
    settings = config(tmp_path, buttons=ButtonsConfig(backend="gpio"),
                      feedback=FeedbackConfig(backend="gpio"))
    mock = System(root, access=lambda path, mode: True, user="stocktaker",
                  module_available=lambda name: name != "lgpio",
                  environ={"GPIOZERO_PIN_FACTORY": "mock"})
    found = by_part(examine(settings, mock))
    assert found["buttons"].ok and found["feedback"].ok
    assert "mock pins" in found["buttons"].found
    real = System(root, access=lambda path, mode: True, user="stocktaker", environ={})
    assert not by_part(examine(settings, real))["buttons"].ok


def test_i2c_switched_off_and_a_missing_evdev(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(root)
    (root / "dev/i2c-1").unlink()
    found = by_part(examine(config(
        tmp_path, scanner=ScannerConfig(backend="evdev", device="05e0:1200"),
        display=DisplayConfig(backend="oled")), system(root, missing=("evdev",))))
    assert found["display"].found == "I2C is off" and "do_i2c 0" in found["display"].fix
    assert found["scanner"].fix.startswith("pip install evdev")


def test_a_device_name_from_outside_is_escaped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(root)
    (root / "sys/class/input/event3/device/name").write_text("Evil\x1b[2J\n")
    found = examine(config(tmp_path, scanner=ScannerConfig(backend="evdev", device="ab:cd")),
                    system(root))
    text = "\n".join(report_lines(found))
    assert "\x1b" not in text and "Evil\\x1b[2J" in text


def test_listen_prints_what_each_reader_sends_decoded(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[scanner]\nbackend = "stdin"\n[cards]\n'
                                     '[register]\nmanifest = "x.csv"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "firmware", "doctor", "--listen", "--config",
                           "c.toml"], input=b"IT-1\nLOC:Room 1\n\x1bOQ\nAB\x1b[2J\n",
                          capture_output=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "listening to stdin; Ctrl-C to stop"
    assert lines[1:] == [
        "stdin    UNKNOWN    IT-1  -> asset tag IT-1 (plain)",
        "stdin    UNKNOWN    LOC:Room 1  -> location Room 1 (location)",
        "stdin    button     next",
        "stdin    UNKNOWN    AB\\x1b[2J  -> rejected: control character U+001B in label"]
    assert not (tmp_path / "state").exists()  # nothing saved
