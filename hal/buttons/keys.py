"""Function keys typed in a terminal, as the terminal stand-in for the device's buttons.

A terminal sends a function key as an escape sequence: F1 to F4 as ``ESC O P`` to
``ESC O S`` (xterm and most emulators) or ``ESC [ 1 1 ~`` to ``ESC [ 1 4 ~`` (the VT220
style of rxvt and the Linux console's F5 up; the Linux console sends F1 to F3 as
``ESC [ [ A`` to ``ESC [ [ C``). Standard input is read a line at a time, so a key counts
when it is alone on its line: press F1 then Enter to end the room.

| key | button |
|---|---|
| F1 | ``end`` (end the room) |
| F2 | ``next`` (next, confirm) |
| F3 | ``mode`` |
"""

from __future__ import annotations

_ESC = b"\x1b"

KEY_SEQUENCES: dict[bytes, str] = {
    **{_ESC + b"O" + final: button for final, button in ((b"P", "end"), (b"Q", "next"),
                                                          (b"R", "mode"))},
    **{_ESC + b"[" + code + b"~": button for code, button in ((b"11", "end"), (b"12", "next"),
                                                               (b"13", "mode"))},
    **{_ESC + b"[[" + final: button for final, button in ((b"A", "end"), (b"B", "next"),
                                                           (b"C", "mode"))},
}
"""Every escape sequence taken for a button, and the button it stands for."""


def button_of_line(line: bytes) -> str | None:
    """The button a line of terminal input stands for, or None when it is not one.

    The line is taken without its ending; spaces around the sequence are allowed (a
    technician may have typed one), anything else makes it an ordinary line.
    """
    return KEY_SEQUENCES.get(line.strip(b" \t"))
