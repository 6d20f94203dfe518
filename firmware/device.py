"""Opens the parts a configuration names and runs the device loop until input ends."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from firmware import __version__
from sync.asset import Asset
from sync.intake_tags import device_tags
from firmware.cards import CardRules
from hal.clock import SystemClock, Clock
from firmware.config import Config
from firmware.errors import ConfigError, DeviceError, RegisterRefused, StocktakerError
from firmware.door_kiosk import DoorKiosk, KioskSettings
from firmware.handheld_audit import HandheldAudit, Settings
from firmware.identity import IdentityRules, register_sites
from firmware.inventory import Inventory
from firmware.doctor import describe
from firmware.loop import run_loop
from firmware.mode import ScanningMode
from firmware.readers import merge_read_bursts
from firmware.movement_log import MovementLog
from firmware.people_index import PeopleIndex
from firmware.service_reporter import ServiceReporter
from firmware.start import load_inventory, load_people, require_reader
from sync.sync_status import SyncStatus
from firmware.stopping import StopRequested, StopSignals
from hal.backends import fitted
from hal.buttons import Buttons, open_buttons
from hal.camera import open_camera
from hal.cards import open_cards
from hal.display import open_display
from hal.feedback import open_feedback
from hal.rfid import open_rfid
from hal.text import terminal_safe
from hal.scanner import open_scanners, report_discards
from sync.engine import Backoff, SyncEngine, SyncResult, summarise
from sync.queue import SightingQueue, SightingStore
from sync.register import Register
from sync.registers import open_register
from sync.pending_reports import PendingReports

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")


def run_device(config: Config, *, stdin: BinaryIO | None = None, stdout: TextIO | None = None,
               screens_dir: Path | None = None, clock: Clock | None = None) -> list[dict[str, Any]]:
    """Run the mode the configuration describes; returns the audit reports written.

    The session ends when every reader has ended (the camera folder is exhausted and
    standard input is closed), or on SIGTERM, SIGINT (Ctrl-C), SIGHUP or SIGQUIT; either
    way a handheld's room gets its report and a kiosk's visit its summary. After a kill
    or a power cut, the next run resumes the interrupted room (see
    :class:`firmware.handheld_audit.HandheldAudit`); a kiosk's events are durable as they happen.
    """
    with StopSignals() as stop, contextlib.ExitStack() as stack:
        mode: ScanningMode | None = None
        engine: SyncEngine | None = None
        reporter: ServiceReporter | None = None
        keep = False
        try:
            with stop.held():
                mode, readers, buttons, engine, reporter = _open_mode(
                    config, stack, stdin=stdin, stdout=stdout, screens_dir=screens_dir,
                    clock=clock)
            engine.start()
            if config.printer.backend != "none":
                from firmware.printing import LabelSpooler

                # Queued labels come out when the printer is back, at the sync interval.
                try:
                    stack.callback(LabelSpooler(config, config.sync.interval).start().stop)
                except StocktakerError as exc:  # the audit goes on without labels
                    log.warning("labels will not be printed: %s", exc)
            mode.show_idle()
            reporter.ready()
            run_loop(mode, [reader.reads() for reader in readers], stop,
                     buttons=buttons.presses(), close_buttons=buttons.close,
                     close_readers=lambda: _close_all(readers), on_turn=reporter.turn)
        except StopRequested as stopped:
            keep = mode is not None and mode.resumable and config.audit.on_stop == "keep"
            log.info("%s: %s the %s", stopped, "keeping" if keep else "ending",
                     mode.session_noun if mode is not None else "room")
            if reporter is not None:
                reporter.stopping()
        finally:
            stop.wind_down()
            if mode is not None:
                mode.end(keep=keep)
            if engine is not None:
                engine.stop()
                log.info("last sync: %s", summarise(engine.run_once()))
            if reporter is not None:
                reporter.close()
        return mode.reports if mode is not None else []


def listen(config: Config, out: TextIO, *, stdin: BinaryIO | None = None) -> None:
    """``stocktaker doctor --listen``: print what every reader and button sends, decoded,
    until the readers end or a stop signal (Ctrl-C) arrives. Nothing is saved or sent."""
    with StopSignals() as stop, contextlib.ExitStack() as stack:
        try:
            with stop.held():
                readers = open_readers(config, stdin, stack)
                buttons = _open_buttons(config, stack)
            report_discards(readers)
            names = ", ".join(sorted({getattr(r, "name", type(r).__name__) for r in readers}))
            out.write(terminal_safe(f"listening to {names}; Ctrl-C to stop") + "\n")
            out.flush()
            streams = [reader.reads() for reader in readers] + [buttons.presses()]
            with contextlib.closing(merge_read_bursts(
                    streams, on_failure=lambda exc: out.write(
                        terminal_safe(f"reader stopped: {exc}") + "\n"),
                    stop_readers=lambda: _close_all([*readers, buttons]))) as bursts:
                for burst in bursts:
                    for item in burst:
                        out.write(describe(item, config) + "\n")
                    out.flush()
        except StopRequested:
            pass


def _close_all(parts: Iterable[Any]) -> None:
    """Close every reader (each wakes the thread blocked in its read)."""
    for part in parts:
        part.close()


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
        while result.error is None and result.left and (
                result.sent or result.dead_lettered or result.duplicates or result.conflicts):
            result = engine.run_once()
        return result


def _engine(config: Config, queue: SightingStore, register: Register, clock: Clock,
            **extra: Any) -> SyncEngine:
    room = config.kiosk.location if config.device.mode == "kiosk" else None
    extra.setdefault("device_state", lambda: {"firmware_version": __version__,
                                              "mode": config.device.mode, "room": room})
    return SyncEngine(queue, register, PendingReports(config.queue.path / "reports"), clock,
                      batch_size=config.register.batch_size, interval=config.sync.interval,
                      backoff=Backoff(cap=config.sync.backoff_max,
                                      retry_after_cap=config.sync.retry_after_max), **extra)


def _open_mode(config: Config, stack: contextlib.ExitStack, *, stdin: BinaryIO | None,
               stdout: TextIO | None, screens_dir: Path | None,
               clock: Clock | None
               ) -> tuple[ScanningMode, list[Any], Buttons,
                          SyncEngine, ServiceReporter]:
    """Open every part the configuration names, then the mode: a handheld audit (which
    resumes an interrupted room) or a door kiosk; returns the readers with the mode."""
    clock = clock or SystemClock()
    register = stack.enter_context(open_register(config.register, config.device.id))
    cache, assets, inventory_age = load_inventory(config, register, clock.wall())
    inventory = open_inventory(config, assets)
    people_age: float | None = None
    if config.device.mode == "kiosk":
        _, people_list, people_age = load_people(config, register, clock.wall())
    readers = open_readers(config, stdin, stack)
    buttons = _open_buttons(config, stack)
    queue = stack.enter_context(SightingQueue(config.queue.path))
    display_settings = (config.display if screens_dir is None
                        else dataclasses.replace(config.display, screens=screens_dir))
    display = stack.enter_context(_or_nothing(
        "display", display_settings, lambda settings: open_display(settings, stream=stdout)))
    feedback = stack.enter_context(_or_nothing(
        "feedback", config.feedback, lambda settings: open_feedback(settings, stream=stdout)))
    fetched = clock.mono()
    fetched_wall = clock.wall() - (inventory_age or 0.0)
    # Saved for the next offline start; the audit in progress keeps the list it began with.
    # Started from the saved copy: refreshed after the first good sync round.
    engine = _engine(config, queue, register, clock,
                     refreshed_at=fetched if inventory_age is None else None,
                     refresh=lambda: cache.fetch(register, clock.wall()))

    def status() -> SyncStatus:
        since = clock.mono() - fetched
        saved = [age + since for age in (inventory_age, people_age) if age is not None]
        current = engine.status(max(saved) if saved else None)
        if current.register_answered is None and isinstance(cache.problem, RegisterRefused):
            # refused at start: so it stays until a sync round says otherwise
            current = dataclasses.replace(current, token_refused=True)
        return current

    if config.device.mode == "kiosk":
        people = PeopleIndex(people_list)
        kiosk = DoorKiosk(
            KioskSettings(config.device.id, config.kiosk.location or "",
                          config.kiosk.session_timeout, config.audit.repeat_window,
                          config.audit.tag_pattern,
                          CardRules(config.cards.format, config.identity.card_format),
                          tuple(config.kiosk.blocked_statuses)),
            inventory, people, queue, MovementLog(config.queue.path / "kiosk"), display,
            feedback, clock, fetched_at=register.state_time() or fetched_wall,
            sync_status=status)
        return kiosk, readers, buttons, engine, _reporter(config, kiosk, queue, status, readers,
                                                          clock)
    audit = HandheldAudit(
        Settings(config.device.id, config.audit.technician, config.audit.location,
                 config.audit.repeat_window, config.audit.tag_pattern,
                 config.audit.room_confirm_window, config.audit.resume_within * 3600.0,
                 CardRules(config.cards.format, config.identity.card_format),
                 campaign=config.audit.campaign, intake=config.register.intake,
                 intake_timeout=config.audit.intake_timeout),
        inventory, queue, register, engine.reports, display, feedback, clock,
        rooms=config.queue.path / "rooms", on_room_end=engine.wake, sync_status=status,
        intake_tags=device_tags(config.register.intake_tag_range, config.queue.path)
        if config.register.intake else None,
        label_url=_label_url(config), label_line=config.printer.organisation)
    return audit, readers, buttons, engine, _reporter(config, audit, queue, status, readers,
                                                      clock)


def _label_url(config: Config) -> Callable[[str], str] | None:
    """What an intake's label QR code holds, when a printer is configured (else None)."""
    if config.printer.backend == "none":
        return None
    from firmware.printing import label_url

    return lambda tag: label_url(config, tag)


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


def _open_buttons(config: Config, stack: contextlib.ExitStack) -> Buttons:
    """The configured buttons; none (and a log line) when their pins cannot be had."""
    return stack.enter_context(_or_nothing("buttons", config.buttons, open_buttons))


def _reporter(config: Config, mode: ScanningMode, queue: SightingStore,
              status: Callable[[], SyncStatus], readers: list[Any],
              clock: Clock) -> ServiceReporter:
    """Readiness, watchdog and health for systemd and node_exporter."""
    cameras = [reader for reader in readers if hasattr(reader, "stats")]

    def queue_status() -> dict[str, Any]:
        return {**queue.status(), "bytes_written": queue.bytes_written}

    return ServiceReporter(
        config.device.id, config.service.health_file, config.service.health_interval,
        queue_status=queue_status, sync_status=status, place=mode.place,
        scans=lambda: mode.scans,
        decoded_frames=(lambda: sum(c.stats().decoded for c in cameras)) if cameras else None,
        clock=clock.mono, wall=clock.wall,
        repeat_reads_dropped=lambda: mode.repeat_reads_dropped)


def _or_nothing(part: str, settings: S, open_part: Callable[[S], T]) -> T:
    """A missing display or buzzer must never stop scanning: go on with the part's
    ``none`` backend instead."""
    try:
        return open_part(settings)
    except DeviceError as exc:
        log.error("%s unavailable, going on without it: %s", part, exc)
        return open_part(dataclasses.replace(settings, backend="none"))


def open_readers(config: Config, stdin: BinaryIO | None,
                 stack: contextlib.ExitStack) -> list[Any]:
    """Open every configured reader (camera, UHF reader, scanners, card reader); those
    whose backend is ``none`` are left out.

    Raises:
        ConfigError: no reader is configured.
        DeviceError: a reader cannot be opened.
    """
    require_reader(config)
    opened = [stack.enter_context(open_camera(config.camera)),
              stack.enter_context(open_rfid(config.rfid))]
    opened += [stack.enter_context(scanner)
               for scanner in open_scanners(config.scanner, stream=stdin)]
    opened.append(stack.enter_context(open_cards(config.cards)))
    readers = [reader for reader in opened if fitted(reader)]
    if not readers:
        raise ConfigError("no reader: set camera.backend, scanner.backend or rfid.backend")
    return readers
