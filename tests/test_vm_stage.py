"""The device-in-a-box stage of ``./dev.sh test``: skipped only on request, and then said;
a host that cannot run it stops with one line instead of passing silently."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import conftest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("env, said", [
    ({"STOCKTAKER_VM_NEXT": "1"}, "run next, as the last stage of ./dev.sh test"),
    ({"STOCKTAKER_SKIP_VM": "1"}, "skipped on request (--no-vm or STOCKTAKER_SKIP_VM=1)"),
    ({}, "were not collected: they run as the last stage of ./dev.sh test"),
])
def test_the_summary_says_what_became_of_the_vm_tests(monkeypatch: pytest.MonkeyPatch,
                                                      env: dict[str, str], said: str) -> None:
    for name in ("STOCKTAKER_VM_NEXT", "STOCKTAKER_SKIP_VM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert said in conftest._vm_summary()


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run dev.sh as another user")
    env = {key: value for key, value in os.environ.items()
           if key not in ("STOCKTAKER_SKIP_VM", "STOCKTAKER_VM")}
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "bash", str(REPO / "dev.sh"), *args],
                          capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)


def test_a_user_who_cannot_build_the_image_is_told_in_one_line() -> None:
    done = _as_nobody("test", "tests/test_vm_stage.py")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "the device-in-a-box stage (QEMU) needs root to build its image; run as root, or"
        " skip it with ./dev.sh test --no-vm"]
