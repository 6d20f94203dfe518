"""The door kiosk's screens: waiting for a badge, a badge taken or refused, each asset
taken or returned, and the visit's summary. Pure functions, each returning a 128x64
mode-"1" image (see :mod:`firmware.screen_drawing`).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from firmware.screen_drawing import (
    CELL_W,
    COLUMNS,
    DETAIL_Y,
    FOOTER_Y,
    MARGIN_X,
    ON,
    RULE_Y,
    WIDTH,
    blank,
    cross,
    draw_centred,
    draw_headline,
    draw_right,
    draw_text,
    keep_end,
    keep_start,
    printable,
    tick,
    wrap,
)

_DIRECTION_WORDS = {"auto": "", "out": "taking OUT", "in": "returning IN"}


def kiosk_idle_screen(room: str, direction: str = "auto", status: str | None = None) -> Image.Image:
    """The door kiosk waiting: what to do, the room, and the sync line.

    Args:
        room: the kiosk's room.
        direction: ``auto``, or the direction a ``MODE:`` label or the mode button forced.
        status: one line about the sync, shown at the bottom.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_headline(image, "SCAN BADGE", alert=False)
    forced = _DIRECTION_WORDS.get(direction, "")
    lines = ("then your items.", "Returns: just scan" if not forced else f"Mode: {forced}",
             keep_start(room, COLUMNS))
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    if status:
        ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
        draw_text(image, MARGIN_X, FOOTER_Y, keep_start(status, COLUMNS))
    return image


def _visit_footer(image: Image.Image, taken: int, returned: int, direction: str) -> None:
    ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
    counts = printable(f"out {taken} in {returned}")
    forced = {"out": "OUT only", "in": "IN only"}.get(direction, "")
    draw_text(image, MARGIN_X, FOOTER_Y, keep_start(forced, COLUMNS - len(counts) - 1))
    draw_right(image, MARGIN_X + CELL_W * COLUMNS, FOOTER_Y, counts)


def badge_screen(person: str, direction: str = "auto") -> Image.Image:
    """A badge accepted: greet the person and ask for their items.

    Args:
        person: the person's name as the register has it.
        direction: ``auto``, ``out`` or ``in``.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_headline(image, "HELLO", alert=False, icon=tick)
    for y, line in zip(DETAIL_Y, (keep_start(person, COLUMNS), "Scan your items.")):
        draw_text(image, MARGIN_X, y, line)
    _visit_footer(image, 0, 0, direction)
    return image


def badge_refused_screen(badge: str, reason: str) -> Image.Image:
    """A badge the kiosk cannot take (unknown, or shared by two people).

    Args:
        badge: what was scanned.
        reason: why, in a few words.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_headline(image, "NO BADGE", alert=True, icon=cross)
    lines = [keep_end(badge, COLUMNS), *wrap(reason, COLUMNS, 2)]
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    return image


_MOVEMENT_HEADLINES = {"checked_out": "TAKEN", "checked_in": "RETURNED", "refused": "REFUSED"}


def movement_screen(movement: str, tag: str, name: str, detail: str, *, taken: int,
                    returned: int, direction: str = "auto") -> Image.Image:
    """The kiosk's answer to an asset scan.

    Args:
        movement: ``checked_out``, ``checked_in`` or ``refused``.
        tag: the asset tag (or what was scanned).
        name: the asset's name (may be empty).
        detail: who took it, who had it, or why it was refused.
        taken: assets checked out in this visit so far.
        returned: assets checked in in this visit so far.
        direction: ``auto``, ``out`` or ``in``.

    Returns:
        A 128x64 mode-"1" image; a refusal has an inverted headline.
    """
    image = blank()
    refused = movement == "refused"
    draw_headline(image, _MOVEMENT_HEADLINES[movement], alert=refused,
              icon=cross if refused else tick)
    lines = [keep_end(tag, COLUMNS)]
    lines += wrap(detail, COLUMNS, 2) if refused else [keep_start(detail, COLUMNS),
                                                       keep_start(name, COLUMNS)]
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    _visit_footer(image, taken, returned, direction)
    return image


def visit_summary_screen(person: str, taken: list[str], returned: list[str]) -> Image.Image:
    """The end of a visit: who, and the tags taken and returned.

    Args:
        person: who (``returns`` for a visit without a badge).
        taken: asset tags checked out.
        returned: asset tags checked in.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_centred(image, 0, keep_start(person, COLUMNS))
    ImageDraw.Draw(image).line([(0, 12), (WIDTH - 1, 12)], fill=ON)
    lines = []
    for word, tags in (("Out", taken), ("In", returned)):
        if tags:
            lines += wrap(f"{word} {len(tags)}: {', '.join(tags)}", COLUMNS, 2)
    if not lines:
        lines = ["Nothing taken", "or returned."]
    for y, line in zip((15, 26, 37, 48), lines[:4]):
        draw_text(image, MARGIN_X, y, line)
    return image
