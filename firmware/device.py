"""Opens the parts a configuration names and runs the device loop until input ends."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from firmware.asset import Asset
from firmware.clock import SystemClock
from firmware.config import Config
from firmware.errors import ConfigError, DeviceError
from firmware.handheld import HandheldAudit, Settings
from firmware.identity import IdentityRules, register_sites
from firmware.inventory import Inventory
from firmware.readers import merge_read_bursts
from firmware.sightings import Clock
from firmware.status import SyncStatus
from firmware.stopping import StopRequested, StopSignals
from hal.display import open_display
from hal.feedback import open_feedback
from hal.scanner import open_scanner
from sync.engine import Backoff, SyncEngine, SyncResult, summarise
from sync.inventory_cache import InventoryCache
from sync.queue import SightingQueue
from sync.register import Register, open_register
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
        engine: SyncEngine | None = None
        try:
            with stop.held():
                audit, readers, engine = _open_audit(config, stack, stdin=stdin, stdout=stdout,
                                                     screens_dir=screens_dir, clock=clock)
            engine.start()
            audit.show_progress()
            # What is loaded by now lives as long as the loop: keep it out of the collector's
            # full passes, whose pauses would otherwise show in the time to feedback.
            gc.freeze()
            for burst in merge_read_bursts([reader.reads() for reader in readers],
                                           on_failure=audit.reader_failed):
                with stop.held():
                    audit.handle_many(burst)
        except StopRequested as stopped:
            log.info("%s: ending the room", stopped)
        finally:
            stop.wind_down()
            if audit is not None:
                audit.finish_room()
            if engine is not None:
                engine.stop()
                log.info("last sync: %s", summarise(engine.run_once()))
        return audit.reports if audit is not None else []


def run_sync(config: Config, *, clock: Clock | None = None) -> SyncResult:
    """``stocktaker sync``: hand everything queued to the register once, then return.

    Rounds run until the queue is empty or a round fails.
    """
    with contextlib.ExitStack() as stack:
        register = stack.enter_context(open_register(config.register, config.device.id))
        # Shared: a device loop running meanwhile keeps appending; this sends what is sealed.
        queue = stack.enter_context(SightingQueue(config.queue.path, shared=True))
        engine = _engine(config, queue, register, clock or SystemClock())
        result = engine.run_once()
        while result.error is None and result.left and (result.sent or result.dead_lettered
                                                        or result.duplicates):
            result = engine.run_once()
        return result


def _engine(config: Config, queue: SightingQueue, register: Register, clock: Clock,
            **extra: Any) -> SyncEngine:
    return SyncEngine(queue, register, PendingReports(config.queue.path / "reports"), clock,
                      batch_size=config.register.batch_size, interval=config.sync.interval,
                      backoff=Backoff(cap=config.sync.backoff_max,
                                      retry_after_cap=config.sync.retry_after_max), **extra)


def _open_audit(config: Config, stack: contextlib.ExitStack, *, stdin: BinaryIO | None,
                stdout: TextIO | None, screens_dir: Path | None,
                clock: Clock | None) -> tuple[HandheldAudit, list[Any], SyncEngine]:
    """Open every part the configuration names; the audit resumes an interrupted room."""
    clock = clock or SystemClock()
    register = stack.enter_context(open_register(config.register, config.device.id))
    cache = InventoryCache(config.queue.path)
    assets, inventory_age = cache.fetch(register, clock.wall())
    inventory = open_inventory(config, assets)
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
    fetched = clock.mono()
    # Saved for the next offline start; the audit in progress keeps the list it began with.
    engine = _engine(config, queue, register, clock, refreshed_at=fetched,
                     refresh=lambda: cache.fetch(register, clock.wall()))

    def status() -> SyncStatus:
        age = None if inventory_age is None else inventory_age + clock.mono() - fetched
        return engine.status(age)

    audit = HandheldAudit(
        Settings(config.device.id, config.audit.technician, config.audit.location,
                 config.audit.repeat_window, config.audit.tag_pattern,
                 config.audit.room_confirm_window, config.audit.resume_within * 3600.0),
        inventory, queue, register, engine.reports, display, feedback, clock,
        rooms=config.queue.path / "rooms", on_room_end=engine.wake, sync_status=status)
    return audit, readers, engine


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
        # Imported here: the camera stack (numpy, the decoders) costs memory a device
        # without a camera does not spend.
        from hal.camera import CameraReader, FolderFrames, open_decoder

        frames = stack.enter_context(FolderFrames(config.camera.path, fps=config.camera.fps))
        decoder = open_decoder(config.camera.decoder, config.camera.symbologies or None)
        readers.append(stack.enter_context(CameraReader(frames, decoder)))
    if config.rfid.backend == "serial":
        from hal.rfid import SerialUhfReader

        readers.append(stack.enter_context(SerialUhfReader(
            config.rfid.port, config.rfid.baudrate, window=config.rfid.window)))
    scanner = open_scanner(config.scanner.backend, stream=stdin, device=config.scanner.device,
                           keymap=config.scanner.keymap, terminator=config.scanner.terminator,
                           inter_key_timeout=config.scanner.inter_key_timeout,
                           max_length=config.scanner.max_length)
    if scanner is not None:
        readers.append(stack.enter_context(scanner))
    if not readers:
        raise ConfigError("no reader: set camera.backend, scanner.backend or rfid.backend")
    return readers
