"""The system clock a sighting is stamped with."""

from __future__ import annotations

import time
from pathlib import Path

from firmware.clock import SystemClock


def test_wall_mono_and_boot_id_come_from_the_system() -> None:
    clock = SystemClock()
    assert abs(clock.wall() - time.time()) < 5
    first = clock.mono()
    assert clock.mono() >= first > 0
    assert clock.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_synced_is_a_plain_bool_and_agrees_with_timesyncd_when_it_says_so() -> None:
    synced = SystemClock().synced()
    assert synced in (True, False)
    if Path("/run/systemd/timesync/synchronized").exists():
        assert synced
