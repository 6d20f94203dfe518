"""Asking the booted device's systemd about stocktaker, through the guest agent."""

from __future__ import annotations

import re
import shlex
import time

from tests.vm.machine import Machine, MachineError

UNITS = ("stocktaker.service", "stocktaker-firstboot.service", "media-stocktaker.mount")


def unit_state(machine: Machine, unit: str = "stocktaker.service") -> dict[str, str]:
    """``systemctl show`` properties of a unit."""
    _, text = machine.sh(f"systemctl show -p ActiveState,SubState,StatusText,NRestarts,"
                         f"MainPID,Result {unit}")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def wait_ready(machine: Machine, timeout: float = 600.0, restarts: int | None = None,
               after_pid: str | None = None) -> dict[str, str]:
    """Until the service is active: with ``Type=notify``, only after READY=1.

    ``restarts``: wait until systemd has counted at least that many restarts too;
    ``after_pid``: until its main process is another one than this.
    """
    deadline = time.monotonic() + timeout
    state: dict[str, str] = {}
    while time.monotonic() < deadline:
        state = unit_state(machine)
        ready = state.get("ActiveState") == "active" and state.get("SubState") == "running"
        if restarts is not None and int(state.get("NRestarts", "0")) < restarts:
            ready = False
        if after_pid is not None and state.get("MainPID") in (after_pid, "0"):
            ready = False
        if ready:
            return state
        if state.get("ActiveState") == "failed":
            break
        time.sleep(2.0)
    _, journal = machine.sh("journalctl -b --no-pager -n 60 -u stocktaker.service", check=False)
    raise MachineError(f"stocktaker.service is not READY: {state}\n{journal}")


def exposure(machine: Machine, unit: str = "stocktaker.service") -> float:
    """The overall exposure ``systemd-analyze security`` gives the running unit."""
    _, text = machine.sh(f"systemd-analyze security --no-pager {unit}", check=False)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", text)
    if found is None:
        raise MachineError(f"systemd-analyze security said:\n{text}")
    return float(found.group(1))


def error_lines(machine: Machine) -> list[str]:
    """This boot's journal lines of priority err or worse from stocktaker's units, and any
    traceback they logged."""
    units = " ".join(f"-u {unit}" for unit in UNITS)
    _, errors = machine.sh(f"journalctl -b --no-pager -o cat -p err {units}", check=False)
    _, everything = machine.sh(f"journalctl -b --no-pager -o cat {units}", check=False)
    lines = [line for line in errors.splitlines() if line and not line.startswith("-- ")]
    lines += [line for line in everything.splitlines() if "Traceback" in line]
    return lines


SET_SECTION = r"""
import re, sys
path, name = "/etc/stocktaker/config.toml", sys.argv[1]
text, new = open(path).read(), sys.stdin.read()
pattern = r"(?ms)^\[" + re.escape(name) + r"\]\n.*?(?=^\[|\Z)"
text = re.sub(pattern, lambda m: new, text, count=1) if re.search(pattern, text) else text + "\n" + new
open(path, "w").write(text)
"""


def set_section(machine: Machine, text: str, restart: bool = True) -> None:
    """Replace a section of the device's configuration (``text`` starts with its
    ``[name]`` line; added when absent), as an admin would; then restart the service."""
    name = text.split("]", 1)[0].lstrip("[")
    machine.sh(f"cat > /tmp/set_section.py <<'END'\n{SET_SECTION}\nEND")
    machine.sh(f"python3 /tmp/set_section.py {shlex.quote(name)}", stdin=text.encode())
    if restart:
        machine.sh("systemctl restart stocktaker.service")
