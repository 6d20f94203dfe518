"""The device in a box: a QEMU machine booted from the built image, driven from outside.

Devices the guest's kernel sees as real USB hardware on an xHCI controller:

- ``scanner``: a USB keyboard (``usb-kbd``), typed into through QMP ``input-send-event``
  with a keyboard layout (:mod:`tests.vm.keyboard`); unplugged and plugged back with
  ``device_del`` / ``device_add``;
- ``rfid``: a USB serial adapter (``usb-serial``, an FTDI FT232 to the guest) whose other
  end is a socket here: EPC lines written to it arrive on ``/dev/ttyUSB0``;
- ``stick``: a USB stick (``usb-storage``) holding a FAT file system labelled STOCKTAKER;
- a hardware watchdog (``i6300esb``, reset on expiry).

The guest's second serial port (``/dev/ttyS1``) is a socket here, read line by line as it
arrives: where the service's feedback lines go, observed at the moment they are given.
The QEMU guest agent (virtio-serial) runs commands in the guest (``sh``). The machine has
no network unless ``register_port`` is given: then QEMU's user networking with
``restrict=on`` and one forward, guest 10.0.2.100:80 → host 127.0.0.1:register_port
(a :mod:`tests.vm.bridge` process for each connection).

A power cut is :meth:`Machine.kill` (SIGKILL of QEMU: the guest's page cache is lost).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1024 * 1024

#: A slow SD card, for ``Machine(disk_throttle=...)``: 10 MB/s and 300 I/O operations per
#: second, reads and writes together. The A1 class promises 1,500 random-write IOPS (A2
#: 2,000) and class 10 a 10 MB/s sequential write; cards without an A rating manage a few
#: hundred small random writes per second or fewer. QEMU limits reads and writes; flushes
#: pass unthrottled to the host's file.
SD_CARD_THROTTLE = {"bps-total": 10_000_000, "iops-total": 300}


class MachineError(Exception):
    """The machine did not do what was asked in time; the message says what and shows the
    end of its console."""


def qemu_binary(arch: str) -> str:
    return {"amd64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}[arch]


class Lines:
    """Lines arriving on a socket QEMU serves, collected by a thread as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def connect(self, timeout: float = 30.0) -> None:
        self._sock = _connect(self.path, timeout)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                return
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            with self._cond:
                for raw in complete:
                    self.lines.append((time.monotonic(),
                                       raw.decode("utf-8", "replace").rstrip("\r")))
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], start: int = 0,
                  timeout: float = 120.0) -> int:
        """Index of the first line from ``start`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index in range(start, len(self.lines)):
                    if predicate(self.lines[index][1]):
                        return index
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MachineError(f"no matching line on {self.path.name} within"
                                       f" {timeout:.0f} s (got {len(self.lines) - start})")
                self._cond.wait(left)

    def count(self) -> int:
        with self._cond:
            return len(self.lines)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None


def _connect(path: Path, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise MachineError(f"cannot connect to {path}") from None
            time.sleep(0.1)


class Qmp:
    """QEMU's machine protocol: one command at a time, events set aside."""

    def __init__(self, path: Path) -> None:
        self.sock = _connect(path, 30.0)
        self.file = self.sock.makefile("rwb")
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._receive()  # the greeting
        self.command("qmp_capabilities")

    def _receive(self) -> dict:
        line = self.file.readline()
        if not line:
            raise MachineError("QMP: QEMU closed the connection")
        return json.loads(line)

    def command(self, name: str, **arguments: object) -> object:
        with self._lock:
            message: dict = {"execute": name}
            if arguments:
                message["arguments"] = arguments
            self.file.write(json.dumps(message).encode() + b"\n")
            self.file.flush()
            while True:
                reply = self._receive()
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    raise MachineError(f"QMP {name}: {reply['error'].get('desc')}")
                return reply.get("return")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Agent:
    """The QEMU guest agent: commands run in the guest as root, output captured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock: socket.socket | None = None
        self.buffer = b""
        self._serial = int(time.time()) % 100000

    def _send(self, message: dict) -> None:
        assert self.sock is not None
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def _receive(self, timeout: float) -> dict:
        assert self.sock is not None
        self.sock.settimeout(timeout)
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise MachineError("guest agent: connection closed")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        line = line.lstrip(b"\xff").strip()
        if not line:
            return self._receive(timeout)
        return json.loads(line)

    def sync(self, timeout: float) -> None:
        """Connect and resynchronise (the agent may have started after we connected)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.sock is None:
                    self.sock = _connect(self.path, 5.0)
                    self.buffer = b""
                self._serial += 1
                self.sock.sendall(b"\xff")
                self._send({"execute": "guest-sync-delimited",
                            "arguments": {"id": self._serial}})
                while True:
                    reply = self._receive(5.0)
                    if reply.get("return") == self._serial:
                        return
            except (OSError, MachineError, ValueError):
                if time.monotonic() > deadline:
                    raise MachineError("the guest agent does not answer") from None
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
                time.sleep(1.0)

    def call(self, name: str, timeout: float = 60.0, **arguments: object) -> object:
        message: dict = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        self._send(message)
        reply = self._receive(timeout)
        if "error" in reply:
            raise MachineError(f"guest agent {name}: {reply['error'].get('desc')}")
        return reply.get("return")

    def sh(self, script: str, timeout: float = 120.0, check: bool = True,
           stdin: bytes | None = None) -> tuple[int, str]:
        """Run ``sh -c script`` in the guest; its exit code and output (stdout + stderr)."""
        arguments: dict = {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True}
        if stdin is not None:
            arguments["input-data"] = base64.b64encode(stdin).decode()
        pid = self.call("guest-exec", **arguments)["pid"]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        while True:
            status = self.call("guest-exec-status", pid=pid)
            assert isinstance(status, dict)
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                raise MachineError(f"guest command did not end in {timeout:.0f} s: {script}")
            time.sleep(0.2)
        output = b""
        for key in ("out-data", "err-data"):
            if key in status:
                output += base64.b64decode(status[key])
        code = status.get("exitcode", -1)
        text = output.decode("utf-8", "replace")
        if check and code != 0:
            raise MachineError(f"guest command failed (exit {code}): {script}\n{text}")
        return code, text

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Machine:
    """One boot of the image in QEMU (TCG, one vCPU).

    Args:
        image: the folder build.py printed (``vmlinuz``, ``initrd.img``, ``image.json``).
        disk: this machine's copy of ``disk.img`` (written to; survives :meth:`kill`).
        workdir: where sockets and the console log go.
        stick: a raw image of the USB stick, or None for no stick.
        register_port: a host 127.0.0.1 port the guest reaches as 10.0.2.100:80.
        disk_throttle: QEMU ``throttling.*`` limits of the root disk (``-drive``), by
            name without the prefix, e.g. :data:`SD_CARD_THROTTLE`; None for none.
    """

    def __init__(self, image: Path, disk: Path, workdir: Path, stick: Path | None = None,
                 register_port: int | None = None, scanner_serial: str = "SCANNER01",
                 disk_throttle: dict[str, int] | None = None) -> None:
        self.image = image
        self.info = json.loads((image / "image.json").read_text())
        self.disk = disk
        self.workdir = workdir
        self.stick = stick
        self.register_port = register_port
        self.scanner_serial = scanner_serial
        self.disk_throttle = disk_throttle
        self.process: subprocess.Popen | None = None
        self.qmp: Qmp | None = None
        self.agent: Agent | None = None
        self.feedback: Lines | None = None
        self.rfid: socket.socket | None = None
        self.console = workdir / "console.log"
        self.boots = 0

    # -- the QEMU process ----------------------------------------------------------------

    def command(self) -> list[str]:
        w = self.workdir
        arch = self.info["arch"]
        throttle = "".join(f",throttling.{name}={value}"
                           for name, value in (self.disk_throttle or {}).items())
        args = [qemu_binary(arch), "-accel", "tcg", "-smp", "1", "-m", "1024",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
                "-append", self.info["cmdline"],
                "-drive", f"file={self.disk},format=raw,if=virtio,cache=writeback,id=root"
                f"{throttle}",
                "-serial", f"file:{self.console}",
                "-chardev", f"socket,id=feedback,path={w / 'feedback.sock'},server=on,wait=off",
                "-serial", "chardev:feedback",
                "-qmp", f"unix:{w / 'qmp.sock'},server=on,wait=off",
                "-chardev", f"socket,id=qga,path={w / 'qga.sock'},server=on,wait=off",
                "-device", "virtio-serial-pci",
                "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
                # a hardware RNG, as the Pi's SoC has: the kernel's pool is ready early
                "-device", "virtio-rng-pci",
                "-device", "qemu-xhci,id=xhci",
                "-device", f"usb-kbd,id=scanner,bus=xhci.0,serial={self.scanner_serial}",
                "-chardev", f"socket,id=rfid,path={w / 'rfid.sock'},server=on,wait=off",
                "-device", "usb-serial,id=rfid,bus=xhci.0,chardev=rfid,serial=RFID01"]
        if arch == "amd64":
            args[1:1] = ["-machine", "pc,i8042=off"]
            args += ["-device", "i6300esb", "-action", "watchdog=reset"]
        else:
            args[1:1] = ["-machine", "virt", "-cpu", "cortex-a72"]
        if self.stick is not None:
            args += ["-blockdev", f"driver=file,filename={self.stick},node-name=stickfile",
                     "-blockdev", "driver=raw,file=stickfile,node-name=stick",
                     "-device", "usb-storage,id=stick,bus=xhci.0,drive=stick,removable=on"]
        if self.register_port is None:
            args += ["-nic", "none"]
        else:
            # a bridge process for each connection (see tests/vm/bridge.py)
            bridge = f"{sys.executable} {Path(__file__).with_name('bridge.py')}"
            args += ["-nic", "user,model=virtio-net-pci,restrict=on,"
                     f"guestfwd=tcp:10.0.2.100:80-cmd:{bridge} {self.register_port}"]
        return args

    def start(self) -> None:
        """Boot (the console log is appended to across boots)."""
        for name in ("qmp.sock", "qga.sock", "feedback.sock", "rfid.sock"):
            (self.workdir / name).unlink(missing_ok=True)
        self.boots += 1
        with self.console.open("a") as log:
            log.write(f"\n===== boot {self.boots} =====\n")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL,
                                        stderr=(self.workdir / "qemu.err").open("ab"),
                                        start_new_session=True)
        try:
            self.qmp = Qmp(self.workdir / "qmp.sock")
            self.feedback = Lines(self.workdir / "feedback.sock")
            self.feedback.connect()
            self.rfid = _connect(self.workdir / "rfid.sock", 30.0)
            self.agent = Agent(self.workdir / "qga.sock")
        except Exception:
            self.kill()
            raise

    def wait_agent(self, timeout: float = 300.0) -> None:
        """Until the guest agent answers (the guest has booted far enough)."""
        assert self.agent is not None
        try:
            self.agent.sync(timeout)
        except MachineError as exc:
            raise MachineError(f"{exc}\n{self.console_tail()}") from None

    def set_disk_throttle(self, throttle: dict[str, int] | None) -> None:
        """Change the root disk's limits while running (None or {}: no limits)."""
        assert self.qmp is not None
        limits = {"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}
        names = {"bps-total": "bps", "bps-read": "bps_rd", "bps-write": "bps_wr",
                 "iops-total": "iops", "iops-read": "iops_rd", "iops-write": "iops_wr"}
        for name, value in (throttle or {}).items():
            limits[names[name]] = value
        self.qmp.command("block_set_io_throttle", device="root", **limits)
        self.disk_throttle = throttle or None

    def throttle_stick(self, bps: int, iops: int) -> None:
        """Make the plugged USB stick this slow (bytes and operations a second, reads and
        writes each); a stick plugged again later is not throttled."""
        assert self.qmp is not None
        blocks = self.qmp.command("query-block")
        assert isinstance(blocks, list)
        qdev = [b["qdev"] for b in blocks
                if b.get("inserted", {}).get("node-name") == "stick" and b.get("qdev")]
        if not qdev:
            raise MachineError(f"no USB stick plugged: {blocks}")
        self.qmp.command("block_set_io_throttle", id=qdev[0], bps=0, bps_rd=bps, bps_wr=bps,
                         iops=0, iops_rd=iops, iops_wr=iops)

    def sh(self, script: str, **kwargs: object) -> tuple[int, str]:
        assert self.agent is not None
        return self.agent.sh(script, **kwargs)  # type: ignore[arg-type]

    def power_off(self, timeout: float = 180.0) -> None:
        """A clean shutdown; returns when QEMU has exited."""
        self._last_words("systemctl --no-block poweroff")
        self.wait_exit(timeout)

    def reboot(self) -> None:
        """A clean reboot (QEMU stays, the guest starts again); call :meth:`wait_agent`."""
        assert self.agent is not None
        self._last_words("systemctl --no-block reboot")
        self.agent.close()

    def _last_words(self, script: str) -> None:
        """Run a command that takes the guest agent down: its answer may never come."""
        try:
            self.sh(script, timeout=30.0)
        except (OSError, MachineError):
            pass

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """A power cut: SIGKILL to QEMU; what the guest had not written to its disk is lost."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close()

    def wait_exit(self, timeout: float = 180.0) -> None:
        """Until QEMU exits by itself (the guest powered off)."""
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise MachineError(f"the machine did not power off in {timeout:.0f} s\n"
                               f"{self.console_tail()}") from None
        self._close()

    def _close(self) -> None:
        for thing in (self.qmp, self.agent, self.feedback):
            if thing is not None:
                thing.close()
        if self.rfid is not None:
            self.rfid.close()
        self.qmp = self.agent = self.feedback = self.rfid = None

    def console_tail(self, lines: int = 40) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except OSError:
            return ""
        return "console:\n" + "\n".join(text.splitlines()[-lines:])

    # -- devices -------------------------------------------------------------------------

    def send_epc(self, epc: str) -> None:
        assert self.rfid is not None
        self.rfid.sendall(f"EPC:{epc}\r\n".encode())

    def unplug(self, device: str) -> None:
        assert self.qmp is not None
        self.qmp.command("device_del", id=device)

    def plug_scanner(self) -> None:
        assert self.qmp is not None
        self.qmp.command("device_add", driver="usb-kbd", id="scanner", bus="xhci.0",
                         serial=self.scanner_serial)

    def plug_stick(self) -> None:
        assert self.qmp is not None
        self.qmp.command("device_add", driver="usb-storage", id="stick", bus="xhci.0",
                         drive="stick", removable=True)
