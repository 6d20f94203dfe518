"""A report written to the files register on the FAT stick survives a power cut that comes
right after the write returned (found by the power-cut scenario: a 0-byte report)."""

from __future__ import annotations

import json

from tests.vm.box import stick_files
from tests.vm.service import wait_ready

WRITE = """
import sys
from sync.outbox import FilesOutbox
outbox = FilesOutbox("/media/stocktaker/out", "box")
outbox.write_report({"session_id": "cut-1", "location": "Storage A",
                     "scans": [{"asset_tag": "IT-%06d" % n} for n in range(200)],
                     "ghosts": []})
outbox.push([{"sighting_id": "s-%d" % n, "asset_tag": "IT-%06d" % n} for n in range(200)])
with open("/dev/ttyS1", "w") as port:
    port.write("[feedback] written\\n")
"""


def test_a_report_written_to_the_stick_survives_a_power_cut_right_after(make_box) -> None:
    box = make_box()
    machine = box.machine
    machine.start()
    machine.wait_agent()
    wait_ready(machine)
    machine.sh("systemctl stop stocktaker.service")
    feedback = machine.feedback
    start = feedback.count()
    machine.sh("cat > /tmp/write.py", stdin=WRITE.encode())
    machine.sh("cd /tmp && runuser -u stocktaker -- /opt/stocktaker/venv/bin/python"
               " /tmp/write.py >/dev/null 2>&1 &")
    feedback.wait_for(lambda line: line == "[feedback] written", start, 300)
    machine.kill()  # the power cut, as soon as the write has returned
    files = stick_files(box.stick)
    report = json.loads(files["report-cut-1.json"])
    assert len(report["scans"]) == 200
    lines = files["sightings-box.jsonl"].splitlines()
    assert len(lines) == 200
