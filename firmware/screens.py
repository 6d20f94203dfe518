"""The OLED screens, drawn as 128x64 one-bit images by pure functions.

Every screen uses only Pillow's embedded bitmap font (6x11 px cells, 21 columns on the
panel) and, for headlines, the same font scaled 2x with nearest-neighbour (10 columns),
so a screen renders to the same pixels on every machine. Text that does not fit is
shortened with an ellipsis; characters the font cannot draw become ``?``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

from firmware.verdicts import Progress, Summary, Verdict, VerdictKind

WIDTH, HEIGHT = 128, 64
CELL_W, CELL_H = 6, 11
COLUMNS = 21
HEADLINE_COLUMNS = 10
ELLIPSIS = "\u2026"
ON, OFF = 255, 0  # pixel values of a mode-"1" image

_FONT = ImageFont.load_default_imagefont()
_X = 1  # left margin of normal text; 21 cells then end at x=126
_BAR_H = 16  # headline bar height
_HEADLINE_Y = -4  # the scaled font's top rows are accent space, unused by headlines
_DETAIL_Y = (16, 27, 38)
_RULE_Y = 50
_FOOTER_Y = 52

HEADLINES: dict[VerdictKind, str] = {
    VerdictKind.VERIFIED: "OK",
    VerdictKind.MISLOCATED: "WRONG ROOM",
    VerdictKind.UNREGISTERED: "UNKNOWN",
    VerdictKind.RETIRED: "RETIRED",
    VerdictKind.RECOVERED: "RECOVERED",
    VerdictKind.AMBIGUOUS: "AMBIGUOUS",
    VerdictKind.REPEAT: "SEEN",
    VerdictKind.REJECTED: "BAD LABEL",
}

# Verdicts that need the technician's attention get an inverted headline bar.
_ALERTS = frozenset(
    {VerdictKind.MISLOCATED, VerdictKind.UNREGISTERED, VerdictKind.RETIRED, VerdictKind.REJECTED,
     VerdictKind.RECOVERED, VerdictKind.AMBIGUOUS}
)


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


def _blank() -> Image.Image:
    return Image.new("1", (WIDTH, HEIGHT), OFF)


def _text(
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


def _centred(image: Image.Image, y: int, text: str) -> None:
    _text(image, (WIDTH - CELL_W * len(text)) // 2, y, text)


def _right(image: Image.Image, x_end: int, y: int, text: str) -> None:
    _text(image, x_end - CELL_W * len(text), y, text)


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


def _big_width(text: str, room: int) -> int:
    offsets = _big_layout(text, room)
    return offsets[-1] + 2 * CELL_W if offsets else 0


def _big(image: Image.Image, x: int, y: int, text: str, *, fill: int = ON) -> None:
    """Draw ``text`` (already shortened) at twice the font's size."""
    for offset, char in zip(_big_layout(text, WIDTH - x - 2), text):
        _text(image, x + offset, y, char, scale=2, fill=fill)


def _tick(draw: ImageDraw.ImageDraw, fill: int) -> None:
    draw.line([(112, 8), (116, 12), (124, 3)], fill=fill, width=2)


def _cross(draw: ImageDraw.ImageDraw, fill: int) -> None:
    draw.line([(114, 3), (123, 12)], fill=fill, width=2)
    draw.line([(114, 12), (123, 3)], fill=fill, width=2)


_Icon = Callable[[ImageDraw.ImageDraw, int], None]
_ICON_X = 108  # icons sit right of the headline, at x 112..124, when the headline ends here


def _headline(image: Image.Image, text: str, *, alert: bool, icon: _Icon | None = None) -> None:
    """Draw the 2x headline in the top bar, inverted when ``alert``, with an icon if it fits."""
    draw = ImageDraw.Draw(image)
    if alert:
        draw.rectangle([0, 0, WIDTH - 1, _BAR_H - 1], fill=ON)
    text = keep_start(text, HEADLINE_COLUMNS)
    _big(image, 2, _HEADLINE_Y, text, fill=OFF if alert else ON)
    if icon is not None and 2 + _big_width(text, WIDTH - 4) <= _ICON_X:
        icon(draw, OFF if alert else ON)


def _footer(image: Image.Image, progress: Progress) -> None:
    """Room on the left, ``verified/expected`` on the right, under a rule."""
    ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
    count = printable(f"{progress.verified}/{progress.expected}")
    room = progress.location if progress.location is not None else "no room"
    _text(image, _X, _FOOTER_Y, keep_start(room, COLUMNS - len(count) - 1))
    _right(image, _X + CELL_W * COLUMNS, _FOOTER_Y, count)


def _details(verdict: Verdict, kind: VerdictKind) -> list[str]:
    """The detail lines under a verdict's headline (three at most)."""
    asset = verdict.asset
    tag = keep_end(asset.asset_tag if asset is not None else verdict.label, COLUMNS)
    name = keep_start(asset.name, COLUMNS) if asset is not None else ""
    if kind is VerdictKind.VERIFIED:
        return [tag, name, "Audit was overdue"] if verdict.overdue else [tag, name]
    if kind is VerdictKind.MISLOCATED:
        where = (verdict.recorded_location or "").strip() or "no location"
        return [tag, keep_start(f"Reg: {where}", COLUMNS), name]
    if kind is VerdictKind.UNREGISTERED:
        if verdict.reason:
            return [keep_end(verdict.label, COLUMNS), *wrap(verdict.reason, COLUMNS, 2)]
        return [keep_end(verdict.label, COLUMNS), "not in register"]
    if kind is VerdictKind.RECOVERED:
        status = (asset.status if asset is not None else "").strip() or "lost"
        return [tag, keep_start(f"Was {status}: report", COLUMNS),
                keep_start(f"Reg: {(verdict.recorded_location or '').strip() or 'none'}",
                           COLUMNS)]
    if kind is VerdictKind.AMBIGUOUS:
        tags = ", ".join(a.asset_tag for a in verdict.candidates)
        return [keep_end(verdict.label, COLUMNS),
                keep_start(f"fits {len(verdict.candidates)} assets:", COLUMNS),
                keep_start(tags, COLUMNS)]
    if kind is VerdictKind.RETIRED:
        status = (asset.status if asset is not None else "").strip() or "retired"
        return [tag, keep_start(f"Status: {status}", COLUMNS), name]
    if kind is VerdictKind.REPEAT:
        return [tag, "already counted", keep_start(verdict.reason or "", COLUMNS)]
    reason = wrap(verdict.reason or "unreadable label", COLUMNS, 2)  # REJECTED
    return [*reason, keep_end(verdict.label, COLUMNS)]


_ICONS: dict[VerdictKind, _Icon] = {
    VerdictKind.VERIFIED: _tick,
    VerdictKind.RETIRED: _cross,
}


def verdict_screen(verdict: Verdict, progress: Progress) -> Image.Image:
    """The screen shown right after a scan: headline, details, room and count.

    Args:
        verdict: the verdict on the scan.
        progress: the audit's progress including this scan.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    kind = VerdictKind(verdict.kind)
    _headline(image, HEADLINES[kind], alert=kind in _ALERTS, icon=_ICONS.get(kind))
    for y, line in zip(_DETAIL_Y, _details(verdict, kind)):
        _text(image, _X, y, line)
    _footer(image, progress)
    return image


_BURST_WORDS = (
    (VerdictKind.VERIFIED, "OK"), (VerdictKind.MISLOCATED, "Wrong rm"),
    (VerdictKind.UNREGISTERED, "Unknown"), (VerdictKind.RETIRED, "Retired"),
    (VerdictKind.RECOVERED, "Recov."), (VerdictKind.AMBIGUOUS, "Ambig."),
    (VerdictKind.REPEAT, "Seen"), (VerdictKind.REJECTED, "Bad"),
)


def burst_screen(counts: Mapping[VerdictKind, int], progress: Progress, *,
                 overdue: int = 0) -> Image.Image:
    """Many tags read at once (a UHF reader at a shelf): a running count, not a flash each.

    Args:
        counts: how many reads of the burst got each verdict.
        progress: the audit's progress including the burst.
        overdue: how many of the assets found were overdue for their audit.

    Returns:
        A 128x64 mode-"1" image; the headline is inverted when any read needs attention.
    """
    image = _blank()
    total = sum(counts.values())
    alert = any(counts.get(kind) for kind in _ALERTS)
    _headline(image, f"{total} TAGS", alert=alert)
    cells = [f"{word} {counts[kind]}" for kind, word in _BURST_WORDS if counts.get(kind)]
    if overdue:
        cells.append(f"Overdue {overdue}")
    lines = []
    for cell in cells:
        if lines and len(lines[-1]) + 2 + len(cell) <= COLUMNS:
            lines[-1] += "  " + cell
        else:
            lines.append(cell)
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, keep_start(line, COLUMNS))
    _footer(image, progress)
    return image


def _caption(progress: Progress, resumed: bool) -> str:
    """The line under the big count: what it counts, and the overdue audits of the room."""
    overdue = progress.overdue_found + progress.overdue_missing
    if not overdue:
        return "verified, resumed" if resumed else "verified"
    if resumed:
        return keep_start(f"resumed, {progress.overdue_found}/{overdue} overdue", COLUMNS)
    return keep_start(f"overdue {progress.overdue_found} ok, {progress.overdue_missing} left",
                      COLUMNS)


def progress_screen(progress: Progress, *, resumed: bool = False,
                    status: str | None = None) -> Image.Image:
    """The idle screen: room, a large ``verified/expected`` and a progress bar.

    When the room has expected assets whose audit is overdue, the line under the count
    says how many of them were found and how many are left (``overdue 2 ok, 3 left``).

    Without a room it asks the technician to scan a room label first.

    Args:
        progress: the audit's progress.
        resumed: the room was resumed after an interruption (said under the count).
        status: one line about the sync (``12 wait, sync 5m``), shown at the bottom.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    if progress.location is None:
        _headline(image, "SCAN ROOM", alert=False)
        lines = ("Scan the room label", "LOC:<room name>", "before any asset.")
        for y, line in zip(_DETAIL_Y, lines):
            _text(image, _X, y, line)
        if status:
            _text(image, _X, _FOOTER_Y, keep_start(status, COLUMNS))
        return image
    _centred(image, 0, keep_start(progress.location, COLUMNS))
    count = keep_end(f"{progress.verified}/{progress.expected}", HEADLINE_COLUMNS)
    _big(image, (WIDTH - _big_width(count, WIDTH - 4)) // 2, 11, count)
    _centred(image, 33, _caption(progress, resumed))
    # With a status line the bar gets thinner to leave it the bottom row.
    top, bottom = (45, 50) if status else (50, 57)
    draw = ImageDraw.Draw(image)
    draw.rectangle([4, top, WIDTH - 5, bottom], outline=ON)
    if progress.expected > 0 and progress.verified > 0:
        share = min(progress.verified, progress.expected) / progress.expected
        draw.rectangle([6, top + 2, 6 + max(0, round(share * 115) - 1), bottom - 2], fill=ON)
    if status:
        _centred(image, _FOOTER_Y, keep_start(status, COLUMNS))
    return image


def new_room_screen(room: str, closest: list[str]) -> Image.Image:
    """A room label the register does not know: ask for a confirming scan, show near names.

    Args:
        room: the room name on the label.
        closest: known room names closest to it, best first (may be empty).

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    _headline(image, "NEW ROOM?", alert=True)
    lines = [keep_start(room, COLUMNS), "Scan again: confirm"]
    lines.append(keep_start("Near: " + ", ".join(closest), COLUMNS) if closest
                 else "Not in the register")
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
    ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
    _text(image, _X, _FOOTER_Y, "Other label: cancel")
    return image


# (label, Summary field) in two columns, as laid out on the screen.
_SUMMARY_CELLS = (
    ("Missing", "ghost"), ("Retired", "retired"),
    ("Wrong rm", "mislocated"), ("Repeat", "repeat"),
    ("Unknown", "unregistered"), ("Bad lbl", "rejected"),
    ("Recov.", "recovered"), ("Ambig.", "ambiguous"),
)  # fmt: skip
# The font's glyphs use rows 2..10 of their 11-row cells, so rows 10 px apart still
# leave a blank pixel row between lines: four rows of counts fit under the header.
_SUMMARY_ROW_Y = (21, 31, 41, 51)


def _count_cell(image: Image.Image, x: int, y: int, label: str, count: int) -> None:
    """``label`` left and ``count`` right in a 10-column cell, the label cut if need be."""
    number = printable(str(count))
    _text(image, x, y, keep_start(label, 10 - len(number) - 1))
    _right(image, x + CELL_W * 10, y, number)


def summary_screen(summary: Summary) -> Image.Image:
    """The end of an audit: room, verified of expected and the count of every verdict.

    Args:
        summary: the audit's totals.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH - 1, 11], fill=ON)
    _text(image, _X, 0, keep_start(f"Done: {summary.location}", COLUMNS), fill=OFF)
    count = printable(f"{summary.verified}/{summary.expected}")
    _text(image, _X, 11, keep_start("Verified", COLUMNS - len(count) - 1))
    _right(image, _X + CELL_W * COLUMNS, 11, count)
    for index, (label, field) in enumerate(_SUMMARY_CELLS):
        x = _X if index % 2 == 0 else _X + CELL_W * 11
        _count_cell(image, x, _SUMMARY_ROW_Y[index // 2], label, getattr(summary, field))
    draw.line([(63, 23), (63, 61)], fill=ON)
    return image


def error_screen(title: str, message: str) -> Image.Image:
    """A fault the technician must see: a headline and the message wrapped below it.

    Args:
        title: a word or two (large when it fits 10 columns).
        message: what happened and what to do, wrapped over four lines.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH - 1, _BAR_H - 1], fill=ON)
    title = printable(title)
    if len(title) <= HEADLINE_COLUMNS:
        _big(image, 2, _HEADLINE_Y, title, fill=OFF)
    else:
        _text(image, _X, 2, keep_start(title, COLUMNS), fill=OFF)
    for y, line in zip((16, 27, 38, 49), wrap(message, COLUMNS, 4)):
        _text(image, _X, y, line)
    return image


# The door kiosk's screens. ------------------------------------------------------------

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
    image = _blank()
    _headline(image, "SCAN BADGE", alert=False)
    forced = _DIRECTION_WORDS.get(direction, "")
    lines = ("then your items.", "Returns: just scan" if not forced else f"Mode: {forced}",
             keep_start(room, COLUMNS))
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
    if status:
        ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
        _text(image, _X, _FOOTER_Y, keep_start(status, COLUMNS))
    return image


def _visit_footer(image: Image.Image, taken: int, returned: int, direction: str) -> None:
    ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
    counts = printable(f"out {taken} in {returned}")
    forced = {"out": "OUT only", "in": "IN only"}.get(direction, "")
    _text(image, _X, _FOOTER_Y, keep_start(forced, COLUMNS - len(counts) - 1))
    _right(image, _X + CELL_W * COLUMNS, _FOOTER_Y, counts)


def badge_screen(person: str, direction: str = "auto") -> Image.Image:
    """A badge accepted: greet the person and ask for their items.

    Args:
        person: the person's name as the register has it.
        direction: ``auto``, ``out`` or ``in``.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    _headline(image, "HELLO", alert=False, icon=_tick)
    for y, line in zip(_DETAIL_Y, (keep_start(person, COLUMNS), "Scan your items.")):
        _text(image, _X, y, line)
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
    image = _blank()
    _headline(image, "NO BADGE", alert=True, icon=_cross)
    lines = [keep_end(badge, COLUMNS), *wrap(reason, COLUMNS, 2)]
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
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
    image = _blank()
    refused = movement == "refused"
    _headline(image, _MOVEMENT_HEADLINES[movement], alert=refused,
              icon=_cross if refused else _tick)
    lines = [keep_end(tag, COLUMNS)]
    lines += wrap(detail, COLUMNS, 2) if refused else [keep_start(detail, COLUMNS),
                                                       keep_start(name, COLUMNS)]
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
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
    image = _blank()
    _centred(image, 0, keep_start(person, COLUMNS))
    ImageDraw.Draw(image).line([(0, 12), (WIDTH - 1, 12)], fill=ON)
    lines = []
    for word, tags in (("Out", taken), ("In", returned)):
        if tags:
            lines += wrap(f"{word} {len(tags)}: {', '.join(tags)}", COLUMNS, 2)
    if not lines:
        lines = ["Nothing taken", "or returned."]
    for y, line in zip((15, 26, 37, 48), lines[:4]):
        _text(image, _X, y, line)
    return image


# Label printing. -----------------------------------------------------------------------

LABEL_OUTCOMES = ("asked", "printed", "queued", "uncertain")
"""What became of a label print: sent to the printer, kept for when the printer is back, or
interrupted mid-send (it may or may not have come out)."""


def label_screen(tag: str, outcome: str, *, waiting: int = 0) -> Image.Image:
    """The outcome of printing ``tag``'s label.

    Args:
        tag: the asset tag on the label.
        outcome: one of :data:`LABEL_OUTCOMES`.
        waiting: labels queued for the printer, shown in the footer when any are.

    Returns:
        A 128x64 mode-"1" image.

    Raises:
        ValueError: an unknown outcome.
    """
    if outcome not in LABEL_OUTCOMES:
        raise ValueError(f"unknown label outcome {outcome!r}")
    image = _blank()
    if outcome == "asked":  # a job saved for the spooler: nothing sent yet
        _headline(image, "LABEL", alert=False)
        lines = [keep_end(tag, COLUMNS), "saved, prints next", "from the label queue"]
    elif outcome == "printed":
        _headline(image, "LABEL", alert=False, icon=_tick)
        lines = [keep_end(tag, COLUMNS), "sent to the printer"]
    elif outcome == "queued":
        _headline(image, "QUEUED", alert=True)
        lines = [keep_end(tag, COLUMNS), "printer offline,", "prints when it is on"]
    else:
        _headline(image, "CHECK", alert=True)
        lines = [keep_end(tag, COLUMNS), "may not have printed:", "reprint if missing"]
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
    if waiting:
        ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
        _text(image, _X, _FOOTER_Y, keep_start(f"{waiting} label(s) waiting", COLUMNS))
    return image


# Intake: an asset the register does not know, gathered on the spot. ---------------------

def intake_screen(gathered: Mapping[str, str], expected: Sequence[str], *,
                  unknown_label: str | None = None) -> Image.Image:
    """An intake being gathered: what was scanned on the asset, what may still come.

    Args:
        gathered: identifiers so far, by kind (``serial``, ``model``, ``gtin``, ``mac``).
        expected: the kinds not gathered yet.
        unknown_label: the unknown label that started it, shown while nothing is gathered.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    _headline(image, "INTAKE", alert=False)
    lines = [keep_end(f"{kind} {printable(value)}", COLUMNS) for kind, value in gathered.items()]
    if not lines and unknown_label:
        lines.append(keep_end(f"for {printable(unknown_label)}", COLUMNS))
    still = ", ".join(expected)
    lines += wrap(f"scan {still}" if not gathered else f"still: {still}", COLUMNS,
                  len(_DETAIL_Y) - min(len(lines), 2))
    for y, line in zip(_DETAIL_Y, lines[-len(_DETAIL_Y):]):
        _text(image, _X, y, line)
    ImageDraw.Draw(image).line([(0, _RULE_Y), (WIDTH - 1, _RULE_Y)], fill=ON)
    _text(image, _X, _FOOTER_Y, keep_start("END to finish", COLUMNS))
    return image


def intake_saved_screen(asset_tag: str | None, gathered: int, *,
                        label: bool = False) -> Image.Image:
    """An intake made durable: the tag it was given (if the device gives tags), and how
    many identifiers it carries or, when ``label``, that its label is being printed.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = _blank()
    _headline(image, "SAVED", alert=False, icon=_tick)
    lines = ["intake saved",
             keep_end(f"tag {printable(asset_tag)}", COLUMNS) if asset_tag
             else "register gives a tag",
             "label printing" if label else f"{gathered} identifier(s)"]
    for y, line in zip(_DETAIL_Y, lines):
        _text(image, _X, y, line)
    return image
