"""Keyboard layouts a keyboard-wedge scanner may be set to, as evdev key codes.

A scanner types each character as the key *position* that produces it on the layout it is
configured for ("keyboard country"); evdev reports positions, not characters. Decoding
must therefore use the same layout as the scanner. US English is the recommended setting.

Each layout maps an evdev key code to the characters of that key: ``(unshifted,
shifted)`` or ``(unshifted, shifted, AltGr)``; an empty string is a level the key does
not have. The key code numbers are evdev's (``linux/input-event-codes.h``), kept here so
that decoding needs no evdev import. The tables follow the Windows layouts scanners
emulate; dead keys (a character typed by that key and then Space) are listed per layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# evdev key codes (linux/input-event-codes.h)
KEY_ESC = 1
KEY_1, KEY_2, KEY_3, KEY_4, KEY_5 = 2, 3, 4, 5, 6
KEY_6, KEY_7, KEY_8, KEY_9, KEY_0 = 7, 8, 9, 10, 11
KEY_MINUS = 12
KEY_EQUAL = 13
KEY_BACKSPACE = 14
KEY_TAB = 15
KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P = range(16, 26)
KEY_LEFTBRACE = 26
KEY_RIGHTBRACE = 27
KEY_ENTER = 28
KEY_LEFTCTRL = 29
KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L = range(30, 39)
KEY_SEMICOLON = 39
KEY_APOSTROPHE = 40
KEY_GRAVE = 41
KEY_LEFTSHIFT = 42
KEY_BACKSLASH = 43
KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M = range(44, 51)
KEY_COMMA = 51
KEY_DOT = 52
KEY_SLASH = 53
KEY_RIGHTSHIFT = 54
KEY_KPASTERISK = 55
KEY_LEFTALT = 56
KEY_SPACE = 57
KEY_CAPSLOCK = 58
KEY_NUMLOCK = 69
KEY_KP7, KEY_KP8, KEY_KP9, KEY_KPMINUS = 71, 72, 73, 74
KEY_KP4, KEY_KP5, KEY_KP6, KEY_KPPLUS = 75, 76, 77, 78
KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP0, KEY_KPDOT = 79, 80, 81, 82, 83
KEY_102ND = 86
KEY_KPENTER = 96
KEY_RIGHTCTRL = 97
KEY_KPSLASH = 98
KEY_RIGHTALT = 100
KEY_LEFTMETA = 125
KEY_RIGHTMETA = 126

_LETTER_CODES = {c: KEY_Q + i for i, c in enumerate("qwertyuiop")} | {
    c: KEY_A + i for i, c in enumerate("asdfghjkl")} | {
    c: KEY_Z + i for i, c in enumerate("zxcvbnm")}

#: Keys that are the same on every layout here (the numeric keypad typed with Num Lock on).
_COMMON: dict[int, tuple[str, ...]] = {
    KEY_SPACE: (" ", " "),
    KEY_KP0: ("0", ""), KEY_KP1: ("1", ""), KEY_KP2: ("2", ""), KEY_KP3: ("3", ""),
    KEY_KP4: ("4", ""), KEY_KP5: ("5", ""), KEY_KP6: ("6", ""), KEY_KP7: ("7", ""),
    KEY_KP8: ("8", ""), KEY_KP9: ("9", ""),
    KEY_KPMINUS: ("-", ""), KEY_KPPLUS: ("+", ""), KEY_KPASTERISK: ("*", ""),
    KEY_KPSLASH: ("/", ""), KEY_KPDOT: (".", ""),
}


def _letters(order: str) -> dict[int, tuple[str, str]]:
    """Letter keys: ``order`` lists the letters of the US positions q..p, a..l, z..m."""
    us = "qwertyuiopasdfghjklzxcvbnm"
    return {_LETTER_CODES[pos]: (ch, ch.upper()) for pos, ch in zip(us, order, strict=True)}


def _digit_row(pairs: list[tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
    """The ten keys KEY_1..KEY_0, in order."""
    return {KEY_1 + i: pair for i, pair in enumerate(pairs)}


#: US English (ANSI).
US: Mapping[int, tuple[str, ...]] = MappingProxyType(
    _COMMON | _letters("qwertyuiopasdfghjklzxcvbnm") | _digit_row([
        ("1", "!"), ("2", "@"), ("3", "#"), ("4", "$"), ("5", "%"),
        ("6", "^"), ("7", "&"), ("8", "*"), ("9", "("), ("0", ")")]) | {
        KEY_MINUS: ("-", "_"), KEY_EQUAL: ("=", "+"),
        KEY_LEFTBRACE: ("[", "{"), KEY_RIGHTBRACE: ("]", "}"),
        KEY_SEMICOLON: (";", ":"), KEY_APOSTROPHE: ("'", '"'), KEY_GRAVE: ("`", "~"),
        KEY_BACKSLASH: ("\\", "|"),
        KEY_COMMA: (",", "<"), KEY_DOT: (".", ">"), KEY_SLASH: ("/", "?"),
    })

#: UK English (ISO): ``"`` and ``@`` swapped against US, ``£``, ``#~`` and ``\\|`` keys.
UK: Mapping[int, tuple[str, ...]] = MappingProxyType(
    dict(US) | {
        KEY_2: ("2", '"'), KEY_3: ("3", "£"), KEY_4: ("4", "$", "€"),
        KEY_APOSTROPHE: ("'", "@"), KEY_GRAVE: ("`", "¬", "¦"),
        KEY_BACKSLASH: ("#", "~"), KEY_102ND: ("\\", "|"),
        KEY_A: ("a", "A", "á"), KEY_E: ("e", "E", "é"), KEY_I: ("i", "I", "í"),
        KEY_O: ("o", "O", "ó"), KEY_U: ("u", "U", "ú"),
    })

#: German (QWERTZ): Y and Z swapped, brackets and ``@`` on AltGr.
DE: Mapping[int, tuple[str, ...]] = MappingProxyType(
    _COMMON | _letters("qwertzuiopasdfghjklyxcvbnm") | _digit_row([
        ("1", "!"), ("2", '"', "²"), ("3", "§", "³"), ("4", "$"), ("5", "%"),
        ("6", "&"), ("7", "/", "{"), ("8", "(", "["), ("9", ")", "]"), ("0", "=", "}")]) | {
        KEY_MINUS: ("ß", "?", "\\"), KEY_EQUAL: ("´", "`"),
        KEY_Q: ("q", "Q", "@"), KEY_E: ("e", "E", "€"), KEY_M: ("m", "M", "µ"),
        KEY_LEFTBRACE: ("ü", "Ü"), KEY_RIGHTBRACE: ("+", "*", "~"),
        KEY_SEMICOLON: ("ö", "Ö"), KEY_APOSTROPHE: ("ä", "Ä"), KEY_GRAVE: ("^", "°"),
        KEY_BACKSLASH: ("#", "'"), KEY_102ND: ("<", ">", "|"),
        KEY_COMMA: (",", ";"), KEY_DOT: (".", ":"), KEY_SLASH: ("-", "_"),
        KEY_KPDOT: (",", ""),
    })

#: French (AZERTY): digits are shifted, A/Q and Z/W swapped, M right of L.
FR: Mapping[int, tuple[str, ...]] = MappingProxyType(
    _COMMON | _letters("azertyuiopqsdfghjklwxcvbn,") | _digit_row([
        ("&", "1"), ("é", "2", "~"), ('"', "3", "#"), ("'", "4", "{"), ("(", "5", "["),
        ("-", "6", "|"), ("è", "7", "`"), ("_", "8", "\\"), ("ç", "9", "^"),
        ("à", "0", "@")]) | {
        KEY_MINUS: (")", "°", "]"), KEY_EQUAL: ("=", "+", "}"),
        KEY_E: ("e", "E", "€"),
        KEY_LEFTBRACE: ("^", "¨"), KEY_RIGHTBRACE: ("$", "£", "¤"),
        KEY_SEMICOLON: ("m", "M"), KEY_APOSTROPHE: ("ù", "%"), KEY_GRAVE: ("²", ""),
        KEY_BACKSLASH: ("*", "µ"), KEY_102ND: ("<", ">"),
        KEY_M: (",", "?"), KEY_COMMA: (";", "."), KEY_DOT: (":", "/"), KEY_SLASH: ("!", "§"),
    })


@dataclass(frozen=True)
class Keymap:
    """A layout as the decoder uses it.

    Attributes:
        name: the layout's short name (``us``, ``uk``, ``de``, ``fr``).
        keys: evdev key code → (unshifted, shifted[, AltGr]) characters.
        dead: ``(code, level)`` of dead keys: level 0 unshifted, 1 shifted, 2 AltGr.
            A scanner types such a character as the key followed by Space.
        control: evdev key code → the control character Ctrl + that key gives, besides
            Ctrl + a letter (``\\x01``..``\\x1a``); Ctrl+``]`` gives GS (``\\x1d``), the
            GS1 field separator. Ctrl+Shift chords are keyed ``-code``.
    """

    name: str
    keys: Mapping[int, tuple[str, ...]]
    dead: frozenset[tuple[int, int]] = frozenset()
    control: Mapping[int, str] = field(default_factory=dict)

    def strokes(self, char: str) -> tuple[int, int] | None:
        """``(code, level)`` typing ``char`` without a dead key, or None; for test data.

        The main block is preferred over the keypad (lower codes first).
        """
        for code, chars in sorted(self.keys.items()):
            for level, c in enumerate(chars):
                if c == char and (code, level) not in self.dead:
                    return code, level
        return None


# Control characters by key position, as the Windows layouts scanners emulate bind them:
# the key at the US "]" position gives GS on every layout here, "[" gives ESC.
_CONTROL_US = {KEY_LEFTBRACE: "\x1b", KEY_RIGHTBRACE: "\x1d", KEY_BACKSLASH: "\x1c",
               -KEY_6: "\x1e", -KEY_MINUS: "\x1f"}

KEYMAPS: Mapping[str, Keymap] = MappingProxyType({
    "us": Keymap("us", US, control=_CONTROL_US),
    "uk": Keymap("uk", UK, control={KEY_LEFTBRACE: "\x1b", KEY_RIGHTBRACE: "\x1d",
                                    KEY_102ND: "\x1c", -KEY_6: "\x1e", -KEY_MINUS: "\x1f"}),
    "de": Keymap("de", DE, dead=frozenset({(KEY_EQUAL, 0), (KEY_EQUAL, 1), (KEY_GRAVE, 0)}),
                 control={KEY_LEFTBRACE: "\x1b", KEY_RIGHTBRACE: "\x1d", KEY_BACKSLASH: "\x1c"}),
    "fr": Keymap("fr", FR, dead=frozenset({(KEY_2, 2), (KEY_7, 2), (KEY_LEFTBRACE, 0),
                                           (KEY_LEFTBRACE, 1)}),
                 control={KEY_LEFTBRACE: "\x1b", KEY_RIGHTBRACE: "\x1d", KEY_BACKSLASH: "\x1c"}),
})


def keymap(name: str) -> Keymap:
    """The layout called ``name`` (``us``, ``uk``, ``de``, ``fr``).

    Raises:
        ValueError: no such layout.
    """
    try:
        return KEYMAPS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown keymap {name!r} (known: {', '.join(KEYMAPS)})") from None
