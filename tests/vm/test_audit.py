"""An audit on the booted device: labels typed through the USB scanner, EPCs from the USB
serial UHF reader, the report and sightings on the USB stick (the files register).

One machine for both keyboard layouts (a boot costs minutes under TCG): a room walked in
the US layout, then the scanner set to the German one, as an admin would (the
configuration changed, the service restarted), and a second room entered and walked in
it. The
tests run in this order on that machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vm.audit import (NEXT_ROOM, ROOM, Room, enter_room, make_room, read_epc, reports,
                            scan, sightings)
from tests.vm.box import stick_files
from tests.vm.service import error_lines, unit_state, wait_ready

#: The German walk's tags: Y and Z (swapped on a QWERTZ keyboard) and '-' (where US has
#: '/'); the room's label adds ':' (Shift+'.') and a space.
DE_TAGS = [f"IT-ZY{8000 + n}" for n in range(6)]


class Audit:
    """The machine, the US room and what the walks saw."""

    def __init__(self, box, room: Room) -> None:
        self.box = box
        self.machine = box.machine
        self.room = room


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory, vm_image: Path):
    from tests.vm.conftest import Box

    folder = tmp_path_factory.mktemp("audit")
    room = make_room(tags=30, epcs=20)
    manifest = folder / "expected.csv"
    room.write_manifest(manifest)
    with manifest.open("a", encoding="utf-8") as rows:
        rows.writelines(f"{tag},Laptop,{NEXT_ROOM}\n" for tag in DE_TAGS)
    box = Box(vm_image, folder, manifest=manifest, keymap="us")
    box.machine.start()
    try:
        box.machine.wait_agent()
        wait_ready(box.machine)
        yield Audit(box, room)
    finally:
        box.close()


def test_a_room_audited_through_the_scanner_and_the_reader(audit: Audit) -> None:
    machine, room = audit.machine, audit.room
    enter_room(machine, ROOM, "us")
    verdicts = [scan(machine, tag, "us") for tag in room.tags]
    verdicts += [read_epc(machine, epc) for epc in room.epcs]
    assert verdicts[0].startswith("[feedback] verified:")
    assert verdicts == [verdicts[0]] * len(verdicts)
    # the next room's label ends this one: its report goes to the stick
    assert "[feedback] done" in enter_room(machine, NEXT_ROOM, "us")


def test_a_room_audited_with_the_scanner_in_the_german_layout(audit: Audit) -> None:
    machine = audit.machine
    machine.sh("sed -i 's/^keymap = \"us\"$/keymap = \"de\"/' /etc/stocktaker/config.toml"
               " && grep -q '^keymap = \"de\"$' /etc/stocktaker/config.toml")
    before = unit_state(machine)["MainPID"]
    machine.sh("systemctl restart stocktaker.service")
    wait_ready(machine, after_pid=before)
    # the room entered last saw nothing: not kept (a session that saw nothing leaves no
    # journal), so its label again, typed in the new layout
    enter_room(machine, NEXT_ROOM, "de")
    verdicts = [scan(machine, tag, "de") for tag in DE_TAGS]
    assert all(v.startswith("[feedback] verified:") for v in verdicts), verdicts
    assert "[feedback] done" in enter_room(machine, ROOM, "de")


def test_both_rooms_reports_and_sightings_are_on_the_stick(audit: Audit) -> None:
    machine, room = audit.machine, audit.room
    wait_ready(machine)
    _, queued = machine.sh("/opt/stocktaker/venv/bin/stocktaker sync"
                           " --config /etc/stocktaker/config.toml 2>&1", check=False)
    errors = error_lines(machine)
    machine.power_off()

    files = stick_files(audit.box.stick)
    found = sightings(files)
    assert sorted(s["asset_tag"] for s in found if s.get("location") == ROOM) == sorted(
        room.tags + [str(ref) for ref in room.references]), queued
    assert sorted(s["asset_tag"] for s in found if s.get("location") == NEXT_ROOM) == sorted(
        DE_TAGS), queued
    for name, tags in ((ROOM, room.tags), (NEXT_ROOM, DE_TAGS)):
        done = [r for r in reports(files) if r.get("location") == name]
        assert len(done) == 1, name
        assert set(tags) <= {s["asset_tag"] for s in done[0]["scans"]}, name
    assert errors == []
