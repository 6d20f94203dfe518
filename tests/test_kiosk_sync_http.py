"""Door-kiosk scenarios end to end: two kiosks' queues, their engines, the ``http`` adapter
and the reference receiver on loopback (with the fault proxy of ``test_http_register``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.errors import RegisterError
from sync.http import HttpRegister
from sync.queue import format_status, read_status
from sync.receiver import ManifestSource, PeopleSource, ReceiverServer, ReceiverStore
from sync.receiver.server import start_in_thread
from sync.register import ItemStatus
from tests.test_http_register import FaultProxy
from tests.test_kiosk_sync import ANA, BEN, Kiosk, event
from tests.sightings import typed

TOKEN = "kiosk-receiver-token"
MANIFEST = ("asset_tag,location,status,assigned_to\n"
            "IT-1,Storage B,Ready to Deploy,\n"
            "IT-2,Storage B,Ready to Deploy,Cleo Park\n"
            "IT-3,Storage B,Ready to Deploy,\n"
            "IT-4,Office 2,Ready to Deploy,\n")
PEOPLE = ("badge,employee_num,name,username,id\n"
          "0004211234,E-100,Ana Lopes,ana,7\n0004215678,E-101,Ben Ode,ben,8\n")


class Running:
    """A receiver served from a thread on ``port`` (0: any free one)."""

    def __init__(self, directory: Path, port: int = 0, people: bool = True) -> None:
        manifest = directory / "expected.csv"
        if not manifest.exists():
            manifest.write_text(MANIFEST, encoding="utf-8")
        (directory / "people.csv").write_text(PEOPLE, encoding="utf-8")
        self.manifest = manifest
        self.store = ReceiverStore(directory / "receiver.sqlite")
        self.server = ReceiverServer(
            ("127.0.0.1", port), store=self.store, manifest=ManifestSource(manifest),
            token=TOKEN, people=PeopleSource(directory / "people.csv") if people else None)
        self.thread = start_in_thread(self.server)

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        self.store.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Running]:
    running = Running(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def adapter(url: str, device: str) -> HttpRegister:
    return HttpRegister(url, TOKEN, device, timeout=2.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_people_come_from_the_receiver(receiver: Running, tmp_path: Path) -> None:
    with adapter(receiver.url, "kiosk-1") as register:
        people = register.people()
    assert [(p.username, p.employee_num, p.badge, p.id) for p in people] == [
        ("ana", "E-100", "0004211234", 7), ("ben", "E-101", "0004215678", 8)]
    (tmp_path / "bare").mkdir()
    bare = Running(tmp_path / "bare", people=False)
    try:
        with adapter(bare.url, "kiosk-1") as register, \
                pytest.raises(RegisterError, match="keeps no people"):
            register.people()
    finally:
        bare.stop()


def test_check_out_check_in_and_refusal_get_per_item_results(receiver: Running,
                                                             tmp_path: Path) -> None:
    with adapter(receiver.url, "kiosk-1") as register:
        out = event("checked_out", "IT-1", ANA)
        again = event("checked_out", "IT-1", ANA)
        refused = event("refused", None, None, reason="no badge")
        back = event("checked_in", "IT-1", None)
        here = event("checked_in", "IT-3", None)
        elsewhere = event("checked_in", "IT-4", None)
        unknown = event("checked_out", "IT-99", ANA)
        results = register.push(typed([out, again, refused, back, here, elsewhere, unknown]))
    assert [r.status for r in results] == [
        ItemStatus.ACCEPTED, ItemStatus.ACCEPTED, ItemStatus.ACCEPTED, ItemStatus.ACCEPTED,
        ItemStatus.ACCEPTED, ItemStatus.CONFLICT, ItemStatus.REJECTED]
    assert results[1].reason == "already checked out to this person"
    assert results[4].reason == "already checked in here"
    assert results[5].register_side == {"asset_tag": "IT-4", "holder": None,
                                        "status": "Ready to Deploy", "location": "Office 2"}
    assert "no asset 'IT-99'" in str(results[6].reason)
    assert receiver.store.holder("IT-1") is None
    assert receiver.store.sighting_count() == 6  # all but the rejected one are recorded


def test_two_kiosks_offline_check_out_one_asset_one_conflict_nothing_lost(
        tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    one = Kiosk(tmp_path / "kiosk-1", adapter(url, "kiosk-1"))
    two = Kiosk(tmp_path / "kiosk-2", adapter(url, "kiosk-2"))
    took = event("checked_out", "IT-1", ANA, device="kiosk-1")
    also = event("checked_out", "IT-1", BEN, device="kiosk-2",
                 wall_time="2026-11-24T09:20:00.000Z")
    one.scan(took)
    two.scan(also)
    assert one.engine.run_once().error is not None  # the register is down: both keep theirs
    assert two.engine.run_once().error is not None and len(two.queue) == 1
    (tmp_path / "receiver").mkdir()
    receiver = Running(tmp_path / "receiver", port)
    try:
        first = one.engine.run_once()
        second = two.engine.run_once()
        assert (first.sent, first.conflicts, first.left) == (1, 0, 0)
        assert (second.sent, second.conflicts, second.left) == (0, 1, 0)
        [conflict] = two.queue.conflicts()
        assert conflict["record"]["person"]["username"] == "ben"
        assert conflict["register_side"]["holder"]["username"] == "ana"
        assert "checked out to Ana Lopes" in conflict["reason"]
        assert receiver.store.holder("IT-1")["username"] == "ana"
        assert receiver.store.sighting_count() == 2  # the conflicting event is recorded too
        assert two.engine.run_once().conflicts == 0  # never sent again
    finally:
        one.close()
        two.close()
        receiver.stop()
    status = read_status(tmp_path / "kiosk-2")
    assert status["conflicts"] == 1 and status["queued"] == 0
    assert any(f"checked_out IT-1 by {BEN.name}" in line for line in format_status(status))
    assert read_status(tmp_path / "kiosk-1")["conflicts"] == 0


def test_an_asset_archived_meanwhile_is_a_conflict(receiver: Running, tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path / "kiosk", adapter(receiver.url, "kiosk-1"))
    kiosk.scan(event("checked_out", "IT-3", ANA))
    receiver.manifest.write_text(MANIFEST.replace("IT-3,Storage B,Ready to Deploy",
                                                  "IT-3,Storage B,Archived"), encoding="utf-8")
    result = kiosk.engine.run_once()
    [conflict] = kiosk.queue.conflicts()
    kiosk.close()
    assert result.conflicts == 1 and conflict["register_side"]["status"] == "Archived"
    assert receiver.store.holder("IT-3") is None


def test_a_check_out_whose_answer_was_lost_is_a_duplicate_on_the_retry(
        receiver: Running, tmp_path: Path) -> None:
    proxy = FaultProxy(receiver.server.server_address[:2])
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    kiosk = Kiosk(tmp_path / "kiosk", adapter(proxy.url, "kiosk-1"))
    try:
        took = event("checked_out", "IT-1", ANA)
        kiosk.scan(took)
        proxy.fail_next("apply_then_reset")
        assert kiosk.engine.run_once().error is not None and len(kiosk.queue) == 1
        assert receiver.store.holder("IT-1")["username"] == "ana"  # applied, answer lost
        retry = kiosk.engine.run_once()  # the same batch: the first answer, replayed
        assert (retry.sent, retry.duplicates, retry.conflicts) == (1, 0, 0)
        assert len(kiosk.queue) == 0 and receiver.store.sighting_count() == 1
        other = event("checked_out", "IT-1", ANA)
        with adapter(receiver.url, "kiosk-1") as direct:  # the event again, in a new batch
            results = direct.push(typed([took, other]))
        assert [r.status for r in results] == [ItemStatus.DUPLICATE, ItemStatus.ACCEPTED]
        assert results[1].reason == "already checked out to this person"
        proxy.fail_next("status", status=500)
        kiosk.scan(event("checked_in", "IT-1", None))
        failed = kiosk.engine.run_once()
        assert failed.error is not None and "500" in failed.error and len(kiosk.queue) == 1
        assert kiosk.engine.run_once().sent == 1 and receiver.store.holder("IT-1") is None
    finally:
        kiosk.close()
        proxy.closing.set()
        proxy.shutdown()
        proxy.server_close()
        thread.join(10)


def test_a_replayed_conflict_gets_the_same_conflict(receiver: Running) -> None:
    with adapter(receiver.url, "kiosk-1") as register:
        taken = event("checked_out", "IT-2", ANA)
        first = register.push(typed([taken]))[0]
        second = register.push(typed([taken, event("refused", None, None)]))[0]
    assert first.status is second.status is ItemStatus.CONFLICT
    assert first.register_side == second.register_side
    assert first.register_side["holder"] == {"name": "Cleo Park"}
