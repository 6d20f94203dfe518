"""Power cuts: QEMU killed with SIGKILL at random moments while scanning, while a room
changes and while syncing; the guest's page cache is lost each time.

After each boot the root file system is clean or repaired and the service starts by
itself. At the end, every scan whose feedback line the rig saw on the second serial port
before the cut is in exactly one report and in the files register exactly once, and no
queue file was set aside as damaged.

``STOCKTAKER_VM_CUTS`` sets the number of cuts (default 50), ``STOCKTAKER_VM_SEED`` the
random seed. ``STOCKTAKER_VM_CUTS_MINUTES`` caps the time spent cutting: no new cut starts
after it, the final checks run on the cuts made, and the figures printed say how many of
the cuts asked for were made (an emulated machine is several times slower on a loaded
host).
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


from tests.vm.audit import reports, sightings
from tests.vm.box import stick_files
from tests.vm.keyboard import type_scan
from tests.vm.machine import MachineError
from tests.vm.service import wait_ready, unit_state

CUTS = int(os.environ.get("STOCKTAKER_VM_CUTS", "50"))
SEED = int(os.environ.get("STOCKTAKER_VM_SEED", "2026"))
MINUTES = float(os.environ.get("STOCKTAKER_VM_CUTS_MINUTES", "0"))  # 0: no cap
ROOMS = ["Storage A", "Storage B", "Server Room"]


def manifest(path: Path, per_room: int) -> dict[str, str]:
    tags = {f"PC-{n:06d}": ROOMS[n % len(ROOMS)] for n in range(per_room * len(ROOMS))}
    rows = ["asset_tag,name,location"] + [f"{t},Laptop,{room}" for t, room in tags.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tags


def acknowledged_before(feedback, start: int, cut_at: float) -> list[str]:
    """Feedback lines from index ``start`` that arrived before ``cut_at``."""
    return [line for at, line in feedback.lines[start:]
            if at < cut_at and line.startswith("[feedback]")]


@dataclass
class RootCheck:
    """What this boot's journal says of the root file system."""

    ext4_errors: int
    journal_replayed: bool  # the kernel replayed ext4's journal when it mounted the root
    fsck_ran: bool  # systemd-fsck-root.service checked the root ("rootfs: ...")
    fsck_ok: bool
    fsck_repaired: bool  # fsck changed the file system


ROOT_CHECK = """
journalctl -b --no-pager -o cat _TRANSPORT=kernel + _SYSTEMD_UNIT=systemd-fsck-root.service \
  > /run/root-check
echo "errors=$(grep -ci 'EXT4-fs error' /run/root-check)"
echo "replayed=$(grep -c 'EXT4-fs (vda2): recovery complete' /run/root-check)"
systemctl show -p Result,ConditionResult systemd-fsck-root.service
sed -n 's/^rootfs: /fsck=/p' /run/root-check
"""


def root_check(machine) -> RootCheck:
    """The root file system after a boot: ext4 errors, journal replay, fsck's verdict."""
    _, text = machine.sh(ROOT_CHECK, check=False)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields.setdefault(key, value)
    fsck = [line[5:] for line in text.splitlines() if line.startswith("fsck=")]
    return RootCheck(ext4_errors=int(fields.get("errors") or 0),
                     journal_replayed=int(fields.get("replayed") or 0) > 0,
                     fsck_ran=fields.get("ConditionResult") == "yes" and bool(fsck),
                     fsck_ok=fields.get("Result") == "success",
                     fsck_repaired=any("clean," not in line for line in fsck))


def check_outcome(acknowledged: list[str], unacknowledged: list[str],
                  files: dict[str, bytes]) -> list[str]:
    """What is wrong at the end: an acknowledged scan not exactly once at the register and
    in the reports, a scan counted twice, a file set aside as damaged."""
    broken: list[str] = []
    at_register = Counter(s.get("asset_tag") for s in sightings(files, broken))
    in_reports = Counter(scan.get("asset_tag") for report in reports(files, broken)
                         for scan in report.get("scans", []))
    problems = [f"torn: {what}" for what in broken]
    problems += [f"{tag}: {at_register[tag]} at the register, {in_reports[tag]} in reports"
                for tag in acknowledged if at_register[tag] != 1 or in_reports[tag] != 1]
    problems += [f"{tag} (not acknowledged): doubled" for tag in unacknowledged
                 if at_register[tag] > 1 or in_reports[tag] > 1]
    problems += [f"set aside: {name}" for name in files if "damaged" in name]
    return problems


def test_power_cuts_lose_no_acknowledged_scan(make_box, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    tags = manifest(tmp_path / "expected.csv", per_room=max(40, CUTS * 2))
    by_room = {room: [t for t, r in tags.items() if r == room] for room in ROOMS}
    box = make_box(manifest=tmp_path / "expected.csv")
    machine = box.machine
    acknowledged: list[str] = []
    unacknowledged: list[str] = []
    room = ROOMS[0]
    entered = False
    log: list[str] = []

    def scan_and_wait(tag: str) -> bool:
        start = machine.feedback.count()
        type_scan(machine, tag)
        try:
            machine.feedback.wait_for(lambda line: line.startswith("[feedback]"), start, 120)
        except MachineError:
            return False
        return True

    started = time.monotonic()
    repairs = Counter()
    cuts = 0
    for cut in range(CUTS + 1):
        machine.start()
        machine.wait_agent()
        # one command that returns when the boot's jobs are done (no polling in the guest)
        machine.sh("systemctl is-system-running --wait", check=False, timeout=600)
        wait_ready(machine)
        checked = root_check(machine)
        assert checked.ext4_errors == 0, f"cut {cut}: ext4 errors after the boot"
        assert checked.fsck_ran, f"cut {cut}: fsck did not check the root at boot"
        assert checked.fsck_ok, f"cut {cut}: fsck of the root failed"
        repairs["journal replays"] += checked.journal_replayed
        repairs["fsck repairs"] += checked.fsck_repaired
        cuts = cut
        if cut == CUTS or (MINUTES and time.monotonic() - started > MINUTES * 60):
            break
        if not entered or room not in unit_state(machine).get("StatusText", ""):
            type_scan(machine, f"LOC:{room}")
            entered = True
            deadline = time.monotonic() + 120
            while room not in unit_state(machine).get("StatusText", ""):
                assert time.monotonic() < deadline, f"cut {cut}: room {room} not entered"
                time.sleep(1.0)
        # a few scans acknowledged, then the cut at a random moment of one of three kinds
        for _ in range(rng.randint(0, 3)):
            tag = by_room[room].pop()
            (acknowledged if scan_and_wait(tag) else unacknowledged).append(tag)
        kind = rng.choice(["scan", "room", "sync"])
        start = machine.feedback.count()
        if kind == "scan":
            tag = by_room[room].pop()
            type_scan(machine, tag)
            time.sleep(rng.uniform(0.0, 4.0))
        elif kind == "room":
            room = ROOMS[(ROOMS.index(room) + 1) % len(ROOMS)]
            tag = None
            type_scan(machine, f"LOC:{room}")
            time.sleep(rng.uniform(0.0, 4.0))
        else:
            tag = None
            machine.sh("systemctl start --no-block stocktaker-sync.service", check=False)
            time.sleep(rng.uniform(0.0, 4.0))
        feedback = machine.feedback
        cut_at = time.monotonic()
        machine.kill()
        lines = acknowledged_before(feedback, start, cut_at)
        if tag is not None:
            (acknowledged if any("verified" in line for line in lines)
             else unacknowledged).append(tag)
        log.append(f"cut {cut}: {kind} {tag or ''} acks={len(lines)}")

    # the last room ends, everything syncs, a clean power-off
    next_room = ROOMS[(ROOMS.index(room) + 1) % len(ROOMS)]
    type_scan(machine, f"LOC:{next_room}")
    deadline = time.monotonic() + 120
    while next_room not in unit_state(machine).get("StatusText", ""):
        assert time.monotonic() < deadline
        time.sleep(1.0)
    machine.sh("systemctl stop stocktaker.service", check=False)
    machine.sh("/opt/stocktaker/venv/bin/stocktaker sync --config /etc/stocktaker/config.toml",
               check=False, timeout=600)
    _, damaged = machine.sh("find /var/lib/stocktaker -iname '*damaged*' -o -iname '*.torn'",
                            check=False)
    machine.power_off()

    files = stick_files(box.stick)
    problems = check_outcome(acknowledged, unacknowledged, files)
    print(f"power cuts: {cuts} of {CUTS} (seed {SEED}) in {time.monotonic() - started:.0f} s,"
          f" acknowledged scans {len(acknowledged)}, not acknowledged"
          f" {len(unacknowledged)}, ext4 journal replays {repairs['journal replays']},"
          f" fsck repairs {repairs['fsck repairs']}, problems {len(problems)}")
    for line in log:
        print(line)
    if cuts < CUTS:
        warnings.warn(f"power cuts: {cuts} of {CUTS} made within STOCKTAKER_VM_CUTS_MINUTES="
                      f"{MINUTES:g}", stacklevel=1)
    assert damaged.strip() == "", damaged
    assert problems == [], "\n".join(problems + log)


class _Said:
    """A machine whose guest answers every command with the same text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def sh(self, script: str, check: bool = True) -> tuple[int, str]:
        return 0, self.text


def test_the_root_check_fails_a_boot_without_fsck_and_counts_repairs() -> None:
    clean = ("errors=0\nreplayed=1\nResult=success\nConditionResult=yes\n"
             "fsck=clean, 26848/134368 files, 366248/536832 blocks\n")
    assert root_check(_Said(clean)) == RootCheck(0, True, True, True, False)
    skipped = "errors=0\nreplayed=0\nResult=success\nConditionResult=no\n"
    assert not root_check(_Said(skipped)).fsck_ran
    repaired = ("errors=2\nreplayed=0\nResult=success\nConditionResult=yes\n"
                "fsck=Inode 1234 extent tree could be shorter.  FIXED.\n"
                "fsck=26850/134368 files (0.2% non-contiguous), 368298/536832 blocks\n")
    checked = root_check(_Said(repaired))
    assert (checked.ext4_errors, checked.fsck_ran, checked.fsck_repaired) == (2, True, True)
