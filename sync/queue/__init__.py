"""The durable on-device queue of sighting records, waiting for the register.

A sighting is appended here before any feedback is given, and stays until the
register (or its outbox folder) has it. ``append`` returns only once the record
would survive a power cut; appending the same ``sighting_id`` twice is harmless.
Callers depend on the ``SightingStore`` protocol (:mod:`sync.queue.protocol`): exactly
what the scan path, the two modes, the sync engine and the device loop use.
``SightingQueue`` (:mod:`sync.queue.store`) is a small front over parts of one job each:
the index (:mod:`~sync.queue.index`), the open segment (:mod:`~sync.queue.open_segment`),
the sealed segments (:mod:`~sync.queue.sealed`), taking sightings out
(:mod:`~sync.queue.removal`), recovery (:mod:`~sync.queue.recovery`)
and the ledger of dead letters, conflicts and the sync note (:mod:`~sync.queue.ledger`).
``iter_pending()`` walks the whole queue one segment at a time: with 50,000 queued,
``pending()`` without a limit holds every record at once (about 110 MB at peak).

Layout
------
Everything lives in ``<queue.path>/sightings/``:

* ``open-<N>.json`` — the open segment, the only file an append writes to. It is
  TinyDB over ``AppendLogStorage`` (:mod:`sync.queue.log_storage`; its lines are
  read back by :mod:`sync.queue.log_format`): a snapshot line
  of the tables, then one line per change, each appended with one ``write`` and one
  fsync — an append writes its record's line and nothing else (about 630 bytes for
  a 600-byte sighting). When the file outgrows twice its live data (records
  acknowledged while still in the open segment) it is compacted: replaced whole
  (complete temporary file, fsync, rename, fsync of the folder) by one snapshot
  line. Table ``sightings`` maps a record's sequence number (its document id) to the
  record, table ``meta`` keeps ``next_seq``, so the numbering keeps increasing
  across restarts even once the queue was emptied. An append costs the same with
  50 or 50,000 sightings queued. docs/queue-storage.md has the crash argument.
* ``seg-<N>.json`` — sealed segments, oldest first by number: an open segment
  renamed as it is, its lines whole, or, once rewritten smaller, a single snapshot
  (a plain TinyDB JSON file). The open segment is sealed when it holds
  ``segment_size`` records, or when no append came
  for ``seal_after`` seconds (checked at the next append, ``pending`` or
  ``status``). Sealing first writes the new open segment, so one always exists.
  A sealed segment is never appended to: acknowledging all its records deletes
  it; acknowledging some rewrites it smaller (never more free space needed than
  one segment).
* ``seg-<N>.ids`` — a sealed segment's ids, a cache checked against the segment's
  size, so a start with 50,000 queued reads small files only. The process keeps an
  index (id → segment and sequence number) and reads sealed segments when
  ``pending`` reaches them.
* ``dead-letters.json`` — records the register refused for good, with ``reason``
  and ``dead_lettered_at``; ``conflicts.json`` — door-kiosk events the register
  disagreed with, each with the record, the register's side, the reason and
  ``conflict_at`` (:mod:`sync.queue.conflicts`); ``sync.json`` — the last sync attempt
  and success.
* ``writer.lock``, ``queue.lock`` — the locks below; ``*.damaged`` — files set aside.

Sharing
-------
Within a process, one ``SightingQueue`` may be used from several threads: the
scanning loop appends while a sync thread calls ``pending``, ``acknowledge`` and
``dead_letter``. One lock guards the index and the open segment and is held only
for memory work and the open segment's own write and fsync; reading and rewriting
sealed segments happens outside it, so a sync never delays a scan by more than
one append.

Between processes: the process that owns the queue (the device loop) holds an
exclusive flock on ``writer.lock`` for its whole life; a second owner is refused
with a ``QueueError``. Only the owner touches ``open-*`` files. A one-shot
``stocktaker sync`` opens the queue with ``shared=True``: it never appends and sees
only sealed segments, which it may read, rewrite and delete. Every operation on
sealed segments, the dead letters and the sync note — in either process — holds
an exclusive flock on ``queue.lock`` for that one operation, and each process
re-checks the sealed segments' (inode, size) before it acts, so neither works on
a stale view. Both may send the same sealed records; the register deduplicates by
``sighting_id`` and the second acknowledgement finds nothing to remove, so nothing
is lost, doubled or brought back. Records still in the device loop's open segment
go with its own sync (or to the one-shot once sealed). When no device loop runs, a
shared open takes the writer lock for a moment, recovers the folder, seals the
open segment and lets go, so the one-shot sees everything and a device loop
starting meanwhile waits for it (``writer_wait``).

The modes' journals (a room's journal, the kiosk's movement log) are written right
after the queue with their fsync deferred (:mod:`sync.journal`): before any record
leaves the queue, the owner flushes them, and a full segment is renamed ``seg-<N>``
(where a one-shot sync may acknowledge it) only once they are flushed — until then it is
*parked* under its ``open-`` name, and ``pending``, ``status`` and closing seal it, off
the scan path. docs/queue-storage.md has the argument.

``read_status(directory)`` reads the files without any lock or write, for
``stocktaker queue status`` while the device runs.

Recovery
--------
When the owner starts: leftover temporary files are removed (and named in the
log); an append cut short (an incomplete last line of the open segment: it was
never confirmed) is dropped, named in the log, and the next write compacts the
file; an open segment left by a seal cut short is sealed; a segment that is not
valid JSON or holds something other than sightings is renamed to ``*.damaged``
(never deleted), named in the log and in ``status()['damaged']``, and the records
that can still be read from its start are kept in its place. A sealed segment
found damaged later (when ``pending`` reads it) is treated the same way. A
dead-lettering cut short is finished. The single ``sightings.json`` of earlier
versions is moved into segments.

A full disk fails the append with a ``QueueError`` and harms nothing queued (a
line half written is cut off again, a compaction's old file stays until its
replacement is complete); the next append after space is freed works.

``SightingQueue.bytes_written`` counts the bytes this process wrote into the
segment files (the health textfile's ``stocktaker_queue_bytes_written_total``).
"""

from __future__ import annotations

from sync.queue.folder import LEGACY_FILE, SEGMENTS_DIR, format_status, read_status
from sync.queue.protocol import SightingStore
from sync.queue.store import DEFAULT_SEAL_AFTER, DEFAULT_SEGMENT_SIZE, SightingQueue

__all__ = [
    "DEFAULT_SEAL_AFTER",
    "DEFAULT_SEGMENT_SIZE",
    "QUEUE_FILE",
    "SEGMENTS_DIR",
    "SightingQueue",
    "SightingStore",
    "format_status",
    "read_status",
]

QUEUE_FILE = LEGACY_FILE
"""``sightings.json``: the single-file queue of earlier versions, moved into segments
at the first start."""
