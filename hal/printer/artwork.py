"""Label artwork: the asset's register URL as a QR code, its tag as text, an organisation line.

The artwork is drawn here once, dot for dot at the printer's resolution, and every printer
backend sends exactly this picture (Brother raster lines, a ZPL ``^GFA`` graphic field, or
a PNG for the stand-in). What the tests decode is therefore what the printer prints.

Every label is laid out landscape: the QR code on the left, as tall as the label, with the
quiet zone of 4 modules the QR standard asks for; the tag in large type and the
organisation line under it on the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import segno
from PIL import Image, ImageDraw, ImageFont

__all__ = ["LABEL_SIZES", "LabelSize", "LabelTooSmall", "draw_label", "label_size"]

QR_QUIET_MODULES = 4
"""The quiet zone around the code, in modules (the QR standard's minimum)."""

QR_MIN_VERSION = 2
"""Never a version-1 code: it has no alignment pattern, and tilted it is read less well."""

MIN_MODULE_MM = 0.4
"""The smallest module printed: under this, a phone or the device's camera struggles."""

MIN_TAG_MM = 1.8
"""The smallest type for the tag (its em, about 5 points; capitals 1.3 mm high): a 20-character
tag still fits a 2 x 1 inch label."""

_MARGIN_MM = 1.5
_WHITE = 255
_INK = 0


class LabelTooSmall(ValueError):
    """The URL or the tag does not fit the label at a size that can still be read."""


@dataclass(frozen=True)
class LabelSize:
    """One label stock at one print resolution.

    Attributes:
        name: how the configuration names it (``62``, ``29x90``, ``2x1in``).
        dpi: the print head's resolution in dots per inch.
        width: dots of the landscape artwork across, left to right as it is read.
        height: dots of the landscape artwork top to bottom.
        description: the stock in words.
    """

    name: str
    dpi: int
    width: int
    height: int
    description: str

    def mm(self, dots: float) -> float:
        """``dots`` at this resolution, in millimetres."""
        return dots * 25.4 / self.dpi

    def dots(self, mm: float) -> int:
        """``mm`` millimetres at this resolution, in whole dots (rounded down)."""
        return int(mm * self.dpi / 25.4)


LABEL_SIZES: Mapping[tuple[str, int], LabelSize] = MappingProxyType({
    # Brother 62 mm continuous tape: 696 printable dots across; the length is ours, 29 mm.
    ("62", 300): LabelSize("62", 300, 696, 342, "Brother 62 mm continuous tape, cut at 29 mm"),
    # Brother DK-11201-style die-cut 29 x 90 mm: 306 x 991 printable dots, printed sideways.
    ("29x90", 300): LabelSize("29x90", 300, 991, 306, "Brother 29 x 90 mm die-cut label"),
    ("2x1in", 203): LabelSize("2x1in", 203, 406, 203, "Zebra 2 x 1 inch label, 203 dpi head"),
    ("2x1in", 300): LabelSize("2x1in", 300, 600, 300, "Zebra 2 x 1 inch label, 300 dpi head"),
})
"""Every label size a printer backend can be set to, by (name, dpi)."""


def label_size(name: str, dpi: int) -> LabelSize:
    """The :class:`LabelSize` called ``name`` at ``dpi``.

    Raises:
        ValueError: no such size at that resolution (the message lists those there are).
    """
    try:
        return LABEL_SIZES[(name, dpi)]
    except KeyError:
        known = ", ".join(f"{n} at {d} dpi" for n, d in LABEL_SIZES)
        raise ValueError(f"no label size {name!r} at {dpi} dpi (known: {known})") from None


def draw_label(url: str, tag: str, line: str, size: LabelSize) -> Image.Image:
    """Draw one label.

    Args:
        url: what the QR code holds (the asset's register URL, or the tag itself).
        tag: the asset tag, printed as text a person reads.
        line: a configured line under the tag (the organisation); may be empty.
        size: the label stock and resolution.

    Returns:
        A mode ``"L"`` image of ``size.width`` x ``size.height`` holding only black (0)
        and white (255) dots.

    Raises:
        LabelTooSmall: the code would need modules under :data:`MIN_MODULE_MM`, or the
            tag cannot be printed at a readable size beside it.
    """
    image = Image.new("L", (size.width, size.height), _WHITE)
    qr = _qr(url)
    modules = int(qr.symbol_size(scale=1, border=QR_QUIET_MODULES)[0])  # whole at scale 1
    module_dots = size.height // modules
    if module_dots < 2 or size.mm(module_dots) < MIN_MODULE_MM:
        raise LabelTooSmall(
            f"the URL needs a version-{qr.version} QR code ({len(url)} characters), too"
            f" dense for a {size.description.lower()}; shorten register.url or printer.url")
    code = _qr_image(qr, module_dots)
    top = (size.height - code.height) // 2
    image.paste(code, (0, top))
    # The quiet zone is part of the code's image; the text starts after it.
    left = code.width
    right = size.width - size.dots(_MARGIN_MM)
    _draw_text(image, tag, line, left, right, size)
    return image


def _qr(url: str) -> segno.QRCode:
    qr = segno.make_qr(url, error="m")
    # version is a str only for a Micro QR ("M3"), which make_qr never gives.
    if not isinstance(qr.version, int) or qr.version < QR_MIN_VERSION:
        qr = segno.make_qr(url, error="m", version=QR_MIN_VERSION)
    return qr


def _qr_image(qr: segno.QRCode, module_dots: int) -> Image.Image:
    rows = list(qr.matrix_iter(scale=1, border=QR_QUIET_MODULES))
    side = len(rows)
    small = Image.new("L", (side, side), _WHITE)
    small.putdata([_INK if dark else _WHITE for row in rows for dark in row])
    return small.resize((side * module_dots, side * module_dots), Image.Resampling.NEAREST)


def _draw_text(image: Image.Image, tag: str, line: str, left: int, right: int,
               size: LabelSize) -> None:
    width = right - left
    tag_px = _fitting_size(tag, width, size.height * 28 // 100)
    min_tag_px = size.dots(MIN_TAG_MM)
    if tag_px < min_tag_px:
        raise LabelTooSmall(f"the tag {tag!r} is too long to print readably on a"
                            f" {size.description.lower()}")
    line_px = _fitting_size(line, width, tag_px * 55 // 100) if line else 0
    gap = size.dots(1.5)
    tag_font = ImageFont.load_default(size=tag_px)
    tag_box = tag_font.getbbox(tag)
    tag_h = tag_box[3] - tag_box[1]
    block = tag_h + ((gap + line_px) if line_px else 0)
    y = max(0, (image.height - block) // 2)
    draw = ImageDraw.Draw(image)
    draw.text((left - tag_box[0], y - tag_box[1]), tag, font=tag_font, fill=_INK)
    if line_px:
        line_font = ImageFont.load_default(size=line_px)
        box = line_font.getbbox(line)
        draw.text((left - box[0], y + tag_h + gap - box[1]), line, font=line_font, fill=_INK)
    # Text is antialiased; a label printer has no grey, so every dot is made black or white.
    image.paste(image.point(lambda v: _INK if v < 128 else _WHITE))


def _fitting_size(text: str, width: int, largest: int) -> int:
    """The largest font size up to ``largest`` at which ``text`` is at most ``width`` wide."""
    px = largest
    while px > 4:
        box = ImageFont.load_default(size=px).getbbox(text)
        if box[2] - box[0] <= width:
            return px
        px -= 1
    return 0
