"""An audit on the booted device: labels typed through the USB scanner, EPCs from the USB
serial UHF reader, the report and sightings on the USB stick (the files register)."""

from __future__ import annotations

import pytest

from tests.vm.audit import NEXT_ROOM, ROOM, enter_room, make_room, read_epc, reports, scan, sightings
from tests.vm.box import stick_files
from tests.vm.service import error_lines, wait_ready


@pytest.mark.parametrize("keymap, tags, epcs", [("us", 30, 20), ("de", 6, 0)])
def test_a_room_audited_through_the_scanner_and_the_reader(make_box, tmp_path, keymap: str,
                                                           tags: int, epcs: int) -> None:
    room = make_room(tags, epcs)
    manifest = tmp_path / "expected.csv"
    room.write_manifest(manifest)
    box = make_box(manifest=manifest, keymap=keymap)
    box.machine.start()
    box.machine.wait_agent()
    wait_ready(box.machine)

    enter_room(box.machine, ROOM, keymap)
    verdicts = [scan(box.machine, tag, keymap) for tag in room.tags]
    verdicts += [read_epc(box.machine, epc) for epc in room.epcs]
    assert verdicts == ["[feedback] verified: " + verdicts[0].split(": ", 1)[1]] * len(verdicts)
    assert verdicts[0].startswith("[feedback] verified:")
    # the next room's label ends this one: its report goes to the stick
    assert "[feedback] done" in enter_room(box.machine, NEXT_ROOM, keymap)
    wait_ready(box.machine)
    _, queued = box.machine.sh("/opt/stocktaker/venv/bin/stocktaker sync"
                               " --config /etc/stocktaker/config.toml 2>&1", check=False)
    assert error_lines(box.machine) == []
    box.machine.power_off()

    files = stick_files(box.stick)
    found = sightings(files)
    assert sorted(s["asset_tag"] for s in found if s.get("location") == ROOM) == sorted(
        room.tags + [str(ref) for ref in room.references]), queued
    done = [r for r in reports(files) if r.get("location") == ROOM]
    assert len(done) == 1
