"""Typing text on the machine's USB keyboard as a scanner set to a keyboard layout would.

A keyboard-wedge scanner sends key *positions*; which position makes a character depends on
the layout it is set to. The tables here are written from the physical layouts (US
QWERTY, German QWERTZ), independently of the firmware's decoding tables, so that a wrong
entry on either side makes a scan come out wrong. Keys are QEMU's ``QKeyCode`` names.
"""

from __future__ import annotations

import string
import time

from tests.vm.machine import Machine

#: character -> (QKeyCode, shift)
US: dict[str, tuple[str, bool]] = {
    **{c: (c, False) for c in string.ascii_lowercase},
    **{c.upper(): (c, True) for c in string.ascii_lowercase},
    **{d: (d, False) for d in string.digits},
    "-": ("minus", False), "_": ("minus", True), ":": ("semicolon", True),
    ".": ("dot", False), "/": ("slash", False), " ": ("spc", False),
    "=": ("equal", False), "+": ("equal", True),
}

#: German QWERTZ: Y and Z swapped; '-' where US has '/'; ':' is Shift+'.'; '/' Shift+7
DE: dict[str, tuple[str, bool]] = {
    **{c: (c, False) for c in string.ascii_lowercase},
    **{c.upper(): (c, True) for c in string.ascii_lowercase},
    "y": ("z", False), "Y": ("z", True), "z": ("y", False), "Z": ("y", True),
    **{d: (d, False) for d in string.digits},
    "-": ("slash", False), "_": ("slash", True), ":": ("dot", True),
    ".": ("dot", False), "/": ("7", True), " ": ("spc", False),
    "=": ("0", True), "+": ("bracket_right", False),
}

LAYOUTS = {"us": US, "de": DE}


def type_scan(machine: Machine, text: str, layout: str = "us", pace: float = 0.02) -> None:
    """Type ``text`` and Enter on the machine's USB keyboard, one key event at a time.

    QEMU's USB keyboard queues at most 16 events; ``pace`` seconds between events lets the
    guest's driver collect them (the rig's scanner.inter_key_timeout is set to allow it).
    """
    table = LAYOUTS[layout]
    assert machine.qmp is not None
    for char in text + "\n":
        key, shift = ("ret", False) if char == "\n" else table[char]
        presses = (["shift"] if shift else []) + [key]
        for name in presses:
            _key(machine, name, True)
            time.sleep(pace)
        for name in reversed(presses):
            _key(machine, name, False)
            time.sleep(pace)


def _key(machine: Machine, name: str, down: bool) -> None:
    assert machine.qmp is not None
    machine.qmp.command("input-send-event", events=[
        {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": name}}}])
