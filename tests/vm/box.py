"""Preparing a machine's disk and USB stick on the host, before it boots.

The disk is a copy of the built image. Like a technician fitting a device into its case,
the rig then states the box's parts in the root file system (written with ``debugfs``, no
mount needed):

- the configuration template the installer would have written for this hardware (the
  scanner by its ``/dev/input/by-id`` name and keyboard layout, the UHF reader on the USB
  serial port, feedback lines on the second serial port), rendered as the installer does,
  with its checksum, so that the first boot still applies the boot partition's settings;
- a drop-in for ``stocktaker.service``: the feedback lines (standard output) go to
  ``/dev/ttyS1``, and gpiozero uses its mock pins (the box has no GPIO chip).

With a register on the host (:data:`HTTP_REGISTER`), the API token goes into
``/etc/stocktaker/token`` and systemd-networkd gets the network card (DHCP from QEMU).
The boot partition gets ``stocktaker.toml`` (written with mtools), as an admin would.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: The by-id name udev gives QEMU's USB keyboard with serial ``SCANNER01``.
SCANNER_BY_ID = "/dev/input/by-id/usb-QEMU_QEMU_USB_Keyboard_SCANNER01-event-kbd"

DROP_IN = """\
# The box's parts: feedback lines on the second serial port, mock GPIO pins.
[Service]
StandardOutput=file:/dev/ttyS1
StandardError=journal
# opened by the service's own process, under its DevicePolicy=closed
DeviceAllow=/dev/ttyS1 w
Environment=GPIOZERO_PIN_FACTORY=mock
"""


def run(*args: str | Path, **kwargs: object) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


#: A ``[register]`` section for the ``http`` register the host serves through QEMU's
#: forward (see :class:`tests.vm.machine.Machine`'s ``register_port``).
HTTP_REGISTER = """[register]
adapter = "http"
url = "http://10.0.2.100"
token_file = "/etc/stocktaker/token"
# the forward's address is not loopback to the guest: the token travels in clear
allow_insecure_http = true
"""

#: DHCP on the box's network card (QEMU's user network), for :meth:`Disk.fit_network`.
NETWORK = """[Match]
Name=en* eth*

[Network]
DHCP=ipv4
"""


def box_template(keymap: str = "us", rfid: bool = True, register: str | None = None) -> str:
    """images/config.toml.in with this box's parts; ``register`` replaces its
    ``[register]`` section."""
    text = (REPO / "images/config.toml.in").read_text()
    if register is not None:
        start = text.index("[register]\n")
        end = text.find("\n[", start + 1)
        text = text[:start] + register + (text[end:] if end != -1 else "")
    text = text.replace('device = "/dev/stocktaker/scanner"', f'device = "{SCANNER_BY_ID}"')
    text = text.replace('keymap = "us"', f'keymap = "{keymap}"\n'
                        "# keys come over QMP one event at a time, TCG-slow\n"
                        "inter_key_timeout = 2.0")
    text = text.replace('[display]\nbackend = "oled"', '[display]\nbackend = "none"')
    text = text.replace('[feedback]\nbackend = "gpio"', '[feedback]\nbackend = "terminal"')
    text += '\n[identity]\n# the rig\'s UHF tags: GIAI-96 of company prefix 0614141\ngiai_prefixes = ["0614141"]\n'
    if rfid:
        text += ('\n[rfid]\nbackend = "serial"\nport = "/dev/stocktaker/rfid"\n'
                 "baudrate = 115200\n")
    return text


class Disk:
    """A machine's copy of ``disk.img`` and the partitions in it."""

    def __init__(self, image: Path, path: Path) -> None:
        self.info = json.loads((image / "image.json").read_text())
        self.path = path
        run("cp", "--sparse=always", image / "disk.img", path)

    @property
    def root(self) -> str:
        return f"{self.path}?offset={self.info['root_offset']}"

    @property
    def boot(self) -> str:
        return f"{self.path}@@{self.info['boot_offset']}"

    def debugfs(self, *commands: str, write: bool = False) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".cmds") as script:
            script.write("\n".join(commands) + "\n")
            script.flush()
            return run("debugfs", *(["-w"] if write else []), "-f", script.name, self.root)

    def read(self, path: str) -> str:
        return self.debugfs(f"cat {path}")

    def gid(self, group: str) -> int:
        for line in self.read("/etc/group").splitlines():
            fields = line.split(":")
            if fields[0] == group:
                return int(fields[2])
        raise KeyError(group)

    def put(self, path: str, text: str, mode: int, uid: int = 0, gid: int = 0) -> None:
        """Write a file into the root file system (replacing it), mode and owner set."""
        with tempfile.NamedTemporaryFile("w", delete=False) as local:
            local.write(text)
        try:
            self.debugfs(f"rm {path}", f"write {local.name} {path}",
                         f"set_inode_field {path} mode 0{0o100000 | mode:o}",
                         f"set_inode_field {path} uid {uid}",
                         f"set_inode_field {path} gid {gid}", write=True)
        finally:
            Path(local.name).unlink()

    def mkdir(self, path: str) -> None:
        self.debugfs(f"mkdir {path}", write=True)

    def uid(self, user: str) -> int:
        for line in self.read("/etc/passwd").splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return int(fields[2])
        raise KeyError(user)

    def fit_box(self, keymap: str = "us", rfid: bool = True, register: str | None = None,
                token: str | None = None) -> None:
        """The box's configuration template and its service drop-in (see the module);
        ``token``: the register's API token in ``/etc/stocktaker/token``."""
        gid = self.gid("stocktaker")
        template = box_template(keymap, rfid, register)
        if token is not None:
            self.put("/etc/stocktaker/token", token + "\n", 0o600, self.uid("stocktaker"),
                     gid)
        config = template.replace("@DEVICE_ID@", "stocktaker")
        self.put("/opt/stocktaker/config.toml.in", template, 0o644)
        self.put("/etc/stocktaker/config.toml", config, 0o640, 0, gid)
        self.put("/opt/stocktaker/config.toml.installed.sha256",
                 hashlib.sha256(config.encode()).hexdigest() + "\n", 0o644)
        self.mkdir("/etc/systemd/system/stocktaker.service.d")
        self.put("/etc/systemd/system/stocktaker.service.d/box.conf", DROP_IN, 0o644)

    def fit_network(self) -> None:
        """systemd-networkd with DHCP on the network card (a Pi has NetworkManager)."""
        self.put("/etc/systemd/network/20-box.network", NETWORK, 0o644)
        self.debugfs("symlink /etc/systemd/system/multi-user.target.wants/"
                     "systemd-networkd.service /lib/systemd/system/systemd-networkd.service",
                     write=True)

    def boot_file(self, name: str, text: str) -> None:
        """Put a file on the FAT boot partition."""
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as local:
            local.write(text)
            local.flush()
            run("mcopy", "-o", "-i", self.boot, local.name, f"::{name}")

    def boot_files(self) -> list[str]:
        return run("mdir", "-b", "-i", self.boot, "::").split()


def make_stick(path: Path, manifest: Path, size_mib: int = 64) -> None:
    """A FAT USB stick labelled STOCKTAKER holding the expected inventory."""
    path.unlink(missing_ok=True)
    run("mkfs.vfat", "-C", "-n", "STOCKTAKER", path, str(size_mib * 1024))
    run("mcopy", "-i", path, manifest, "::expected.csv")


def stick_files(path: Path, folder: str = "::out") -> dict[str, bytes]:
    """Every file under ``folder`` on the stick, by name (read while it is not in use)."""
    with tempfile.TemporaryDirectory() as local:
        done = subprocess.run(["mcopy", "-s", "-n", "-i", str(path), folder, local],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return {}
        files = {}
        for item in Path(local).rglob("*"):
            if item.is_file():
                files[item.name] = item.read_bytes()
        return files

