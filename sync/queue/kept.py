"""The queue folder's kept-aside stores (dead letters, conflicts): small TinyDB files.

Each is written only under the folder's operation lock and read without any lock; a
damaged one is set aside and what can still be read of it is carried over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinydb import TinyDB

from sync.errors import QueueError
from sync.queue import segments as seg
from sync.storage import (
    AtomicJSONStorage,
    dump_tables,
    fsync_directory,
    io_error,
    load_tables,
    replace_file,
    salvage_tables,
)

__all__ = ["add_new_entries", "open_store", "read_store"]


def open_store(folder: Path, file_name: str, table: str, what: str) -> TinyDB:
    """Open one of the folder's kept-aside stores (dead letters, conflicts) for a change.

    Hold the operation lock. A damaged store is set aside, and what can still be read of
    it is carried over.

    Raises:
        QueueError: it cannot be read or set aside.
    """
    path = folder / file_name
    try:
        return TinyDB(path, storage=AtomicJSONStorage, flush_found=False)
    except QueueError:
        if not path.exists():
            raise
    try:
        salvaged = salvage_tables(path.read_bytes())
        moved = seg.set_aside(path)
        seg.log.error("the %s %s is damaged: set aside as %s, %d entr(ies) kept",
                      what, path, moved.name, len(salvaged.get(table, {})))
        replace_file(path, dump_tables({table: salvaged.get(table, {})}))
        fsync_directory(folder)
    except OSError as exc:
        raise io_error(path, "cannot set aside the damaged file", exc) from exc
    return TinyDB(path, storage=AtomicJSONStorage, flush_found=False)


def add_new_entries(db: TinyDB, table_name: str, entries: list[dict[str, Any]]) -> None:
    """Insert the entries whose ``sighting_id`` the store does not hold yet, then close it."""
    try:
        table = db.table(table_name, cache_size=0)
        known = {doc.get("sighting_id") for doc in table.all()}
        fresh = [entry for entry in entries if entry["sighting_id"] not in known]
        if fresh:
            table.insert_multiple(fresh)
    finally:
        db.close()


def read_store(folder: Path, file_name: str, table_name: str) -> list[dict[str, Any]]:
    """The entries of a kept-aside store, oldest first (damaged: what can be read of it)."""
    try:
        raw = (folder / file_name).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise io_error(folder / file_name, "cannot read", exc) from exc
    try:
        tables = load_tables(raw) or {}
    except ValueError:
        tables = salvage_tables(raw)
    table = tables.get(table_name) or {}
    keyed = [(int(k), doc) for k, doc in table.items()
             if isinstance(doc, dict) and k.isascii() and k.isdigit()]
    return [doc for _, doc in sorted(keyed, key=lambda item: item[0])]
