"""The reference receiver's tables (:class:`~sync.receiver.store.ReceiverStore` creates them).

One text for SQLite and PostgreSQL: only types and statements both read the same way.
"""

from __future__ import annotations

__all__ = ["SCHEMA"]

SCHEMA = """
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
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    sighting_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intakes (
    intake_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    location TEXT NOT NULL,
    asset_tag TEXT,
    received_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intakes_by_session ON intakes (session_id);
CREATE TABLE IF NOT EXISTS reports (
    session_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    last_contact TEXT NOT NULL,
    last_contact_unix DOUBLE PRECISION NOT NULL,
    last_heartbeat TEXT,
    state TEXT
);
"""
