"""One scan path for every mode: the handheld audit and the door kiosk stamp their
sightings with the same constructor and make them durable the same way, before showing."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import firmware.sightings
from firmware.cards import CardRules
from firmware.door_kiosk import DoorKiosk, KioskSettings
from firmware.errors import QueueError
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.inventory import Asset, Inventory
from firmware.movement_log import MovementLog
from firmware.people_index import PeopleIndex
from sync.person import Person
from firmware.scan_path import Judged, ScanPath
from firmware.sightings import Stamp, make_sighting
from sync.sighting import Sighting
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.display.terminal import TerminalDisplay
from hal.feedback.terminal import TerminalFeedback
from hal.read import Read
from sync.files import FilesRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports

ROOM = "Storage B"
ANA = Person(badge="0009351929", employee_num="1001", name="Ana Lima", username="ana", id=11)


class Clock:
    def wall(self) -> float: return 1795000000.0
    def mono(self) -> float: return 12.5
    def boot_id(self) -> str: return "boot-1"
    def synced(self) -> bool: return True


def _handheld(tmp_path: Path, queue: SightingQueue) -> HandheldAudit:
    (tmp_path / "expected.csv").write_text(
        "asset_tag,serial,name,location,status,assigned_to,id\nIT-1,S1,Laptop,Storage B,,,1\n")
    register = FilesRegister(tmp_path / "expected.csv", tmp_path / "out", "hh-1")
    return HandheldAudit(Settings("hh-1", "ana", ROOM, 2.0, DEFAULT_TAG_PATTERN),
                         Inventory(register.expected_assets()), queue, register,
                         PendingReports(tmp_path / "state" / "reports"),
                         TerminalDisplay(stream=io.StringIO()),
                         TerminalFeedback(stream=io.StringIO()), Clock())


def _kiosk(tmp_path: Path, queue: SightingQueue) -> DoorKiosk:
    return DoorKiosk(KioskSettings("door-1", ROOM, cards=CardRules("decimal", "decimal")),
                     Inventory([Asset("IT-1", "S1", "Laptop", ROOM, id=1)]),
                     PeopleIndex([ANA]), queue, MovementLog(tmp_path / "state" / "kiosk"),
                     TerminalDisplay(stream=io.StringIO()),
                     TerminalFeedback(stream=io.StringIO()), Clock())


def _read(text: str, at: float, source: str = "hid", symbology: str = "UNKNOWN") -> Read:
    return Read(text.encode(), symbology, source, at)


@pytest.mark.parametrize("mode", ["handheld", "kiosk"])
def test_both_modes_stamp_with_make_sighting_and_save_through_the_scan_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    made: list[str] = []

    @dataclasses.dataclass(frozen=True)
    class Stamped(Sighting):
        def __post_init__(self) -> None:
            made.append(self.sighting_id)

    # make_sighting looks Sighting up in its module: a mode that builds its own is not seen.
    monkeypatch.setattr(firmware.sightings, "Sighting", Stamped)
    stored: list[list[str]] = []
    real_store = ScanPath.store

    def store(path: ScanPath[Any], records: Sequence[Mapping[str, Any]], *args: Any,
              **kwargs: Any) -> QueueError | None:
        stored.append([str(r["sighting_id"]) for r in records])
        return real_store(path, records, *args, **kwargs)

    monkeypatch.setattr(ScanPath, "store", store)
    with SightingQueue(tmp_path / "state") as queue:
        if mode == "handheld":
            _handheld(tmp_path, queue).handle_many([_read("IT-1", 1.0), _read("junk!", 1.1)])
        else:
            kiosk = _kiosk(tmp_path, queue)
            kiosk.handle_many([_read("0009351929", 1.0, "card", "CARD"), _read("IT-1", 1.1),
                               _read("junk!", 1.2)])
        records = queue.pending()
    ids = [r["sighting_id"] for r in records]
    assert len(ids) == 2 and made == ids and stored == [ids]
    # one shape, in one order (a time corrected at sync adds two fields on the wire only;
    # an audit's campaign, one when there is one)
    fields = [f.name for f in dataclasses.fields(Sighting)
              if not f.name.startswith("wall_time_") and f.name != "campaign"]
    assert all(list(r) == fields for r in records)
    assert {(r["firmware_version"], r["boot_id"], r["wall_time"]) for r in records} == {
        (firmware.__version__, "boot-1", "2026-11-18T11:06:40.000Z")}


def test_the_kiosk_record_keeps_its_shape(tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "state") as queue:
        kiosk = _kiosk(tmp_path, queue)
        kiosk.handle_many([_read("0009351929", 1.0, "card", "CARD"), _read("IT-1", 1.1)])
        (record,) = queue.pending()
    session = kiosk.visit.session_id if kiosk.visit else None
    assert {k: v for k, v in record.items() if k != "sighting_id"} == {
        "device_id": "door-1", "session_id": session, "location": ROOM,
        "technician": "ana", "tag": {"kind": "asset_tag", "value": "IT-1", "scheme": "plain",
                                     "aim": None, "serial": None, "gtin": None, "site": None},
        "asset_tag": "IT-1", "payload": "IT-1", "symbology": "UNKNOWN", "source": "hid",
        "verdict": "checked_out", "recorded_location": ROOM, "reason": None,
        "wall_time": "2026-11-18T11:06:40.000Z", "clock_synchronized": True,
        "monotonic": 12.5, "boot_id": "boot-1", "firmware_version": firmware.__version__,
        "candidates": [], "person": ANA.to_record()}


@dataclasses.dataclass
class _Outcome:
    label: str


class _Rules:
    """Rules that record what the path asks of them, and when."""

    journal_required = True

    def __init__(self, queue: SightingQueue, journal: Any) -> None:
        self.queue = queue
        self.journal = journal
        self.calls: list[tuple[str, Any]] = []

    def begin_burst(self) -> None:
        self.calls.append(("begin", None))

    def end_burst(self) -> None:
        self.calls.append(("end", None))

    def judge(self, read: Read) -> Any:
        text = read.payload.decode()
        if text == "skip":
            return None
        if text.startswith("LOC:"):
            return lambda: self.calls.append(("split", text))
        sighting = make_sighting(Stamp("d", "s", None, "t"), read, text, None, Clock(),
                                 verdict="rejected", asset_tag=None)
        return Judged(read.source, read.payload, _Outcome(text), sighting)

    def kept(self, burst: list[Judged[_Outcome]]) -> None:
        # Durable before shown: the queue already holds every record of the burst.
        self.calls.append(("kept", ([j.outcome.label for j in burst], len(self.queue))))

    def not_kept(self, burst: list[Judged[_Outcome]]) -> None:
        self.calls.append(("not kept", [j.outcome.label for j in burst]))

    def not_saved(self, what: str, error: QueueError) -> None:
        self.calls.append(("not saved", what))


class _Journal:
    def __init__(self) -> None:
        self.refuse = False
        self.added: list[str] = []

    def add_many(self, records: Sequence[Mapping[str, Any]], wall: float) -> None:
        if self.refuse:
            raise QueueError("disk full")
        self.added += [str(r["payload"]) for r in records]


def test_the_path_saves_each_run_of_reads_before_a_burst_end_then_has_it_shown(
        tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "state") as queue:
        journal = _Journal()
        rules = _Rules(queue, journal)
        path = ScanPath(rules, queue, Clock())
        taken = path.take([_read(t, 1.0) for t in ("a", "skip", "b", "LOC:x", "c")])
        assert [o.label for o in taken] == ["a", "b", "c"]
        assert rules.calls == [("begin", None), ("kept", (["a", "b"], 2)), ("split", "LOC:x"),
                               ("kept", (["c"], 3)), ("end", None)]
        assert journal.added == ["a", "b", "c"] and path.scans == {"rejected": 3}

        journal.refuse = True  # the journal is required: nothing counts
        rules.calls.clear()
        assert path.take([_read("d", 2.0), _read("e", 2.1)]) == []
        assert rules.calls == [("begin", None), ("not kept", ["d", "e"]),
                               ("not saved", "2 scans"), ("end", None)]
        assert path.scans == {"rejected": 3}
