"""Heartbeats: the device's state after each sync round, kept by the receiver with its own
time of contact, and listed for a fleet dashboard (``GET /api/v1/devices``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from firmware.errors import RegisterError, RegisterUnavailable
from sync.engine import SyncEngine
from sync.heartbeat import heartbeat_state
from sync.http import HttpRegister
from sync.memory_register import MemoryRegister
from sync.queue import SightingQueue
from sync.pending_reports import PendingReports
from tests.test_engine import Clock, record
from tests.test_receiver import TOKEN, Receiver, running_receiver, sighting
from tests.sightings import typed


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with running_receiver(tmp_path_factory.mktemp("heartbeat")) as running:
        yield running


def _devices(receiver: Receiver, token: str = TOKEN) -> requests.Response:
    return requests.get(f"{receiver.url}/api/v1/devices", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def _by_id(receiver: Receiver) -> dict[str, Any]:
    answer = _devices(receiver)
    assert answer.status_code == 200
    return {d["device_id"]: d for d in answer.json()["devices"]}


def test_a_heartbeat_is_kept_with_the_receivers_time(receiver: Receiver) -> None:
    with HttpRegister(receiver.url, TOKEN, "hb-01") as register:
        register.heartbeat({"queue_depth": 4, "oldest_queued_age": 12.5, "dead_letters": 1,
                            "firmware_version": "9.9", "mode": "kiosk", "room": "Door A",
                            "device_id": "someone-else"})
    device = _by_id(receiver)["hb-01"]
    assert device["state"]["queue_depth"] == 4 and device["state"]["room"] == "Door A"
    assert device["state"]["device_id"] == "hb-01"  # the adapter names its own device
    assert device["last_heartbeat"] == device["last_contact"]
    assert 0 <= device["seconds_since_contact"] < 3600


def test_a_push_counts_as_contact(receiver: Receiver) -> None:
    with HttpRegister(receiver.url, TOKEN, "hh-07") as register:
        register.push(typed([sighting(1, device_id="hh-07")]))
    device = _by_id(receiver)["hh-07"]
    assert device["state"] is None and device["last_heartbeat"] is None
    assert device["last_contact"].endswith("Z")


def test_the_device_list_needs_the_token(receiver: Receiver) -> None:
    assert _devices(receiver, token="wrong").status_code == 401


@pytest.mark.parametrize("body", [{"queue_depth": -1, "device_id": "x"},
                                  {"device_id": "x"},
                                  {"device_id": "x", "queue_depth": 1, "last_sync": "yesterday"},
                                  [1, 2]])
def test_a_heartbeat_that_breaks_the_protocol_is_refused(receiver: Receiver,
                                                         body: Any) -> None:
    answer = requests.post(f"{receiver.url}/api/v1/heartbeat", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 422 and "error" in answer.json()


def test_each_sync_round_ends_with_a_heartbeat(receiver: Receiver, tmp_path: Path) -> None:
    with SightingQueue(tmp_path / "q") as queue, \
            HttpRegister(receiver.url, TOKEN, "hh-01") as register:
        for n in range(3):
            queue.append(sighting(100 + n))
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "r"), Clock(),
                            device_state=lambda: {"firmware_version": "1.2.3",
                                                  "mode": "handheld"})
        assert engine.run_once().error is None
    state = _by_id(receiver)["hh-01"]["state"]
    assert state["queue_depth"] == 0 and state["oldest_queued_age"] is None
    assert state["firmware_version"] == "1.2.3" and state["last_sync_ok"] is True
    assert state["last_sync"] is not None


class _NoHeartbeats(MemoryRegister):
    def __init__(self) -> None:
        super().__init__()
        self.heartbeats: list[Mapping[str, Any]] = []

    def heartbeat(self, state: Mapping[str, Any]) -> None:
        self.heartbeats.append(state)
        raise RegisterUnavailable("POST /api/v1/heartbeat: HTTP 503")


def test_a_failed_heartbeat_never_fails_the_round(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    register = _NoHeartbeats()
    with SightingQueue(tmp_path / "q") as queue:
        for n in range(5):
            queue.append(record(n))
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "r"), Clock())
        with caplog.at_level("INFO"):
            result = engine.run_once()
    assert (result.sent, result.left, result.error) == (5, 0, None)
    assert len(register.heartbeats) == 1 and register.heartbeats[0]["queue_depth"] == 0
    assert "heartbeat not sent" in caplog.text


def test_no_heartbeat_follows_a_round_that_could_not_reach_the_register(
        tmp_path: Path) -> None:
    register = _NoHeartbeats()
    register.down = 5
    with SightingQueue(tmp_path / "q") as queue:
        queue.append(record(1))
        result = SyncEngine(queue, register, PendingReports(tmp_path / "r"),
                            Clock()).run_once()
    assert result.error is not None and register.heartbeats == []


def test_the_state_names_the_oldest_queued_age() -> None:
    state = heartbeat_state({"oldest": "2026-12-07T04:00:00Z", "dead_letters": 2,
                             "last_sync": None}, queued=3,
                            now_wall=1796616060.0, error="HTTP 500",
                            extra={"mode": "handheld", "queue_depth": 99})
    assert state["oldest_queued_age"] == 60.0 and state["queue_depth"] == 3
    assert state["last_sync_ok"] is False and state["last_sync_error"] == "HTTP 500"
    assert state["dead_letters"] == 2 and state["mode"] == "handheld"


class _OldRegister(MemoryRegister):
    """A register from before heartbeats: it answers them 404."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def heartbeat(self, state: Mapping[str, Any]) -> None:
        self.asked += 1
        raise RegisterError("POST /api/v1/heartbeat: HTTP 404")


def test_a_register_without_heartbeats_is_asked_once(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    register = _OldRegister()
    with SightingQueue(tmp_path / "q") as queue:
        engine = SyncEngine(queue, register, PendingReports(tmp_path / "r"), Clock())
        for n in range(3):
            queue.append(record(n))
            assert engine.run_once().error is None
    assert register.asked == 1 and len(register.stored) == 3
    assert caplog.text.count("heartbeat refused") == 1
