"""Label images made at run time: QR and Code 128 asset labels, serial-number labels, camera frames.

The demo room and the tests show these to the camera stand-in, so no image of a label is ever
stored. Every image is 8-bit grayscale (mode ``"L"``), as the camera's Y plane is, and every
random choice comes from a seeded generator, so one seed always gives the same frame.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import barcode
import numpy as np
import segno
from barcode.writer import ImageWriter
from PIL import Image, ImageDraw, ImageFilter, ImageFont

QR_MODULE_PX = 5
"""Side of one QR module in pixels: a version-3 code (a register URL) is then 185 px wide."""

QR_MIN_VERSION = 2
"""Smallest QR version drawn. Version 1 has no alignment pattern: tilted and a little blurred,
zbar misses some of them, so short payloads are printed one version larger."""

QR_BORDER_MODULES = 4
"""The quiet zone the QR standard asks for around the code."""

CODE128_DPI = 254
"""Print resolution of Code 128 labels: 10 px per millimetre, so module widths are whole pixels."""

CODE128_OPTIONS: Mapping[str, float] = MappingProxyType(
    {
        "module_width": 0.2,  # 2 px per module
        "module_height": 10.0,
        "quiet_zone": 3.0,  # 15 modules; the symbology asks for at least 10
        "font_size": 9,
        "text_distance": 4.0,
    }
)
"""python-barcode writer options for every Code 128 drawn here."""

DEMO_DISTORTIONS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        # A QR label photographed askew and slightly out of focus.
        "qr": MappingProxyType({"angle": 25.0, "blur": 1.0, "noise": 4.0, "scale": 1.0}),
        # A Code 128 on a laptop lid, held sideways.
        "code128": MappingProxyType({"angle": 90.0, "blur": 0.8, "noise": 4.0, "scale": 1.0}),
        # A manufacturer's label under a device turned over: upside down, a little tilted.
        "serial": MappingProxyType({"angle": 184.0, "blur": 0.8, "noise": 4.0, "scale": 1.0}),
    }
)
"""The keyword arguments of :func:`place_in_frame` the demo room uses for each kind of label.

``blur`` is a Gaussian radius in pixels and ``noise`` a standard deviation in grey levels: a
Pi camera's lores stream in an office. With 2-pixel bars, stronger noise (6 and more) starts
to cost zbar the odd Code 128; every label drawn here decodes with zbar at these levels.
"""

_WHITE = 255
_INK = 0
_CAPTION_PX = 18
_SMALL_PX = 14
_PAD = 12


def qr_label(payload: str | bytes, caption: str | None = None) -> Image.Image:
    """Draw a QR Code label, with an optional caption under the code.

    Always a full QR Code of version 2 or more, never a Micro QR, which zbar cannot read.

    Args:
        payload: what the code holds; bytes are encoded as they are (byte mode).
        caption: text printed under the code, e.g. the asset tag a person can read.

    Returns:
        The label, mode ``"L"``.
    """
    qr = segno.make_qr(payload)
    # version is a str only for a Micro QR ("M3"), which make_qr never gives.
    if not isinstance(qr.version, int) or qr.version < QR_MIN_VERSION:
        qr = segno.make_qr(payload, version=QR_MIN_VERSION)
    rows = list(qr.matrix_iter(scale=QR_MODULE_PX, border=QR_BORDER_MODULES))
    code = Image.fromarray(np.where(np.array(rows, dtype=bool), _INK, _WHITE).astype(np.uint8))
    if caption is None:
        return code
    return _stack([code], [(caption, _CAPTION_PX)])


def code128_label(payload: str, caption: str | None = None) -> Image.Image:
    """Draw a Code 128 label with its human-readable line under the bars.

    Args:
        payload: the text the bars encode (ASCII).
        caption: the human-readable line; the payload itself when ``None``.

    Returns:
        The label, mode ``"L"``.
    """
    return _code128(payload, text=payload if caption is None else caption)


def serial_label(serial: str, maker: str = "", model: str = "") -> Image.Image:
    """Draw a manufacturer-style serial-number label: maker and model, bars, then ``S/N``.

    Args:
        serial: the serial number the Code 128 encodes.
        maker: the manufacturer's name printed on top, if any.
        model: the model printed on top, if any.

    Returns:
        The label, mode ``"L"``, framed by a thin printed border.
    """
    heading = " ".join(part for part in (maker, model) if part)
    lines_above = [(heading, _CAPTION_PX)] if heading else []
    label = _stack([_code128(serial, text=None)], [(f"S/N: {serial}", _CAPTION_PX)], lines_above)
    outline = (2, 2, label.width - 3, label.height - 3)
    ImageDraw.Draw(label).rectangle(outline, outline=_INK, width=2)
    return label


def place_in_frame(
    label: Image.Image,
    *,
    size: tuple[int, int] = (640, 480),
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    scale: float = 1.0,
    seed: int = 0,
) -> Image.Image:
    """Show a label to the camera: a frame of a desk or shelf with the label lying on it.

    The label is scaled, rotated and put at a seeded place wholly inside the frame, with a
    soft shadow; the light falls unevenly across the frame; then the whole frame is blurred
    and given sensor noise.

    Args:
        label: the label image (any mode; it is converted to grayscale).
        size: the frame's (width, height) in pixels.
        angle: rotation of the label, degrees counter-clockwise.
        blur: Gaussian blur radius in pixels (0 for a sharp frame).
        noise: standard deviation of Gaussian pixel noise, in grey levels.
        scale: size of the label relative to its drawn size.
        seed: seed of every random choice (background, place, lighting, noise).

    Returns:
        The frame, mode ``"L"``; the same arguments always give the same pixels.

    Raises:
        ValueError: a negative blur or noise, a scale that is not positive, or a label that
            does not fit in the frame once scaled and rotated.
    """
    if blur < 0 or noise < 0 or not scale > 0:
        raise ValueError(f"need blur >= 0, noise >= 0 and scale > 0, not {blur}, {noise}, {scale}")
    rng = np.random.default_rng(seed)
    frame = Image.fromarray(_background(size, rng))
    art = label.convert("L")
    if scale != 1.0:
        art = art.resize((max(1, round(art.width * scale)), max(1, round(art.height * scale))))
    mask = Image.new("L", art.size, 255)
    if angle % 360:
        art = art.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=_WHITE)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    if art.width > size[0] or art.height > size[1]:
        raise ValueError(
            f"a {art.width}x{art.height} label does not fit a {size[0]}x{size[1]} frame"
        )
    x = int(rng.integers(0, size[0] - art.width + 1))
    y = int(rng.integers(0, size[1] - art.height + 1))
    shadow = mask.filter(ImageFilter.GaussianBlur(4)).point(lambda v: v * 2 // 5)
    frame.paste(90, (x + 4, y + 5, x + 4 + art.width, y + 5 + art.height), shadow)
    frame.paste(art, (x, y), mask)
    return _expose(frame, rng, blur=blur, noise=noise)


def blank_frame(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A frame with no code in it: the camera sweeping the shelf between two labels.

    Args:
        size: the frame's (width, height) in pixels.
        seed: seed of the background and lighting.

    Returns:
        The frame, mode ``"L"``.
    """
    rng = np.random.default_rng(seed)
    return _expose(Image.fromarray(_background(size, rng)), rng, blur=0.0, noise=0.0)


def _code128(payload: str, text: str | None) -> Image.Image:
    """Render a Code 128 with python-barcode, with ``text`` under the bars (none if ``None``)."""
    symbol = barcode.Code128(payload, writer=ImageWriter(mode="L", dpi=CODE128_DPI))
    options = dict(CODE128_OPTIONS, write_text=text is not None)
    return symbol.render(options, text=text)


def _stack(
    parts: list[Image.Image],
    below: list[tuple[str, int]],
    above: list[tuple[str, int]] | None = None,
) -> Image.Image:
    """Lay out text lines, images and text lines top to bottom, centred, on a white label."""
    lines_above = [_text_image(text, px) for text, px in above or []]
    lines_below = [_text_image(text, px) for text, px in below]
    items = lines_above + parts + lines_below
    width = max(item.width for item in items) + 2 * _PAD
    height = sum(item.height for item in items) + _PAD * (len(items) + 1)
    label = Image.new("L", (width, height), _WHITE)
    y = _PAD
    for item in items:
        label.paste(item, ((width - item.width) // 2, y))
        y += item.height + _PAD
    return label


def _text_image(text: str, px: int) -> Image.Image:
    """One line of dark text on white, cropped to its ink."""
    font = ImageFont.load_default(size=px)
    left, top, right, bottom = font.getbbox(text)
    # Whole pixels at runtime; the stubs allow floats for fractional layouts.
    line = Image.new("L", (max(1, int(right - left)), max(1, int(bottom - top))), _WHITE)
    ImageDraw.Draw(line).text((-left, -top), text, font=font, fill=_INK)
    return line


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A light-grey desk or shelf: blotchy low-frequency texture, wood-like streaks, fine grain."""
    width, height = size
    base = rng.uniform(170.0, 205.0)
    coarse = rng.normal(0.0, 7.0, (height // 40 + 2, width // 40 + 2)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC))
    streaks = np.repeat(rng.normal(0.0, 2.5, (height, 1)), width, axis=1)
    grain = rng.normal(0.0, 2.0, (height, width))
    return np.clip(base + blotches + streaks + grain, 0, 255).astype(np.uint8)


def _expose(
    frame: Image.Image, rng: np.random.Generator, *, blur: float, noise: float
) -> Image.Image:
    """Uneven light across the frame, then lens blur, then sensor noise."""
    height, width = frame.height, frame.width
    direction = rng.uniform(0.0, 2.0 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(direction) * (xs / width - 0.5) + np.sin(direction) * (ys / height - 0.5)) * 0.12
    lit = np.asarray(frame, dtype=np.float32) * (1.0 + ramp)
    frame = Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8))
    if blur > 0:
        frame = frame.filter(ImageFilter.GaussianBlur(blur))
    if noise > 0:
        noisy = np.asarray(frame, dtype=np.float32) + rng.normal(0.0, noise, (height, width))
        frame = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    return frame
