"""The sync engine: the queue's sightings and the saved reports go to the register, batch by batch.

It runs in its own thread beside the scanning loop (scanning never waits for the
network) and one-shot as ``stocktaker sync``. Each round sends batches of
``batch_size`` sightings, each sighting with its own UUID and each batch idempotent, so
a batch sent again after a crash or a lost answer is applied once. Per item:

- accepted or duplicate (the register already had it): acknowledged, so it leaves the queue;
- rejected for good: moved to the dead letters with the register's reason; the rest of
  the batch goes through;
- a conflict (a door kiosk's event the register disagrees with: the asset was checked out
  to someone else or archived meanwhile): moved to the conflicts with the register's side
  and reason, never sent again, never overwritten (see :mod:`sync.queue.conflicts`).

A round with nothing to send still asks the register one cheap question
(:meth:`sync.register.Register.check`), so "last sync" is always the last time the
register answered: with the queue empty, a register that is down or refuses the token
fails the round like any other.

When the register cannot be reached (or answers 5xx/429), the round stops and the next
one waits with exponential backoff and full jitter, capped, and at least as long as a
``Retry-After`` asked (capped too). Nothing leaves the queue before the register has it.

Reports go after their session's sightings: a report waits while any sighting of its
session is still queued. Sightings made before the clock was synchronised get their
corrected wall time when they are sent, if the device has not rebooted since (the
original is kept beside it: :meth:`sync.sighting.Sighting.corrected`).

The queue keeps JSON objects; each batch is read back into typed records once, here
(:func:`readable_batch`), and the register receives those. A queued record that is no
sighting (damaged, or from another version) goes to the dead letters with the reason;
the round goes on with the rest.

About 400 lines, at the house's limit, for one reason: the round, its backoff and the
thread that runs it share the engine's state (the queue, the register, the last answer)
and its locking; the sending itself is in the adapters and the queue.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hal.clock import corrected_wall, Clock, iso_utc
from sync.errors import QueueError, RegisterError, RegisterRefused, RegisterUnavailable
from sync.sync_status import SyncStatus
from hal.text import terminal_safe
from sync.heartbeat import heartbeat_state
from sync.queue import SightingStore
from sync.register import ItemStatus, Register
from sync.pending_reports import PendingReports
from sync.sighting import Outgoing, Sighting, UnreadableRecord, read_queued

log = logging.getLogger(__name__)

__all__ = ["Backoff", "SyncEngine", "SyncResult", "corrected_report", "readable_batch"]


@dataclass
class SyncResult:
    """What one round did."""

    sent: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    conflicts: int = 0
    reports: int = 0
    left: int = 0
    error: str | None = None
    retry_after: float | None = None
    checked: bool = False
    """Nothing was to be sent: the register was only asked whether it answers."""
    refused: bool = False
    """The register refused the device's token (HTTP 401/403)."""
    unreachable: bool = False
    """The register could not be reached (no heartbeat follows the round)."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter: wait a random time up to ``base * 2**failures``.

    Attributes:
        base: seconds of the first step.
        cap: the most any wait may be.
        retry_after_cap: the most a register's ``Retry-After`` may make us wait.
    """

    base: float = 2.0
    cap: float = 300.0
    retry_after_cap: float = 900.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``failures`` failed rounds in a row (1 or more)."""
        ceiling = min(self.cap, self.base * 2 ** min(failures - 1, 30))
        wait = self.rng.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait


def readable_batch(records: Sequence[Mapping[str, Any]], clock: Clock
                   ) -> tuple[list[Outgoing], list[tuple[str, str]]]:
    """The queued ``records`` as typed records, sightings with their time corrected
    (:meth:`~sync.sighting.Sighting.corrected`), and the (sighting_id, reason) of those
    that cannot be read."""
    readable: list[Outgoing] = []
    unreadable: list[tuple[str, str]] = []
    for record in records:
        try:
            item = read_queued(record)
        except UnreadableRecord as exc:
            unreadable.append((str(record.get("sighting_id")), f"unreadable record: {exc}"))
            continue
        readable.append(item.corrected(clock) if isinstance(item, Sighting) else item)
    return readable, unreadable


def corrected_report(report: Mapping[str, Any], clock: Clock) -> dict[str, Any]:
    """``report`` with the times of its scans made before NTP corrected (see above).

    Each corrected scan keeps ``at_device``; ``times_corrected`` counts them.
    """
    copy = dict(report)
    scans = report.get("scans")
    if not clock.synced() or not isinstance(scans, list):
        return copy
    now_wall, now_mono, boot = clock.wall(), clock.mono(), clock.boot_id()
    fixed_scans, count = [], 0
    for scan in scans:
        fixed = (corrected_wall(scan, now_wall=now_wall, now_mono=now_mono, boot_id=boot)
                 if isinstance(scan, Mapping) else None)
        if fixed is None:
            fixed_scans.append(scan)
            continue
        count += 1
        fixed_scans.append({**scan, "at_device": scan.get("at"), "at": iso_utc(fixed),
                            "clock_synchronized": True})
    if count:
        copy["scans"] = fixed_scans
        copy["times_corrected"] = int(report.get("times_corrected") or 0) + count
    return copy


class SyncEngine:
    """Hands the queue and the saved reports to the register; see the module docstring.

    Args:
        queue: the durable sighting queue.
        register: the register adapter.
        reports: the reports kept on the device until the register has them.
        clock: for corrected times and the status line.
        batch_size: sightings per request.
        interval: seconds between rounds when all went well.
        backoff: waits after failed rounds.
        refresh: called by the thread after a good round, at most every ``refresh_every``
            seconds (the device saves a fresh copy of the expected inventory with it).
        refreshed_at: monotonic time of the last refresh (the one at start), if any.
        device_state: what the device adds to each heartbeat (firmware version, mode,
            room); the heartbeat follows each round that reached the register, and a
            failed one is only logged.
    """

    def __init__(self, queue: SightingStore, register: Register, reports: PendingReports,
                 clock: Clock, *, batch_size: int = 50, interval: float = 30.0,
                 backoff: Backoff | None = None, refresh: Callable[[], object] | None = None,
                 refresh_every: float = 3600.0, refreshed_at: float | None = None,
                 device_state: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.queue = queue
        self.register = register
        self.reports = reports
        self.clock = clock
        self.batch_size = batch_size
        self.interval = interval
        self.backoff = backoff or Backoff()
        self.refresh = refresh
        self.refresh_every = refresh_every
        self.refreshed_at = refreshed_at
        self.device_state = device_state
        self._no_heartbeats = False
        self.failures = 0
        self.last_success: float | None = None  # monotonic seconds: the register's last answer
        self.answered: bool | None = None  # did the last round get its answers; None: no round yet
        self.last_result = SyncResult()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._round = threading.Lock()

    # -- one round ---------------------------------------------------------------------------

    def run_once(self) -> SyncResult:
        """Send everything that can be sent now; returns what happened (never raises).

        Stops at the first batch the register cannot take (``result.error``). When there
        was nothing to send, the register is checked instead (``result.checked``): a
        round succeeds only when the register answered.
        """
        with self._round:
            result = SyncResult()
            try:
                contacted = self._send_sightings(result)
                contacted = self._send_reports(result) or contacted
                if not contacted:
                    if self._stop.is_set():
                        # Stopping before the register said anything: nothing to record.
                        result.left = len(self.queue)
                        return result
                    result.checked = True
                    self.register.check()
            except RegisterUnavailable as exc:
                result.error, result.retry_after = str(exc), exc.retry_after
                result.unreachable = True
            except (RegisterError, QueueError) as exc:
                result.error, result.refused = str(exc), isinstance(exc, RegisterRefused)
            except Exception as exc:  # a fault in an adapter must not end the sync for good
                log.exception("sync round failed")
                result.error = f"{type(exc).__name__}: {exc}"
            result.left = len(self.queue)
            self._record(result)
            if not result.unreachable and not self._no_heartbeats:
                self._heartbeat(result)
            return result

    def _heartbeat(self, result: SyncResult) -> None:
        """Tell the register how the device stands; a failure is logged, never fatal."""
        try:
            extra = self.device_state() if self.device_state is not None else None
            state = heartbeat_state(self.queue.status(), queued=result.left,
                                    now_wall=self.clock.wall(), error=result.error,
                                    extra=extra)
            self.register.heartbeat(state)
        except RegisterError as exc:
            if isinstance(exc, (RegisterUnavailable, RegisterRefused)):
                log.info("heartbeat not sent: %s", terminal_safe(str(exc)))
            else:  # a register without heartbeats (404): not asked again until restart
                self._no_heartbeats = True
                log.warning("heartbeat refused, none sent until restart: %s",
                            terminal_safe(str(exc)))
        except Exception as exc:  # the sightings are what matters; the next round tries again
            log.info("heartbeat not sent: %s", terminal_safe(str(exc)))

    def _send_sightings(self, result: SyncResult) -> bool:
        """Send batch after batch; True when the register answered at least one."""
        contacted = False
        while not self._stop.is_set():
            batch = self.queue.pending(self.batch_size)
            if not batch:
                return contacted
            sendable, unreadable = readable_batch(batch, self.clock)
            if unreadable:
                if not self.queue.dead_letter(unreadable):
                    raise QueueError("unreadable records could not leave the queue")
                result.dead_lettered += len(unreadable)
                for sighting_id, reason in unreadable:
                    log.warning("sighting %s not sent: %s", terminal_safe(sighting_id),
                                terminal_safe(reason))
                if not sendable:
                    continue
            answers = self.register.push(sendable)
            contacted = True
            sent_ids = [item.sighting_id for item in sendable]
            if [a.sighting_id for a in answers] != sent_ids:
                raise RegisterUnavailable("the register's answer does not match the batch"
                                          " sent; it is sent again later")
            done = [a.sighting_id for a in answers
                    if a.status in (ItemStatus.ACCEPTED, ItemStatus.DUPLICATE)]
            refused = [(a.sighting_id, a.reason or "refused by the register")
                       for a in answers if a.status is ItemStatus.REJECTED]
            if refused:
                self.queue.dead_letter(refused)
                for sighting_id, reason in refused:
                    log.warning("sighting %s refused by the register: %s", sighting_id, reason)
            disputed = [(a.sighting_id, a.reason or "the register disagrees",
                         dict(a.register_side) if a.register_side is not None else None)
                        for a in answers if a.status is ItemStatus.CONFLICT]
            if disputed:
                self.queue.conflict(disputed)
                for sighting_id, reason, _ in disputed:
                    log.warning("sighting %s is a conflict, kept on the device: %s",
                                terminal_safe(sighting_id), terminal_safe(reason))
                self._copy_conflicts()
            if done:
                self.queue.acknowledge(done)
            result.sent += sum(a.status is ItemStatus.ACCEPTED for a in answers)
            result.duplicates += sum(a.status is ItemStatus.DUPLICATE for a in answers)
            result.dead_lettered += len(refused)
            result.conflicts += len(disputed)
        return contacted

    def _copy_conflicts(self) -> None:
        """Hand the register's adapter the device's conflicts (the outbox keeps a copy)."""
        try:
            self.register.record_conflicts(self.queue.conflicts())
        except RegisterError as exc:  # the queue keeps them; the copy is for people
            log.error("conflicts not copied to the outbox: %s", exc)

    def _send_reports(self, result: SyncResult) -> bool:
        """Publish the reports whose sightings are all sent; True when any was."""
        waiting = ({r.get("session_id") for r in self.queue.iter_pending()}
                   if len(self.queue) else set())
        for path, report in self.reports.items():
            if self._stop.is_set():
                break
            if report.get("session_id") in waiting:
                continue  # its sightings first
            self.register.publish_report(corrected_report(report, self.clock))
            self.reports.remove(path)
            result.reports += 1
        return result.reports > 0

    def _record(self, result: SyncResult) -> None:
        self.last_result = result
        at = iso_utc(self.clock.wall())
        self.answered = result.error is None
        if result.error is None:
            self.failures = 0
            self.last_success = self.clock.mono()
        else:
            self.failures += 1
            log.warning("sync postponed: %s", result.error)
        try:
            self.queue.note_sync(result.error is None, at, result.error)
        except QueueError as exc:
            log.warning("last sync not recorded: %s", exc)

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        """Run rounds in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sync", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Start the next round now (a room ended, a register came back)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after the batch in flight, and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("sync still busy after %.0f s; its batch stays queued", timeout)
            self._thread = None
        self._stop.clear()  # a last round may still be run by hand

    def next_wait(self) -> float:
        """Seconds until the next round: the interval, or the backoff after failures."""
        if self.failures == 0:
            return self.interval
        return self.backoff.delay(self.failures, self.last_result.retry_after)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.run_once().error is None:
                self._refresh_if_due()
            self._wake.wait(self.next_wait())
            self._wake.clear()

    def _refresh_if_due(self) -> None:
        now = self.clock.mono()
        if self.refresh is None or (self.refreshed_at is not None
                                    and now - self.refreshed_at < self.refresh_every):
            return
        self.refreshed_at = now
        try:
            self.refresh()
        except Exception as exc:  # the register may say no now; the next hour tries again
            log.warning("expected inventory not refreshed: %s", exc)

    # -- what the screen shows ---------------------------------------------------------------

    def status(self, inventory_age: float | None = None) -> SyncStatus:
        """The queue and the last sync, for the idle screen."""
        try:
            status = self.queue.status()
            waiting = len(self.queue)
            dead, conflicts = int(status["dead_letters"]), int(status.get("conflicts") or 0)
        except (QueueError, KeyError):
            waiting, dead, conflicts = len(self.queue), 0, 0
        age = None if self.last_success is None else self.clock.mono() - self.last_success
        return SyncStatus(waiting, dead, age, inventory_age, conflicts=conflicts,
                          register_answered=self.answered,
                          token_refused=self.last_result.refused)


def summarise(result: SyncResult) -> str:
    """One line about a round, for the one-shot command."""
    text = (f"sent {result.sent}, already there {result.duplicates}, refused "
            f"{result.dead_lettered}, conflicts {result.conflicts}, reports {result.reports},"
            f" still queued {result.left}")
    if result.checked and result.error is None:
        text += "; the register answered"
    return text + (f"; stopped: {result.error}" if result.error else "")

