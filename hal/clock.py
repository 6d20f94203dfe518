"""Time on a device with no real-time clock: wall time, monotonic time, boot id, NTP state,
and how a time stamped before the clock was synchronised is corrected."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from datetime import datetime, timezone
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

_TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


class Clock(Protocol):
    """What a sighting needs to know about time (see :class:`SystemClock`)."""

    def wall(self) -> float: ...
    def mono(self) -> float: ...
    def boot_id(self) -> str: ...
    def synced(self) -> bool: ...


class SystemClock:
    """The clock a sighting is stamped with.

    ``synced()`` is True when systemd-timesyncd has synchronised the clock since boot, or,
    for any other NTP daemon, when the kernel reports the clock synchronised (adjtimex).
    A Pi without network keeps its last saved time, so sightings carry this flag.
    """

    def wall(self) -> float:
        """Seconds since the epoch, as the wall clock says (may be wrong before NTP)."""
        return time.time()

    def mono(self) -> float:
        """Seconds since boot, including suspend; never jumps."""
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    def boot_id(self) -> str:
        """The kernel's id of this boot (monotonic times compare only within one boot)."""
        try:
            return _BOOT_ID.read_text(encoding="ascii").strip()
        except OSError:
            return ""

    def synced(self) -> bool:
        """True when the wall clock is known to be NTP-synchronised."""
        if _TIMESYNCD_FLAG.exists():
            return True
        return _kernel_says_synced()


def _kernel_says_synced() -> bool:
    libc = _libc()
    if libc is None:
        return False
    buf = ctypes.create_string_buffer(512)  # struct timex; modes = 0 only reads
    state = libc.adjtimex(buf)
    return state not in (-1, _TIME_ERROR)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # find_library runs ldconfig: once per process, never per scan.
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def corrected_wall(record: Mapping[str, Any], *, now_wall: float, now_mono: float,
                   boot_id: str) -> float | None:
    """The wall time a scan made before the clock was synchronised should have had.

    A Pi keeps no time while off: until NTP answers, its wall clock may be hours or days
    off, but its monotonic clock runs true within one boot. Once the clock is
    synchronised, ``now_wall - (now_mono - monotonic)`` is the scan's real time.

    Args:
        record: a report's scan (or any record) with ``clock_synchronized``,
            ``monotonic`` and ``boot_id``.
        now_wall, now_mono, boot_id: the synchronised clock now.

    Returns:
        The corrected epoch seconds, or None when the record needs no correction or
        cannot have one (its time was synchronised, or it was made in another boot).
    """
    return corrected_epoch(record.get("clock_synchronized"), record.get("monotonic"),
                           record.get("boot_id"), now_wall=now_wall, now_mono=now_mono,
                           boot_id=boot_id)


def corrected_epoch(clock_synchronized: object, monotonic: object, made_in_boot: object, *,
                    now_wall: float, now_mono: float, boot_id: str) -> float | None:
    """:func:`corrected_wall` from the three stamps of a scan: whether its clock was
    synchronised, its monotonic time and the boot it was made in (see there)."""
    if clock_synchronized is not False or not boot_id:
        return None
    if made_in_boot != boot_id or not isinstance(monotonic, (int, float)):
        return None
    if isinstance(monotonic, bool) or not 0 <= monotonic <= now_mono:
        return None
    return now_wall - (now_mono - monotonic)


def iso_utc(epoch: float) -> str:
    """``epoch`` seconds as ISO 8601 in UTC with milliseconds (``2026-11-24T09:15:02.120Z``)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
