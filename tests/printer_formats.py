"""Test-side readers of what label printers receive: ZPL II formats and Brother raster.

Written from the formats' rules, independently of hal.printer, so that a mistake there is
not repeated here.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

_COMMAND = re.compile(r"[\^~]([A-Z@][A-Z0-9@]?)")


@dataclass
class ZplFormat:
    """One ^XA … ^XZ format: its commands in order, and the graphic fields drawn."""

    commands: list[tuple[str, str]] = field(default_factory=list)
    graphics: list[tuple[int, int, Image.Image]] = field(default_factory=list)

    def value(self, name: str) -> str:
        found = [arg for cmd, arg in self.commands if cmd == name]
        assert len(found) == 1, f"{name}: {len(found)} times"
        return found[0]


def read_zpl(data: bytes) -> list[ZplFormat]:
    """Parse ZPL II: every format, its commands, and each ^GFA field as an image.

    Raises AssertionError on anything a printer would not print as meant: text outside a
    format, a format without its end, an unknown command, a ^GFA whose counts disagree
    with its data.
    """
    text = data.decode("ascii")
    formats: list[ZplFormat] = []
    current: ZplFormat | None = None
    origin = (0, 0)
    pos = 0
    matches = list(_COMMAND.finditer(text))
    for i, match in enumerate(matches):
        assert text[pos:match.start()].strip() == "", f"stray text {text[pos:match.start()]!r}"
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name, arg = match[1], text[match.end():end].strip()
        pos = end
        if name == "XA":
            assert current is None, "^XA inside a format"
            current = ZplFormat()
            continue
        assert current is not None, f"^{name} outside ^XA … ^XZ"
        assert name in {"PW", "LL", "LH", "FO", "GF", "FS", "PQ", "XZ"}, f"unknown ^{name}"
        current.commands.append((name, arg))
        if name == "FO":
            x, y = (int(v) for v in arg.split(","))
            origin = (x, y)
        elif name == "GF":
            current.graphics.append((*origin, _graphic_field(arg)))
        elif name == "XZ":
            formats.append(current)
            current = None
    assert current is None, "a format without ^XZ is never printed"
    return formats


def _graphic_field(arg: str) -> Image.Image:
    kind, binary_count, field_count, row_bytes, payload = arg.split(",", 4)
    assert kind == "A", "only ASCII hex graphic fields are read here"
    binary_count, field_count, row_bytes = int(binary_count), int(field_count), int(row_bytes)
    assert binary_count == field_count
    assert re.fullmatch(r"[0-9A-F]*", payload), "ASCII hex only (no compression here)"
    assert len(payload) == 2 * binary_count
    assert binary_count % row_bytes == 0
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(payload), dtype=np.uint8))
    dots = bits.reshape(binary_count // row_bytes, row_bytes * 8)
    return Image.fromarray(np.where(dots == 1, 0, 255).astype(np.uint8), mode="L")


def read_brother(data: bytes, folder: Path) -> list[Image.Image]:
    """Parse Brother raster with brother_ql's own reader; the pages it prints, as images."""
    from brother_ql.reader import BrotherQLReader

    folder.mkdir(parents=True, exist_ok=True)
    reader = BrotherQLReader(io.BytesIO(data))
    reader.filename_fmt = str(folder / "page{counter:04d}.png")
    reader.analyse()
    return [Image.open(p).convert("L") for p in sorted(folder.glob("page*.png"))]
