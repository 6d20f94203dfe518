"""What ``stocktaker doctor`` looks at and what it reports, for every backend's own check.

Each backend of a part knows how to check itself (see :class:`hal.backends.Backend`): it
looks at the system the way the device will use it, without taking anything (a scanner
is not grabbed, a serial port not opened), and says what it found as :class:`Finding`
values. Paths are looked up under :attr:`System.root` (``/``), so the checks run on a
prepared tree. The helpers here are the checks several backends share: an evdev input
device, a serial port, the GPIO pins.
"""

from __future__ import annotations

import getpass
import grp
import importlib.util
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hal.text import terminal_safe


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
        environ: the device's environment (this process's by default), where gpiozero
            finds ``GPIOZERO_PIN_FACTORY``.
    """

    def __init__(self, root: Path = Path("/"), *,
                 access: Callable[[str, int], bool] = os.access, user: str | None = None,
                 module_available: Callable[[str], bool] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.environ = os.environ if environ is None else environ
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

    def writable(self, name: str) -> bool:
        """Whether the path can be written by this user (a printer's device file)."""
        return self._access(str(self.path(name)), os.W_OK)

    def group_of(self, name: str) -> str | None:
        """The group owning a device node, by name."""
        try:
            gid = self.path(name).stat().st_gid
            return grp.getgrgid(gid).gr_name
        except (OSError, KeyError):
            return None

    def join_fix(self, node: str, group: str) -> str:
        """The fix for a device node this user may not use: join the group that owns it
        (``group`` when that cannot be read). A node of root's group is not joined (that
        would hand the service far more than one device): a udev rule gives it to
        ``group`` first."""
        owner = self.group_of(node) or group
        if owner == "root":
            return (f"{node} is root's alone: give it to the '{group}' group with a udev rule"
                    f" (GROUP=\"{group}\", MODE=\"0660\"; the stocktaker rule does for the"
                    f" devices it knows), then sudo usermod -aG {group} {self.user}")
        return f"sudo usermod -aG {owner} {self.user}"

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


def input_device(system: System, part: str, spec: str) -> list[Finding]:
    """An evdev input device named by ``spec`` (a path, vendor:product or name): there,
    usable by this user, and held by no other program."""
    if not system.has_module("evdev"):
        return [Finding(part, spec, False, "python-evdev is not installed",
                        "pip install evdev (in the device's virtual environment)")]
    node = find_input(system, spec)
    if node is None:
        listed = ", ".join(f"{d.name} ({d.vendor:04x}:{d.product:04x})"
                           for d in system.input_devices()) or "none"
        return [Finding(part, spec, False, f"not found; input devices: {listed}",
                        "plug it in, or name it by its /dev/input/by-id/ path,"
                        " vendor:product or name (stocktaker doctor --listen shows reads)")]
    found = f"{node}"
    if not system.usable(node):
        return [Finding(part, spec, False, f"{found}: permission denied",
                        f"{system.join_fix(node, 'input')} (then log in again or restart"
                        " the service)")]
    holders = system.holders(node)
    if holders:
        who = ", ".join(f"PID {pid} ({comm})" for pid, comm in holders)
        return [Finding(part, spec, False, f"{found} is open in {who}",
                        "stop that program (a second stocktaker, a barcode daemon): the"
                        " scanner must be grabbed by stocktaker alone")]
    return [Finding(part, spec, True, f"{found}, free to grab")]


def find_input(system: System, spec: str) -> str | None:
    """The node of the input device ``spec`` names, or None."""
    if spec.startswith("/"):
        return system.resolve(spec) if system.exists(spec) else None
    wanted = spec.lower()
    for device in system.input_devices():
        ids = f"{device.vendor:04x}:{device.product:04x}"
        if wanted in (ids, device.name.lower()):
            return device.node
    return None


def serial_port(system: System, port: str) -> Finding:
    """The RFID reader's serial port: there, usable, and held by no other program."""
    if not system.exists(port):
        return Finding("rfid", port, False, "no such port",
                       "plug the reader in; ls /dev/serial/by-id/ names it for rfid.port")
    if not system.usable(port):
        return Finding("rfid", port, False, "permission denied",
                       system.join_fix(port, "dialout"))
    holders = system.holders(port)
    if holders:
        who = ", ".join(f"PID {pid} ({comm})" for pid, comm in holders)
        fix = ("ModemManager probes serial ports: install the stocktaker udev rule, or"
               " sudo systemctl disable --now ModemManager"
               if any("modem" in comm.lower() for _, comm in holders)
               else "stop that program: the port can have one reader")
        return Finding("rfid", port, False, f"open in {who}", fix)
    return Finding("rfid", port, True, "present, not in use")


def gpio(system: System, part: str, wanted: str) -> Finding:
    """The GPIO pins ``wanted``: a usable ``/dev/gpiochip*`` and gpiozero's pin library;
    gpiozero's mock pins where ``GPIOZERO_PIN_FACTORY`` says so (nothing real to check)."""
    if system.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower() == "mock":
        return Finding(part, wanted, True, "gpiozero's mock pins (GPIOZERO_PIN_FACTORY=mock):"
                       " no real pin is read or driven")
    chips = sorted(p.name for p in system.path("/dev").glob("gpiochip*")) \
        if system.path("/dev").is_dir() else []
    if not chips:
        return Finding(part, wanted, False, "no /dev/gpiochip*: not a Raspberry Pi?",
                       "set the backend to terminal or none on a machine without GPIO")
    node = f"/dev/{chips[0]}"
    if not system.usable(node):
        return Finding(part, wanted, False, f"{node}: permission denied",
                       system.join_fix(node, "gpio"))
    if not system.has_module("lgpio"):
        return Finding(part, wanted, False, "gpiozero has no pin library",
                       "sudo apt install python3-lgpio (visible to a venv made with"
                       " --system-site-packages)")
    return Finding(part, wanted, True, f"{node} usable")
