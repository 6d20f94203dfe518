"""The register contract: one suite over every register adapter (see ``registers.py``).

memory (the shipped stand-in), files (a folder), http (the reference receiver, a real
subprocess), snipeit (the emulator) and nautobot (the suite's real Nautobot, marker
``nautobot``) each meet the same cases; what happened is counted on the register's side.
A case a kind cannot meet is a row of its own, "not applicable" with the reason in its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from firmware.errors import RegisterError, RegisterRefused, RegisterUnavailable
from sync.engine import SyncEngine
from sync.queue import SightingQueue
from sync.register import ItemStatus
from sync.pending_reports import PendingReports
from tests.contract.registers import (
    RegisterBench,
    files_bench,
    http_bench,
    memory_bench,
    nautobot_bench,
    snipeit_bench,
)
from tests.test_engine import Clock
from tests.sightings import typed

BENCHES: dict[str, Callable[[Path, pytest.FixtureRequest],
                            AbstractContextManager[RegisterBench]]] = {
    "memory": lambda tmp_path, request: memory_bench(tmp_path),
    "files": lambda tmp_path, request: files_bench(tmp_path),
    "http": lambda tmp_path, request: http_bench(tmp_path),
    "http-postgresql": lambda tmp_path, request: http_bench(tmp_path, db=_fresh_postgres(request)),
    "snipeit": lambda tmp_path, request: snipeit_bench(tmp_path),
    "snipeit-per-asset": lambda tmp_path, request: snipeit_bench(tmp_path, bulk=False),
    "nautobot": nautobot_bench,
}

def _fresh_postgres(request: pytest.FixtureRequest) -> str:
    """An empty database on the suite's PostgreSQL (tests/postgres.py)."""
    from tests.postgres import fresh_database

    return fresh_database(request.getfixturevalue("postgres_server"))


NOT_APPLICABLE = {
    ("files", "refused token"): "a folder takes no token",
    ("files", "answer lost"): "a folder write has no answer to lose",
    ("files", "partial batch"): "a folder refuses no sighting",
    ("nautobot", "answer lost"): "a TCP gate cannot cut Nautobot's answer after the note",
}
UNPAGED = {"memory", "files", "http", "http-postgresql"}
"""Kinds whose expected inventory is one document: the pages case gives them a large one."""


def kinds(case: str) -> list[Any]:
    """One row per register kind for ``case``; a not-applicable row says why in its id."""
    rows = []
    for kind in BENCHES:
        marks = ([pytest.mark.nautobot] if kind == "nautobot"
                 else [pytest.mark.postgres] if kind.endswith("postgresql") else [])
        why = NOT_APPLICABLE.get((kind, case))
        if why is not None:
            rows.append(pytest.param(kind, id=f"{kind}: not applicable, {why}",
                                     marks=[*marks, pytest.mark.skip(reason=why)]))
        else:
            rows.append(pytest.param(kind, id=kind, marks=marks))
    return rows


@pytest.fixture
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegisterBench]:
    with BENCHES[request.param](tmp_path, request) as made:
        yield made


class Device:
    """The device's side: a durable queue and the sync engine, on ``bench``'s register."""

    def __init__(self, bench: RegisterBench, state: Path, batch_size: int = 2) -> None:
        self.queue = SightingQueue(state)
        self.engine = SyncEngine(self.queue, bench.register, PendingReports(state / "reports"),
                                 Clock(), batch_size=batch_size)

    def queue_up(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.queue.append(record)

    def close(self) -> None:
        self.queue.close()


@pytest.fixture
def device(bench: RegisterBench, tmp_path: Path) -> Iterator[Device]:
    made = Device(bench, tmp_path / "state")
    yield made
    made.close()


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["sighting_id"] for r in records]


@pytest.mark.parametrize("bench", kinds("check"), indirect=True)
def test_check_answers_when_the_register_does(bench: RegisterBench) -> None:
    assert bench.register.check() is None


@pytest.mark.parametrize("bench", kinds("replay"), indirect=True)
def test_a_replayed_batch_is_done_again_and_never_a_double(bench: RegisterBench) -> None:
    records = [bench.new_record() for _ in range(3)]
    first = bench.register.push(typed(records))
    assert [(r.sighting_id, r.status) for r in first] == [
        (sid, ItemStatus.ACCEPTED) for sid in ids(records)]
    again = bench.register.push(typed(records))
    # http replays the first answer under the batch's Idempotency-Key (accepted); the
    # others answer duplicate: either way done, and the register holds each once.
    assert [r.sighting_id for r in again] == ids(records)
    assert {r.status for r in again} <= {ItemStatus.ACCEPTED, ItemStatus.DUPLICATE}
    fresh = bench.new_record()
    mixed = bench.register.push(typed([records[1], fresh]))
    assert [r.status for r in mixed] == [ItemStatus.DUPLICATE, ItemStatus.ACCEPTED]
    assert bench.stored_counts(ids(records) + [fresh["sighting_id"]]) == {
        sid: 1 for sid in ids(records) + [fresh["sighting_id"]]}


@pytest.mark.parametrize("bench", kinds("refused token"), indirect=True)
def test_a_refused_token_is_a_refusal_and_nothing_is_stored(bench: RegisterBench,
                                                            tmp_path: Path) -> None:
    assert bench.wrong_token is not None
    record = bench.new_record()
    with bench.wrong_token() as refusing:
        with pytest.raises(RegisterRefused):
            refusing.check()
        with pytest.raises(RegisterRefused):
            refusing.expected_assets()
        with pytest.raises(RegisterRefused):
            refusing.push(typed([record]))
        device = Device(bench, tmp_path / "state")
        device.engine.register = refusing
        try:
            device.queue_up([record])
            result = device.engine.run_once()
            assert result.refused and result.error and len(device.queue) == 1
        finally:
            device.close()
    assert bench.stored_counts([record["sighting_id"]]) == {record["sighting_id"]: 0}


@pytest.mark.parametrize("bench", kinds("outage"), indirect=True)
def test_an_outage_between_batches_loses_nothing_and_the_resend_stores_once(
        bench: RegisterBench, device: Device) -> None:
    assert bench.go_down is not None and bench.come_back is not None
    before = [bench.new_record() for _ in range(2)]
    device.queue_up(before)
    assert device.engine.run_once().sent == 2
    during = [bench.new_record() for _ in range(3)]
    device.queue_up(during)
    bench.go_down()
    with pytest.raises(RegisterError) as caught:
        bench.register.check()
    assert not isinstance(caught.value, RegisterRefused)
    result = device.engine.run_once()
    assert result.error and not result.refused and (result.sent, result.left) == (0, 3)
    assert set(bench.stored_counts(ids(during)).values()) == {0}
    bench.come_back()
    result = device.engine.run_once()
    assert (result.sent, result.duplicates, result.left, result.error) == (3, 0, 0, None)
    assert bench.stored_counts(ids(before + during)) == {sid: 1 for sid in ids(before + during)}


@pytest.mark.parametrize("bench", kinds("outage"), indirect=True)
def test_the_register_out_of_reach_is_unavailable_not_refused(bench: RegisterBench) -> None:
    assert bench.go_down is not None and bench.come_back is not None
    bench.go_down()
    try:
        with pytest.raises(RegisterUnavailable):
            bench.register.expected_assets()
        with pytest.raises(RegisterUnavailable):
            bench.register.check()
    finally:
        bench.come_back()
    bench.register.check()


@pytest.mark.parametrize("bench", kinds("answer lost"), indirect=True)
def test_a_batch_applied_whose_answer_is_lost_is_found_again_not_doubled(
        bench: RegisterBench, device: Device) -> None:
    assert bench.lose_next_answer is not None
    records = [bench.new_record() for _ in range(2)]
    device.queue_up(records)
    bench.lose_next_answer()
    result = device.engine.run_once()
    assert result.error and (result.sent, result.left) == (0, 2)
    # A register that takes a batch item by item (snipeit) had applied the first only.
    assert 1 in set(bench.stored_counts(ids(records)).values()) <= {0, 1}
    result = device.engine.run_once()
    assert (result.left, result.error, result.dead_lettered) == (0, None, 0)
    assert result.sent + result.duplicates == 2
    assert bench.stored_counts(ids(records)) == {sid: 1 for sid in ids(records)}


@pytest.mark.parametrize("bench", kinds("partial batch"), indirect=True)
def test_a_partial_batch_dead_letters_the_refused_item_with_the_register_reason(
        bench: RegisterBench, device: Device) -> None:
    assert bench.refused_record is not None
    refused, reason = bench.refused_record()
    good = [bench.new_record(), bench.new_record()]
    device.engine.batch_size = 3
    device.queue_up([good[0], refused, good[1]])
    result = device.engine.run_once()
    assert (result.sent, result.dead_lettered, result.left, result.error) == (2, 1, 0, None)
    [dead] = device.queue.dead_letters()
    assert dead["sighting_id"] == refused["sighting_id"] and reason in dead["reason"]
    assert bench.stored_counts(ids(good) + [refused["sighting_id"]]) == {
        good[0]["sighting_id"]: 1, good[1]["sighting_id"]: 1, refused["sighting_id"]: 0}


@pytest.mark.parametrize("bench", kinds("pages"), indirect=True)
def test_the_expected_inventory_is_every_asset_across_pages(bench: RegisterBench) -> None:
    assert bench.hold_assets is not None
    count = 1200 if bench.page_size is None else 2 * bench.page_size + 1
    assert (bench.page_size is None) == (bench.kind in UNPAGED)
    expected = bench.hold_assets(count)
    tags = [asset.asset_tag for asset in bench.register.expected_assets()]
    assert len(tags) == len(set(tags)) and set(tags) == expected
