"""The handheld audit's screens: a verdict after each scan, a burst of RFID reads, the
room's progress, a new room to confirm, the room's summary, and the label and intake
screens. Pure functions, each returning a 128x64 mode-"1" image
(see :mod:`firmware.screen_drawing`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw

from firmware.screen_drawing import (
    CELL_W,
    COLUMNS,
    DETAIL_Y,
    FOOTER_Y,
    HEADLINE_COLUMNS,
    MARGIN_X,
    OFF,
    ON,
    RULE_Y,
    WIDTH,
    Icon,
    big_width,
    blank,
    cross,
    draw_big,
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
from firmware.verdicts import Progress, Summary, Verdict, VerdictKind

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


def _progress_footer(image: Image.Image, progress: Progress) -> None:
    """Room on the left, ``verified/expected`` on the right, under a rule."""
    ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
    count = printable(f"{progress.verified}/{progress.expected}")
    room = progress.location if progress.location is not None else "no room"
    draw_text(image, MARGIN_X, FOOTER_Y, keep_start(room, COLUMNS - len(count) - 1))
    draw_right(image, MARGIN_X + CELL_W * COLUMNS, FOOTER_Y, count)


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


_ICONS: dict[VerdictKind, Icon] = {
    VerdictKind.VERIFIED: tick,
    VerdictKind.RETIRED: cross,
}


def verdict_screen(verdict: Verdict, progress: Progress) -> Image.Image:
    """The screen shown right after a scan: headline, details, room and count.

    Args:
        verdict: the verdict on the scan.
        progress: the audit's progress including this scan.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    kind = VerdictKind(verdict.kind)
    draw_headline(image, HEADLINES[kind], alert=kind in _ALERTS, icon=_ICONS.get(kind))
    for y, line in zip(DETAIL_Y, _details(verdict, kind)):
        draw_text(image, MARGIN_X, y, line)
    _progress_footer(image, progress)
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
    image = blank()
    total = sum(counts.values())
    alert = any(counts.get(kind) for kind in _ALERTS)
    draw_headline(image, f"{total} TAGS", alert=alert)
    cells = [f"{word} {counts[kind]}" for kind, word in _BURST_WORDS if counts.get(kind)]
    if overdue:
        cells.append(f"Overdue {overdue}")
    lines = []
    for cell in cells:
        if lines and len(lines[-1]) + 2 + len(cell) <= COLUMNS:
            lines[-1] += "  " + cell
        else:
            lines.append(cell)
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, keep_start(line, COLUMNS))
    _progress_footer(image, progress)
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
    image = blank()
    if progress.location is None:
        draw_headline(image, "SCAN ROOM", alert=False)
        lines = ("Scan the room label", "LOC:<room name>", "before any asset.")
        for y, line in zip(DETAIL_Y, lines):
            draw_text(image, MARGIN_X, y, line)
        if status:
            draw_text(image, MARGIN_X, FOOTER_Y, keep_start(status, COLUMNS))
        return image
    draw_centred(image, 0, keep_start(progress.location, COLUMNS))
    count = keep_end(f"{progress.verified}/{progress.expected}", HEADLINE_COLUMNS)
    draw_big(image, (WIDTH - big_width(count, WIDTH - 4)) // 2, 11, count)
    draw_centred(image, 33, _caption(progress, resumed))
    # With a status line the bar gets thinner to leave it the bottom row.
    top, bottom = (45, 50) if status else (50, 57)
    draw = ImageDraw.Draw(image)
    draw.rectangle([4, top, WIDTH - 5, bottom], outline=ON)
    if progress.expected > 0 and progress.verified > 0:
        share = min(progress.verified, progress.expected) / progress.expected
        draw.rectangle([6, top + 2, 6 + max(0, round(share * 115) - 1), bottom - 2], fill=ON)
    if status:
        draw_centred(image, FOOTER_Y, keep_start(status, COLUMNS))
    return image


def new_room_screen(room: str, closest: list[str]) -> Image.Image:
    """A room label the register does not know: ask for a confirming scan, show near names.

    Args:
        room: the room name on the label.
        closest: known room names closest to it, best first (may be empty).

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_headline(image, "NEW ROOM?", alert=True)
    lines = [keep_start(room, COLUMNS), "Scan again: confirm"]
    lines.append(keep_start("Near: " + ", ".join(closest), COLUMNS) if closest
                 else "Not in the register")
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
    draw_text(image, MARGIN_X, FOOTER_Y, "Other label: cancel")
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
    draw_text(image, x, y, keep_start(label, 10 - len(number) - 1))
    draw_right(image, x + CELL_W * 10, y, number)


def summary_screen(summary: Summary) -> Image.Image:
    """The end of an audit: room, verified of expected and the count of every verdict.

    Args:
        summary: the audit's totals.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH - 1, 11], fill=ON)
    draw_text(image, MARGIN_X, 0, keep_start(f"Done: {summary.location}", COLUMNS), fill=OFF)
    count = printable(f"{summary.verified}/{summary.expected}")
    draw_text(image, MARGIN_X, 11, keep_start("Verified", COLUMNS - len(count) - 1))
    draw_right(image, MARGIN_X + CELL_W * COLUMNS, 11, count)
    for index, (label, field) in enumerate(_SUMMARY_CELLS):
        x = MARGIN_X if index % 2 == 0 else MARGIN_X + CELL_W * 11
        _count_cell(image, x, _SUMMARY_ROW_Y[index // 2], label, getattr(summary, field))
    draw.line([(63, 23), (63, 61)], fill=ON)
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
    image = blank()
    if outcome == "asked":  # a job saved for the spooler: nothing sent yet
        draw_headline(image, "LABEL", alert=False)
        lines = [keep_end(tag, COLUMNS), "saved, prints next", "from the label queue"]
    elif outcome == "printed":
        draw_headline(image, "LABEL", alert=False, icon=tick)
        lines = [keep_end(tag, COLUMNS), "sent to the printer"]
    elif outcome == "queued":
        draw_headline(image, "QUEUED", alert=True)
        lines = [keep_end(tag, COLUMNS), "printer offline,", "prints when it is on"]
    else:
        draw_headline(image, "CHECK", alert=True)
        lines = [keep_end(tag, COLUMNS), "may not have printed:", "reprint if missing"]
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    if waiting:
        ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
        draw_text(image, MARGIN_X, FOOTER_Y, keep_start(f"{waiting} label(s) waiting", COLUMNS))
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
    image = blank()
    draw_headline(image, "INTAKE", alert=False)
    lines = [keep_end(f"{kind} {printable(value)}", COLUMNS) for kind, value in gathered.items()]
    if not lines and unknown_label:
        lines.append(keep_end(f"for {printable(unknown_label)}", COLUMNS))
    still = ", ".join(expected)
    lines += wrap(f"scan {still}" if not gathered else f"still: {still}", COLUMNS,
                  len(DETAIL_Y) - min(len(lines), 2))
    for y, line in zip(DETAIL_Y, lines[-len(DETAIL_Y):]):
        draw_text(image, MARGIN_X, y, line)
    ImageDraw.Draw(image).line([(0, RULE_Y), (WIDTH - 1, RULE_Y)], fill=ON)
    draw_text(image, MARGIN_X, FOOTER_Y, keep_start("END to finish", COLUMNS))
    return image


def intake_saved_screen(asset_tag: str | None, gathered: int, *,
                        label: bool = False) -> Image.Image:
    """An intake made durable: the tag it was given (if the device gives tags), and how
    many identifiers it carries or, when ``label``, that its label is being printed.

    Returns:
        A 128x64 mode-"1" image.
    """
    image = blank()
    draw_headline(image, "SAVED", alert=False, icon=tick)
    lines = ["intake saved",
             keep_end(f"tag {printable(asset_tag)}", COLUMNS) if asset_tag
             else "register gives a tag",
             "label printing" if label else f"{gathered} identifier(s)"]
    for y, line in zip(DETAIL_Y, lines):
        draw_text(image, MARGIN_X, y, line)
    return image
