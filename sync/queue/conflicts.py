"""Conflicts: events the register disagreed with, kept on the device with both sides.

A door kiosk decides offline from the register state it saved; when the register, at sync
time, holds something else (the asset was checked out to someone else meanwhile, or
archived), the register answers ``conflict``. The event then leaves the queue for
``conflicts.json`` beside the dead letters: never sent again, never overwritten, and shown
by ``stocktaker queue status`` until someone settles it in the register. Each entry keeps
the whole record (the device's side), the register's side, the reason and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from sync.queue.kept import open_store, read_store

__all__ = ["CONFLICT_FILE", "CONFLICT_TABLE", "conflict_entry", "conflict_lines",
           "conflict_summary", "open_conflicts", "read_conflicts"]

CONFLICT_FILE = "conflicts.json"
CONFLICT_TABLE = "conflicts"
_LISTED = 20


def conflict_entry(record: Mapping[str, Any], reason: str,
                   register_side: Mapping[str, Any] | None, at: str) -> dict[str, Any]:
    """One conflict: the event's id, asset and verdict, both sides, the reason and the time."""
    return {
        "sighting_id": record.get("sighting_id"),
        "asset_tag": record.get("asset_tag"),
        "verdict": record.get("verdict"),
        "reason": reason,
        "register_side": dict(register_side) if register_side is not None else None,
        "conflict_at": at,
        "record": dict(record),
    }


def open_conflicts(folder: Path) -> TinyDB:
    """Open the conflict store for a change; hold the operation lock.

    Raises:
        QueueError: it cannot be read or set aside.
    """
    return open_store(folder, CONFLICT_FILE, CONFLICT_TABLE, "conflict store")


def read_conflicts(folder: Path) -> list[dict[str, Any]]:
    """The conflicts, oldest first (an unreadable store reads as what can be read of it)."""
    return read_store(folder, CONFLICT_FILE, CONFLICT_TABLE)


def conflict_summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the queue status says of one conflict: who, what, when, and the register's holder."""
    record = found if isinstance(found := entry.get("record"), Mapping) else {}
    person = found if isinstance(found := record.get("person"), Mapping) else {}
    side = found if isinstance(found := entry.get("register_side"), Mapping) else {}
    holder = side.get("holder")
    if isinstance(holder, Mapping):
        holder = holder.get("name") or holder.get("username") or holder.get("id")
    return {
        "sighting_id": entry.get("sighting_id"), "asset_tag": entry.get("asset_tag"),
        "verdict": entry.get("verdict"), "wall_time": record.get("wall_time"),
        "person": person.get("name") or person.get("username") or person.get("employee_num"),
        "reason": entry.get("reason"), "register_holder": holder,
        "register_status": side.get("status"), "register_location": side.get("location"),
        "conflict_at": entry.get("conflict_at"),
    }


def conflict_lines(status: Mapping[str, Any]) -> list[str]:
    """The conflicts part of ``stocktaker queue status`` (outside text not yet made safe)."""
    count = int(status.get("conflicts") or 0)
    lines = [f"conflicts: {count}" + (" (the register disagreed; kept on the device, settle"
                                      " them in the register)" if count else "")]
    items = status.get("conflict_items") or []
    for item in items[-_LISTED:]:
        who = f" by {item['person']}" if item.get("person") else ""
        lines.append(f"  {item.get('wall_time') or '?'}  {item.get('verdict') or '?'}"
                     f" {item.get('asset_tag') or '-'}{who}  {item.get('sighting_id')}:"
                     f" {item.get('reason')}")
    if len(items) > _LISTED:
        lines.append(f"  (the {_LISTED} newest of {len(items)}; --json lists all)")
    return lines
