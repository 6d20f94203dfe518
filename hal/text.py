"""Text from outside (labels, register fields, report files) made safe to print on a terminal.

A label or a CSV cell may hold an escape sequence that clears the screen, retitles the
window or reorders what follows it (``ESC [2J``, ``ESC ]0;...BEL``, ``U+202E``). Whatever
stocktaker prints that it did not write itself goes through :func:`terminal_safe` first.

It lives in the hardware layer because a display prints captions too, and ``hal`` imports
nothing from the layers above it; ``firmware.text`` re-exports it.
"""

from __future__ import annotations

__all__ = ["terminal_safe"]


def terminal_safe(text: object) -> str:
    """Render ``text`` as one printable line, showing every other character as an escape.

    Printable characters (letters, digits, punctuation, symbols and the plain space, in
    any script) are kept. Everything else, that is control characters (C0, DEL, C1),
    format characters (bidi overrides, zero-width characters), line and paragraph
    separators, other spaces, surrogates and unassigned code points, is shown as
    ``\\x1b`` (below U+0080), ``\\u202e`` or ``\\U000e0001``: the same rendering as
    :func:`firmware.tags.payload_text` gives a raw payload, so a payload already rendered
    by it comes out unchanged.

    Args:
        text: a string; anything else is first turned into one with ``str()``.

    Returns:
        The rendering; never raises.
    """
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # a foreign object's __str__ may do anything
            text = f"<{type(text).__name__}>"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    # \u even below 0x100, so that an escaped character never reads like an undecodable byte.
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
