"""The arm64 image booted once: every dependency installed on aarch64, the service READY,
``stocktaker --version``, ``doctor`` and ``demo`` run to their end.

Marked ``vm_arm64`` and run on its own (README, "The device in a box"):

    sudo STOCKTAKER_VM=1 .venv/bin/python -m pytest -s -m vm_arm64 tests/vm/test_arm64.py

The image is built (or taken from the cache) by ``images/vm/build.py --arch arm64``; the
machine is ``qemu-system-aarch64 -M virt`` under TCG, so everything here is slow. The
figures (boot, READY, each command's time) are printed (``-s``) for README.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware import __version__
from tests.vm.machine import Machine
from tests.vm.service import error_lines, wait_ready

pytestmark = pytest.mark.vm_arm64

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("qemu-system-aarch64", "debootstrap", "mcopy", "mkfs.vfat", "debugfs", "sfdisk",
         "resize2fs", "dpkg-deb")
STOCKTAKER = "/opt/stocktaker/venv/bin/stocktaker"
PYTHON = "/opt/stocktaker/venv/bin/python"
#: No second serial port on QEMU's virt machine: the feedback lines stay in the journal.
DROP_IN = """\
# The box's parts on arm64: mock GPIO pins; feedback lines in the journal.
[Service]
Environment=GPIOZERO_PIN_FACTORY=mock
"""
BOOT_FILE = """\
[device]
id = "box-arm64"
"""
#: Every dependency by the module it is imported as, with a call that needs its compiled
#: part (or the system library it loads) to work.
IMPORTS = """\
import json, platform, sys
import numpy, PIL.Image, segno, zxingcpp, evdev, evdev.ecodes, tinydb, requests, serial
import luma.core, luma.oled.device, gpiozero, biip, barcode
from pyzbar import pyzbar
from gpiozero.pins.mock import MockFactory

modules = numpy.array([list(row) for row in segno.make_qr("IT-004512").matrix], numpy.uint8)
pixels = numpy.kron(numpy.pad(1 - modules, 4, constant_values=1) * 255,
                    numpy.ones((8, 8), numpy.uint8)).astype(numpy.uint8)
image = PIL.Image.fromarray(pixels, "L")
zbar = [r.data.decode() for r in pyzbar.decode(image)]
zxing = [r.text for r in zxingcpp.read_barcodes(pixels)]
led = gpiozero.LED(17, pin_factory=MockFactory())
led.on()
found = {
    "machine": platform.machine(), "python": platform.python_version(),
    "zbar": zbar, "zxing": zxing, "numpy": numpy.__version__, "mean": float(pixels.mean()),
    "pillow": PIL.__version__, "evdev_keys": len(evdev.ecodes.KEY), "led": led.value,
    "evdev_ext": evdev._input.__file__, "gtin": biip.parse("96385074").gtin.value,
    "tinydb": tinydb.__version__, "requests": requests.__version__,
}
print(json.dumps(found))
"""


def arm64_image_folder() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the arm64 image is built as root (debootstrap, chroot)", pytrace=False)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the arm64 boot needs {', '.join(missing)} (apt-get install "
                    "qemu-system-arm debootstrap mtools dosfstools fdisk)", pytrace=False)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(REPO / "images/vm/build.py"), "--arch",
                           "arm64"], capture_output=True, text=True, timeout=4 * 3600)
    if done.returncode != 0:
        pytest.fail(f"the arm64 image build failed:\n{done.stderr[-3000:]}", pytrace=False)
    print(f"\narm64 image: {time.monotonic() - started:.1f} s to build or find")
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    """The arm64 image's first boot, up to the service READY."""
    from tests.vm.conftest import Box

    image = arm64_image_folder()
    box = Box(image, tmp_path_factory.mktemp("arm64"))
    box.disk.put("/etc/systemd/system/stocktaker.service.d/box.conf", DROP_IN, 0o644)
    box.disk.boot_file("stocktaker.toml", BOOT_FILE)
    started = time.monotonic()
    box.machine.start()
    try:
        box.machine.wait_agent(timeout=1800.0)
        agent = time.monotonic() - started
        wait_ready(box.machine, timeout=1800.0)
        ready = time.monotonic() - started
        print(f"arm64 first boot (TCG): guest agent after {agent:.0f} s, "
              f"stocktaker.service READY after {ready:.0f} s")
        yield box.machine
    finally:
        box.close()


def timed(machine: Machine, script: str, stdin: bytes | None = None) -> tuple[int, str]:
    started = time.monotonic()
    code, out = machine.sh(script, timeout=3600.0, check=False, stdin=stdin)
    print(f"\n$ {script}\n(exit {code}, {time.monotonic() - started:.1f} s)\n{out.rstrip()}")
    return code, out


def test_the_machine_is_arm64_and_the_service_ready_by_itself(arm64: Machine) -> None:
    _, machine = arm64.sh("uname -m")
    assert machine.strip() == "aarch64"
    _, config = arm64.sh("cat /etc/stocktaker/config.toml")
    assert 'id = "box-arm64"' in config, "the boot partition's settings were applied"
    assert error_lines(arm64) == []


def test_version(arm64: Machine) -> None:
    code, out = timed(arm64, f"{STOCKTAKER} --version")
    assert (code, out.strip()) == (0, f"stocktaker {__version__}")


def test_every_dependency_imports_and_works_on_aarch64(arm64: Machine) -> None:
    code, out = timed(arm64, f"{PYTHON} -", stdin=IMPORTS.encode())
    assert code == 0, out
    found = json.loads(out.strip().splitlines()[-1])
    assert found["machine"] == "aarch64"
    assert found["zbar"] == ["IT-004512"], "pyzbar found libzbar0 and read the label"
    assert found["zxing"] == ["IT-004512"], "zxing-cpp read the label"
    assert found["led"] == 1 and found["gtin"] == "96385074"
    assert found["evdev_ext"].endswith("aarch64-linux-gnu.so"), "evdev built in the guest"


def test_the_gpio_chip_is_the_gpio_groups(arm64: Machine) -> None:
    """The virt machine's GPIO controller (PL061): Debian's udev leaves /dev/gpiochip0 to
    root alone; the stocktaker rule gives it to the gpio group the service is in."""
    _, found = arm64.sh("stat -c '%G %a' /dev/gpiochip0")
    assert found.split() == ["gpio", "660"]


def test_doctor(arm64: Machine) -> None:
    """doctor as the service's user, the service stopped (it grabs the scanner); the pins
    are gpiozero's mock ones, as the service's (Debian has no lgpio for gpiozero)."""
    arm64.sh("systemctl stop stocktaker.service", timeout=600.0)
    code, out = timed(arm64, "runuser -u stocktaker -- env GPIOZERO_PIN_FACTORY=mock "
                             f"{STOCKTAKER} doctor --config /etc/stocktaker/config.toml")
    assert "Traceback" not in out
    assert code == 0, out


def test_demo_gives_the_same_report_as_here(arm64: Machine, tmp_path: Path) -> None:
    code, out = timed(arm64, f"cd /tmp && {STOCKTAKER} demo --out /tmp/demo-out")
    assert code == 0, out
    here = subprocess.run([sys.executable, "-m", "firmware.cli", "demo", "--out",
                           str(tmp_path / "demo")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert here.returncode == 0, here.stderr

    def verdicts(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines()
                if re.match(r"\s*(verified \d+ of|mislocated \d+)", line)]

    assert verdicts(out) and verdicts(out) == verdicts(here.stdout)
