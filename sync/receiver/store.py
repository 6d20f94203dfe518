"""What the reference receiver keeps: sightings, idempotency keys with their answers, reports,
devices' last contact and reported state, intake records (assets found that it did not
know), and, for door kiosks, who holds each asset (:mod:`sync.receiver.holdings`).

The database is SQLite (one file in WAL mode with ``synchronous=FULL``) or PostgreSQL,
through one code path (:mod:`sync.receiver.database`): an answer is sent only after what
it acknowledges is committed, so a receiver killed or switched off keeps everything it
acknowledged. A batch, its sightings and its idempotency key are one transaction, so a
batch is either wholly applied with its stored answer or not at all.

Concurrent requests (PostgreSQL runs their transactions side by side) agree because every
claim is an ``INSERT ... ON CONFLICT DO NOTHING`` that waits for a concurrent claim of the
same row to commit or roll back: the first batch to claim an idempotency key applies it
and the others with that key replay its answer; the first to store a sighting gets
``accepted`` and every other ``duplicate``. A transaction PostgreSQL ends as a deadlock
(two batches holding the same sightings in different orders) is run again.

About 410 lines, over the house's 400, for one reason: every write shares the one
transaction of a batch and its retry after a deadlock, so the class that holds them and
the SQL they run stay together; the tables are in :mod:`sync.receiver.schema`, the
holdings in :mod:`sync.receiver.holdings`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hal.errors import ConfigError
from hal.resource import Resource
from sync.receiver.database import (
    BadDatabase,
    Connection,
    DatabaseUnavailable,
    open_database,
)
from sync.receiver.holdings import HOLDINGS_SCHEMA, Holdings
from sync.receiver.schema import SCHEMA as _SCHEMA

__all__ = ["BatchAnswer", "CheckedRecord", "DatabaseUnavailable", "KeyReused", "ReceiverStore"]

log = logging.getLogger("stocktaker.receiver")

SCHEMA_VERSION = 4
"""2 added ``holdings`` and ``outcomes`` (door kiosks), 3 ``devices`` (heartbeats) and
``asset_locks``, 4 ``intakes``; an older database is upgraded."""

INTAKE = "intake"
"""The verdict of an intake record (an asset the audit found that the register lacks)."""

_ATTEMPTS = 5
"""Runs of one batch's transaction when the database ends it as a deadlock."""

MOVEMENTS = frozenset({"checked_out", "checked_in"})
"""The kiosk verdicts that change who holds an asset (``refused`` is only recorded)."""

KEEP_KEYS_SECONDS = 30 * 24 * 3600.0
"""How long an idempotency key and its answer are kept (pruned when the store opens).

After that a retry of the batch is applied again, which stores nothing twice: each
sighting it holds then answers ``duplicate``.
"""



class KeyReused(Exception):
    """An idempotency key came back with a different body."""


@dataclass(frozen=True)
class CheckedRecord:
    """One record of a batch after checking: stored when ``reason`` is None."""

    sighting_id: str | None
    """The record's id when it is a string (echoed in the answer), else None."""
    session_id: str = ""
    record_json: str = ""
    reason: str | None = None
    verdict: str = ""
    record: dict[str, Any] | None = None
    """The record itself, for a door kiosk's check-out or check-in (judged on arrival)."""


@dataclass(frozen=True)
class BatchAnswer:
    """The answer to a batch: its JSON text, and whether it is a replay of a stored one."""

    text: str
    replayed: bool


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReceiverStore(Resource):
    """The receiver's database ``db``: a SQLite path or URL, or a PostgreSQL URL (created
    when missing; see :mod:`sync.receiver.database`).

    Args:
        db: where the data is kept.
        password_file: a file holding the PostgreSQL password, if libpq's own ways
            (``PGPASSWORD``, ``~/.pgpass``) are not used.
        pool_size: connections kept open at most.

    Raises:
        ConfigError: it cannot be opened as this receiver's database.
    """

    def __init__(self, db: str | Path, *, password_file: Path | None = None,
                 pool_size: int | None = None) -> None:
        self.url = str(db)
        extra = {} if pool_size is None else {"pool_size": pool_size}
        try:
            self._db = open_database(db, password_file=password_file, **extra)
        except BadDatabase as exc:
            raise ConfigError(str(exc)) from None
        failures: tuple[type[BaseException], ...] = (*self._db.errors, DatabaseUnavailable,
                                                     ValueError)
        try:
            self._setup()
        except failures as exc:
            self._db.close()
            raise ConfigError(f"--db {self.url}: cannot use it as the receiver's database:"
                              f" {exc}") from None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    @property
    def unavailable(self) -> tuple[type[BaseException], ...]:
        """The database's failures that a client should meet with "try again later"."""
        return self._db.unavailable

    def _setup(self) -> None:
        with self._db.transaction() as db:
            version = self._db.schema_version(db)
            if version > SCHEMA_VERSION:
                raise ValueError(f"made by a newer receiver (schema {version})")
            for statement in (_SCHEMA + HOLDINGS_SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
            self._db.set_schema_version(db, SCHEMA_VERSION)
            db.execute("DELETE FROM idempotency_keys WHERE created < ?",
                       (time.time() - KEEP_KEYS_SECONDS,))

    def close(self) -> None:
        """Wait for the transactions in progress, then close the database."""
        self._db.close()

    def record_batch(self, key: str, body_sha256: str, device_id: str,
                     records: Sequence[CheckedRecord],
                     holdings: Holdings | None = None) -> BatchAnswer:
        """Apply one batch under its idempotency key, or replay the answer the key got.

        Each record without a ``reason`` is stored unless its ``sighting_id`` already is
        (``duplicate``); each with one is ``rejected``. With ``holdings``, a check-out or
        check-in is judged first (:class:`~sync.receiver.holdings.Holdings`): a conflict
        is stored with its answer, which a later copy of the event gets again; a
        rejection stores nothing. The answer lists the results in the records' order.
        The device's last contact becomes now.

        Raises:
            KeyReused: ``key`` was used before with a body whose hash is not
                ``body_sha256``.
            DatabaseUnavailable: the database cannot be reached now.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._db.transaction() as db:
                    return self._record_batch(db, key, body_sha256, device_id, records,
                                              holdings)
            except self._db.errors as exc:
                if not self._db.transient(exc) or attempt == _ATTEMPTS:
                    raise
                log.debug("batch %s run again after %s", key, type(exc).__name__)
        raise AssertionError("unreachable")

    def _record_batch(self, db: Connection, key: str, body_sha256: str, device_id: str,
                      records: Sequence[CheckedRecord],
                      holdings: Holdings | None) -> BatchAnswer:
        # Claim the key first: a concurrent batch with the same key waits here for this
        # one to commit, then replays its answer.
        claimed = db.execute("INSERT INTO idempotency_keys (key, body_sha256, answer, created)"
                             " VALUES (?, ?, '', ?) ON CONFLICT (key) DO NOTHING",
                             (key, body_sha256, time.time())).rowcount
        if claimed != 1:
            known = db.execute("SELECT body_sha256, answer FROM idempotency_keys"
                               " WHERE key = ?", (key,)).fetchone()
            if known[0] != body_sha256:
                raise KeyReused(key)
            return BatchAnswer(known[1], replayed=True)
        received = _now_iso()
        results: list[str] = [""] * len(records)
        plain: list[int] = []  # records stored as they are, one statement for a run of them

        def store_plain() -> None:
            answers = self._store_plain(db, [records[i] for i in plain], device_id, received)
            for index, answer in zip(plain, answers):
                results[index] = answer
            plain.clear()

        for index, item in enumerate(records):
            if item.reason is not None:
                results[index] = _result(item.sighting_id, "rejected", item.reason)
            elif holdings is not None and item.verdict in MOVEMENTS and item.record is not None:
                store_plain()  # a kiosk event is judged after what came before it
                results[index] = self._apply(db, item, device_id, received, holdings)
            elif item.verdict == INTAKE and item.record is not None:
                store_plain()  # numbered in arrival order, after what came before it
                results[index] = self._apply_intake(db, item, device_id, received)
            else:
                plain.append(index)
        store_plain()
        text = _answer_text(results)
        db.execute("UPDATE idempotency_keys SET answer = ? WHERE key = ?", (text, key))
        _touch_device(db, device_id, received)
        return BatchAnswer(text, replayed=False)

    @staticmethod
    def _store_plain(db: Connection, items: Sequence[CheckedRecord], device_id: str,
                     received: str) -> list[str]:
        """Store records that need no judging in one statement; their results' JSON.

        A record whose id the statement did not insert was there already (``duplicate``,
        or the conflict it got then); of two with one id, the first is the one stored.
        """
        if not items:
            return []
        rows = ", ".join(["(?, ?, ?, ?, ?)"] * len(items))
        params = [value for item in items for value in (
            item.sighting_id, device_id, item.session_id, received, item.record_json)]
        fresh = {row[0] for row in db.execute(
            "INSERT INTO sightings (sighting_id, device_id, session_id, received_at, record)"
            f" VALUES {rows} ON CONFLICT (sighting_id) DO NOTHING RETURNING sighting_id",
            params).fetchall()}
        known = sorted({item.sighting_id for item in items if item.sighting_id not in fresh
                        and item.sighting_id is not None})
        earlier: dict[str, str] = {}
        if known:
            marks = ", ".join(["?"] * len(known))
            earlier = dict(db.execute("SELECT sighting_id, result FROM outcomes WHERE"
                                      f" sighting_id IN ({marks})", known).fetchall())
        answers = []
        for item in items:
            if item.sighting_id in fresh:
                fresh.discard(item.sighting_id)
                answers.append(_result(item.sighting_id, "accepted", None))
            else:
                answers.append(earlier.get(str(item.sighting_id))
                               or _result(item.sighting_id, "duplicate", None))
        return answers

    @staticmethod
    def _apply(db: Connection, item: CheckedRecord, device_id: str, received: str,
               holdings: Holdings | None) -> str:
        """Store one checked record (transaction held); returns its result's JSON."""
        stored = db.execute("INSERT INTO sightings (sighting_id, device_id, session_id,"
                            " received_at, record) VALUES (?, ?, ?, ?, ?)"
                            " ON CONFLICT (sighting_id) DO NOTHING",
                            (item.sighting_id, device_id, item.session_id, received,
                             item.record_json)).rowcount
        if stored != 1:
            earlier = db.execute("SELECT result FROM outcomes WHERE sighting_id = ?",
                                 (item.sighting_id,)).fetchone()
            return earlier[0] if earlier else _result(item.sighting_id, "duplicate", None)
        text = _result(item.sighting_id, "accepted", None)
        if holdings is not None and item.verdict in MOVEMENTS and item.record is not None:
            judged = holdings.judge(db, item.record, received)
            text = _result(item.sighting_id, judged.status, judged.reason,
                           judged.register_side)
            if judged.status == "rejected":
                db.execute("DELETE FROM sightings WHERE sighting_id = ?", (item.sighting_id,))
                return text
            if judged.status == "conflict":
                db.execute("INSERT INTO outcomes (sighting_id, result) VALUES (?, ?)",
                           (item.sighting_id, text))
        return text

    @staticmethod
    def _apply_intake(db: Connection, item: CheckedRecord, device_id: str,
                      received: str) -> str:
        """Store one intake record (transaction held), numbered in order of arrival;
        returns its result's JSON."""
        assert item.record is not None
        stored = db.execute("INSERT INTO sightings (sighting_id, device_id, session_id,"
                            " received_at, record) VALUES (?, ?, ?, ?, ?)"
                            " ON CONFLICT (sighting_id) DO NOTHING",
                            (item.sighting_id, device_id, item.session_id, received,
                             item.record_json)).rowcount
        if stored != 1:
            return _result(item.sighting_id, "duplicate", None)
        # Records of one batch share their received_at: the number keeps their order.
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM intakes").fetchone()[0]
        db.execute("INSERT INTO intakes (intake_id, seq, device_id, session_id, location,"
                   " asset_tag, received_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (item.sighting_id, seq, device_id, item.session_id,
                    item.record["location"], item.record.get("asset_tag"), received,
                    item.record_json))
        return _result(item.sighting_id, "accepted", None)

    def intakes(self) -> list[tuple[str, str]]:
        """Every intake record stored, in the order they arrived: (received_at, record JSON
        text)."""
        with self._db.connection() as db:
            rows = db.execute("SELECT received_at, record FROM intakes"
                              " ORDER BY seq, received_at, intake_id").fetchall()
        return [(row[0], row[1]) for row in rows]

    def holder(self, asset_tag: str) -> dict[str, Any] | None:
        """Who the receiver has recorded as holding ``asset_tag`` (None: nobody, or unknown)."""
        with self._db.connection() as db:
            return Holdings.holder(db, asset_tag)

    def put_report(self, session_id: str, device_id: str, report_json: str) -> bool:
        """Store (or replace) the report of ``session_id``; True when it is new."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._db.transaction() as db:
                    at = _now_iso()
                    new: bool = db.execute("INSERT INTO reports (session_id, device_id, received_at,"
                                     " report) VALUES (?, ?, ?, ?)"
                                     " ON CONFLICT (session_id) DO NOTHING",
                                     (session_id, device_id, at, report_json)).rowcount == 1
                    if not new:
                        db.execute("UPDATE reports SET device_id = ?, received_at = ?,"
                                   " report = ? WHERE session_id = ?",
                                   (device_id, at, report_json, session_id))
                    _touch_device(db, device_id, at)
                    return new
            except self._db.errors as exc:
                if not self._db.transient(exc) or attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def report(self, session_id: str) -> str | None:
        """The stored report of ``session_id`` as JSON text, or None."""
        with self._db.connection() as db:
            row = db.execute("SELECT report FROM reports WHERE session_id = ?",
                             (session_id,)).fetchone()
        return None if row is None else row[0]

    def record_heartbeat(self, device_id: str, state_json: str) -> str:
        """Keep the state a device reported, and now as its last contact; returns now."""
        at = _now_iso()
        with self._db.transaction() as db:
            db.execute("INSERT INTO devices (device_id, last_contact, last_contact_unix,"
                       " last_heartbeat, state) VALUES (?, ?, ?, ?, ?)"
                       " ON CONFLICT (device_id) DO UPDATE SET"
                       " last_contact = excluded.last_contact,"
                       " last_contact_unix = excluded.last_contact_unix,"
                       " last_heartbeat = excluded.last_heartbeat, state = excluded.state",
                       (device_id, at, time.time(), at, state_json))
        return at

    def devices(self) -> list[dict[str, Any]]:
        """Every device that has been in contact, by id: last contact (server time),
        seconds since, last heartbeat and the state it reported (None before one)."""
        with self._db.connection() as db:
            rows = db.execute("SELECT device_id, last_contact, last_contact_unix,"
                              " last_heartbeat, state FROM devices"
                              " ORDER BY device_id").fetchall()
        now = time.time()
        return [{"device_id": row[0], "last_contact": row[1],
                 "seconds_since_contact": round(max(0.0, now - float(row[2])), 3),
                 "last_heartbeat": row[3],
                 "state": json.loads(row[4]) if row[4] else None} for row in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only ``SELECT`` (``?`` placeholders), for the dashboard's
        views (:mod:`sync.receiver.campaigns`)."""
        with self._db.connection() as db:
            return [tuple(row) for row in db.execute(sql, list(params)).fetchall()]

    def sighting_count(self) -> int:
        """How many sightings are stored."""
        with self._db.connection() as db:
            return int(db.execute("SELECT count(*) FROM sightings").fetchone()[0])

    def duplicate_sightings(self) -> int:
        """Rows beyond the first for any sighting id (0 unless the key is broken)."""
        with self._db.connection() as db:
            return int(db.execute("SELECT count(*) - count(DISTINCT sighting_id)"
                                  " FROM sightings").fetchone()[0])


def _touch_device(db: Connection, device_id: str, at: str) -> None:
    """Make ``at`` the device's last contact (in the caller's transaction)."""
    db.execute("INSERT INTO devices (device_id, last_contact, last_contact_unix)"
               " VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
               " last_contact = excluded.last_contact,"
               " last_contact_unix = excluded.last_contact_unix",
               (device_id, at, time.time()))


def _result(sighting_id: str | None, status: str, reason: str | None,
            register_side: dict[str, Any] | None = None) -> str:
    result: dict[str, Any] = {"sighting_id": sighting_id, "status": status, "reason": reason}
    if register_side is not None:
        result["register_side"] = register_side
    return json.dumps(result, ensure_ascii=True, separators=(",", ":"))


def _answer_text(results: list[str]) -> str:
    return '{"results":[' + ",".join(results) + "]}"
