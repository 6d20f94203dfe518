"""Who holds each asset, as the reference receiver keeps it for door kiosks' events.

A check-out (``checked_out``) gives the asset to the event's person; a check-in
(``checked_in``) brings it back into the event's room. Until the receiver has applied an
event for an asset, its holder and room are the manifest's (``assigned_to``, ``location``).
An event the state disagrees with is a **conflict**, answered with the register's side:

- a check-out of an asset someone else holds, or whose status is a retired one
  (``archived``, ``retired``, ``disposed``);
- a check-in of an asset nobody holds, unless it is already in that room (then there is
  nothing to do and the event is accepted).

A check-out to the person who already holds the asset is accepted and changes nothing.
An asset the manifest does not list is rejected. The state lives in the receiver's
database (table ``holdings``) and changes in the batch's own transaction. Before reading
an asset's state, the transaction locks the asset's row of ``asset_locks`` (an upsert,
then an update: a row lock on PostgreSQL, where batches run side by side; SQLite runs
one write transaction at a time anyway), so two events about one asset are judged one
after the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.asset import DEFAULT_RETIRED_STATUSES, Asset, room_key
from sync.person import person_key
from sync.receiver.database import Connection

__all__ = ["HOLDINGS_SCHEMA", "Holdings", "Judgement", "same_person"]

HOLDINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS holdings (
    asset_key TEXT PRIMARY KEY,
    asset_tag TEXT NOT NULL,
    holder TEXT,
    location TEXT,
    sighting_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS asset_locks (
    asset_key TEXT PRIMARY KEY,
    judged INTEGER NOT NULL
);
"""

_RETIRED = frozenset(DEFAULT_RETIRED_STATUSES)


@dataclass(frozen=True)
class Judgement:
    """What becomes of one kiosk event: ``accepted``, ``conflict`` or ``rejected``."""

    status: str
    reason: str | None = None
    register_side: dict[str, Any] | None = None


def same_person(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two person records name the same person: by id, else username, else numbers.

    A manifest's holder has only a ``name``, compared with the other's name, username and
    employee number.
    """
    if a.get("id") is not None and b.get("id") is not None:
        return bool(a["id"] == b["id"])
    for field in ("username", "employee_num", "badge"):
        if a.get(field) and b.get(field):
            return person_key(str(a[field])) == person_key(str(b[field]))
    names_a = {person_key(str(v)) for v in (a.get("name"), a.get("username"),
                                             a.get("employee_num")) if v}
    names_b = {person_key(str(v)) for v in (b.get("name"), b.get("username"),
                                             b.get("employee_num")) if v}
    return bool(names_a & names_b)


class Holdings:
    """The holder state over a database connection (used inside the batch's transaction).

    Args:
        asset_of: the manifest's asset with this tag, or None.
    """

    def __init__(self, asset_of: Callable[[str], Asset | None]) -> None:
        self.asset_of = asset_of

    def judge(self, db: Connection, record: Mapping[str, Any],
              at: str) -> Judgement:
        """Decide one ``checked_out`` or ``checked_in`` event and, when accepted, apply it."""
        tag = str(record.get("asset_tag") or "")
        asset = self.asset_of(tag)
        if asset is None:
            return Judgement("rejected", f"the register has no asset {tag!r}")
        self._lock(db, asset)
        holder, location = self._state(db, asset)
        side = {"asset_tag": asset.asset_tag, "holder": holder, "status": asset.status,
                "location": location}
        room = str(record.get("location") or "")
        if record.get("verdict") == "checked_out":
            person = dict(record.get("person") or {})
            if asset.status.strip().casefold() in _RETIRED:
                return Judgement("conflict", f"the register has {asset.asset_tag} as"
                                 f" {asset.status!r}: it cannot be checked out", side)
            if holder is not None:
                if same_person(holder, person):
                    return Judgement("accepted", "already checked out to this person")
                return Judgement("conflict", f"{asset.asset_tag} is checked out to"
                                 f" {_who(holder)} in the register", side)
            self._set(db, asset, person, None, record, at)
            return Judgement("accepted")
        if holder is None:
            if location and room and room_key(location) == room_key(room):
                return Judgement("accepted", "already checked in here")
            return Judgement("conflict", f"{asset.asset_tag} is not checked out in the"
                             f" register; it is in {location or 'no room'}", side)
        self._set(db, asset, None, room or location, record, at)
        return Judgement("accepted")

    @staticmethod
    def _lock(db: Connection, asset: Asset) -> None:
        key = asset.asset_tag.casefold()
        db.execute("INSERT INTO asset_locks (asset_key, judged) VALUES (?, 0)"
                   " ON CONFLICT (asset_key) DO NOTHING", (key,))
        db.execute("UPDATE asset_locks SET judged = judged + 1 WHERE asset_key = ?", (key,))

    def _state(self, db: Connection,
               asset: Asset) -> tuple[dict[str, Any] | None, str | None]:
        row = db.execute("SELECT holder, location FROM holdings WHERE asset_key = ?",
                         (asset.asset_tag.casefold(),)).fetchone()
        if row is not None:
            return (json.loads(row[0]) if row[0] else None), row[1]
        holder = {"name": asset.assigned_to} if asset.assigned_to.strip() else None
        return holder, asset.location or None

    @staticmethod
    def _set(db: Connection, asset: Asset, holder: dict[str, Any] | None,
             location: str | None, record: Mapping[str, Any], at: str) -> None:
        db.execute("INSERT INTO holdings (asset_key, asset_tag, holder, location,"
                   " sighting_id, changed_at) VALUES (?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT (asset_key) DO UPDATE SET asset_tag = excluded.asset_tag,"
                   " holder = excluded.holder, location = excluded.location,"
                   " sighting_id = excluded.sighting_id, changed_at = excluded.changed_at",
                   (asset.asset_tag.casefold(), asset.asset_tag,
                    None if holder is None else json.dumps(holder, ensure_ascii=True),
                    location, str(record.get("sighting_id")), at))

    @staticmethod
    def holder(db: Connection, tag: str) -> dict[str, Any] | None:
        """The holder the receiver has recorded for ``tag`` (None: none, or never changed)."""
        row = db.execute("SELECT holder FROM holdings WHERE asset_key = ?",
                         (tag.casefold(),)).fetchone()
        return json.loads(row[0]) if row and row[0] else None


def _who(holder: Mapping[str, Any]) -> str:
    return str(holder.get("name") or holder.get("username") or holder.get("employee_num")
               or holder.get("id") or "someone")
