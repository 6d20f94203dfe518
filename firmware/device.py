"""Opens the parts a configuration names and runs the device loop until input ends."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO, TextIO, TypeVar

from firmware.clock import SystemClock
from firmware.config import Config
from firmware.errors import ConfigError, DeviceError
from firmware.handheld import HandheldAudit, Settings
from firmware.asset import Asset
from firmware.identity import IdentityRules, register_sites
from firmware.inventory import Inventory
from firmware.readers import merge_reads
from firmware.stopping import StopRequested, StopSignals
from firmware.sightings import Clock
from hal.camera import CameraReader, FolderFrames, open_decoder
from hal.display import open_display
from hal.feedback import open_feedback
from hal.scanner import open_scanner
from sync.queue import SightingQueue
from sync.register import open_register
from sync.reports import PendingReports

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_device(config: Config, *, stdin: BinaryIO | None = None, stdout: TextIO | None = None,
               screens_dir: Path | None = None, clock: Clock | None = None) -> list[dict[str, Any]]:
    """Run the handheld audit the configuration describes; returns the reports written.

    The session ends when every reader has ended (the camera folder is exhausted and
    standard input is closed), or on SIGTERM, SIGINT (Ctrl-C), SIGHUP or SIGQUIT; either
    way the room's report is written. After a kill or a power cut, the next run resumes
    the interrupted room (see :class:`firmware.handheld.HandheldAudit`).
    """
    if config.device.mode != "handheld":
        raise ConfigError(f"device.mode: {config.device.mode!r} is not available")
    with StopSignals() as stop, contextlib.ExitStack() as stack:
        audit: HandheldAudit | None = None
        try:
            with stop.held():
                audit, readers = _open_audit(config, stack, stdin=stdin, stdout=stdout,
                                             screens_dir=screens_dir, clock=clock)
            audit.sync()
            audit.show_progress()
            for read in merge_reads([reader.reads() for reader in readers]):
                with stop.held():
                    audit.handle(read)
        except StopRequested as stopped:
            log.info("%s: ending the room", stopped)
        finally:
            stop.wind_down()
            if audit is not None:
                audit.finish_room()
        return audit.reports if audit is not None else []


def _open_audit(config: Config, stack: contextlib.ExitStack, *, stdin: BinaryIO | None,
                stdout: TextIO | None, screens_dir: Path | None,
                clock: Clock | None) -> tuple[HandheldAudit, list[Any]]:
    """Open every part the configuration names; the audit resumes an interrupted room."""
    register = stack.enter_context(open_register(config.register, config.device.id))
    inventory = open_inventory(config, register.expected_assets())
    readers = _open_readers(config, stdin, stack)
    queue = stack.enter_context(SightingQueue(config.queue.path))
    display = stack.enter_context(_or_nothing("display", lambda: open_display(
        config.display.backend, stream=stdout, style=config.display.style,
        screens_dir=screens_dir or config.display.screens, driver=config.display.driver,
        i2c_port=config.display.i2c_port, i2c_address=config.display.i2c_address),
        lambda: open_display("none")))
    feedback = stack.enter_context(_or_nothing("feedback", lambda: open_feedback(
        config.feedback.backend, stream=stdout, buzzer_pin=config.feedback.buzzer_pin,
        green_pin=config.feedback.green_pin, red_pin=config.feedback.red_pin),
        lambda: open_feedback("none")))
    audit = HandheldAudit(
        Settings(config.device.id, config.audit.technician, config.audit.location,
                 config.audit.repeat_window, config.audit.tag_pattern,
                 config.audit.room_confirm_window, config.audit.resume_within * 3600.0),
        inventory, queue, register, PendingReports(config.queue.path / "reports"),
        display, feedback, clock or SystemClock(), rooms=config.queue.path / "rooms")
    return audit, readers


def open_inventory(config: Config, assets: list[Asset]) -> Inventory:
    """The expected inventory with the configured identity rules; logs what will be ambiguous."""
    rules = IdentityRules(
        ignore_leading_zeros=config.identity.leading_zeros == "ignore",
        giai_prefixes=tuple(config.identity.giai_prefixes),
        sites=register_sites(config.register.url, config.register.label_hosts),
    )
    inventory = Inventory(assets, config.register.retired_statuses,
                          config.register.lost_statuses, rules)
    for warning in inventory.index.warnings:
        log.warning("expected inventory: %s", warning.message())
    if inventory.assets and not inventory.index.has_ids:
        log.warning("expected inventory has no id column: register URL labels"
                    " (.../hardware/<id>) will count as unregistered")
    if not rules.sites:
        log.warning("register.url is not set: register URL labels will count as unregistered")
    return inventory


def _or_nothing(part: str, open_part: Callable[[], T], nothing: Callable[[], T]) -> T:
    """A missing display or buzzer must never stop scanning: go on without it."""
    try:
        return open_part()
    except DeviceError as exc:
        log.error("%s unavailable, going on without it: %s", part, exc)
        return nothing()


def _open_readers(config: Config, stdin: BinaryIO | None,
                  stack: contextlib.ExitStack) -> list[Any]:
    readers: list[Any] = []
    if config.camera.backend == "files":
        frames = stack.enter_context(FolderFrames(config.camera.path, fps=config.camera.fps))
        decoder = open_decoder(config.camera.decoder, config.camera.symbologies or None)
        readers.append(stack.enter_context(CameraReader(frames, decoder)))
    scanner = open_scanner(config.scanner.backend, stream=stdin)
    if scanner is not None:
        readers.append(stack.enter_context(scanner))
    if not readers:
        raise ConfigError("no reader: set camera.backend or scanner.backend")
    return readers
