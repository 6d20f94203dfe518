"""The OLED screens, drawn as 128x64 one-bit images by pure functions: every screen by
name, for the modes to show.

The screens are in modules by who shows them: the handheld audit's
(:mod:`firmware.audit_screens`), the door kiosk's (:mod:`firmware.kiosk_screens`) and,
here, the error screen every mode shows; all of them are drawn with
:mod:`firmware.screen_drawing` (Pillow's embedded bitmap font, so a screen renders to the
same pixels on every machine).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from firmware.audit_screens import (
    HEADLINES,
    LABEL_OUTCOMES,
    burst_screen,
    intake_saved_screen,
    intake_screen,
    label_screen,
    new_room_screen,
    progress_screen,
    summary_screen,
    verdict_screen,
)
from firmware.kiosk_screens import (
    badge_refused_screen,
    badge_screen,
    kiosk_idle_screen,
    movement_screen,
    visit_summary_screen,
)
from firmware.screen_drawing import (
    BAR_H,
    CELL_H,
    CELL_W,
    COLUMNS,
    ELLIPSIS,
    HEADLINE_COLUMNS,
    HEADLINE_Y,
    HEIGHT,
    MARGIN_X,
    OFF,
    ON,
    WIDTH,
    blank,
    draw_big,
    draw_text,
    keep_end,
    keep_start,
    printable,
    wrap,
)

__all__ = ["CELL_H", "CELL_W", "COLUMNS", "ELLIPSIS", "HEADLINES", "HEADLINE_COLUMNS", "HEIGHT",
           "LABEL_OUTCOMES", "OFF", "ON", "WIDTH", "badge_refused_screen", "badge_screen",
           "burst_screen", "error_screen", "intake_saved_screen", "intake_screen",
           "keep_end", "keep_start", "kiosk_idle_screen", "label_screen", "movement_screen",
           "new_room_screen", "printable", "progress_screen", "summary_screen",
           "verdict_screen", "visit_summary_screen", "wrap"]


def error_screen(title: str, message: str) -> Image.Image:
    """A fault the technician must see: a headline and the message wrapped below it.

    Args:
        title: a word or two (large when it fits 10 columns).
        message: what happened and what to do, wrapped over four lines.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH - 1, BAR_H - 1], fill=ON)
    title = printable(title)
    if len(title) <= HEADLINE_COLUMNS:
        draw_big(image, 2, HEADLINE_Y, title, fill=OFF)
    else:
        draw_text(image, MARGIN_X, 2, keep_start(title, COLUMNS), fill=OFF)
    for y, line in zip((16, 27, 38, 49), wrap(message, COLUMNS, 4)):
        draw_text(image, MARGIN_X, y, line)
    return image
