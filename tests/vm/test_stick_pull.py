"""The USB stick pulled while the service writes a room's report and sightings to it (the
``files`` register), put back later: nothing lost, every acknowledged scan on the stick
exactly once, the report written when the stick is back."""

from __future__ import annotations

import re
import time
from collections import Counter

from tests.vm.audit import NEXT_ROOM, ROOM, enter_room, make_room, reports, scan, sightings
from tests.vm.box import stick_files
from tests.vm.machine import Machine, MachineError
from tests.vm.service import error_lines, unit_state, wait_ready

#: Announces on the feedback port the moment the stick has a write in flight (the second
#: number of its block device's ``inflight``), then ends.
WATCH = r"""
dev=$(basename "$(readlink -f /dev/disk/by-label/STOCKTAKER)")
while :; do
  set -- $(cat /sys/class/block/$dev/inflight)
  [ "$2" -gt 0 ] && break
  sleep 0.05
done
echo "[box] stick busy" > /dev/ttyS1
"""


#: The check systemd runs on the stick before each mount (media-stocktaker.mount).
STICK_FSCK = r"systemd-fsck@dev-disk-by\x2dlabel-STOCKTAKER.service"


def wait_for(machine: Machine, script: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while machine.sh(script, check=False)[0] != 0:
        if time.monotonic() > deadline:
            raise MachineError(f"still not true after {timeout:.0f} s: {script}")
        time.sleep(2.0)


def test_the_stick_pulled_during_a_write_loses_nothing(make_box, tmp_path) -> None:
    room = make_room(tags=10, epcs=0)
    manifest = tmp_path / "expected.csv"
    room.write_manifest(manifest)
    box = make_box(manifest=manifest)
    machine = box.machine
    machine.start()
    machine.wait_agent()
    wait_ready(machine)
    assert machine.feedback is not None

    enter_room(machine, ROOM)
    acknowledged = []
    for tag in room.tags:
        assert scan(machine, tag).startswith("[feedback] verified")
        acknowledged.append(tag)
    before = unit_state(machine)

    # a slow stick, so that the room's report and sightings take seconds to write
    machine.throttle_stick(bps=2048, iops=2)
    machine.sh("cat > /tmp/watch.sh", stdin=WATCH.encode())
    machine.sh("nohup sh /tmp/watch.sh >/dev/null 2>&1 &")
    start = machine.feedback.count()
    assert "[feedback] done" in enter_room(machine, NEXT_ROOM)
    machine.feedback.wait_for(lambda line: line == "[box] stick busy", start, 600)
    machine.unplug("stick")  # pulled in the middle of the write

    # a scan of the next room while the stick is away: acknowledged, kept for later
    assert scan(machine, "IT-9000").startswith("[feedback] verified")
    _, away = machine.sh("journalctl -b --no-pager -o cat -u stocktaker.service", check=False)
    # the pull cut a write short (else the scenario proved nothing): the kernel says so
    _, kernel = machine.sh("dmesg", check=False)
    assert re.search(r"error, dev sd\w+, sector \d+ op 0x1:\(WRITE\)", kernel), kernel[-2000:]
    machine.plug_stick()
    wait_for(machine, "mountpoint -q /media/stocktaker")
    # checked before it was mounted again, at boot and now (the pull leaves the FAT half
    # written; mounted unchecked, the kernel made it read-only and nothing reached it)
    _, checks = machine.sh(f"journalctl -b --no-pager -o cat -u '{STICK_FSCK}'", check=False)
    assert sum(line.startswith("Finished") for line in checks.splitlines()) >= 2, checks
    # the next sync rounds write what the pull interrupted
    wait_for(machine, "ls /media/stocktaker/out/report-*.json", timeout=600)
    after = unit_state(machine)
    assert (after["MainPID"], after["NRestarts"]) == (before["MainPID"], before["NRestarts"])
    errors = error_lines(machine)
    machine.sh("systemctl stop stocktaker.service && sync", check=False)
    machine.power_off()

    files = stick_files(box.stick)
    broken: list[str] = []
    seen = Counter(s["asset_tag"] for s in sightings(files, broken)
                   if s.get("location") == ROOM)
    assert seen == Counter(acknowledged), (seen, away[-3000:])
    assert [s["asset_tag"] for s in sightings(files)
            if s.get("location") == NEXT_ROOM] == ["IT-9000"]
    done = [r for r in reports(files, broken) if r.get("location") == ROOM]
    assert len(done) == 1
    assert sorted(s["asset_tag"] for s in done[0]["scans"]) == sorted(acknowledged)
    assert broken == []
    assert errors == []
