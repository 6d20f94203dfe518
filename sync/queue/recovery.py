"""Recovery: the queue folder brought to a known state when its owner starts.

Leftover temporary files are removed; an open segment left by a seal cut short is
sealed; the newest open segment is taken up again (an append cut short, never
confirmed, is dropped); a damaged segment is set aside as ``*.damaged`` and what can
be read of it kept in its place; a move to the ledger cut short is finished; the
single ``sightings.json`` of earlier versions is moved into segments.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.queue import segments as seg
from sync.queue.folder import LEGACY_FILE, legacy_docs
from sync.queue.index import SegmentIndex
from sync.queue.ledger import Ledger
from sync.queue.open_segment import OpenSegment
from sync.queue.sealed import SealedSegments, unlink_quietly
from sync.storage import fsync_directory, io_error, temp_path

log = logging.getLogger("sync.queue")


class Recovery:
    """One start's recovery; ``run`` with the operation and writer locks held.

    Args:
        directory: the queue directory (where the legacy file lives).
        index, open_segment, sealed, ledger: the queue's parts.
        segment_size: records per segment (legacy records are moved in such slices).
        remove: how the queue removes ids (to finish a move to the ledger cut short).
    """

    def __init__(self, directory: Path, index: SegmentIndex, open_segment: OpenSegment,
                 sealed: SealedSegments, ledger: Ledger, segment_size: int,
                 remove: Callable[[set[str]], int]) -> None:
        self._directory = directory
        self._index = index
        self._open = open_segment
        self._sealed = sealed
        self._ledger = ledger
        self._segment_size = segment_size
        self._remove = remove

    def run(self) -> None:
        """Recover the folder (see the module docstring)."""
        folder = self._index.folder
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise io_error(folder, "cannot read", exc) from exc
        for name in names:
            if name.endswith(seg.TEMP_SUFFIX):
                unlink_quietly(folder / name)
                log.warning("removed %s, an unfinished write cut short", folder / name)
        sealed: list[int] = []
        opened: list[int] = []
        sidecars: list[int] = []
        for name in names:
            number = seg.number_in(name)
            if number is not None:
                self._index.next_number = max(self._index.next_number, number + 1)
            parsed = seg.parse_name(name)
            if parsed is not None:
                {seg.SEALED: sealed, seg.OPEN: opened, seg.IDS: sidecars}[parsed[0]].append(
                    parsed[1])
        for number in sorted(sealed):
            self._sealed.load(number)
        for number in sorted(opened)[:-1]:
            self._seal_found(number)
        if opened:
            self._open_found(max(opened))
        for number in sidecars:
            if number not in self._index.sealed:
                unlink_quietly(folder / seg.segment_name(seg.IDS, number))
        self._migrate_legacy()
        self._reconcile_ledger()
        try:
            fsync_directory(folder)
        except OSError as exc:
            raise io_error(folder, "cannot flush", exc) from exc

    def _seal_found(self, number: int) -> None:
        """Seal an open segment left behind by a crash during a seal."""
        index = self._index
        path = index.folder / seg.segment_name(seg.OPEN, number)
        target = index.folder / seg.segment_name(seg.SEALED, number)
        try:
            contents = seg.read_segment(path)
        except seg.DamagedSegment as exc:
            os.rename(path, target)
            self._sealed.replace_damaged(number, seg.DamagedSegment(
                target, exc.detail, exc.docs, exc.next_seq))
            return
        if contents.next_seq is not None:
            index.next_seq = max(index.next_seq, contents.next_seq)
        if not contents.docs:
            unlink_quietly(path)
            return
        if contents.torn:
            # An append cut short: a sealed segment must be whole.
            log.warning("%s: %d byte(s) of an unconfirmed append cut short dropped",
                        path.name, contents.torn)
            seg.write_segment(path, contents.docs, max(contents.next_seq or 0, index.next_seq))
            contents = seg.read_segment(path)
        pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
        seg.write_ids(index.folder / seg.segment_name(seg.IDS, number), contents.stamp[1], pairs)
        os.rename(path, target)
        self._sealed.load(number)

    def _open_found(self, number: int) -> None:
        """Reopen the newest open segment; a damaged one is set aside and what it held kept."""
        index = self._index
        path = index.folder / seg.segment_name(seg.OPEN, number)
        try:
            contents = seg.read_segment(path)
        except seg.DamagedSegment as exc:
            try:
                moved = seg.set_aside(path)
            except OSError as error:
                raise io_error(path, "cannot set aside the damaged file", error) from error
            docs = [(seq, r) for seq, r in exc.docs if r["sighting_id"] not in index.where]
            log.error("segment %s is damaged (%s): set aside as %s; %d record(s) read back",
                      path.name, exc.detail, moved.name, len(docs))
            for seq, _ in docs:
                index.next_seq = max(index.next_seq, seq + 1)
            index.next_seq = max(index.next_seq, exc.next_seq or 0)
            with index.lock:
                self._open.start(docs, index.next_seq)
            return
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        if contents.next_seq is not None:
            index.next_seq = max(index.next_seq, contents.next_seq)
        if contents.torn:
            log.warning("%s: %d byte(s) of an unconfirmed append cut short dropped",
                        path.name, contents.torn)
        with index.lock:
            self._open.reopen(number, path,
                              [(seq, r["sighting_id"]) for seq, r in contents.docs])

    def _migrate_legacy(self) -> None:
        """Move the records of the single-file queue of earlier versions into segments."""
        path = self._directory / LEGACY_FILE
        if temp_path(path).exists():
            unlink_quietly(temp_path(path))
            log.warning("removed %s, an unfinished write cut short", temp_path(path))
        if not path.exists():
            return
        damaged: seg.DamagedSegment | None = None
        try:
            docs = legacy_docs(path)
        except seg.DamagedSegment as exc:
            docs, damaged = exc.docs, exc
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        records: list[dict[str, Any]] = [record for _, record in docs]
        for start in range(0, len(records), self._segment_size):
            with self._index.lock:
                self._open.add(records[start : start + self._segment_size], new_segment=True)
        try:
            if damaged is not None:
                moved = seg.set_aside(path)
                log.error("%s is damaged (%s): set aside as %s; %d record(s) read back",
                          path, damaged.detail, moved.name, len(records))
            else:
                os.unlink(path)
            fsync_directory(self._directory)
        except OSError as exc:
            raise io_error(path, "cannot retire", exc) from exc
        log.info("%d queued sighting(s) moved from %s into segments", len(records), path)

    def _reconcile_ledger(self) -> None:
        """Finish a dead-lettering (or conflict) cut short: what is stored leaves the queue."""
        kept = self._ledger.kept_ids()
        with self._index.lock:
            both = {sid for sid in self._index.where if sid in kept}
        if both:
            self._remove(both)
            log.info("%d dead-lettered or conflicting sighting(s) removed from the queue",
                     len(both))
