"""The queue's ledger: what left the queue other than by the register's acknowledgement.

Dead letters (``dead-letters.json``: records the register refused for good), conflicts
(``conflicts.json``: door-kiosk events the register disagreed with, see
:mod:`sync.queue.conflicts`) and the sync note (``sync.json``: the last attempt and
success). Each is written under the folder's operation lock, durably, before the
records it concerns leave the queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sync.queue.conflicts import CONFLICT_TABLE, conflict_entry, open_conflicts, read_conflicts
from sync.queue.folder import (
    DEAD_TABLE,
    dead_entry,
    now_iso,
    open_dead_letters,
    read_dead_letters,
    write_note,
)
from sync.queue.kept import add_new_entries
from sync.queue.protocol import Side


def dead_letter_reasons(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """sighting_id -> reason of (sighting_id, reason) pairs; the first reason of an id counts.

    Raises:
        TypeError: an item is not a (sighting_id, reason) pair of strings.
    """
    reasons: dict[str, str] = {}
    for item in items:
        if (not isinstance(item, tuple) or len(item) != 2
                or not all(isinstance(part, str) for part in item)):
            raise TypeError(f"dead_letter takes (sighting_id, reason) pairs, not {item!r}")
        reasons.setdefault(item[0], item[1])
    return reasons


def conflict_sides(items: Iterable[tuple[str, str, Side]]) -> dict[str, tuple[str, Side]]:
    """sighting_id -> (reason, register_side) of conflict triples; the first of an id counts.

    Raises:
        TypeError: an item is not a (sighting_id, reason, register_side) triple.
    """
    found: dict[str, tuple[str, Side]] = {}
    for item in items:
        if (not isinstance(item, tuple) or len(item) != 3
                or not isinstance(item[0], str) or not isinstance(item[1], str)
                or not isinstance(item[2], (Mapping, type(None)))):
            raise TypeError("conflict takes (sighting_id, reason, register_side) triples,"
                            f" not {item!r}")
        found.setdefault(item[0], (item[1], item[2]))
    return found


class Ledger:
    """The dead letters, the conflicts and the sync note of a queue folder.

    Writers expect the folder's operation lock held; readers take none.

    Args:
        folder: the folder of segment files (``<queue.path>/sightings``).
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def keep_dead(self, records: list[dict[str, Any]], reasons: Mapping[str, str]) -> None:
        """Store ``records`` as dead letters with their reason (ids already there are skipped).

        Raises:
            QueueError: the store cannot be read or written.
        """
        at = now_iso()
        entries = [dead_entry(record, reasons[record["sighting_id"]], at) for record in records]
        add_new_entries(open_dead_letters(self._folder), DEAD_TABLE, entries)

    def keep_conflicts(self, records: list[dict[str, Any]],
                       sides: Mapping[str, tuple[str, Side]]) -> None:
        """Store ``records`` as conflicts with the reason and the register's side.

        Raises:
            QueueError: the store cannot be read or written.
        """
        at = now_iso()
        entries = [conflict_entry(record, *sides[record["sighting_id"]], at)
                   for record in records]
        add_new_entries(open_conflicts(self._folder), CONFLICT_TABLE, entries)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters, oldest first."""
        return read_dead_letters(self._folder)

    def conflicts(self) -> list[dict[str, Any]]:
        """The conflicts, oldest first."""
        return read_conflicts(self._folder)

    def kept_ids(self) -> set[Any]:
        """The ids of every dead letter and conflict (to finish a move cut short)."""
        kept = {entry.get("sighting_id") for entry in read_dead_letters(self._folder)}
        return kept | {entry.get("sighting_id") for entry in read_conflicts(self._folder)}

    def note_sync(self, ok: bool, at_iso: str, error: str | None) -> None:
        """Record a sync attempt durably.

        Raises:
            QueueError: the note cannot be written (the previous note stays).
        """
        write_note(self._folder, ok, at_iso, error)
