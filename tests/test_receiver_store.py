"""The receiver's store on SQLite and on a real PostgreSQL: one code path, the same answers.

Each test runs once per database (``db_url``); the PostgreSQL runs carry the ``postgres``
marker and go last, after the unit tests (tests/postgres.py starts the server).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.asset import Asset
from firmware.errors import ConfigError
from sync.receiver.holdings import Holdings
from sync.receiver.store import CheckedRecord, KeyReused, ReceiverStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'receiver.sqlite'}"
    from tests.postgres import fresh_database

    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(db_url: str) -> Iterator[ReceiverStore]:
    with ReceiverStore(db_url, pool_size=16) as opened:
        yield opened


def _record(sid: str, device: str = "pi-1", **extra: object) -> CheckedRecord:
    record = {"sighting_id": sid, "device_id": device, "session_id": "s-1",
              "payload": sid, "verdict": "found", "wall_time": "2026-12-07T04:00:00Z",
              **extra}
    return CheckedRecord(sid, "s-1", json.dumps(record), verdict=str(record["verdict"]),
                         record=record)


def _statuses(text: str) -> list[str]:
    return [r["status"] for r in json.loads(text)["results"]]


def test_a_batch_is_stored_once_and_replayed_under_its_key(store: ReceiverStore) -> None:
    batch = [_record("a"), _record("b"), _record("a")]
    first = store.record_batch("k1", "sha-1", "pi-1", batch)
    assert _statuses(first.text) == ["accepted", "accepted", "duplicate"]
    assert not first.replayed
    again = store.record_batch("k1", "sha-1", "pi-1", batch)
    assert again.replayed and again.text == first.text
    other_key = store.record_batch("k2", "sha-2", "pi-1", [_record("b"), _record("c")])
    assert _statuses(other_key.text) == ["duplicate", "accepted"]
    with pytest.raises(KeyReused):
        store.record_batch("k1", "sha-other", "pi-1", batch)
    assert store.sighting_count() == 3 and store.duplicate_sightings() == 0


def test_a_refused_record_is_answered_and_the_rest_stored(store: ReceiverStore) -> None:
    answer = store.record_batch("k", "sha", "pi-1",
                                [CheckedRecord("x", reason="payload is missing"), _record("y")])
    results = json.loads(answer.text)["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["reason"] == "payload is missing"
    assert store.sighting_count() == 1


def test_reports_are_stored_and_replaced(store: ReceiverStore) -> None:
    assert store.put_report("s-1", "pi-1", '{"v":1}') is True
    assert store.put_report("s-1", "pi-1", '{"v":2}') is False
    assert store.report("s-1") == '{"v":2}' and store.report("s-2") is None


def test_heartbeats_keep_each_devices_last_contact_and_state(store: ReceiverStore) -> None:
    assert store.devices() == []
    store.record_batch("k", "sha", "pi-2", [_record("z", device="pi-2")])
    at = store.record_heartbeat("pi-1", '{"device_id":"pi-1","queue_depth":3}')
    store.record_heartbeat("pi-1", '{"device_id":"pi-1","queue_depth":0}')
    devices = store.devices()
    assert [d["device_id"] for d in devices] == ["pi-1", "pi-2"]
    assert devices[0]["state"] == {"device_id": "pi-1", "queue_depth": 0}
    assert devices[0]["last_heartbeat"] >= at and devices[0]["seconds_since_contact"] >= 0
    # a push is contact too, but reports no state
    assert devices[1]["state"] is None and devices[1]["last_heartbeat"] is None


def test_concurrent_overlapping_pushes_store_each_sighting_once(store: ReceiverStore) -> None:
    """12 threads push overlapping batches (shared ids, in both orders, and shared keys):
    every sighting is stored once and accepted in exactly one answer."""
    ids = [f"sid-{n:03d}" for n in range(120)]
    answers: list[tuple[str, str, bool]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def pusher(number: int) -> None:
        try:
            start.wait()
            for round_ in range(6):
                chosen = ids[(number * 7 + round_ * 20) % 100:][:20]
                if number % 2:
                    chosen = list(reversed(chosen))
                # threads 0-3 share their keys with each other: the same batch from many
                key = f"shared-{round_}" if number < 4 else f"t{number}-{round_}"
                if number < 4:
                    chosen = ids[round_ * 20:round_ * 20 + 20]
                answer = store.record_batch(key, f"sha-{key}", "pi-1",
                                            [_record(sid) for sid in chosen])
                with lock:
                    answers.append((key, answer.text, answer.replayed))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    accepted: Counter[str] = Counter()
    by_key: dict[str, set[str]] = {}
    for key, text, replayed in answers:
        by_key.setdefault(key, set()).add(text)
        if replayed:
            continue  # the answer the first batch under this key got, sent again
        for result in json.loads(text)["results"]:
            assert result["status"] in ("accepted", "duplicate")
            if result["status"] == "accepted":
                accepted[result["sighting_id"]] += 1
    assert store.duplicate_sightings() == 0
    assert store.sighting_count() == len(accepted)
    assert set(accepted.values()) == {1}, [s for s, n in accepted.items() if n > 1]
    # the four threads sharing each key all got the one answer the key's batch got
    assert all(len(texts) == 1 for texts in by_key.values())
    assert sum(replayed for _, _, replayed in answers) == 6 * 3
    assert len(answers) == 72


def test_concurrent_check_outs_of_an_asset_give_it_to_one_person(
        store: ReceiverStore) -> None:
    """8 kiosks check the same 10 assets out at once, each to another person: each asset
    goes to one person, the other 7 check-outs are conflicts."""
    assets = {f"lap-{n}": Asset(asset_tag=f"LAP-{n}", location="Store", status="Ready")
              for n in range(10)}
    holdings = Holdings(lambda tag: assets.get(tag.casefold()))
    answers: list[str] = []
    start = threading.Barrier(8)

    def check_out(number: int) -> None:
        start.wait()
        batch = [_record(f"out-{number}-{n}", verdict="checked_out", asset_tag=f"LAP-{n}",
                         location="Door", person={"name": f"person {number}"})
                 for n in range(10)]
        answers.append(store.record_batch(f"k-{number}", f"sha-{number}", "pi-1", batch,
                                          holdings).text)

    threads = [threading.Thread(target=check_out, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8
    for n in range(10):
        statuses = Counter(_statuses(text)[n] for text in answers)
        assert statuses == {"accepted": 1, "conflict": 7}, (n, statuses)
        holder = store.holder(f"LAP-{n}")
        assert holder is not None and holder["name"].startswith("person ")


def test_a_password_in_the_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PGPASSWORD"):
        ReceiverStore("postgresql://me:secret@127.0.0.1:5432/db")


def test_an_unknown_database_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown database"):
        ReceiverStore("mysql://me@127.0.0.1/db")
