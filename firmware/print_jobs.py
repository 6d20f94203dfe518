"""Durable label print jobs: a printer that is off delays a label, never loses or doubles it.

Each job is one small JSON file in ``<queue.path>/labels/``, named by its id (time-ordered,
so the folder lists the jobs in the order they were asked for), replaced whole and fsynced
at every change of state::

    queued ──> sending ──> printed
      ^           │  └───> uncertain ──> superseded (the person printed it again)
      └───────────┘ (printer offline or the connection broke: nothing was printed)

**What "never twice" means.** Brother and Zebra printers on a raw socket or a USB device
file take no job id and send no acknowledgement, so no program can know whether a job that
was being sent when the device lost power came out of the printer. A job is therefore
marked ``sending`` durably before its first byte leaves, and ``printed`` once its last byte
was handed over. A failed connection puts it back to ``queued``: a job cut short is never
printed (a ZPL format prints at its ``^XZ``, a Brother job at its final print command), so
sending it again prints it once. A job still ``sending`` when the next send begins was
interrupted by a crash or a power cut; it may or may not have printed. It is not sent
again by itself: it becomes ``uncertain`` and is shown to the person (once, by the pass
that finds it), who looks at the printer and, if no label came out, prints it again
(``stocktaker label TAG``), which supersedes it. So a label is never printed twice by the device itself; after a crash at
the wrong moment at most one label (the one in flight) may be missing, and it is named.

One sender at a time: sending holds an exclusive lock on the folder, so two commands (or
the device loop and a command) never send the same job.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from firmware.errors import QueueError
from hal.clock import iso_utc
from hal.printer.base import PrinterOffline
from sync.storage import fsync_directory, replace_file

__all__ = ["FlushResult", "JobSender", "PrintJob", "PrintJobs", "STATES", "labels_for_report"]

STATES = ("queued", "sending", "printed", "uncertain", "superseded")

_LOCK_NAME = ".lock"


@dataclass(frozen=True)
class PrintJob:
    """One label to print.

    Attributes:
        id: unique, time-ordered; also the file's name.
        tag: the asset tag printed as text.
        url: what the QR code holds.
        line: the configured organisation line.
        state: one of :data:`STATES`.
        created: wall time the label was asked for (seconds since the epoch).
        printed: wall time the printer took the whole job, or ``None``.
        location: the room the device was set to when the label was asked for, if any.
        attempts: how many sends were begun.
        error: why the last send failed, if it did.
    """

    id: str
    tag: str
    url: str
    line: str = ""
    state: str = "queued"
    created: float = 0.0
    printed: float | None = None
    location: str | None = None
    attempts: int = 0
    error: str = ""


@dataclass
class FlushResult:
    """What one pass over the queue did."""

    printed: list[PrintJob] = field(default_factory=list)
    queued: list[PrintJob] = field(default_factory=list)
    uncertain: list[PrintJob] = field(default_factory=list)
    """Jobs found interrupted mid-send by this pass (each is reported once, by the pass that
    finds it; it stays ``uncertain`` in the folder until superseded)."""
    refused: list[PrintJob] = field(default_factory=list)
    """Jobs that cannot be drawn on the label stock now configured; they stay queued."""
    offline: str | None = None
    """Why the printer could not be reached, when it could not."""


class JobSender(Protocol):
    """What :meth:`PrintJobs.flush` prints with."""

    def render(self, job: PrintJob) -> bytes:
        """The bytes the printer receives for ``job``; ValueError when it cannot be drawn."""

    def send(self, job: PrintJob, data: bytes) -> None:
        """Hand ``data`` to the printer whole; :class:`PrinterOffline` when it cannot."""


class PrintJobs:
    """The durable queue of label print jobs kept in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def add(self, tag: str, url: str, line: str = "", *, location: str | None = None,
            at: float | None = None) -> PrintJob:
        """Queue a label; it is durable when this returns.

        ``location`` is the room the device is in, ``at`` the wall time it is asked for
        (now by default).

        Raises:
            QueueError: the folder cannot be written (full disk, read-only card).
        """
        job = PrintJob(id=f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}", tag=tag, url=url,
                       line=line, created=time.time() if at is None else at, location=location)
        self._save(job)
        return job

    def jobs(self, *states: str) -> list[PrintJob]:
        """Every job (or those in ``states``), oldest first. Unreadable files are skipped:
        they are named by :meth:`damaged`."""
        found = []
        for path in self._files():
            job = self._load(path)
            if job is not None and (not states or job.state in states):
                found.append(job)
        return found

    def damaged(self) -> list[Path]:
        """Job files that cannot be read (a disk fault); they are never sent."""
        return [p for p in self._files() if self._load(p) is None]

    def supersede(self, tag: str) -> list[PrintJob]:
        """Mark the ``uncertain`` jobs of ``tag`` as superseded: the person asked for the
        label again, having seen that it did not come out."""
        done = []
        with self._locked():
            for job in self.jobs("uncertain"):
                if job.tag == tag:
                    done.append(self._save(replace(job, state="superseded")))
        return done

    def flush(self, printer: JobSender) -> FlushResult:
        """Send every queued job, oldest first, until the queue is empty or the printer
        is offline.

        Args:
            printer: draws each job (a job that cannot be drawn on the loaded stock stays
                queued, with the reason, and the others go on) and sends it (raising
                :class:`PrinterOffline` when it cannot: the job is kept, and no later job
                is tried).

        Returns:
            What was printed, what is still queued, what was found uncertain.

        Raises:
            QueueError: a job's state cannot be written; nothing is sent unmarked.
        """
        result = FlushResult()
        with self._locked():
            for job in self.jobs("sending"):
                # We hold the lock: whoever was sending this died mid-send.
                result.uncertain.append(self._save(replace(
                    job, state="uncertain",
                    error="the device stopped while this label was being sent")))
            for job in self.jobs("queued"):
                if result.offline is not None:
                    result.queued.append(job)
                    continue
                try:
                    data = printer.render(job)
                except ValueError as exc:  # e.g. the configured label became smaller
                    result.refused.append(self._save(replace(job, error=str(exc))))
                    continue
                job = self._save(replace(job, state="sending", attempts=job.attempts + 1))
                try:
                    printer.send(job, data)
                except PrinterOffline as exc:
                    result.offline = str(exc)
                    result.queued.append(self._save(replace(job, state="queued", error=str(exc))))
                    continue
                result.printed.append(self._save(replace(job, state="printed",
                                                         printed=time.time(), error="")))
        return result

    # -- files ---------------------------------------------------------------------------

    def _files(self) -> Iterator[Path]:
        if not self.folder.is_dir():
            return iter(())
        return iter(sorted(p for p in self.folder.glob("*.json")))

    def _load(self, path: Path) -> PrintJob | None:
        try:
            data: dict[str, Any] = json.loads(path.read_bytes())
            job = PrintJob(**data)
        except (OSError, ValueError, TypeError, RecursionError):
            return None
        return job if _well_formed(job) and path.stem == job.id else None

    def _save(self, job: PrintJob) -> PrintJob:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            replace_file(self.folder / f"{job.id}.json",
                         json.dumps(asdict(job), ensure_ascii=False).encode())
            fsync_directory(self.folder)
        except OSError as exc:
            raise QueueError(f"label queue {self.folder}: cannot write a print job:"
                             f" {exc.strerror or exc}") from None
        return job

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise QueueError(f"label queue {self.folder}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _well_formed(job: PrintJob) -> bool:
    """Every field of the type it is written with (a damaged file is never sent)."""
    def number(value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and (
            0 <= value < 1e11)

    return (job.state in STATES and all(isinstance(v, str) for v in (
                job.id, job.tag, job.url, job.line, job.error))
            and number(job.created) and (job.printed is None or number(job.printed))
            and (job.location is None or isinstance(job.location, str))
            and isinstance(job.attempts, int))


def labels_for_report(folder: Path, location: str | None, started_at: str,
                      ended_at: str) -> list[dict[str, Any]]:
    """The labels asked for during a room's audit, for its report.

    A job belongs to the room when it was asked for between ``started_at`` and
    ``ended_at`` (ISO 8601, as the report writes them) and names this room or none.
    Superseded jobs are left out (the label asked again is listed). Never raises: a
    report is written whatever the state of the label folder.
    """
    try:
        start = datetime.fromisoformat(started_at).timestamp()
        end = datetime.fromisoformat(ended_at).timestamp()
        jobs = PrintJobs(folder).jobs("queued", "sending", "printed", "uncertain")
    except (ValueError, OSError):
        return []
    return [{"asset_tag": job.tag, "state": "uncertain" if job.state == "sending" else job.state,
             "asked_at": iso_utc(job.created),
             "printed_at": iso_utc(job.printed) if job.printed is not None else None}
            for job in jobs
            if start <= job.created <= end and job.location in (None, location)]
