"""The sealed segments: read into the index, read back, shrunk, deleted, or set aside.

Either process may do this work, always under the folder's operation lock; the
index's lock is taken only for the memory work, so a sync reading or rewriting sealed
segments never delays a scan by more than one append.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from tinydb import TinyDB

from sync.queue import segments as seg
from sync.queue.index import Segment, SegmentIndex
from sync.storage import AtomicJSONStorage, fsync_directory, io_error

log = logging.getLogger("sync.queue")


class SealedSegments:
    """The work on sealed segments; every method expects the folder's operation lock.

    Args:
        index: the queue's index.
    """

    def __init__(self, index: SegmentIndex) -> None:
        self._index = index
        self.bytes_written = 0
        """Bytes written rewriting sealed segments smaller (and their sidecars)."""

    def refresh(self, *, discover: bool) -> None:
        """Catch up with what another process changed in the sealed segments.

        Args:
            discover: also look for sealed segments the index does not know (a process
                that does not own the queue: the owner seals them meanwhile).
        """
        index = self._index
        if discover:
            try:
                names = os.listdir(index.folder)
            except OSError as exc:
                raise io_error(index.folder, "cannot read", exc) from exc
            for name in names:
                parsed = seg.parse_name(name)
                if parsed and parsed[0] == seg.SEALED and parsed[1] not in index.sealed:
                    self.load(parsed[1])
        with index.lock:
            known = list(index.sealed.values())
        for segment in known:
            try:
                info = os.stat(segment.path)
            except FileNotFoundError:
                with index.lock:
                    index.drop(segment)
                continue
            except OSError as exc:
                raise io_error(segment.path, "cannot read", exc) from exc
            if seg.stamp_of(info) != segment.stamp:
                self.load(segment.number, segment)

    def load(self, number: int, segment: Segment | None = None) -> Segment | None:
        """Read a sealed segment's ids (from its sidecar when current) into the index."""
        index = self._index
        path = segment.path if segment else index.folder / seg.segment_name(seg.SEALED, number)
        sidecar = index.folder / seg.segment_name(seg.IDS, number)
        try:
            info = os.stat(path)
            pairs = seg.read_ids(sidecar, info.st_size)
            stamp = seg.stamp_of(info)
            next_seq = None
            if pairs is None:
                contents = seg.read_segment(path)
                pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
                stamp, next_seq = contents.stamp, contents.next_seq
                seg.write_ids(sidecar, stamp[1], pairs)
        except FileNotFoundError:
            if segment is not None:
                with index.lock:
                    index.drop(segment)
            return None
        except seg.DamagedSegment as exc:
            return self.replace_damaged(number, exc)
        except OSError as exc:
            raise io_error(path, "cannot read", exc) from exc
        with index.lock:
            segment = segment or Segment(number, path)
            index.adopt(segment, pairs)
            index.next_seq = max(index.next_seq, next_seq or 0)
            segment.stamp = stamp
            index.sealed[number] = segment
        return segment

    def replace_damaged(self, number: int, exc: seg.DamagedSegment) -> Segment | None:
        """Set a damaged sealed segment aside and keep what could be read of it, in its place."""
        index = self._index
        path = exc.path
        try:
            moved = seg.set_aside(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise io_error(path, "cannot set aside the damaged file", error) from error
        with index.lock:
            stale = index.sealed.get(number)
            if stale is not None:
                index.drop(stale)
            docs = [(seq, r) for seq, r in exc.docs if r["sighting_id"] not in index.where]
        log.error("segment %s is damaged (%s): set aside as %s; %d record(s) read back",
                  path.name, exc.detail, moved.name, len(docs))
        unlink_quietly(index.folder / seg.segment_name(seg.IDS, number))
        try:
            if docs:
                target = index.folder / seg.segment_name(seg.SEALED, number)
                top = max(seq for seq, _ in docs) + 1
                seg.write_segment(target, docs, max(top, exc.next_seq or 0))
            fsync_directory(index.folder)
        except OSError as error:
            raise io_error(path, "cannot keep what was read of", error) from error
        return self.load(number) if docs else None

    def live_records(self, segment: Segment) -> list[dict[str, Any]]:
        """The records of a sealed segment still queued, oldest first."""
        index = self._index
        try:
            contents = seg.read_segment(segment.path)
        except FileNotFoundError:
            with index.lock:
                index.drop(segment)
            return []
        except seg.DamagedSegment as exc:
            replacement = self.replace_damaged(segment.number, exc)
            return [] if replacement is None else self.live_records(replacement)
        except OSError as exc:
            raise io_error(segment.path, "cannot read", exc) from exc
        if contents.stamp != segment.stamp:
            pairs = [(seq, record["sighting_id"]) for seq, record in contents.docs]
            with index.lock:
                index.adopt(segment, pairs)
                segment.stamp = contents.stamp
        members = segment.members
        return [record for seq, record in contents.docs
                if members.get(record["sighting_id"]) == seq]

    def delete(self, segment: Segment) -> int:
        """Delete a sealed segment all of whose records leave; return how many (no dir fsync)."""
        count = len(segment.members)
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise io_error(segment.path, "cannot delete", exc) from exc
        unlink_quietly(self._index.folder / seg.segment_name(seg.IDS, segment.number))
        with self._index.lock:
            self._index.drop(segment)
        return count

    def shrink(self, segment: Segment, sids: list[str],
               remove: Callable[[set[str]], int]) -> int:
        """Rewrite a sealed segment without ``sids``; return how many left it.

        Args:
            remove: how the queue removes ids, used again when the segment turns out
                damaged (what was kept of it is in a segment of the same number).
        """
        index = self._index
        try:
            contents = seg.read_segment(segment.path)
        except FileNotFoundError:
            with index.lock:
                index.drop(segment)
            return 0
        except seg.DamagedSegment as exc:
            replacement = self.replace_damaged(segment.number, exc)
            if replacement is None:
                return 0
            return remove({sid for sid in sids if sid in replacement.members})
        except OSError as exc:
            raise io_error(segment.path, "cannot read", exc) from exc
        seqs = {segment.members[sid] for sid in sids if sid in segment.members}
        with TinyDB(segment.path, storage=AtomicJSONStorage, tables=contents.tables,
                    flush_found=False) as db:
            db.table(seg.RECORDS, cache_size=0).remove(doc_ids=sorted(seqs))
        try:
            stamp = seg.stamp_of(os.stat(segment.path))
        except OSError:
            stamp = None
        written = 0
        if stamp is not None:
            left = [(seq, record["sighting_id"]) for seq, record in contents.docs
                    if seq not in seqs]
            written = stamp[1] + seg.write_ids(
                index.folder / seg.segment_name(seg.IDS, segment.number), stamp[1], left)
        with index.lock:
            self.bytes_written += written
            for sid in sids:
                index.unindex(segment, sid)
            segment.stamp = stamp
        return len(seqs)


def unlink_quietly(path: os.PathLike[str]) -> None:
    """Remove a file if it can be; a file already gone or stuck is no matter here."""
    try:
        os.unlink(path)
    except OSError:
        pass
