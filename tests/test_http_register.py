"""The ``http`` register adapter against the reference receiver on loopback, faults included.

The receiver is a real ``stocktaker register-server`` subprocess. Faults come from a small
loopback proxy between the adapter and the receiver: it answers 500, 429 or 503, resets
the connection, never answers, answers late, answers garbage, or passes a batch on (so
the receiver applies it) and then drops the connection or mangles the answer. After each,
the adapter must raise RegisterUnavailable, and a retry of the same batch must leave
every sighting stored exactly once, counted in the receiver's SQLite file.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from firmware.config import RegisterConfig, load_config
from firmware.errors import ConfigError, RegisterError, RegisterUnavailable
from sync.http import HttpRegister, idempotency_key
from sync.manifest import read_manifest
from sync.registers import open_register
from tests.test_receiver import (
    MANIFEST,
    TOKEN,
    Receiver,
    call,
    report,
    running_receiver,
    sighting,
    stop_process,
    stored_counts,
    write_manifest,
    write_token,
)
from tests.sightings import typed

CLIENT_TIMEOUT = 0.5


def adapter_for(url: str, token: str = TOKEN, timeout: float = 10.0) -> HttpRegister:
    return HttpRegister(url, token, "hh-01", timeout=timeout, rate_per_minute=6000)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with running_receiver(tmp_path_factory.mktemp("receiver")) as running:
        yield running


@pytest.fixture
def register(receiver: Receiver) -> Iterator[HttpRegister]:
    with adapter_for(receiver.url) as adapter:
        yield adapter


def statuses(results: list[Any]) -> list[str]:
    return [r.status.value for r in results]


# --- configuration -------------------------------------------------------------------


def test_open_register_makes_the_http_adapter(receiver: Receiver) -> None:
    config = RegisterConfig(adapter="http", url=receiver.url, token_file=receiver.token_file,
                            timeout=5.0, rate_per_minute=600.0)
    with open_register(config, "hh-01") as opened:
        assert isinstance(opened, HttpRegister)
        assert opened.client.timeout == 5.0 and opened.client.limiter.interval == 0.1
        assert len(opened.expected_assets()) == 4


def test_a_configuration_file_selects_the_http_adapter(receiver: Receiver,
                                                       tmp_path: Path) -> None:
    write_token(tmp_path / "register-token")
    (tmp_path / "stocktaker.toml").write_text(
        f'[register]\nadapter = "http"\nurl = "{receiver.url}"\n'
        'token_file = "register-token"\nrate_per_minute = 6000.0\n', encoding="utf-8")
    config = load_config(tmp_path / "stocktaker.toml")
    with open_register(config.register, config.device.id) as opened:
        assert isinstance(opened, HttpRegister) and opened.device_id == config.device.id
        assert [a.asset_tag for a in opened.expected_assets()][:1] == ["IT-0001"]


@pytest.mark.parametrize("changes, key", [
    ({"url": None}, "register.url"),
    ({"token_file": None}, "register.token_file"),
    ({"token_file": Path("/nonexistent/token")}, "register.token_file"),
])
def test_open_register_names_the_missing_key(tmp_path: Path, changes: dict[str, Any],
                                             key: str) -> None:
    config = RegisterConfig(adapter="http", url="http://127.0.0.1:9",
                            token_file=write_token(tmp_path / "token"))
    with pytest.raises(ConfigError, match=f"^{key}: "):
        open_register(replace(config, **changes), "hh-01")


# --- the manifest --------------------------------------------------------------------


def test_expected_assets_are_the_register_manifest(register: HttpRegister,
                                                   receiver: Receiver) -> None:
    assets = register.expected_assets()
    from_csv = read_manifest(receiver.manifest)
    assert [replace(a, origin="") for a in assets] == [replace(a, origin="") for a in from_csv]
    assert assets[0].origin == f"{receiver.url}/api/v1/manifest, asset 1"


def test_the_manifest_etag_saves_the_download_until_it_changes(tmp_path: Path) -> None:
    with running_receiver(tmp_path) as running, adapter_for(running.url) as adapter:
        first = adapter.expected_assets()
        second = adapter.expected_assets()
        assert second == first
        write_manifest(running.manifest, MANIFEST + "IT-0005,SN-5,Phone,Storage A,,,5\n")
        third = adapter.expected_assets()
        fourth = adapter.expected_assets()
        time.sleep(0.2)
        lines = [line for line in running.log_lines() if "/api/v1/manifest" in line]
    assert [line.split('" ')[1].split()[0] for line in lines] == ["200", "304", "200", "304"]
    assert [a.asset_tag for a in third] == [a.asset_tag for a in first] + ["IT-0005"]
    assert fourth == third


# --- batches -------------------------------------------------------------------------


def test_push_answers_each_sighting(register: HttpRegister, receiver: Receiver) -> None:
    good, other = sighting(), sighting()
    broken = sighting(verdict="v" * 33)  # a sighting, but no verdict the receiver knows
    results = register.push(typed([good, broken, good, other]))
    assert statuses(results) == ["accepted", "rejected", "duplicate", "accepted"]
    assert [r.sighting_id for r in results] == [good["sighting_id"], broken["sighting_id"],
                                                good["sighting_id"], other["sighting_id"]]
    assert results[1].reason == f'verdict "{"v" * 33}" is not allowed here'
    assert results[0].reason is None
    # the same batch again: the same key, so the same answer
    assert register.push(typed([good, broken, good, other])) == results
    # another batch holding a stored sighting: duplicate
    fresh = sighting()
    assert statuses(register.push(typed([fresh, good]))) == ["accepted", "duplicate"]
    counts = stored_counts(receiver.db, [good["sighting_id"], other["sighting_id"],
                                         fresh["sighting_id"], broken["sighting_id"]])
    assert list(counts.values()) == [1, 1, 1, 0]


def test_an_empty_batch_sends_nothing(register: HttpRegister) -> None:
    assert register.push(typed([])) == []


def test_the_key_follows_the_batch_and_its_order() -> None:
    a, b = sighting(1), sighting(2)
    # The same sightings read back from the queue (JSON, keys in another order) are the
    # same batch: the same key; one sighting changed for another is another batch.
    reread = [json.loads(json.dumps(dict(reversed(list(r.items()))))) for r in (a, b)]
    key = idempotency_key("hh-01", typed([a, b]))
    assert key == idempotency_key("hh-01", typed(reread))
    assert key != idempotency_key("hh-01", typed([a, sighting(3)]))
    assert key != idempotency_key("hh-01", typed([b, a]))
    assert idempotency_key("hh-01", typed([a])) != idempotency_key("hh-02", typed([a]))
    assert len(idempotency_key("hh-01", typed([a] * 1000))) <= 255


def test_the_same_sightings_in_another_order_are_duplicates_not_a_refusal(
        register: HttpRegister) -> None:
    a, b = sighting(), sighting()
    assert statuses(register.push(typed([a, b]))) == ["accepted", "accepted"]
    assert statuses(register.push(typed([b, a]))) == ["duplicate", "duplicate"]


def test_a_changed_batch_under_the_same_key_is_refused_not_retried(
        register: HttpRegister) -> None:
    record = sighting()
    register.push(typed([record]))
    with pytest.raises(RegisterError, match="HTTP 422") as caught:
        register.push(typed([{**record, "payload": "changed"}]))
    assert not isinstance(caught.value, RegisterUnavailable)


def test_a_batch_over_the_limit_is_refused(register: HttpRegister, receiver: Receiver) -> None:
    records = [sighting() for _ in range(1001)]
    with pytest.raises(RegisterError, match="HTTP 422") as caught:
        register.push(typed(records))
    assert not isinstance(caught.value, RegisterUnavailable)
    assert set(statuses(register.push(typed(records[:1000])))) == {"accepted"}


# --- reports -------------------------------------------------------------------------


def test_a_report_is_published_once_however_often_it_is_sent(register: HttpRegister,
                                                             receiver: Receiver) -> None:
    session = str(uuid.uuid4())
    where = register.publish_report(report(session))
    assert where == [f"{receiver.url}/api/v1/reports/{session}"]
    assert register.publish_report(report(session)) == where
    back = call(receiver.address, "GET", f"/api/v1/reports/{session}")
    assert back.json() == report(session)


def test_a_report_without_a_session_is_refused_before_sending(register: HttpRegister) -> None:
    with pytest.raises(RegisterError, match="no session_id"):
        register.publish_report({"counts": {}})


# --- authentication ------------------------------------------------------------------


def test_a_wrong_token_is_a_refusal_not_a_retry(receiver: Receiver) -> None:
    record = sighting()
    with adapter_for(receiver.url, token="not-the-token") as adapter:
        for action in (adapter.expected_assets, lambda: adapter.push(typed([record])),
                       lambda: adapter.publish_report(report(str(uuid.uuid4())))):
            with pytest.raises(RegisterError, match="HTTP 401.*refused the token") as caught:
                action()
            assert not isinstance(caught.value, RegisterUnavailable)
    assert stored_counts(receiver.db, [record["sighting_id"]]) == {record["sighting_id"]: 0}


def test_a_receiver_that_is_not_running_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with adapter_for(f"http://127.0.0.1:{port}") as adapter:
        with pytest.raises(RegisterUnavailable, match="cannot reach"):
            adapter.push(typed([sighting()]))


# --- restarts ------------------------------------------------------------------------


def test_a_restarted_receiver_keeps_what_it_acknowledged(tmp_path: Path) -> None:
    records = [sighting() for _ in range(30)]
    session = str(uuid.uuid4())
    with running_receiver(tmp_path) as running, adapter_for(running.url) as adapter:
        first = adapter.push(typed(records))
        adapter.publish_report(report(session))
        assert stop_process(running.proc) == 0
    with running_receiver(tmp_path) as running, adapter_for(running.url) as adapter:
        assert adapter.push(typed(records)) == first  # the key's stored answer, replayed
        assert set(statuses(adapter.push(typed(records[10:] + [sighting()])))) == {
            "duplicate", "accepted"}
        assert statuses(adapter.push(typed(records[:3]))) == ["duplicate"] * 3
        assert call(running.address, "GET", f"/api/v1/reports/{session}").status == 200
        counts = stored_counts(running.db, [r["sighting_id"] for r in records])
    assert set(counts.values()) == {1}


# --- faults --------------------------------------------------------------------------


class FaultProxy(ThreadingHTTPServer):
    """A loopback HTTP proxy to ``upstream`` whose next request may meet a fault."""

    daemon_threads = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.fault: str | None = None
        self.options: dict[str, Any] = {}
        self.faults_served = 0
        self.closing = threading.Event()
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _FaultHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail_next(self, fault: str, **options: Any) -> None:
        with self._lock:
            self.fault, self.options = fault, options

    def take_fault(self) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            fault, options = self.fault, self.options
            self.fault, self.options = None, {}
            if fault is not None:
                self.faults_served += 1
            return fault, options


_FORWARDED = ("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match")
_RELAYED = ("Content-Type", "ETag", "Location", "Idempotent-Replayed", "WWW-Authenticate",
            "Retry-After")


class _FaultHandler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault, options = self.server.take_fault()
        if fault == "status":
            headers = {k: v() if callable(v) else v for k, v in options.get("headers", {}).items()}
            self._reply(options["status"], b'{"error": "injected"}', headers)
        elif fault == "reset":
            self._reset()
        elif fault == "hang":
            self.server.closing.wait(10)
            self.close_connection = True
        elif fault == "garbage":
            self._reply(200, options["body"], {"Content-Type": options.get("type", "text/html")})
        elif fault == "apply_then_reset":
            self._forward(body)
            self._reset()
        elif fault == "apply_then_slow":
            status, headers, answer = self._forward(body)
            time.sleep(options["delay"])
            try:
                self._reply(status, answer, headers)
            except OSError:
                self.close_connection = True
        elif fault == "apply_then_mangle":
            status, headers, answer = self._forward(body)
            self._reply(status, options["mangle"](answer), headers)
        else:
            status, headers, answer = self._forward(body)
            self._reply(status, answer, headers)

    do_POST = do_PUT = do_GET

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=20)
        try:
            conn.request(self.command, self.path, body=body or None,
                         headers={k: v for k in _FORWARDED if (v := self.headers.get(k))})
            answer = conn.getresponse()
            data = answer.read()
            headers = {k: v for k in _RELAYED if (v := answer.getheader(k))}
            return answer.status, headers, data
        finally:
            conn.close()

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout: close() sends RST, the client sees a reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


@pytest.fixture(scope="module")
def proxy(receiver: Receiver) -> Iterator[FaultProxy]:
    server = FaultProxy(receiver.address)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def _in_two_minutes() -> str:
    return email.utils.formatdate(time.time() + 120, usegmt=True)


def _results_reversed(body: bytes) -> bytes:
    data = json.loads(body)
    data["results"].reverse()
    return json.dumps(data).encode()


def _results_short(body: bytes) -> bytes:
    data = json.loads(body)
    data["results"].pop()
    return json.dumps(data).encode()


def _status_unknown(body: bytes) -> bytes:
    return body.replace(b'"accepted"', b'"ok"')


FAULTS: dict[str, tuple[str, dict[str, Any], float | None]] = {
    # name: (fault, options, retry_after the adapter must report)
    "500": ("status", {"status": 500}, None),
    "502": ("status", {"status": 502}, None),
    "html page": ("garbage", {"body": b"<html>Sign in to the proxy</html>"}, None),
    "503 retry-after date": ("status", {"status": 503, "headers": {
        "Retry-After": _in_two_minutes}}, 120.0),
    "429 retry-after": ("status", {"status": 429, "headers": {"Retry-After": "7"}}, 7.0),
    "429 bare": ("status", {"status": 429}, None),
    "408": ("status", {"status": 408}, None),
    "connection reset": ("reset", {}, None),
    "no answer (timeout)": ("hang", {}, None),
    "garbage body": ("garbage", {"body": b"\x00\xffnot json at all"}, None),
    "cut json": ("garbage", {"body": b'{"results": [', "type": "application/json"}, None),
    "json not an answer": ("garbage", {"body": b'["accepted"]', "type": "application/json"},
                           None),
    "applied, then reset": ("apply_then_reset", {}, None),
    "applied, answered too late": ("apply_then_slow", {"delay": CLIENT_TIMEOUT * 3}, None),
    "applied, results reordered": ("apply_then_mangle", {"mangle": _results_reversed}, None),
    "applied, a result missing": ("apply_then_mangle", {"mangle": _results_short}, None),
    "applied, unknown status": ("apply_then_mangle", {"mangle": _status_unknown}, None),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_fault_is_unavailable_and_the_retry_stores_each_sighting_once(
        proxy: FaultProxy, receiver: Receiver, name: str) -> None:
    fault, options, retry_after = FAULTS[name]
    records = [sighting() for _ in range(7)]
    ids = [r["sighting_id"] for r in records]
    with adapter_for(proxy.url, timeout=CLIENT_TIMEOUT) as adapter:
        proxy.fail_next(fault, **options)
        with pytest.raises(RegisterUnavailable) as caught:
            adapter.push(typed(records))
        assert proxy.fault is None, "the fault was not met"
        if retry_after is None:
            assert caught.value.retry_after is None
        else:
            assert caught.value.retry_after == pytest.approx(retry_after, abs=3)
        applied = fault.startswith("apply")
        assert set(stored_counts(receiver.db, ids).values()) == {1 if applied else 0}
        results = adapter.push(typed(records))
    assert statuses(results) == ["accepted"] * len(records)
    assert [r.sighting_id for r in results] == ids
    assert set(stored_counts(receiver.db, ids).values()) == {1}


@pytest.mark.parametrize("name", ["500", "connection reset", "garbage body",
                                  "applied, then reset"])
def test_manifest_and_report_faults_are_unavailable_too(proxy: FaultProxy, receiver: Receiver,
                                                        name: str) -> None:
    fault, options, _ = FAULTS[name]
    session = str(uuid.uuid4())
    with adapter_for(proxy.url, timeout=CLIENT_TIMEOUT) as adapter:
        proxy.fail_next(fault, **options)
        with pytest.raises(RegisterUnavailable):
            adapter.expected_assets()
        assert len(adapter.expected_assets()) >= 4
        proxy.fail_next(fault, **options)
        with pytest.raises(RegisterUnavailable):
            adapter.publish_report(report(session))
        assert adapter.publish_report(report(session)) == [
            f"{proxy.url}/api/v1/reports/{session}"]
    assert call(receiver.address, "GET", f"/api/v1/reports/{session}").status == 200


def test_a_batch_applied_then_lost_and_sent_again_in_other_batches_is_duplicate(
        proxy: FaultProxy, receiver: Receiver) -> None:
    records = [sighting() for _ in range(6)]
    with adapter_for(proxy.url, timeout=CLIENT_TIMEOUT) as adapter:
        proxy.fail_next("apply_then_reset")
        with pytest.raises(RegisterUnavailable):
            adapter.push(typed(records))
        later = [sighting(), *records[:3]]
        assert statuses(adapter.push(typed(later))) == ["accepted"] + ["duplicate"] * 3
        assert statuses(adapter.push(typed(records[3:]))) == ["duplicate"] * 3
    ids = [r["sighting_id"] for r in records + later]
    assert set(stored_counts(receiver.db, ids).values()) == {1}


def test_a_slow_answer_within_the_timeout_is_fine(proxy: FaultProxy) -> None:
    with adapter_for(proxy.url, timeout=2.0) as adapter:
        proxy.fail_next("apply_then_slow", delay=0.3)
        assert statuses(adapter.push(typed([sighting()]))) == ["accepted"]


def test_a_304_without_a_manifest_to_reuse_is_unavailable(proxy: FaultProxy) -> None:
    with adapter_for(proxy.url) as adapter:
        proxy.fail_next("status", status=304)
        with pytest.raises(RegisterUnavailable, match="304"):
            adapter.expected_assets()


@pytest.mark.parametrize("body", [
    b'{"assets": {}}',
    b'{"assets": [{"serial": "x"}]}',
    b'{"assets": [{"asset_tag": "IT-1", "id": "7"}]}',
    b'{"assets": [{"asset_tag": "IT-1", "location": 5}]}',
])
def test_a_manifest_that_is_not_one_is_unavailable(proxy: FaultProxy, body: bytes) -> None:
    with adapter_for(proxy.url) as adapter:
        proxy.fail_next("garbage", body=body, type="application/json")
        with pytest.raises(RegisterUnavailable, match="manifest"):
            adapter.expected_assets()
