"""What the reference receiver keeps: sightings, idempotency keys with their answers, reports,
and, for door kiosks, who holds each asset (:mod:`sync.receiver.holdings`).

One SQLite file in WAL mode with ``synchronous=FULL``: an answer is sent only after what
it acknowledges is on disk, so a receiver killed or switched off keeps everything it
acknowledged. One connection serves every request thread, behind a lock; a batch, its
sightings and its idempotency key are one transaction, so a batch is either wholly
applied with its stored answer or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hal.errors import ConfigError
from hal.resource import Resource
from sync.receiver.holdings import HOLDINGS_SCHEMA, Holdings

__all__ = ["BatchAnswer", "CheckedRecord", "KeyReused", "ReceiverStore"]

SCHEMA_VERSION = 2
"""2 added ``holdings`` and ``outcomes`` (door kiosks); a version 1 file is upgraded."""

MOVEMENTS = frozenset({"checked_out", "checked_in"})
"""The kiosk verdicts that change who holds an asset (``refused`` is only recorded)."""

KEEP_KEYS_SECONDS = 30 * 24 * 3600.0
"""How long an idempotency key and its answer are kept (pruned when the store opens).

After that a retry of the batch is applied again, which stores nothing twice: each
sighting it holds then answers ``duplicate``.
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    sighting_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_by_session ON sightings (session_id);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    sighting_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    session_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    report TEXT NOT NULL
);
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
    """The receiver's database at ``path`` (created when missing).

    Raises:
        ConfigError: the file cannot be opened as this receiver's database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._setup()
        except sqlite3.Error as exc:
            raise ConfigError(f"--db {self.path}: cannot use it as the receiver's database:"
                              f" {exc}") from None

    def _setup(self) -> None:
        db = self._connection()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"made by a newer receiver (schema {version})")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA + HOLDINGS_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("DELETE FROM idempotency_keys WHERE created < ?",
                   (time.time() - KEEP_KEYS_SECONDS,))

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("the receiver's database is closed")
        return self._db

    def close(self) -> None:
        """Wait for the transaction in progress, then close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def record_batch(self, key: str, body_sha256: str, device_id: str,
                     records: Sequence[CheckedRecord],
                     holdings: Holdings | None = None) -> BatchAnswer:
        """Apply one batch under its idempotency key, or replay the answer the key got.

        Each record without a ``reason`` is stored unless its ``sighting_id`` already is
        (``duplicate``); each with one is ``rejected``. With ``holdings``, a check-out or
        check-in is judged first (:class:`~sync.receiver.holdings.Holdings`): a conflict
        is stored with its answer, which a later copy of the event gets again; a
        rejection stores nothing. The answer lists the results in the records' order.

        Raises:
            KeyReused: ``key`` was used before with a body whose hash is not
                ``body_sha256``.
        """
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                known = db.execute("SELECT body_sha256, answer FROM idempotency_keys"
                                   " WHERE key = ?", (key,)).fetchone()
                if known is not None:
                    db.execute("ROLLBACK")
                    if known[0] != body_sha256:
                        raise KeyReused(key)
                    return BatchAnswer(known[1], replayed=True)
                received = _now_iso()
                results = []
                for item in records:
                    if item.reason is not None:
                        results.append(_result(item.sighting_id, "rejected", item.reason))
                        continue
                    results.append(self._apply(db, item, device_id, received, holdings))
                text = _answer_text(results)
                db.execute("INSERT INTO idempotency_keys (key, body_sha256, answer, created)"
                           " VALUES (?, ?, ?, ?)", (key, body_sha256, text, time.time()))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return BatchAnswer(text, replayed=False)

    @staticmethod
    def _apply(db: sqlite3.Connection, item: CheckedRecord, device_id: str, received: str,
               holdings: Holdings | None) -> str:
        """Store one checked record (transaction held); returns its result's JSON."""
        known = db.execute("SELECT 1 FROM sightings WHERE sighting_id = ?",
                           (item.sighting_id,)).fetchone()
        if known is not None:
            earlier = db.execute("SELECT result FROM outcomes WHERE sighting_id = ?",
                                 (item.sighting_id,)).fetchone()
            return earlier[0] if earlier else _result(item.sighting_id, "duplicate", None)
        text = _result(item.sighting_id, "accepted", None)
        if holdings is not None and item.verdict in MOVEMENTS and item.record is not None:
            judged = holdings.judge(db, item.record, received)
            text = _result(item.sighting_id, judged.status, judged.reason,
                           judged.register_side)
            if judged.status == "rejected":
                return text
            if judged.status == "conflict":
                db.execute("INSERT INTO outcomes (sighting_id, result) VALUES (?, ?)",
                           (item.sighting_id, text))
        db.execute("INSERT INTO sightings (sighting_id, device_id, session_id, received_at,"
                   " record) VALUES (?, ?, ?, ?, ?)",
                   (item.sighting_id, device_id, item.session_id, received, item.record_json))
        return text

    def holder(self, asset_tag: str) -> dict[str, Any] | None:
        """Who the receiver has recorded as holding ``asset_tag`` (None: nobody, or unknown)."""
        with self._lock:
            return Holdings.holder(self._connection(), asset_tag)

    def put_report(self, session_id: str, device_id: str, report_json: str) -> bool:
        """Store (or replace) the report of ``session_id``; True when it is new."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                new = db.execute("SELECT 1 FROM reports WHERE session_id = ?",
                                 (session_id,)).fetchone() is None
                db.execute("INSERT OR REPLACE INTO reports (session_id, device_id, received_at,"
                           " report) VALUES (?, ?, ?, ?)",
                           (session_id, device_id, _now_iso(), report_json))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return new

    def report(self, session_id: str) -> str | None:
        """The stored report of ``session_id`` as JSON text, or None."""
        with self._lock:
            row = self._connection().execute("SELECT report FROM reports WHERE session_id = ?",
                                             (session_id,)).fetchone()
        return None if row is None else row[0]

    def sighting_count(self) -> int:
        """How many sightings are stored."""
        with self._lock:
            return self._connection().execute("SELECT count(*) FROM sightings").fetchone()[0]


def _result(sighting_id: str | None, status: str, reason: str | None,
            register_side: dict[str, Any] | None = None) -> str:
    result: dict[str, Any] = {"sighting_id": sighting_id, "status": status, "reason": reason}
    if register_side is not None:
        result["register_side"] = register_side
    return json.dumps(result, ensure_ascii=True, separators=(",", ":"))


def _answer_text(results: list[str]) -> str:
    return '{"results":[' + ",".join(results) + "]}"
