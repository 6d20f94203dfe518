"""The one way from a read to a sighting that is durable, then shown.

Every mode of the device (the handheld audit, the door kiosk) scans the same way: each
read of a burst is judged by the mode's rules in order, the judged reads are made durable
together — the sighting queue first, then the mode's own journal, one write and one fsync
each — and only then are they counted, shown and sounded. A burst that cannot be made
durable counts nothing and says so. The rules (:class:`ScanRules`) decide what a read
means, what they journal and what is shown; this module decides the order.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from firmware.errors import QueueError
from firmware.systemd_notify import scan_log_line
from hal.clock import Clock
from sync.sighting import Sighting
from hal.read import Read
from sync.queue import SightingStore

log = logging.getLogger(__name__)
scan_log = logging.getLogger("stocktaker.scan")
"""One line per saved scan (see :func:`firmware.systemd_notify.scan_log_line`), at INFO."""


class Outcome(Protocol):
    """What a mode made of a read (a :class:`~firmware.verdicts.Verdict`, a kiosk
    :class:`~firmware.kiosk_rules.Decision`): it has a label a person reads."""

    @property
    def label(self) -> str: ...


O = TypeVar("O", bound=Outcome)


@dataclasses.dataclass(frozen=True)
class Judged(Generic[O]):
    """One read of a burst, judged and stamped, waiting to be made durable.

    Attributes:
        source: the reader it came from.
        key: what the mode's repeat filter knows the read by (let through again when
            the burst cannot be saved).
        outcome: what the mode made of it.
        sighting: the record the queue and the journal keep.
    """

    source: str
    key: Hashable
    outcome: O
    sighting: Sighting


BurstEnd = Callable[[], None]
"""A read that ends a burst (a room label, a badge): run once what came before is durable."""


class Journal(Protocol):
    """A mode's own durable record of what it counted (a room's journal, the movement log)."""

    def add_many(self, records: Sequence[Mapping[str, Any]], wall: float) -> None:
        """Append records with one write and one fsync; QueueError when it cannot."""


class ScanRules(Protocol[O]):
    """What a mode plugs into the scan path: what a read means, what is journaled, what
    is shown."""

    @property
    def journal(self) -> Journal:
        """Where the mode keeps what it counted, after the queue."""

    @property
    def journal_required(self) -> bool:
        """Whether a burst the journal refused (the queue holding it) counts as not saved
        (True) or as saved (False: the next start repairs the journal from the queue)."""

    def begin_burst(self) -> None:
        """A burst begins (counting from here is tentative until :meth:`kept`)."""

    def judge(self, read: Read) -> Judged[O] | BurstEnd | None:
        """What a read means: a judged scan to make durable, a read that ends the burst,
        or None (dropped: a repeat)."""

    def kept(self, burst: list[Judged[O]]) -> None:
        """The burst (maybe empty) is durable: count it, show it, sound it."""

    def not_kept(self, burst: list[Judged[O]]) -> None:
        """The burst could not be made durable: undo what judging it counted."""

    def end_burst(self) -> None:
        """The burst is over, saved or not (or an error cut it short)."""

    def not_saved(self, what: str, error: QueueError) -> None:
        """Tell the person scans were not saved."""


class ScanPath(Generic[O]):
    """Read, judge (by the mode's rules), make durable, then show: the order every mode keeps.

    Args:
        rules: the mode's rules.
        queue: the sighting queue (what reaches the register).
        clock: the wall time journal entries are stamped with.
    """

    def __init__(self, rules: ScanRules[O], queue: SightingStore, clock: Clock) -> None:
        self.rules = rules
        self.queue = queue
        self.clock = clock
        self.scans: Counter[str] = Counter()
        """Scans saved since the start, per verdict (for the health textfile)."""

    def take(self, reads: Sequence[Read]) -> list[O]:
        """Take a burst of reads in order; returns what was made of those saved.

        Within the burst each read is judged after the ones before it. A read that ends
        the burst (a room label, a badge) splits it: what came before is saved first.
        """
        rules = self.rules
        outcomes: list[O] = []
        burst: list[Judged[O]] = []
        rules.begin_burst()
        try:
            for read in reads:
                judged = rules.judge(read)
                if judged is None:
                    continue
                if isinstance(judged, Judged):
                    burst.append(judged)
                    continue
                outcomes += self._save(burst)
                burst = []
                judged()
            outcomes += self._save(burst)
        finally:
            rules.end_burst()
        return outcomes

    def _save(self, burst: list[Judged[O]]) -> list[O]:
        """Make the burst durable, then have it counted and shown; on failure count none."""
        rules = self.rules
        if burst:
            records = [judged.sighting.to_record() for judged in burst]
            error = self.store(records, rules.journal, self.clock.wall(),
                               journal_required=rules.journal_required)
            if error is not None:
                rules.not_kept(burst)
                label = burst[0].outcome.label if len(burst) == 1 else f"{len(burst)} scans"
                rules.not_saved(label, error)
                return []
        rules.kept(burst)
        return [judged.outcome for judged in burst]

    def store(self, records: Sequence[Mapping[str, Any]], journal: Journal, wall: float, *,
              journal_required: bool = True) -> QueueError | None:
        """Make a burst durable in the queue, then in ``journal``; the error when it failed.

        When the queue refuses, nothing is kept. When only the journal refuses, the
        queue has the records (they will reach the register, and the mode's next start
        adds them back to the journal from the queue): with ``journal_required`` the
        mode counts nothing now; without, it counts them as saved.
        """
        try:
            self.queue.append_many(records)
        except QueueError as exc:
            log.error("%d scan(s) not saved: %s", len(records), exc)
            return exc
        try:
            journal.add_many(records, wall)
        except QueueError as exc:
            if journal_required:
                log.error("%d scan(s) not saved: %s", len(records), exc)
                return exc
            log.error("%d scan(s) queued but not in the journal (repaired at the next"
                      " start): %s", len(records), exc)
        logged = scan_log.isEnabledFor(logging.INFO)  # the line costs a URL parse: skip it unread
        for record in records:
            self.scans[str(record.get("verdict"))] += 1
            if logged:
                scan_log.info("%s", scan_log_line(record))
        return None
