"""Drawing on the 128x64 one-bit OLED: the font's cells, text that fits, headlines and
icons, from which every screen is made (:mod:`firmware.screens`).

Only Pillow's embedded bitmap font is used (6x11 px cells, 21 columns on the panel) and,
for headlines, the same font scaled 2x with nearest-neighbour (10 columns), so a screen
renders to the same pixels on every machine. Text that does not fit is shortened with an
ellipsis; characters the font cannot draw become ``?``.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 128, 64
CELL_W, CELL_H = 6, 11
COLUMNS = 21
HEADLINE_COLUMNS = 10
ELLIPSIS = "\u2026"
ON, OFF = 255, 0  # pixel values of a mode-"1" image

_FONT = ImageFont.load_default_imagefont()
MARGIN_X = 1  # left margin of normal text; 21 cells then end at x=126
BAR_H = 16  # headline bar height
HEADLINE_Y = -4  # the scaled font's top rows are accent space, unused by headlines
DETAIL_Y = (16, 27, 38)
RULE_Y = 50
FOOTER_Y = 52


def printable(text: str) -> str:
    """Replace every character the bitmap font cannot draw with ``?``.

    The font draws printable Latin-1 (``U+0020``-``U+007E`` and ``U+00A1``-``U+00FF``);
    a no-break space becomes a plain space (the font gives it no width).
    """
    return "".join(
        " " if char == "\xa0" else char if " " <= char <= "~" or "\xa1" <= char <= "\xff" else "?"
        for char in text
    )


def keep_start(text: str, columns: int) -> str:
    """``text`` made printable and cut to ``columns``, keeping its start (names, rooms)."""
    text = printable(text)
    if len(text) <= columns:
        return text
    return text[: columns - 1].rstrip() + ELLIPSIS if columns > 0 else ""


def keep_end(text: str, columns: int) -> str:
    """``text`` made printable and cut to ``columns``, keeping its end (tags, serials)."""
    text = printable(text)
    if len(text) <= columns:
        return text
    return ELLIPSIS + text[len(text) - columns + 1 :].lstrip() if columns > 0 else ""


def wrap(text: str, columns: int, lines: int) -> list[str]:
    """Word-wrap ``text`` onto at most ``lines`` lines of ``columns`` characters.

    Words longer than a line are split; what does not fit on the last line is cut
    with an ellipsis.
    """
    out: list[str] = []
    current = ""
    for word in (printable(word) for word in text.split()):
        while len(out) < lines - 1 and len(current) + bool(current) + len(word) > columns:
            if current:
                out.append(current)
                current = ""
            else:
                out.append(word[:columns])
                word = word[columns:]
        current = f"{current} {word}" if current else word
    if current and lines > 0:
        out.append(keep_start(current, columns))
    return out


def blank() -> Image.Image:
    return Image.new("1", (WIDTH, HEIGHT), OFF)


def draw_text(
    image: Image.Image, x: int, y: int, text: str, *, scale: int = 1, fill: int = ON
) -> None:
    """Draw ``text`` (already printable) with its cells' top-left corner at (x, y)."""
    if not text:
        return
    mask = Image.new("1", (CELL_W * len(text), CELL_H), OFF)
    ImageDraw.Draw(mask).text((0, 0), text.replace(ELLIPSIS, " "), font=_FONT, fill=ON)
    for index, char in enumerate(text):
        if char == ELLIPSIS:  # the font has no ellipsis: three dots on the baseline
            for dx in (0, 2, 4):
                mask.putpixel((index * CELL_W + dx, 8), ON)
    if scale != 1:
        mask = mask.resize((mask.width * scale, mask.height * scale), Image.Resampling.NEAREST)
    image.paste(fill, (x, y), mask)


def draw_centred(image: Image.Image, y: int, text: str) -> None:
    draw_text(image, (WIDTH - CELL_W * len(text)) // 2, y, text)


def draw_right(image: Image.Image, x_end: int, y: int, text: str) -> None:
    draw_text(image, x_end - CELL_W * len(text), y, text)


def _big_layout(text: str, room: int) -> list[int]:
    """The x offset of each character of a 2x line: one pixel of tracking when it fits.

    The font's glyphs fill their cells, so scaled letters would touch without tracking;
    spaces advance less than letters to leave room for it.
    """
    for tracking in (1, 0):
        offsets, x = [], 0
        for char in text:
            offsets.append(x)
            x += (8 if char == " " else 2 * CELL_W) + tracking
        if x - tracking <= room:
            break
    return offsets


def big_width(text: str, room: int) -> int:
    offsets = _big_layout(text, room)
    return offsets[-1] + 2 * CELL_W if offsets else 0


def draw_big(image: Image.Image, x: int, y: int, text: str, *, fill: int = ON) -> None:
    """Draw ``text`` (already shortened) at twice the font's size."""
    for offset, char in zip(_big_layout(text, WIDTH - x - 2), text):
        draw_text(image, x + offset, y, char, scale=2, fill=fill)


def tick(draw: ImageDraw.ImageDraw, fill: int) -> None:
    draw.line([(112, 8), (116, 12), (124, 3)], fill=fill, width=2)


def cross(draw: ImageDraw.ImageDraw, fill: int) -> None:
    draw.line([(114, 3), (123, 12)], fill=fill, width=2)
    draw.line([(114, 12), (123, 3)], fill=fill, width=2)


Icon = Callable[[ImageDraw.ImageDraw, int], None]
_ICON_X = 108  # icons sit right of the headline, at x 112..124, when the headline ends here


def draw_headline(image: Image.Image, text: str, *, alert: bool,
                  icon: Icon | None = None) -> None:
    """Draw the 2x headline in the top bar, inverted when ``alert``, with an icon if it fits."""
    draw = ImageDraw.Draw(image)
    if alert:
        draw.rectangle([0, 0, WIDTH - 1, BAR_H - 1], fill=ON)
    text = keep_start(text, HEADLINE_COLUMNS)
    draw_big(image, 2, HEADLINE_Y, text, fill=OFF if alert else ON)
    if icon is not None and 2 + big_width(text, WIDTH - 4) <= _ICON_X:
        icon(draw, OFF if alert else ON)
