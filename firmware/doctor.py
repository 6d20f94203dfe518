"""``stocktaker doctor``: every configured part, what was found, and how to fix what is not.

The checks look at the system the way the device will use it, without taking anything
(a scanner is not grabbed, a serial port not opened), so the doctor can run beside the
service. Each finding names the part, what the configuration asks for, what was found,
and for a problem the fix: I²C switched off, the group to join for ``/dev/input/event3``,
the process that holds the scanner, the package to install.

Paths are looked up under ``System.root`` (``/``), so the checks run on a prepared tree.
"""

from __future__ import annotations

import getpass
import grp
import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from firmware.config import Config
from hal.text import terminal_safe

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
    findings += _register(system, config)
    findings.append(_queue(system, config))
    return findings


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


def _register(system: System, config: Config) -> list[Finding]:
    register = config.register
    if register.adapter == "files":
        manifest = register.manifest
        if not manifest.exists():
            return [Finding("register", f"files {manifest}", False, "expected inventory missing",
                            "put the register's CSV export there (a USB stick: plug it in);"
                            " the device audits meanwhile with its saved copy, if any")]
        return [Finding("register", f"files {manifest}", True, "expected inventory present")]
    findings = [Finding("register", f"{register.adapter} {register.url}", True,
                        "configured (stocktaker sync tries it)")]
    if register.token_file is not None:
        token = register.token_file
        if not token.exists():
            findings.append(Finding("token", str(token), False, "missing",
                                    "write the API token there, mode 600"))
        elif token.stat().st_mode & 0o077:
            findings.append(Finding("token", str(token), False, "readable by others",
                                    f"chmod 600 {token}"))
        else:
            findings.append(Finding("token", str(token), True, "present, mode 600"))
    return findings


def _queue(system: System, config: Config) -> Finding:
    path = str(config.queue.path)
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
