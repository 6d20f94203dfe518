"""Key events of a keyboard-wedge scanner → scans: the decoder the device and the replay share.

Pure: it holds no device and reads no clock; every event carries its own time, in seconds
(the kernel's event time on the device, the recorded time in a replay).

How a scan is framed:

* A scan is the characters typed since the previous scan, ended by the terminator key:
  Enter (``KEY_ENTER`` or the keypad's ``KEY_KPENTER``) or Tab, whichever the scanner is set
  to send. With ``enter`` a Tab is the character ``\\t``, with ``tab`` an Enter is ``\\r``
  (both are later rejected as control characters, visibly, rather than cutting a scan).
* **Inter-key timeout discards.** When no key event comes for longer than
  ``inter_key_timeout`` seconds before the terminator, the characters so far are discarded,
  never passed on as a scan: a scan cut short could name another asset (``IT-00451`` for
  ``IT-004512``), a missing one is simply scanned again. Scanners were measured typing a
  character every 5–60 ms (USB polling allows 1 ms); the default, 0.1 s, keeps the slowest
  of them with margin and discards a person typing on the scanner's keyboard interface.
  The timeout is measured between key events (presses and releases) in event time.
* A scan that went wrong — an unknown key, longer than ``max_length`` characters, events
  the kernel dropped (``SYN_DROPPED``) — swallows the rest of its keys and is reported as
  :class:`Discarded` with the first problem as the reason, when its terminator comes or its
  timeout passes. Swallowing matters: the tail of a corrupt scan is not a scan.
* A terminator with nothing typed is nothing (no scan, no discard).
* A discard carries the characters typed so far (:func:`preview` shows them escaped);
  one timed out after a Tab where Enter is the terminator (or an Enter where Tab is), or
  after no terminator at all, tells that the scanner ends its scans otherwise
  (:func:`terminator_hint`).
* Key presses count, releases only for modifiers, autorepeat never; a doubled character
  (``22``) is two presses and stays two characters.
* Shift (both), Caps Lock (toggled by its press, letters only; Shift then gives lower
  case), AltGr (``KEY_RIGHTALT``), dead keys typed with Space, Ctrl + letter → ``\\x01``..,
  Ctrl+``]`` → GS (``\\x1d``, the GS1 separator). Alt or Meta with a key (Alt+keypad codes)
  is not supported and discards the scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hal.scanner import keymaps
from hal.scanner.keymaps import Keymap

#: Seconds without a key event, inside a scan, after which the scan is discarded.
DEFAULT_INTER_KEY_TIMEOUT = 0.1
#: Characters a scan may have; a longer one is discarded (the same limit as stdin lines).
DEFAULT_MAX_LENGTH = 4096

#: Terminator name → the key codes that end a scan.
TERMINATORS = {
    "enter": frozenset({keymaps.KEY_ENTER, keymaps.KEY_KPENTER}),
    "tab": frozenset({keymaps.KEY_TAB}),
}

KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2

_SHIFT = frozenset({keymaps.KEY_LEFTSHIFT, keymaps.KEY_RIGHTSHIFT})
_CTRL = frozenset({keymaps.KEY_LEFTCTRL, keymaps.KEY_RIGHTCTRL})
_ALTGR = frozenset({keymaps.KEY_RIGHTALT})
_ALT = frozenset({keymaps.KEY_LEFTALT, keymaps.KEY_LEFTMETA, keymaps.KEY_RIGHTMETA})
_LOCKS = frozenset({keymaps.KEY_CAPSLOCK, keymaps.KEY_NUMLOCK})
_WHITESPACE = {keymaps.KEY_TAB: "\t", keymaps.KEY_ENTER: "\r", keymaps.KEY_KPENTER: "\r"}
_KEY_NAMES = {value: name for name, value in vars(keymaps).items()
              if name.startswith("KEY_") and isinstance(value, int)}


@dataclass(frozen=True)
class KeyEvent:
    """An ``EV_KEY`` event: ``value`` 0 release, 1 press, 2 autorepeat; ``at`` in seconds."""

    code: int
    value: int
    at: float


@dataclass(frozen=True)
class SynEvent:
    """An ``EV_SYN`` event: the end of a report, or (``dropped``) ``SYN_DROPPED``."""

    dropped: bool
    at: float


@dataclass(frozen=True)
class Scan:
    """A complete scan: the characters typed, UTF-8 encoded; ``at`` is its terminator's time."""

    payload: bytes
    at: float


@dataclass(frozen=True)
class Discarded:
    """A scan that was thrown away, why, and when (terminator time, or when it timed out).

    Attributes:
        reason: why, in a few words.
        at: its terminator's time, or when it timed out.
        typed: the characters decoded before it was thrown away (for the log).
        timed_out: whether it ended by the inter-key timeout rather than a terminator.
    """

    reason: str
    at: float
    typed: str = ""
    timed_out: bool = False


Outcome = Scan | Discarded


def key_name(code: int) -> str:
    """``KEY_A`` for 30; ``code 59`` for a code the keymaps do not name."""
    return _KEY_NAMES.get(code, f"code {code}")


class KeyDecoder:
    """Turns one scanner's key events into :class:`Scan` and :class:`Discarded` outcomes.

    One decoder per scanner: it keeps that scanner's modifier and Caps Lock state.

    Args:
        keymap: the layout the scanner is set to, a name (``us``, ``uk``, ``de``, ``fr``)
            or a :class:`~hal.scanner.keymaps.Keymap`.
        terminator: ``enter`` (Enter or keypad Enter ends a scan) or ``tab``.
        inter_key_timeout: seconds without a key event after which a scan in progress is
            discarded (see the module's description).
        max_length: the most characters a scan may have.

    Raises:
        ValueError: unknown keymap or terminator, a timeout or length not above 0.
    """

    def __init__(self, keymap: str | Keymap = "us", *, terminator: str = "enter",
                 inter_key_timeout: float = DEFAULT_INTER_KEY_TIMEOUT,
                 max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self.keymap = keymaps.keymap(keymap) if isinstance(keymap, str) else keymap
        if terminator not in TERMINATORS:
            raise ValueError(f"unknown terminator {terminator!r} (known: enter, tab)")
        if not inter_key_timeout > 0:
            raise ValueError(f"inter-key timeout must be above 0, not {inter_key_timeout!r}")
        if max_length < 1:
            raise ValueError(f"maximum length must be at least 1, not {max_length!r}")
        self.terminator = terminator
        self.inter_key_timeout = float(inter_key_timeout)
        self.max_length = max_length
        self._ends = TERMINATORS[terminator]
        self._held: set[int] = set()
        self._caps = False
        self._skipping = False
        self._reset_scan()

    def _reset_scan(self) -> None:
        self._text: list[str] = []
        self._spoiled: str | None = None
        self._dead: str | None = None
        self._last: float | None = None

    @property
    def in_progress(self) -> bool:
        """Whether a scan has started and not ended."""
        return self._last is not None

    @property
    def deadline(self) -> float | None:
        """When the scan in progress times out, in event time; None when none is."""
        return None if self._last is None else self._last + self.inter_key_timeout

    def feed(self, event: KeyEvent | SynEvent) -> list[Outcome]:
        """Take one event; return the scans and discards it completed, oldest first."""
        if isinstance(event, KeyEvent):
            return self.key(event.code, event.value, event.at)
        if event.dropped:
            return self.dropped(event.at)
        self._skipping = False  # SYN_REPORT: what follows a drop is whole again
        return self.expire(event.at)

    def key(self, code: int, value: int, at: float) -> list[Outcome]:
        """Take an ``EV_KEY`` event (value 0 release, 1 press, 2 autorepeat) at ``at``."""
        out = self.expire(at)
        if self._last is not None:
            self._last = at
        if self._skipping:
            return out  # the rest of a report the kernel cut: the scan is already spoiled
        if code in _SHIFT or code in _CTRL or code in _ALTGR or code in _ALT:
            if value == KEY_DOWN:
                self._held.add(code)
            elif value == KEY_UP:
                self._held.discard(code)
            return out
        if value != KEY_DOWN:
            return out
        if code in _LOCKS:
            if code == keymaps.KEY_CAPSLOCK:
                self._caps = not self._caps
            return out
        if code in self._ends:
            out += self._end(at)
            return out
        self._last = at
        if self._spoiled is None:
            self._type(code)
        return out

    def dropped(self, at: float) -> list[Outcome]:
        """``SYN_DROPPED``: the kernel lost events; the scan in progress is discarded.

        Until the next ``SYN_REPORT`` events are ignored; held modifiers are forgotten (their
        releases may be among the lost events). A scan starting within the timeout is
        discarded too: its first characters may be among the lost events.
        """
        out = self.expire(at)
        if self._spoiled is None:
            self._spoiled = "events dropped by the kernel (SYN_DROPPED)"
        self._last = at
        self._held.clear()
        self._skipping = True
        return out

    def expire(self, now: float) -> list[Outcome]:
        """Discard the scan in progress when ``now`` is past its deadline; call when idle."""
        deadline = self.deadline
        if deadline is None or not now > deadline:
            return []
        typed = len(self._text)
        reason = self._spoiled or (
            f"no terminator within {self.inter_key_timeout:g} s of the last key "
            f"({typed} character{'s' if typed != 1 else ''} typed)")
        text = "".join(self._text)
        self._reset_scan()
        self._skipping = False  # a report cut by a drop is long over
        return [Discarded(reason, deadline, text, timed_out=True)]

    def finish(self) -> list[Outcome]:
        """End of input: a scan in progress is discarded as its timeout would discard it."""
        return self.expire(math.inf)

    def _end(self, at: float) -> list[Outcome]:
        if self._last is None:
            return []
        if self._spoiled is not None:
            outcome: Outcome = Discarded(self._spoiled, at, "".join(self._text))
        elif self._dead is not None:
            outcome = Discarded(f"dead key {self._dead!r} not followed by Space", at,
                                "".join(self._text))
        elif self._text:
            outcome = Scan("".join(self._text).encode("utf-8"), at)
        else:
            self._reset_scan()
            return []
        self._reset_scan()
        return [outcome]

    def _type(self, code: int) -> None:
        char, dead, problem = self._character(code)
        if problem is not None:
            self._spoiled = problem
            return
        if self._dead is not None:
            if char != " " or dead:
                self._spoiled = (f"dead key {self._dead!r} followed by {char!r}: "
                                 "composed characters are not supported")
                return
            char, self._dead = self._dead, None
        elif dead:
            self._dead = char
            return
        self._text.append(char)
        if len(self._text) > self.max_length:
            self._spoiled = f"longer than {self.max_length} characters"

    def _character(self, code: int) -> tuple[str, bool, str | None]:
        """(character, is a dead key, problem) for a press of ``code``."""
        held = self._held
        name = key_name(code)
        if held & _ALT:
            return "", False, f"Alt or Meta with {name} is not supported"
        chars = self.keymap.keys.get(code)
        shift = bool(held & _SHIFT)
        if held & _CTRL:
            control = self.keymap.control.get(-code if shift else code)
            if control and not held & _ALTGR:
                return control, False, None
            base = chars[0] if chars else ""
            if base.isascii() and base.isalpha() and not held & _ALTGR:
                return chr(ord(base.upper()) - 64), False, None
            return "", False, f"unknown key Ctrl+{'Shift+' if shift else ''}{name}"
        if chars is None:
            if code in _WHITESPACE:
                return _WHITESPACE[code], False, None
            return "", False, f"unknown key {name} on the {self.keymap.name} keymap"
        level = 2 if held & _ALTGR else int(shift)
        if level < 2 and self._caps and _is_letter(chars):
            level ^= 1
        char = chars[level] if level < len(chars) else ""
        if not char:
            mod = ("", "Shift+", "AltGr+")[level]
            return "", False, f"unknown key {mod}{name} on the {self.keymap.name} keymap"
        return char, (code, level) in self.keymap.dead, None


def _is_letter(chars: tuple[str, ...]) -> bool:
    lower, upper = chars[0], chars[1] if len(chars) > 1 else ""
    return lower.isalpha() and upper == lower.upper() and upper != lower


PREVIEW_LENGTH = 40
"""Characters of a discarded scan shown in the log."""

_TERMINATOR_CHARACTERS = {"\r": "enter", "\t": "tab"}
_TERMINATOR_KEYS = {"enter": "Enter", "tab": "Tab"}


def preview(typed: str) -> str:
    """The first :data:`PREVIEW_LENGTH` characters of a discarded scan, quoted, control
    characters escaped (``"IT-0045\\t"``), and how many more there were."""
    shown = typed[:PREVIEW_LENGTH].encode("unicode_escape").decode("ascii").replace('"', '\\"')
    more = len(typed) - PREVIEW_LENGTH
    return f'"{shown}"' + (f" and {more} more" if more > 0 else "")


def terminator_hint(outcome: Discarded, terminator: str) -> str | None:
    """What a scan discarded for want of a terminator says about the scanner's terminator.

    A scanner that ends its scans with another key than the configured one types that key
    as the scan's last character (Tab as ``\\t`` when Enter is configured, Enter as
    ``\\r`` when Tab is) and then nothing: the scan times out. One that sends no
    terminator at all times out after its last character.

    Args:
        outcome: a discarded scan.
        terminator: the configured terminator, ``enter`` or ``tab``.

    Returns:
        One sentence naming the key the scanner sends and the setting to change, or
        ``None`` when the discard says nothing about the terminator (another reason, or
        nothing typed).
    """
    if not (outcome.timed_out and outcome.typed and outcome.reason.startswith("no terminator")):
        return None
    configured = _TERMINATOR_KEYS.get(terminator, terminator)
    sent = _TERMINATOR_CHARACTERS.get(outcome.typed[-1])
    if sent is not None and sent != terminator:
        return (f"the scanner ends its scans with {_TERMINATOR_KEYS[sent]}, not "
                f"{configured}: set scanner.terminator = \"{sent}\" (or set the scanner's "
                f"suffix to {configured})")
    return (f"the scanner sent no terminator ({configured} expected): set the scanner's "
            f"suffix to {configured}, or scanner.terminator to the key it ends scans with")
