"""The device-in-a-box rig: fixtures that build (or reuse) the image and boot machines.

The rig's tests are marked ``vm``. They need root (the image build), qemu-system-x86_64,
mmdebstrap, mtools, dosfstools and e2fsprogs; a missing tool fails them with the reason.
They are collected only with ``STOCKTAKER_VM=1`` (see README, "The device in a box").

Two machines can run at once, one per pytest-xdist worker (``-n 2 --dist loadfile
--no-loadscope-reorder``, as ``./dev.sh test`` runs them): the files are collected
longest first (:data:`LONGEST_FIRST`), so that the last to start are the short ones.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm.box import Disk, make_stick
from tests.vm.machine import Machine

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("qemu-system-x86_64", "mmdebstrap", "mcopy", "mkfs.vfat", "debugfs", "sfdisk")
#: The rig's files by how long they take (README's figures), longest first; a file not
#: named runs after these.
LONGEST_FIRST = ["test_power_cuts.py", "test_register_net.py", "test_stick_pull.py",
                 "test_display.py", "test_camera.py", "test_service_life.py",
                 "test_audit.py", "test_harness.py", "test_first_boot.py",
                 "test_stick_durability.py", "test_sd_card.py"]


def _rank(item: pytest.Item) -> int:
    name = Path(str(item.fspath)).name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    arm64 = "vm_arm64" in (config.getoption("markexpr") or "")
    for item in items:
        if item.get_closest_marker("vm_arm64") is not None:
            # the arm64 boot (an hour cold, TCG) runs on its own, not in the vm stage
            if not arm64:
                item.add_marker(pytest.mark.skip(reason="the arm64 boot runs on its own: "
                                                 "-m vm_arm64 (README, The device in a box)"))
        elif "tests/vm/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.vm)
    # the rig's tests, in the places they hold among the items, longest file first (a
    # stable sort: a file's tests keep their order)
    places = [n for n, item in enumerate(items) if item.get_closest_marker("vm") is not None]
    ranked = sorted((items[n] for n in places), key=_rank)
    for n, item in zip(places, ranked):
        items[n] = item


@pytest.fixture(scope="session")
def vm_image() -> Path:
    """The built amd64 image's folder (built once, then from the cache);
    ``STOCKTAKER_VM_IMAGE``: a folder build.py printed, used as it is."""
    if os.environ.get("STOCKTAKER_VM_IMAGE"):
        return Path(os.environ["STOCKTAKER_VM_IMAGE"])
    if os.geteuid() != 0:
        pytest.fail("the VM rig builds its image as root (mmdebstrap, chroot)", pytrace=False)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the VM rig needs {', '.join(missing)} (apt-get install qemu-system-x86"
                    " mmdebstrap mtools dosfstools fdisk)", pytrace=False)
    # one build at a time: with two workers, the second waits and takes the first's image
    lock = Path(tempfile.gettempdir()) / "stocktaker-vm-build.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = subprocess.run([sys.executable, str(REPO / "images/vm/build.py")],
                              capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        pytest.fail(f"the image build failed:\n{done.stderr[-3000:]}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


class Box:
    """A machine and its disk and stick, in one folder."""

    def __init__(self, image: Path, folder: Path, manifest: Path | None = None,
                 keymap: str = "us", register_port: int | None = None,
                 drop_in: str | None = None,
                 disk_throttle: dict[str, int] | None = None, register: str | None = None,
                 token: str | None = None) -> None:
        self.folder = folder
        self.disk = Disk(image, folder / "disk.img")
        self.disk.fit_box(keymap=keymap, register=register, token=token)
        if register_port is not None:
            self.disk.fit_network()
        if drop_in is not None:  # the harness's own tests: a unit made to fail
            self.disk.put("/etc/systemd/system/stocktaker.service.d/zz-test.conf", drop_in,
                          0o644)
        self.stick = folder / "stick.img"
        make_stick(self.stick, manifest or REPO / "firmware/sample/expected.csv")
        self.machine = Machine(image, self.disk.path, folder, stick=self.stick,
                               register_port=register_port, disk_throttle=disk_throttle)

    def close(self) -> None:
        """Kill the machine and remove its copy of the disk (over a GB; the console log,
        QEMU's messages and the stick stay)."""
        self.machine.kill()
        self.disk.path.unlink(missing_ok=True)


@pytest.fixture
def make_box(tmp_path_factory: pytest.TempPathFactory, vm_image: Path) -> Iterator:
    """Makes boxes; every machine is killed at the end of the test."""
    boxes: list[Box] = []

    def make(**kwargs: object) -> Box:
        folder = tmp_path_factory.mktemp("box")
        box = Box(vm_image, folder, **kwargs)  # type: ignore[arg-type]
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()
