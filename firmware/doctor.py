"""``stocktaker doctor``: every configured part, what was found, and how to fix what is not.

Each part's backend checks itself (its entry in the part's table, :data:`PART_TABLES`;
shared checks in :mod:`hal.checks`): the checks look at the system the way the device
will use it, without taking anything (a scanner is not grabbed, a serial port not
opened), so the doctor can run beside the service. Each finding names the part, what
the configuration asks for, what was found, and for a problem the fix: I²C switched off, the group to join for ``/dev/input/event3``,
the process that holds the scanner, the package to install.

Paths are looked up under ``System.root`` (``/``), so the checks run on a prepared tree.

What ``stocktaker run`` loads and checks at start it checks here with the same functions
(:mod:`firmware.start`): a reader is configured, the register's export and a door kiosk's
people file are read with every rule, the register is asked one read-only question with
the device's token (:meth:`sync.register.Register.check`), and the queue, outbox and
health-file folders can be written. Nothing is saved: a fresh list is not kept.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from firmware.config import Config
from firmware.errors import (
    ConfigError,
    RegisterError,
    RegisterRefused,
    RegisterUnavailable,
    StocktakerError,
)
from firmware.start import (
    inventory_cache,
    load_inventory,
    load_people,
    people_cache,
    require_reader,
    unwritable_folder,
)
from sync.sync_status import short_age
from hal import buttons, camera, cards, display, feedback, printer, rfid, scanner
from hal.backends import Backend
from hal.checks import Finding, InputDevice, System
from hal.text import terminal_safe
from sync.inventory_cache import SavedList
from sync.registers import open_register

__all__ = ["LOW_DISK_BYTES", "PART_TABLES", "Finding", "InputDevice", "System", "describe",
           "examine", "report_lines"]

#: Free space below which the queue's disk is reported (a day of scans is ~1 MB).
LOW_DISK_BYTES = 50 * 1024 * 1024

PART_TABLES: Mapping[str, Mapping[str, Backend[Any]]] = {
    "scanner": scanner.BACKENDS,
    "cards": cards.BACKENDS,
    "rfid": rfid.BACKENDS,
    "camera": camera.BACKENDS,
    "display": display.BACKENDS,
    "feedback": feedback.BACKENDS,
    "buttons": buttons.BACKENDS,
}
"""Each part's configuration section and its table of backends, in the order the doctor
reports them; the chosen backend checks itself (see :class:`hal.backends.Backend`). The
label printer's table (:data:`hal.printer.BACKENDS`) is checked last, after the register,
with the labels queued for it."""


def examine(config: Config, system: System | None = None) -> list[Finding]:
    """Every configured part, checked (see the module's docstring)."""
    system = system or System()
    findings: list[Finding] = []
    try:
        require_reader(config)
    except ConfigError as exc:
        findings.append(Finding("readers", "none", False, str(exc),
                                "name the scanner, camera or RFID reader the device reads with"))
    for kind, table in PART_TABLES.items():
        settings = getattr(config, kind)
        findings += table[settings.backend].check(settings, system)
    findings += _register(config)
    findings.append(_queue(system, config))
    findings += _folders(system, config)
    findings += _cleartext_token(config)
    findings += _printer(config, system)
    return findings


def _printer(config: Config, system: System) -> list[Finding]:
    """The label printer, checked by its backend (a network printer accepts a connection,
    nothing sent), and how many labels wait for it."""
    from firmware.print_jobs import PrintJobs
    from firmware.printing import labels_folder

    settings = config.printer
    findings = printer.BACKENDS[settings.backend].check(settings, system)
    waiting = len(PrintJobs(labels_folder(config)).jobs("queued")) if findings else 0
    if not waiting:
        return findings
    return [dataclasses.replace(f, found=f"{f.found}; {waiting} label(s) queued for it")
            for f in findings]


def _register(config: Config) -> list[Finding]:
    """The register as ``run`` meets it: opened, then asked one read-only question with
    the token; for the ``files`` adapter, its export (and a kiosk's people file) read."""
    settings = config.register
    files = settings.adapter == "files"
    wanted = f"files {settings.manifest}" if files else f"{settings.adapter} {settings.url}"
    findings: list[Finding] = []
    if settings.token_file is not None:
        token = _token(settings.token_file)
        findings.append(token)
        if not token.ok:
            return findings
    try:
        register = open_register(settings, config.device.id)
    except ConfigError as exc:
        return findings + [Finding("register", wanted, False, str(exc),
                                   "set the key this names in the configuration file")]
    now = time.time()
    with register:
        if files:  # the export itself is read, with every rule run applies
            findings.append(_saved_list("inventory", wanted, config, lambda: load_inventory(
                config, register, now, save=False), now))
            if config.device.mode == "kiosk":
                findings.append(_saved_list(
                    "people", f"register.people {settings.people}", config,
                    lambda: load_people(config, register, now, save=False), now))
            return findings
        try:
            register.check()
        except RegisterError as exc:
            return findings + [_unreached("register", wanted, exc, config,
                                          inventory_cache(config), now)]
        findings.append(Finding("register", wanted, True, "answers and takes the token"))
    return findings


def _token(path: Path) -> Finding:
    if not path.exists():
        return Finding("token", str(path), False, "missing", "write the API token there, mode 600")
    if path.stat().st_mode & 0o077:
        return Finding("token", str(path), False, "readable by others", f"chmod 600 {path}")
    return Finding("token", str(path), True, "present, mode 600")


def _saved_list(part: str, wanted: str, config: Config,
                load: Callable[[], tuple[SavedList[Any], list[Any], float | None]],
                now: float) -> Finding:
    """A list read as ``run`` reads it at start (without saving it)."""
    try:
        cache, items, _ = load()
    except StocktakerError as exc:
        saved = inventory_cache(config) if part == "inventory" else people_cache(config)
        return _unreached(part, wanted, exc, config, saved, now)
    if cache.problem is not None:
        return _unreached(part, wanted, cache.problem, config, cache, now)
    return Finding(part, wanted, True, f"{len(items)} listed, every row usable")


def _unreached(part: str, wanted: str, exc: StocktakerError, config: Config,
               cache: SavedList[Any], now: float) -> Finding:
    """A register or list ``run`` cannot have fresh: what it does instead, and the fix."""
    found = str(exc)
    # A missing people file with no saved list stops the kiosk as a configuration error.
    cause = exc.__cause__ if isinstance(exc.__cause__, RegisterUnavailable) else exc
    if isinstance(exc, (RegisterRefused, RegisterUnavailable)):
        saved = cache.load()
        meanwhile = (f"meanwhile the device works with the {cache.what} saved"
                     f" {short_age(max(0.0, now - saved[1]))} ago and keeps everything queued"
                     if saved is not None else
                     f"until then stocktaker run stops: no {cache.what} saved from this"
                     " register")
    else:
        meanwhile = f"until then stocktaker run stops (exit code {exc.exit_code})"
    if isinstance(cause, RegisterRefused):
        fix = (f"put the register's current API token in {config.register.token_file}"
               " (chmod 600), then restart the service")
    elif isinstance(cause, RegisterUnavailable) and config.register.adapter == "files":
        fix = "put the file there (a USB stick: plug it in)"
    elif isinstance(cause, RegisterUnavailable):
        fix = "check register.url and the network between the device and the register"
    elif isinstance(exc, ConfigError):
        fix = ("mend the file at the line and column named (a spreadsheet's legacy encoding:"
               " save as CSV UTF-8)" if part in ("inventory", "people")
               else "set the key this names in the configuration file")
    else:
        fix = "check register.adapter and register.url: it does not answer as such a register"
    return Finding(part, wanted, False, found, f"{fix}; {meanwhile}")


def _folders(system: System, config: Config) -> list[Finding]:
    """The folders the device writes besides the queue: the outbox and the health file's."""
    wanted = [("outbox", config.register.outbox)]
    if config.service.health_file is not None:
        wanted.append(("health", config.service.health_file.parent))
    findings = []
    for part, folder in wanted:
        problem = unwritable_folder(folder)
        findings.append(Finding(part, str(folder), problem is None, problem or "writable",
                                f"make {folder} a folder the user {system.user} can write"
                                if problem else ""))
    return findings


def _queue(system: System, config: Config) -> Finding:
    path = str(config.queue.path)
    problem = unwritable_folder(config.queue.path)
    if problem is not None:
        return Finding("queue", path, False, problem, f"make {path} a folder the user"
                       f" {system.user} can write: stocktaker run stops without it")
    free = system.free_bytes(path)
    if free is None:
        return Finding("queue", path, False, "cannot tell the free space",
                       "check that the folder's disk is mounted")
    if free < LOW_DISK_BYTES:
        return Finding("queue", path, False, f"only {free // (1024 * 1024)} MB free",
                       "free some space: a full disk stops scans from being saved")
    return Finding("queue", path, True, f"{free // (1024 * 1024)} MB free")


def report_lines(findings: list[Finding]) -> Iterator[str]:
    """The findings as text, then a one-line verdict."""
    for finding in findings:
        yield from finding.lines()
    problems = sum(not f.ok for f in findings)
    yield "all parts look usable" if not problems else f"{problems} problem(s) to fix"


def describe(item: object, config: Config) -> str:
    """One line for ``doctor --listen``: what a reader sent and what it means here."""
    from firmware.cards import CardRules
    from firmware.tags import TagRejected, parse_read
    from hal.buttons.base import Press
    from hal.read import Read, ReaderState
    from hal.scanner.evdev_scanner import ScanDiscarded

    if isinstance(item, ScanDiscarded):
        return "\n".join(terminal_safe(line) for line in item.lines())
    if isinstance(item, Press):
        return terminal_safe(f"{item.source:<8} button     {item.button}")
    if isinstance(item, ReaderState):
        state = "connected" if item.connected else f"disconnected ({item.detail})"
        return terminal_safe(f"{item.source:<8} {state}")
    if not isinstance(item, Read):
        return terminal_safe(repr(item))
    raw = terminal_safe(item.payload.decode("utf-8", errors="backslashreplace"))
    try:
        tag = parse_read(item, tag_pattern=config.audit.tag_pattern,
                         cards=CardRules(config.cards.format, config.identity.card_format))
    except TagRejected as exc:
        meaning = f"rejected: {exc.reason}"
    else:
        meaning = f"{tag.kind.value.replace('_', ' ')} {tag.value} ({tag.scheme})"
    return terminal_safe(f"{item.source:<8} {item.symbology:<10} {raw}  -> {meaning}")


def _cleartext_token(config: Config) -> list[Finding]:
    """A warning (not a failure: it was chosen) while ``register.allow_insecure_http``
    lets the API token travel in clear to another machine."""
    from sync.registers import sends_token
    from sync.transport import cleartext_host, cleartext_warning

    register = config.register
    host = cleartext_host(register.url) if sends_token(register.adapter) else None
    if host is None or register.url is None:
        return []
    return [Finding("token", "register.allow_insecure_http = true", True,
                    f"WARNING: {cleartext_warning(register.url, host)}",
                    "use an https:// register.url, then set"
                    " register.allow_insecure_http = false")]
