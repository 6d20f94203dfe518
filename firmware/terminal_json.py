"""JSON lines a terminal shows as they are: every character it could act on escaped.

What ``stocktaker decode``, ``queue status --json`` and the benches' ``--json`` print.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_line"]


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def json_line(value: Any) -> str:
    """One line of JSON with every character a terminal could act on as a ``\\u`` escape.

    Printable non-ASCII text stays readable; the JSON means exactly the same.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: _escape(m[0]), text)


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
