"""``stocktaker doctor``: every configured part, what was found, and how to fix what is not.

The checks look at the system the way the device will use it, without taking anything
(a scanner is not grabbed, a serial port not opened), so the doctor can run beside the
service. Each finding names the part, what the configuration asks for, what was found,
and for a problem the fix: I²C switched off, the group to join for ``/dev/input/event3``,
the process that holds the scanner, the package to install.

Paths are looked up under ``System.root`` (``/``), so the checks run on a prepared tree.

What ``stocktaker run`` loads and checks at start it checks here with the same functions
(:mod:`firmware.start`): a reader is configured, the register's export and a door kiosk's
people file are read with every rule, the register is asked one read-only question with
the device's token (:meth:`sync.register.Register.check`), and the queue, outbox and
health-file folders can be written. Nothing is saved: a fresh list is not kept.
"""

from __future__ import annotations

import getpass
import grp
import importlib.util
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from firmware.status import short_age
from hal.text import terminal_safe
from sync.inventory_cache import SavedList
from sync.register import open_register

#: Free space below which the queue's disk is reported (a day of scans is ~1 MB).
LOW_DISK_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """What the doctor found for one part.

    Attributes:
        part: the part (``scanner``, ``display``...).
        wanted: what the configuration asks for.
        ok: whether the part looks usable.
        found: what was found.
        fix: for a problem, what to do.
    """

    part: str
    wanted: str
    ok: bool
    found: str
    fix: str = ""

    def lines(self) -> list[str]:
        """The finding as text for a terminal (every outside text escaped)."""
        mark = "ok " if self.ok else "!! "
        head = terminal_safe(f"{mark}{self.part:<9} {self.wanted}: {self.found}")
        return [head] + ([terminal_safe(f"             fix: {self.fix}")] if self.fix else [])


@dataclass(frozen=True)
class InputDevice:
    """An evdev node as sysfs describes it."""

    node: str
    name: str
    vendor: int
    product: int


class System:
    """The parts of the system the doctor looks at; everything under ``root``.

    Args:
        root: where ``/dev``, ``/sys`` and ``/proc`` are looked for.
        access: ``os.access``-like permission check (the real one by default).
        user: the user the device runs as (the current one by default).
        module_available: whether a Python module can be imported.
    """

    def __init__(self, root: Path = Path("/"), *,
                 access: Callable[[str, int], bool] = os.access, user: str | None = None,
                 module_available: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self._access = access
        self.user = user or getpass.getuser()
        self._module = module_available or (
            lambda name: importlib.util.find_spec(name) is not None)

    def path(self, name: str) -> Path:
        """``name`` (an absolute path) under the root."""
        return self.root / name.lstrip("/")

    def exists(self, name: str) -> bool:
        """Whether the path exists (a dangling link does not)."""
        return self.path(name).exists()

    def usable(self, name: str) -> bool:
        """Whether the device node can be read and written by this user."""
        return self._access(str(self.path(name)), os.R_OK | os.W_OK)

    def group_of(self, name: str) -> str | None:
        """The group owning a device node, by name."""
        try:
            gid = self.path(name).stat().st_gid
            return grp.getgrgid(gid).gr_name
        except (OSError, KeyError):
            return None

    def has_module(self, name: str) -> bool:
        """Whether a Python module can be imported."""
        try:
            return self._module(name)
        except (ImportError, ValueError):
            return False

    def input_devices(self) -> list[InputDevice]:
        """Every ``/dev/input/event*`` node with its name and USB ids, from sysfs."""
        found = []
        base = self.path("/sys/class/input")
        for entry in sorted(base.glob("event*")) if base.is_dir() else []:
            device = entry / "device"
            try:
                name = (device / "name").read_text(encoding="utf-8", errors="replace").strip()
                vendor = int((device / "id" / "vendor").read_text().strip() or "0", 16)
                product = int((device / "id" / "product").read_text().strip() or "0", 16)
            except (OSError, ValueError):
                continue
            found.append(InputDevice(f"/dev/input/{entry.name}", name, vendor, product))
        return found

    def resolve(self, name: str) -> str:
        """A path with its links resolved, as an absolute path outside the root."""
        real = self.path(name).resolve()
        try:
            return "/" + str(real.relative_to(self.root.resolve()))
        except ValueError:
            return str(real)

    def holders(self, node: str) -> list[tuple[int, str]]:
        """The processes (pid, command name) that have ``node`` open."""
        target = self.resolve(node)
        found = []
        proc = self.path("/proc")
        for pid_dir in proc.iterdir() if proc.is_dir() else []:
            if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
                continue
            try:
                links = list((pid_dir / "fd").iterdir())
            except OSError:
                continue
            for link in links:
                try:
                    opened = os.readlink(link)
                except OSError:
                    continue
                if opened.startswith("/") and self.resolve(opened) == target:
                    try:
                        comm = (pid_dir / "comm").read_text().strip()
                    except OSError:
                        comm = "?"
                    found.append((int(pid_dir.name), comm))
                    break
        return sorted(found)

    def free_bytes(self, name: str) -> int | None:
        """Free bytes on the file system holding ``name`` (its nearest existing parent)."""
        path = self.path(name)
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None


def examine(config: Config, system: System | None = None) -> list[Finding]:
    """Every configured part, checked (see the module's docstring)."""
    system = system or System()
    findings: list[Finding] = []
    try:
        require_reader(config)
    except ConfigError as exc:
        findings.append(Finding("readers", "none", False, str(exc),
                                "name the scanner, camera or RFID reader the device reads with"))
    scan = config.scanner
    if scan.backend == "evdev":
        for number, device in enumerate([scan.device, *scan.devices], start=1):
            part = "scanner" if number == 1 else f"scanner{number}"
            findings += _input_device(system, part, device)
    elif scan.backend == "stdin":
        findings.append(Finding("scanner", "stdin", True, "scans are typed on standard input"))
    if config.cards.backend == "evdev":
        findings += _input_device(system, "cards", config.cards.device)
    if config.rfid.backend == "serial":
        findings.append(_serial(system, config.rfid.port))
    findings += _camera(system, config)
    findings += _display(system, config)
    if config.feedback.backend == "gpio":
        findings.append(_gpio(system, "feedback", f"buzzer GPIO{config.feedback.buzzer_pin},"
                              f" LEDs GPIO{config.feedback.green_pin}/"
                              f"GPIO{config.feedback.red_pin}"))
    if config.buttons.backend == "gpio":
        findings.append(_gpio(system, "buttons", f"GPIO{config.buttons.end_pin}/"
                              f"{config.buttons.next_pin}/{config.buttons.mode_pin}"))
    findings += _register(config)
    findings.append(_queue(system, config))
    findings += _folders(system, config)
    findings += _cleartext_token(config)
    if config.printer.backend != "none":
        findings.append(_printer(config))
    return findings


def _printer(config: Config) -> Finding:
    """The label printer: reachable now (a connection opened and closed, nothing sent), and
    how many labels wait for it."""
    import socket

    from firmware.print_jobs import PrintJobs
    from firmware.printing import labels_folder
    from hal.printer.raw import parse_address

    settings = config.printer
    waiting = len(PrintJobs(labels_folder(config)).jobs("queued"))
    queued = f"; {waiting} label(s) queued for it" if waiting else ""
    if settings.backend == "file":
        return Finding("printer", f"file {settings.folder}", True,
                       f"the stand-in writes PNGs there{queued}")
    wanted = f"{settings.backend} {settings.address}"
    if settings.backend == "brother_ql" and importlib.util.find_spec("brother_ql") is None:
        return Finding("printer", wanted, False, "brother_ql is not installed",
                       "pip install 'stocktaker[printing]'")
    scheme, where, port = parse_address(settings.address)
    if scheme == "tcp":
        try:
            socket.create_connection((where, port), timeout=settings.timeout).close()
        except OSError as exc:
            return Finding("printer", wanted, False,
                           f"not reachable: {exc.strerror or exc}{queued}",
                           "switch the printer on, check its address and that raw printing"
                           " (port 9100) is enabled")
        return Finding("printer", wanted, True, f"accepts connections{queued}")
    if scheme == "file":
        if not os.path.exists(where):
            return Finding("printer", wanted, False, f"no such device{queued}",
                           "plug the printer in and switch it on")
        if not os.access(where, os.W_OK):
            return Finding("printer", wanted, False, "permission denied",
                           f"add {getpass.getuser()} to the group of {where} (lp)")
        return Finding("printer", wanted, True, f"present{queued}")
    return Finding("printer", wanted, True, f"checked when a label is printed{queued}")


def _input_device(system: System, part: str, spec: str) -> list[Finding]:
    if not system.has_module("evdev"):
        return [Finding(part, spec, False, "python-evdev is not installed",
                        "pip install evdev (in the device's virtual environment)")]
    node = _find_input(system, spec)
    if node is None:
        listed = ", ".join(f"{d.name} ({d.vendor:04x}:{d.product:04x})"
                           for d in system.input_devices()) or "none"
        return [Finding(part, spec, False, f"not found; input devices: {listed}",
                        "plug it in, or name it by its /dev/input/by-id/ path,"
                        " vendor:product or name (stocktaker doctor --listen shows reads)")]
    found = f"{node}"
    if not system.usable(node):
        group = system.group_of(node) or "input"
        return [Finding(part, spec, False, f"{found}: permission denied",
                        f"add the user to the '{group}' group: sudo usermod -aG {group}"
                        f" {system.user} (then log in again or restart the service)")]
    holders = system.holders(node)
    if holders:
        who = ", ".join(f"PID {pid} ({comm})" for pid, comm in holders)
        return [Finding(part, spec, False, f"{found} is open in {who}",
                        "stop that program (a second stocktaker, a barcode daemon): the"
                        " scanner must be grabbed by stocktaker alone")]
    return [Finding(part, spec, True, f"{found}, free to grab")]


def _find_input(system: System, spec: str) -> str | None:
    if spec.startswith("/"):
        return system.resolve(spec) if system.exists(spec) else None
    wanted = spec.lower()
    for device in system.input_devices():
        ids = f"{device.vendor:04x}:{device.product:04x}"
        if wanted in (ids, device.name.lower()):
            return device.node
    return None


def _serial(system: System, port: str) -> Finding:
    if not system.exists(port):
        return Finding("rfid", port, False, "no such port",
                       "plug the reader in; ls /dev/serial/by-id/ names it for rfid.port")
    if not system.usable(port):
        group = system.group_of(port) or "dialout"
        return Finding("rfid", port, False, "permission denied",
                       f"sudo usermod -aG {group} {system.user}")
    holders = system.holders(port)
    if holders:
        who = ", ".join(f"PID {pid} ({comm})" for pid, comm in holders)
        fix = ("ModemManager probes serial ports: install the stocktaker udev rule, or"
               " sudo systemctl disable --now ModemManager"
               if any("modem" in comm.lower() for _, comm in holders)
               else "stop that program: the port can have one reader")
        return Finding("rfid", port, False, f"open in {who}", fix)
    return Finding("rfid", port, True, "present, not in use")


def _camera(system: System, config: Config) -> list[Finding]:
    camera = config.camera
    if camera.backend == "none":
        return []
    if camera.backend == "picamera2":
        if not system.has_module("picamera2"):
            return [Finding("camera", "picamera2", False, "picamera2 cannot be imported",
                            "sudo apt install python3-picamera2, and make the virtual"
                            " environment with --system-site-packages")]
        return [Finding("camera", "picamera2", True, "picamera2 installed")]
    if camera.backend == "v4l2":
        node = camera.device or "/dev/video0"
        node = node if node.startswith("/") else f"/dev/video{node}"
        if not system.has_module("linuxpy"):
            return [Finding("camera", node, False, "linuxpy is not installed",
                            "pip install 'stocktaker[v4l2]'")]
        if not system.exists(node):
            return [Finding("camera", node, False, "no such device", "plug the webcam in")]
        if not system.usable(node):
            group = system.group_of(node) or "video"
            return [Finding("camera", node, False, "permission denied",
                            f"sudo usermod -aG {group} {system.user}")]
        return [Finding("camera", node, True, "present")]
    path = str(camera.path)
    if not Path(path).exists():
        return [Finding("camera", f"{camera.backend} {path}", False, "not found",
                        "set camera.path to the folder of images or the video file")]
    return [Finding("camera", f"{camera.backend} {path}", True, "present")]


def _display(system: System, config: Config) -> list[Finding]:
    display = config.display
    if display.backend != "oled":
        return []
    if display.interface == "spi":
        node = f"/dev/spidev{display.spi_port}.{display.spi_device}"
        if not system.exists(node):
            return [Finding("display", f"{display.driver} on {node}", False, "SPI is off",
                            "sudo raspi-config nonint do_spi 0 (or dtparam=spi=on in"
                            " /boot/firmware/config.txt), then reboot")]
    else:
        node = f"/dev/i2c-{display.i2c_port}"
        if not system.exists(node):
            return [Finding("display", f"{display.driver} at 0x{display.i2c_address:02X} on"
                            f" {node}", False, "I2C is off",
                            "sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in"
                            " /boot/firmware/config.txt), then reboot")]
    if not system.usable(node):
        group = system.group_of(node) or ("spi" if display.interface == "spi" else "i2c")
        return [Finding("display", node, False, "permission denied",
                        f"sudo usermod -aG {group} {system.user}")]
    return [Finding("display", f"{display.driver} on {node}", True,
                    "bus present (i2cdetect -y N shows whether the panel answers)")]


def _gpio(system: System, part: str, wanted: str) -> Finding:
    chips = sorted(p.name for p in system.path("/dev").glob("gpiochip*")) \
        if system.path("/dev").is_dir() else []
    if not chips:
        return Finding(part, wanted, False, "no /dev/gpiochip*: not a Raspberry Pi?",
                       "set the backend to terminal or none on a machine without GPIO")
    node = f"/dev/{chips[0]}"
    if not system.usable(node):
        group = system.group_of(node) or "gpio"
        return Finding(part, wanted, False, f"{node}: permission denied",
                       f"sudo usermod -aG {group} {system.user}")
    if not system.has_module("lgpio"):
        return Finding(part, wanted, False, "gpiozero has no pin library",
                       "sudo apt install python3-lgpio (visible to a venv made with"
                       " --system-site-packages)")
    return Finding(part, wanted, True, f"{node} usable")


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
    from sync.transport import TOKEN_ADAPTERS, cleartext_host, cleartext_warning

    register = config.register
    host = cleartext_host(register.url) if register.adapter in TOKEN_ADAPTERS else None
    if host is None or register.url is None:
        return []
    return [Finding("token", "register.allow_insecure_http = true", True,
                    f"WARNING: {cleartext_warning(register.url, host)}",
                    "use an https:// register.url, then set"
                    " register.allow_insecure_http = false")]
