"""The reference receiver (``stocktaker register-server``) on loopback: the protocol's rules.

The receiver runs as a real subprocess, found through the URL on its first line of output
and stopped by its PID whatever happens in the test. Requests are sent with http.client,
so every header and byte is the test's own.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sync.receiver import ManifestSource, ReceiverServer, ReceiverStore, start_in_thread

TOKEN = "test-token-0123456789"

MANIFEST = """Asset Tag,Serial,Asset Name,Location,Status,Checked Out To,ID
IT-0001,SN-1,Laptop one,Storage A,Ready to Deploy,,1
IT-0002,SN-2,Laptop two,Storage A,Archived,,2
IT-0003,SN-3,Monitor,Storage  B,Ready to Deploy,ana,3
IT-0004,,Dock,Server Room,Lost,,
"""


# --- running a receiver -------------------------------------------------------------


@dataclass
class Receiver:
    """A receiver subprocess and what the tests need to know about it."""

    url: str
    proc: subprocess.Popen[str]
    db: Path | str
    """A SQLite file, or a PostgreSQL URL."""
    manifest: Path
    token_file: Path
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        assert parts.hostname is not None and parts.port is not None
        return parts.hostname, parts.port

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()


def write_token(path: Path, token: str = TOKEN) -> Path:
    path.write_text(token + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


def write_manifest(path: Path, text: str = MANIFEST) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def receiver_command(db: Path | str, manifest: Path, token_file: Path, port: int = 0) -> list[str]:
    return [sys.executable, "-m", "firmware", "register-server", "--db", str(db),
            "--manifest", str(manifest), "--token-file", str(token_file),
            "--host", "127.0.0.1", "--port", str(port)]


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> int:
    """Stop ``proc`` by its PID (``sig``, then SIGKILL after 10 s); returns its exit code."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.wait()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the receiver printed nothing within {timeout} s")
    return proc.stdout.readline().strip()


@contextmanager
def running_receiver(directory: Path, *, db: Path | str | None = None,
                     manifest: Path | None = None) -> Iterator[Receiver]:
    """Start ``stocktaker register-server --port 0`` in ``directory``; stop it on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    db = db or directory / "receiver.sqlite"
    manifest = manifest or write_manifest(directory / "expected.csv")
    token_file = directory / "token"
    if not token_file.exists():
        write_token(token_file)
    log = directory / f"receiver-{time.monotonic_ns()}.log"
    with log.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(receiver_command(db, manifest, token_file),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log_file, text=True)
    try:
        url = _first_line(proc, timeout=30)
        assert url.startswith("http://127.0.0.1:"), (url, log.read_text(encoding="utf-8"))
        yield Receiver(url, proc, db, manifest, token_file, log)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def db_rows(db: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of a query (``?`` parameters) on the receiver's database, SQLite or
    PostgreSQL, read directly, not through the receiver."""
    if str(db).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(db)) as pg:
            return list(pg.execute(sql.replace("?", "%s"), params).fetchall())
    with sqlite3.connect(db) as conn:
        rows = list(conn.execute(sql, params).fetchall())
    conn.close()
    return rows


def stored_counts(db: Path | str, sighting_ids: list[str]) -> dict[str, int]:
    """How many rows each sighting id has in the receiver's database."""
    counts = {sid: 0 for sid in sighting_ids}
    for sid, in db_rows(db, "SELECT sighting_id FROM sightings"):
        if sid in counts:
            counts[sid] += 1
    return counts


def sighting(n: int | None = None, device_id: str = "hh-01", **changes: Any) -> dict[str, Any]:
    """A sighting record as the device queues it."""
    sid = str(uuid.uuid4() if n is None else uuid.UUID(int=n))
    record = {
        "sighting_id": sid, "device_id": device_id,
        "session_id": "5a0e3c2e-0000-4000-8000-000000000001", "location": "Storage A",
        "technician": "ana", "tag": {"kind": "asset_tag", "value": "IT-0001"},
        "asset_tag": "IT-0001", "payload": "IT-0001", "symbology": "CODE128",
        "source": "scanner", "verdict": "verified", "recorded_location": None,
        "reason": None, "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True,
        "monotonic": 1234.5, "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7",
        "firmware_version": "0.1.0", "candidates": [],
    }
    record.update(changes)
    return record


def report(session_id: str = "5a0e3c2e-0000-4000-8000-000000000001",
           device_id: str = "hh-01") -> dict[str, Any]:
    """An audit report as the device writes it."""
    return {
        "session_id": session_id, "device_id": device_id, "location": "Storage A",
        "technician": "ana", "started_at": "2026-11-24T09:00:00.000Z",
        "ended_at": "2026-11-24T09:30:00.000Z", "clock_synchronized": True,
        "interrupted": False, "resumed": 0, "expected": 1,
        "counts": {"verified": 1, "mislocated": 0, "unregistered": 0, "retired": 0,
                   "recovered": 0, "ambiguous": 0, "repeat": 0, "rejected": 0, "ghost": 0},
        "ghosts": [], "mislocated": [], "unregistered": [], "recovered": [], "ambiguous": [],
        "warnings": [], "scans": [{"sighting_id": str(uuid.UUID(int=1)), "asset_tag": "IT-0001",
                                   "verdict": "verified"}],
    }


# --- talking to it ------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(address: tuple[str, int], method: str, path: str, body: Any = None, *,
         token: str | None = TOKEN, headers: Mapping[str, str] | None = None,
         raw: bytes | None = None, conn: http.client.HTTPConnection | None = None) -> Answer:
    """One request; ``raw`` is sent as the body as it is, else ``body`` as JSON."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(*address, timeout=20)
    sent = {"Content-Type": "application/json"} if body is not None or raw is not None else {}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        conn.request(method, path, body=data, headers=sent)
        answer = conn.getresponse()
        return Answer(answer.status, {k.lower(): v for k, v in answer.getheaders()},
                      answer.read())
    finally:
        if own:
            conn.close()


def post_batch(address: tuple[str, int], records: list[Any], key: str | None = None,
               device_id: str = "hh-01", **kwargs: Any) -> Answer:
    headers = {"Idempotency-Key": key or f"test-{uuid.uuid4()}"}
    return call(address, "POST", "/api/v1/sightings",
                {"device_id": device_id, "sightings": records}, headers=headers, **kwargs)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def receiver(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    """The receiver for this module's protocol tests: on SQLite, and on PostgreSQL."""
    db = None
    if request.param == "postgresql":
        from tests.postgres import fresh_database

        db = fresh_database(request.getfixturevalue("postgres_server"))
    with running_receiver(tmp_path_factory.mktemp("receiver"), db=db) as running:
        yield running


# --- authentication and routing -----------------------------------------------------


@pytest.mark.parametrize("token, scheme", [(None, None), ("wrong-token", "Bearer"),
                                           (TOKEN, "Basic"), (TOKEN + "x", "Bearer")])
def test_every_endpoint_needs_the_bearer_token(receiver: Receiver, token: str | None,
                                               scheme: str | None) -> None:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    for method, path, body in [("GET", "/api/v1/manifest", None),
                               ("POST", "/api/v1/sightings", {"device_id": "d", "sightings": []}),
                               ("PUT", f"/api/v1/reports/{uuid.uuid4()}", report()),
                               ("GET", f"/api/v1/reports/{uuid.uuid4()}", None)]:
        answer = call(receiver.address, method, path, body, token=None,
                      headers={**headers, "Idempotency-Key": "k"})
        assert answer.status == 401, (method, path)
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json() == {"error": "a valid bearer token is required"}


def test_unknown_paths_and_methods_answer_json_404_and_405(receiver: Receiver) -> None:
    missing = call(receiver.address, "GET", "/api/v2/manifest")
    assert missing.status == 404 and "error" in missing.json()
    assert call(receiver.address, "GET", "/").status == 404
    assert call(receiver.address, "GET", "/api/v1/reports/a/b").status == 404
    wrong = call(receiver.address, "DELETE", "/api/v1/manifest")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET"
    assert wrong.json() == {"error": "DELETE is not allowed here"}
    assert call(receiver.address, "GET", "/api/v1/sightings").headers["allow"] == "POST"
    assert call(receiver.address, "POST", "/api/v1/reports/s1", {}).headers["allow"] == "GET, PUT"


@pytest.mark.parametrize("request_head", [
    b"QUERY /api/v1/sightings HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n",
    b"POST /api/v1/sightings HTTP/1.1\r\n",
])
def test_a_refused_request_with_an_unread_body_closes_the_connection(
        receiver: Receiver, request_head: bytes) -> None:
    body = b'{"device_id": "d", "sightings": []}GET /api/v1/manifest HTTP/1.1\r\n\r\n'
    with socket.create_connection(receiver.address, timeout=10) as sock:
        sock.sendall(request_head + b"Host: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert data.startswith((b"HTTP/1.1 405", b"HTTP/1.1 401"))
    assert b"Connection: close" in data


def test_a_request_line_http_server_refuses_is_answered_in_json(receiver: Receiver) -> None:
    with socket.create_connection(receiver.address, timeout=10) as sock:
        sock.sendall(b"GET /api/v1/manifest /again HTTP/1.1\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Content-Type: application/json" in head
    assert json.loads(body) == {"error": "Bad request syntax ('GET /api/v1/manifest /again"
                                         " HTTP/1.1')"}


# --- the manifest --------------------------------------------------------------------


def test_manifest_lists_every_asset_with_the_protocol_fields(receiver: Receiver) -> None:
    answer = call(receiver.address, "GET", "/api/v1/manifest")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assets = answer.json()["assets"]
    assert assets[0] == {"asset_tag": "IT-0001", "serial": "SN-1", "name": "Laptop one",
                         "location": "Storage A", "status": "Ready to Deploy",
                         "assigned_to": "", "id": 1}
    assert [a["asset_tag"] for a in assets] == ["IT-0001", "IT-0002", "IT-0003", "IT-0004"]
    assert assets[3]["id"] is None and assets[3]["serial"] == ""


@pytest.mark.parametrize("room, tags", [("Storage%20A", ["IT-0001", "IT-0002"]),
                                        ("storage%20%20a", ["IT-0001", "IT-0002"]),
                                        ("STORAGE+B", ["IT-0003"]),
                                        ("Attic", [])])
def test_manifest_of_one_room_matches_rooms_as_the_device_does(receiver: Receiver, room: str,
                                                               tags: list[str]) -> None:
    answer = call(receiver.address, "GET", f"/api/v1/manifest?location={room}")
    assert [a["asset_tag"] for a in answer.json()["assets"]] == tags


def test_manifest_etag_answers_304_while_unchanged(receiver: Receiver) -> None:
    first = call(receiver.address, "GET", "/api/v1/manifest")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = call(receiver.address, "GET", "/api/v1/manifest",
                     headers={"If-None-Match": sent})
        assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag), sent
    other = call(receiver.address, "GET", "/api/v1/manifest", headers={"If-None-Match": '"x"'})
    assert other.status == 200 and other.body == first.body
    room = call(receiver.address, "GET", "/api/v1/manifest?location=Storage%20A")
    assert room.headers["etag"] != etag


def test_manifest_follows_the_csv_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    with running_receiver(tmp_path) as running:
        first = call(running.address, "GET", "/api/v1/manifest")
        write_manifest(running.manifest, MANIFEST + "IT-0005,SN-5,Phone,Storage A,,,5\n")
        changed = call(running.address, "GET", "/api/v1/manifest",
                       headers={"If-None-Match": first.headers["etag"]})
        assert changed.status == 200 and changed.headers["etag"] != first.headers["etag"]
        assert changed.json()["assets"][-1]["asset_tag"] == "IT-0005"
        write_manifest(running.manifest, MANIFEST + 'IT-0006,"unclosed,Storage A\n')
        kept = call(running.address, "GET", "/api/v1/manifest")
        assert kept.status == 200 and kept.body == changed.body
        assert any("manifest not reloaded" in line for line in running.log_lines())


# --- sightings -----------------------------------------------------------------------


def test_a_batch_is_answered_per_record_in_request_order(receiver: Receiver) -> None:
    good, other = sighting(), sighting()
    records: list[Any] = [
        good,
        {k: v for k, v in sighting().items() if k != "payload"},
        sighting(sighting_id=5),
        sighting(device_id="hh-99"),
        sighting(wall_time="yesterday"),
        sighting(clock_synchronized="yes"),
        sighting(candidates=["IT-1", 2]),
        sighting(verdict=""),
        "not a record",
        good,
        other,
    ]
    answer = post_batch(receiver.address, records)
    assert answer.status == 200 and "idempotent-replayed" not in answer.headers
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 8 + [
        "duplicate", "accepted"]
    assert [r["sighting_id"] for r in results] == [
        good["sighting_id"], records[1]["sighting_id"], None, records[3]["sighting_id"],
        records[4]["sighting_id"], records[5]["sighting_id"], records[6]["sighting_id"],
        records[7]["sighting_id"], None, good["sighting_id"], other["sighting_id"]]
    reasons = [r["reason"] for r in results]
    assert reasons[0] is None and reasons[-1] is None and reasons[-2] is None
    assert "lacks payload" in reasons[1]
    assert "sighting_id is integer, not string" in reasons[2]
    assert "is not the batch's" in reasons[3]
    assert "RFC 3339" in reasons[4]
    assert "clock_synchronized is string, not boolean" in reasons[5]
    assert "candidates[1]" in reasons[6]
    assert "verdict" in reasons[7]
    assert "not an object" in reasons[8]
    counts = stored_counts(receiver.db, [r["sighting_id"] for r in records
                                         if isinstance(r, dict) and isinstance(
                                             r.get("sighting_id"), str)])
    assert counts.pop(good["sighting_id"]) == 1 and counts.pop(other["sighting_id"]) == 1
    assert set(counts.values()) == {0}


def test_a_sighting_stored_before_is_a_duplicate_whatever_batch_brings_it(
        receiver: Receiver) -> None:
    first, second = sighting(), sighting()
    assert post_batch(receiver.address, [first]).json()["results"][0]["status"] == "accepted"
    results = post_batch(receiver.address, [second, first]).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "duplicate"]


def test_the_same_key_and_body_replay_the_first_answer(receiver: Receiver) -> None:
    records = [sighting(), sighting()]
    first = post_batch(receiver.address, records, key="replay-1")
    again = post_batch(receiver.address, records, key="replay-1")
    assert again.status == 200 and again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert [r["status"] for r in again.json()["results"]] == ["accepted", "accepted"]
    # the same body, re-serialised with other key order and spacing, is the same body
    reordered = json.dumps({"sightings": [dict(reversed(list(r.items()))) for r in records],
                            "device_id": "hh-01"}, indent=2).encode()
    third = call(receiver.address, "POST", "/api/v1/sightings", raw=reordered,
                 headers={"Idempotency-Key": "replay-1"})
    assert third.status == 200 and third.body == first.body


def test_the_same_key_with_another_body_is_422(receiver: Receiver) -> None:
    record = sighting()
    assert post_batch(receiver.address, [record], key="reuse-1").status == 200
    answer = post_batch(receiver.address, [sighting()], key="reuse-1")
    assert answer.status == 422
    assert answer.json() == {"error": "this Idempotency-Key was used with a different body"}


def test_concurrent_copies_of_one_batch_are_stored_once(receiver: Receiver) -> None:
    records = [sighting() for _ in range(20)]
    answers: list[Answer] = []

    def send() -> None:
        answers.append(post_batch(receiver.address, records, key="concurrent-1"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 8 and len({a.body for a in answers}) == 1
    assert {r["status"] for r in answers[0].json()["results"]} == {"accepted"}
    assert set(stored_counts(receiver.db, [r["sighting_id"] for r in records]).values()) == {1}


@pytest.mark.parametrize("headers, status, error", [
    ({}, 400, "the Idempotency-Key header is required"),
    ({"Idempotency-Key": ""}, 400, "an Idempotency-Key is 1 to 255 visible ASCII characters"),
    ({"Idempotency-Key": "x" * 256}, 400, "an Idempotency-Key is 1 to 255 visible ASCII"
                                          " characters"),
])
def test_a_batch_needs_an_idempotency_key(receiver: Receiver, headers: dict[str, str],
                                          status: int, error: str) -> None:
    answer = call(receiver.address, "POST", "/api/v1/sightings",
                  {"device_id": "hh-01", "sightings": []}, headers=headers)
    assert (answer.status, answer.json()) == (status, {"error": error})


@pytest.mark.parametrize("raw, content_type, status, error", [
    (b"{not json", "application/json", 400, "the body is not JSON"),
    (b'{"device_id": "hh-01", "sightings": [NaN]}', "application/json", 400, "NaN is not JSON"),
    (b'{"device_id": "hh-01", "sightings": [1e999]}', "application/json", 400, "out of range"),
    (b"\xff\xfe{}", "application/json", 400, "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
    (b'{"device_id": "hh-01", "sightings": []}', "text/plain", 415, "application/json"),
    (b'{"sightings": []}', "application/json", 422, "lacks device_id"),
    (b'{"device_id": "hh-01", "sightings": {}}', "application/json", 422,
     "sightings is object, not array"),
    (b'{"device_id": "a b", "sightings": []}', "application/json", 422, "device_id"),
    (b"[]", "application/json", 422, "the body is array, not an object"),
])
def test_a_body_that_is_not_a_batch_is_refused(receiver: Receiver, raw: bytes,
                                               content_type: str, status: int,
                                               error: str) -> None:
    answer = call(receiver.address, "POST", "/api/v1/sightings", raw=raw,
                  headers={"Content-Type": content_type, "Idempotency-Key": "bad-body"})
    assert answer.status == status and error in answer.json()["error"]


def test_a_batch_over_1000_sightings_is_422(receiver: Receiver) -> None:
    records = [sighting() for _ in range(1001)]
    answer = post_batch(receiver.address, records)
    assert answer.status == 422
    assert answer.json() == {"error": "1001 sightings in one batch; at most 1000"}
    assert set(stored_counts(receiver.db, [r["sighting_id"] for r in records]).values()) == {0}
    assert post_batch(receiver.address, records[:1000]).status == 200


def test_a_body_over_2_mib_is_413_and_the_connection_stays_usable(receiver: Receiver) -> None:
    big = json.dumps({"device_id": "hh-01",
                      "sightings": [sighting(payload="x" * 3000) for _ in range(800)]}).encode()
    assert len(big) > 2 * 1024 * 1024
    conn = http.client.HTTPConnection(*receiver.address, timeout=20)
    try:
        answer = call(receiver.address, "POST", "/api/v1/sightings", raw=big,
                      headers={"Idempotency-Key": "big"}, conn=conn)
        assert answer.status == 413 and answer.json() == {"error": "the body is over 2 MiB"}
        after = call(receiver.address, "GET", "/api/v1/manifest", conn=conn)
        assert after.status == 200
    finally:
        conn.close()


def test_a_huge_declared_length_is_refused_at_once_and_the_connection_closed(
        receiver: Receiver) -> None:
    with socket.create_connection(receiver.address, timeout=10) as sock:
        sock.sendall(b"POST /api/v1/sightings HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                     b"Idempotency-Key: k\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000000\r\n\r\n{")
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert time.monotonic() - started < 5
    assert data.startswith(b"HTTP/1.1 413") and b"Connection: close" in data


def test_a_body_without_content_length_is_411(receiver: Receiver) -> None:
    with socket.create_connection(receiver.address, timeout=10) as sock:
        sock.sendall(b"POST /api/v1/sightings HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                     b"Idempotency-Key: k\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 411")


def test_keep_alive_serves_many_requests_on_one_connection(receiver: Receiver) -> None:
    conn = http.client.HTTPConnection(*receiver.address, timeout=20)
    try:
        for _ in range(5):
            assert post_batch(receiver.address, [sighting()], conn=conn).status == 200
            assert call(receiver.address, "GET", "/api/v1/manifest", conn=conn).status == 200
    finally:
        conn.close()


# --- reports -------------------------------------------------------------------------


def test_a_report_is_stored_idempotently_and_read_back(receiver: Receiver) -> None:
    session = str(uuid.uuid4())
    body = report(session)
    first = call(receiver.address, "PUT", f"/api/v1/reports/{session}", body)
    assert first.status == 201
    assert first.json() == {"status": "stored", "location": f"/api/v1/reports/{session}"}
    assert first.headers["location"] == f"/api/v1/reports/{session}"
    again = call(receiver.address, "PUT", f"/api/v1/reports/{session}", body)
    assert again.status == 200 and again.json()["status"] == "stored"
    back = call(receiver.address, "GET", f"/api/v1/reports/{session}")
    assert back.status == 200 and back.json() == body
    assert db_rows(receiver.db, "SELECT count(*) FROM reports WHERE session_id = ?",
                   (session,)) == [(1,)]


@pytest.mark.parametrize("path, body, status, error", [
    ("/api/v1/reports/s-1", report("s-2"), 422, "is not the one in the URL"),
    ("/api/v1/reports/s-1", {**report("s-1"), "counts": {"verified": -1}}, 422, "counts"),
    ("/api/v1/reports/s-1", {k: v for k, v in report("s-1").items() if k != "scans"}, 422,
     "lacks scans"),
    ("/api/v1/reports/s-1", [], 422, "not an object"),
    ("/api/v1/reports/s%201", report("s 1"), 400, "a session id is"),
])
def test_a_report_that_breaks_the_rules_is_refused(receiver: Receiver, path: str, body: Any,
                                                   status: int, error: str) -> None:
    answer = call(receiver.address, "PUT", path, body)
    assert answer.status == status and error in answer.json()["error"]


def test_an_unknown_report_is_404(receiver: Receiver) -> None:
    answer = call(receiver.address, "GET", f"/api/v1/reports/{uuid.uuid4()}")
    assert answer.status == 404 and answer.json() == {"error": "no report for this session"}


# --- the process ---------------------------------------------------------------------


def test_each_request_is_one_log_line(tmp_path: Path) -> None:
    with running_receiver(tmp_path) as running:
        call(running.address, "GET", "/api/v1/manifest")
        call(running.address, "GET", "/api/v1/manifest", token=None)
        post_batch(running.address, [sighting()])
        time.sleep(0.2)
        lines = running.log_lines()
    requests = [line for line in lines if '"' in line]
    assert len(requests) == 3
    assert requests[0].startswith('127.0.0.1 "GET /api/v1/manifest HTTP/1.1" 200 ')
    assert ' 401 44 ' in requests[1]
    assert '"POST /api/v1/sightings HTTP/1.1" 200' in requests[2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_receiver_cleanly(tmp_path: Path, sig: int) -> None:
    with running_receiver(tmp_path) as running:
        assert post_batch(running.address, [sighting()]).status == 200
        code = stop_process(running.proc, sig)
        assert code == 0
        assert running.log_lines()[-1] == "receiver stopped"
        assert "Traceback" not in running.log.read_text(encoding="utf-8")


def test_the_port_printed_is_the_one_listened_on_and_busy_ports_are_refused(
        tmp_path: Path) -> None:
    with running_receiver(tmp_path / "a") as running:
        port = running.address[1]
        busy = subprocess.run(receiver_command(tmp_path / "b.sqlite", running.manifest,
                                               running.token_file, port),
                              capture_output=True, text=True, timeout=60)
    assert busy.returncode == 2
    assert f"--port {port}: cannot listen" in busy.stderr and "Traceback" not in busy.stderr


@pytest.mark.parametrize("problem", ["no token", "open token", "bad manifest", "bad db"])
def test_what_the_receiver_cannot_use_stops_it_with_code_2(tmp_path: Path,
                                                           problem: str) -> None:
    manifest = write_manifest(tmp_path / "expected.csv")
    token = write_token(tmp_path / "token")
    db = tmp_path / "db.sqlite"
    expected = ""
    if problem == "no token":
        token = tmp_path / "missing"
        expected = f"--token-file: {token} not found"
    elif problem == "open token":
        token.chmod(0o644)
        expected = "readable by others"
    elif problem == "bad manifest":
        write_manifest(manifest, "Asset Tag,Location\nIT-1\x07,Storage A\n")
        expected = "expected.csv, line 2"
    else:
        db.write_bytes(b"this is not a database" * 100)
        expected = f"--db {db}: cannot use it"
    done = subprocess.run(receiver_command(db, manifest, token), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


# --- in-process: an internal failure -------------------------------------------------


class _BrokenStore(ReceiverStore):
    def record_batch(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire at /secret/path")


def test_an_internal_failure_is_a_json_500_without_details(tmp_path: Path) -> None:
    lines: list[str] = []
    store = _BrokenStore(tmp_path / "db.sqlite")
    server = ReceiverServer(("127.0.0.1", 0), store=store,
                            manifest=ManifestSource(write_manifest(tmp_path / "m.csv")),
                            token=TOKEN, log_line=lines.append)
    thread = start_in_thread(server)
    try:
        answer = post_batch(server.server_address[:2], [sighting()])
        assert answer.status == 500 and answer.json() == {"error": "internal error"}
        assert b"fire" not in answer.body and b"Traceback" not in answer.body
        assert call(server.server_address[:2], "GET", "/api/v1/manifest").status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        store.close()
    failed = [line for line in lines if "internal error" in line]
    assert len(failed) == 1 and "RuntimeError: disk on fire" in failed[0]


def test_a_fleet_connecting_at_once_is_served(tmp_path: Path) -> None:
    """80 devices open their connections at the same moment: none is refused or reset
    (the listen backlog is not socketserver's 5)."""
    with running_receiver(tmp_path) as receiver:
        start = threading.Barrier(80)
        statuses: list[str] = []

        def device() -> None:
            start.wait()
            try:
                with socket.create_connection(receiver.address, timeout=60) as conn:
                    conn.sendall(b"GET /api/v1/manifest HTTP/1.1\r\nHost: x\r\n"
                                 b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                                 b"Connection: close\r\n\r\n")
                    statuses.append(conn.makefile("rb").readline().decode().strip())
            except OSError as exc:
                statuses.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=device) for _ in range(80)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert statuses == ["HTTP/1.1 200 OK"] * 80, sorted(set(statuses))
