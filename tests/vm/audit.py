"""A room for the rig's audits: the expected inventory, the labels typed, the EPCs read,
and what the scanner acknowledged, seen from outside the machine."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.test_epc import _GIAI96_PARTITIONS, _encode
from tests.vm.keyboard import type_scan
from tests.vm.machine import Machine, MachineError

ROOM = "Storage B"
NEXT_ROOM = "Storage A"


def giai96(reference: int) -> str:
    """The GIAI-96 EPC of GIAI 0614141<reference> (a 7-digit company prefix)."""
    return _encode(0x34, 0, 5, 614141, reference, None, _GIAI96_PARTITIONS)


@dataclass
class Room:
    """``tags`` typed through the scanner, ``epcs`` read by the UHF reader (their GIAI
    references are asset tags of the inventory), and a few assets nobody finds."""

    tags: list[str]
    references: list[int]
    missing: list[str]
    acknowledged: list[str] = field(default_factory=list)

    @property
    def epcs(self) -> list[str]:
        return [giai96(ref) for ref in self.references]

    def write_manifest(self, path: Path) -> None:
        rows = ["asset_tag,name,location"]
        rows += [f"{tag},Laptop,{ROOM}" for tag in self.tags + self.missing]
        rows += [f"{ref},Rack unit,{ROOM}" for ref in self.references]
        rows += [f"IT-{9000 + n},Monitor,{NEXT_ROOM}" for n in range(3)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def make_room(tags: int = 30, epcs: int = 20) -> Room:
    return Room(tags=[f"IT-{4500 + n:06d}" for n in range(tags)],
                references=[700000 + n for n in range(epcs)],
                missing=["IT-009999", "IT-009998"])


def feedback_after(machine: Machine, start: int, timeout: float = 300.0) -> tuple[int, str]:
    """The first feedback line from index ``start`` on (its index and text)."""
    assert machine.feedback is not None
    index = machine.feedback.wait_for(lambda line: line.startswith("[feedback]"), start,
                                      timeout)
    return index, machine.feedback.lines[index][1]


def scan(machine: Machine, text: str, layout: str = "us", timeout: float = 300.0) -> str:
    """Type one label and wait for the device's feedback line for it."""
    assert machine.feedback is not None
    start = machine.feedback.count()
    type_scan(machine, text, layout)
    return feedback_after(machine, start, timeout)[1]


def enter_room(machine: Machine, room: str, layout: str = "us",
               timeout: float = 300.0) -> str:
    """Type a room label; a known room gives no beep: wait for the service's STATUS line to
    name it. Returns the feedback lines given meanwhile (the previous room's ``done``)."""
    from tests.vm.service import unit_state

    assert machine.feedback is not None
    start = machine.feedback.count()
    type_scan(machine, f"LOC:{room}", layout)
    deadline = time.monotonic() + timeout
    while room not in unit_state(machine).get("StatusText", ""):
        if time.monotonic() > deadline:
            raise MachineError(f"the room {room} did not start: {unit_state(machine)}")
        time.sleep(1.0)
    return " ".join(line for _, line in machine.feedback.lines[start:])


def read_epc(machine: Machine, epc: str, timeout: float = 300.0) -> str:
    """Send one EPC line from the reader and wait for its feedback line."""
    assert machine.feedback is not None
    start = machine.feedback.count()
    machine.send_epc(epc)
    return feedback_after(machine, start, timeout)[1]


def sightings(files: dict[str, bytes], broken: list[str] | None = None) -> list[dict]:
    """Every sighting the files register holds (its JSON Lines files on the stick); a line
    that is not JSON is named in ``broken`` when given."""
    records = []
    for name, data in files.items():
        if name.startswith("sightings-") and name.endswith(".jsonl"):
            for number, line in enumerate(data.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError:
                    if broken is not None:
                        broken.append(f"{name} line {number}: {line[:80]!r}")
    return records


def reports(files: dict[str, bytes], broken: list[str] | None = None) -> list[dict]:
    """Every report the files register holds; a file that is not JSON is named in
    ``broken`` when given."""
    found = []
    for name, data in files.items():
        if name.startswith("report-") and name.endswith(".json"):
            try:
                found.append(json.loads(data))
            except ValueError:
                if broken is not None:
                    broken.append(f"{name}: not JSON ({len(data)} bytes: {data[:40]!r})")
    return found
