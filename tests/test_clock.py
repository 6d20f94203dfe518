"""The system clock a sighting is stamped with, and how it decides it is synchronised."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

import pytest

from hal import clock
from hal.clock import SystemClock


def test_wall_mono_and_boot_id_come_from_the_system() -> None:
    system = SystemClock()
    assert abs(system.wall() - time.time()) < 5
    first = system.mono()
    assert system.mono() >= first > 0
    assert system.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


class FakeLibc:
    """Stands for libc: ``adjtimex`` returns the clock state given."""

    def __init__(self, state: int) -> None:
        self.state = state
        self.calls = 0

    def adjtimex(self, buf: object) -> int:
        self.calls += 1
        return self.state


@pytest.fixture
def no_timesyncd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    flag = tmp_path / "synchronized"
    monkeypatch.setattr(clock, "_TIMESYNCD_FLAG", flag)
    return flag


def test_the_timesyncd_flag_is_enough(no_timesyncd: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    libc = FakeLibc(5)
    monkeypatch.setattr(clock, "_libc", lambda: libc)
    no_timesyncd.touch()
    assert SystemClock().synced() is True
    assert libc.calls == 0


# adjtimex(2) states: 0 TIME_OK, 1 TIME_INS, 2 TIME_DEL, 3 TIME_OOP, 4 TIME_WAIT, 5 TIME_ERROR.
@pytest.mark.parametrize(("state", "synced"), [
    (0, True), (1, True), (2, True), (3, True), (4, True), (5, False), (-1, False),
])
def test_without_timesyncd_the_kernel_state_decides(
        no_timesyncd: Path, monkeypatch: pytest.MonkeyPatch, state: int, synced: bool) -> None:
    libc = FakeLibc(state)
    monkeypatch.setattr(clock, "_libc", lambda: libc)
    assert SystemClock().synced() is synced
    assert libc.calls == 1


def test_without_timesyncd_or_libc_the_clock_is_not_trusted(
        no_timesyncd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "_libc", lambda: None)
    assert SystemClock().synced() is False


def test_the_real_kernel_is_asked_when_timesyncd_says_nothing(no_timesyncd: Path) -> None:
    libc = clock._libc()
    if libc is None:
        pytest.skip("no C library found")
    state = libc.adjtimex(ctypes.create_string_buffer(512))
    assert SystemClock().synced() is (state not in (-1, 5))


def test_the_real_timesyncd_flag_is_believed() -> None:
    if not Path("/run/systemd/timesync/synchronized").exists():
        pytest.skip("systemd-timesyncd has not synchronised this machine")
    assert SystemClock().synced() is True
