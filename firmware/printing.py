"""Asset labels on the configured printer: the URL a label carries, and ``stocktaker label``.

A label's QR code holds the asset's by-tag register URL, ``<register>/ht/<tag>`` (Snipe-IT's
own short form, which the device also reads back as the asset tag when the URL points at
this register); with no register URL configured it holds the tag itself.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

from firmware.errors import ConfigError, StocktakerError
from firmware.print_jobs import FlushResult, PrintJob, PrintJobs
from firmware.text import terminal_safe
from hal.backends import fitted
from hal.printer import LabelTooSmall, Printer, draw_label, label_size, open_printer

if TYPE_CHECKING:
    from firmware.config import Config

__all__ = ["LabelSpooler", "MAX_TAG_CHARS", "check_tag", "label_url", "labels_folder",
           "open_configured_printer", "print_labels", "printer_job"]

log = logging.getLogger(__name__)

MAX_TAG_CHARS = 64
"""Longer text is not an asset tag (and would not fit a label)."""

RETRY_SECONDS = 2.0
"""How often ``stocktaker label --wait`` tries an offline printer again."""


def label_url(config: Config, tag: str) -> str:
    """What the QR code of ``tag``'s label holds: ``<printer.url or register.url>/ht/<tag>``
    (the tag percent-encoded), or the tag itself when neither URL is set."""
    base = config.printer.url or config.register.url or ""
    if not base:
        return tag
    base = base.rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    return f"{base}/ht/{quote(tag, safe='')}"


def labels_folder(config: Config) -> Path:
    """Where the print jobs are kept: ``<queue.path>/labels``."""
    return config.queue.path / "labels"


def open_configured_printer(config: Config, address: str | None = None) -> Printer:
    """The printer ``[printer]`` describes (``address`` replaces ``printer.address``).

    Raises:
        ConfigError: no printer is configured, or the address is not one.
    """
    settings = config.printer
    if address is not None:
        settings = dataclasses.replace(settings, address=address)
    try:
        printer = open_printer(settings)
    except ValueError as exc:
        raise ConfigError(f"printer: {exc}") from None
    if not fitted(printer):
        raise ConfigError("no label printer is configured: set [printer] backend"
                          " (brother_ql, zpl or file) and address")
    return printer


class printer_job:  # noqa: N801 - used as a function: printer_job(printer)
    """A :class:`firmware.print_jobs.JobSender` for ``printer``: draws each job's label on
    the printer's stock, and sends it."""

    def __init__(self, printer: Printer) -> None:
        self.printer = printer

    def render(self, job: PrintJob) -> bytes:
        artwork = draw_label(job.url, job.tag, job.line, self.printer.size)
        return self.printer.job_bytes(artwork)

    def send(self, job: PrintJob, data: bytes) -> None:
        self.printer.send(job.id, data)


def check_tag(tag: str) -> str:
    """``tag`` as typed, if it can be an asset tag on a label.

    Raises:
        ConfigError: empty, too long, or holding control characters (exit 2, nothing queued).
    """
    if not tag.strip():
        raise ConfigError("an empty tag cannot be printed")
    if len(tag) > MAX_TAG_CHARS:
        raise ConfigError(f"{terminal_safe(tag[:20])}…: over {MAX_TAG_CHARS} characters,"
                          " not an asset tag")
    if any(not ch.isprintable() for ch in tag):
        raise ConfigError(f"{terminal_safe(tag)}: control or invisible characters in a tag")
    return tag


def print_labels(config: Config, tags: Sequence[str], out: TextIO, *,
                 address: str | None = None, wait: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep) -> int:
    """Queue a label for each tag, then send everything queued (``stocktaker label``).

    Every tag is checked and its label drawn before any is queued: one bad tag queues
    nothing. Asking again for a tag whose last label is ``uncertain`` supersedes that job.

    Args:
        config: the configuration (``[printer]``, ``[register]``, ``[queue]``).
        tags: the tags to print; none only sends what is queued.
        out: where one line per label is written.
        address: replaces ``printer.address``.
        wait: seconds to keep trying an offline printer (0: try once).
        sleep: waits between tries (the tests' clock).

    Returns:
        0 when nothing is left queued and no job was found interrupted mid-send, 3
        otherwise.

    Raises:
        ConfigError: no printer configured, or a bad tag; nothing was queued.
        QueueError: the job folder cannot be written.
    """
    printer = open_configured_printer(config, address)
    line = config.printer.organisation
    wanted = [(check_tag(tag), label_url(config, tag)) for tag in tags]
    size = label_size(config.printer.label, config.printer.dpi)
    for tag, url in wanted:
        try:
            draw_label(url, tag, line, size)
        except LabelTooSmall as exc:
            raise ConfigError(str(exc)) from None
    jobs = PrintJobs(labels_folder(config))
    location = config.audit.location or config.kiosk.location
    for tag, url in wanted:
        jobs.supersede(tag)
        jobs.add(tag, url, line, location=location)
    deadline = time.monotonic() + wait
    with printer:
        result = jobs.flush(printer_job(printer))
        uncertain = result.uncertain
        _report(result, out)
        while result.queued and time.monotonic() < deadline:
            sleep(min(RETRY_SECONDS, max(0.0, deadline - time.monotonic())))
            result = jobs.flush(printer_job(printer))
            _report(result, out, offline_again=False)
    _summary(result, uncertain, out)
    return 0 if not result.queued and not result.refused and not uncertain else 3


def _report(result: FlushResult, out: TextIO, *, offline_again: bool = True) -> None:
    try:
        _report_lines(result, out, offline_again)
    finally:
        out.flush()  # seen at once, also through a pipe, while --wait goes on


def _report_lines(result: FlushResult, out: TextIO, offline_again: bool) -> None:
    for job in result.uncertain:
        out.write(f"{terminal_safe(job.tag)}: uncertain: the device stopped while this"
                  " label was being sent; look at the printer, and if no label came out,"
                  f" print it again with: stocktaker label {terminal_safe(job.tag)}\n")
    for job in result.printed:
        out.write(f"{terminal_safe(job.tag)}: printed\n")
    for job in result.refused:
        out.write(f"{terminal_safe(job.tag)}: cannot be printed on the configured label, kept"
                  f" in the queue: {terminal_safe(job.error)}\n")
    if offline_again:
        for job in result.queued:
            out.write(f"{terminal_safe(job.tag)}: printer offline, queued\n")


def _summary(result: FlushResult, uncertain: list[PrintJob], out: TextIO) -> None:
    if result.queued:
        out.write(f"Printer offline ({terminal_safe(result.offline)}): {len(result.queued)}"
                  " label(s) queued; they print, each once, at the next `stocktaker label`"
                  " when the printer is back\n")


class LabelSpooler:
    """Prints the queued labels in the background while the device runs: once at start,
    then every ``interval`` seconds, so a label queued while the printer was off comes out
    when it is back, without anyone asking again."""

    def __init__(self, config: Config, interval: float) -> None:
        self._printer = printer_job(open_configured_printer(config))
        self._jobs = PrintJobs(labels_folder(config))
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labels", daemon=True)

    def start(self) -> LabelSpooler:
        """Start the background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the pass in progress (a job being sent is finished first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._printer.printer.close()

    def _run(self) -> None:
        while True:
            try:
                if self._jobs.jobs("queued", "sending"):
                    result = self._jobs.flush(self._printer)
                    for job in result.printed:
                        log.info("label %s printed", job.tag)
                    for job in result.uncertain:
                        log.warning("label %s: the device stopped while it was being sent;"
                                    " it may not have printed", job.tag)
                    if result.queued:
                        log.info("%d label(s) wait for the printer: %s", len(result.queued),
                                 result.offline)
            except StocktakerError as exc:
                log.warning("labels: %s", exc)
            if self._stop.wait(self._interval):
                return
