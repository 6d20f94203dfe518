"""The OLED screens, compared pixel for pixel with the reference PNGs in tests/screens/.

To regenerate the references after an intended change of a screen, run

    STOCKTAKER_REGEN_SCREENS=1 python -m pytest tests/test_screens.py

which writes every reference and skips the comparison; look at the new PNGs (scaled up)
before committing them, then run the tests again without the variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from firmware.inventory import Asset
from firmware.screens import (
    burst_screen,
    COLUMNS,
    ELLIPSIS,
    HEADLINES,
    error_screen,
    keep_end,
    keep_start,
    intake_saved_screen,
    intake_screen,
    label_screen,
    new_room_screen,
    printable,
    progress_screen,
    summary_screen,
    verdict_screen,
    wrap,
)
from firmware.verdicts import Progress, Summary, Verdict, VerdictKind

REFERENCES = Path(__file__).parent / "screens"
REGENERATE = os.environ.get("STOCKTAKER_REGEN_SCREENS") == "1"

LAPTOP = Asset("IT-004512", serial="C02XK1", name="Latitude 5440 laptop", location="Store B2")
DOCK = Asset("IT-001907", name="USB-C dock", location="Store B2", status="Disposed")
STOLEN = Asset("IT-004512", name="Latitude 5440 laptop", location="Floor 3 east", status="Stolen")
STORE = Progress("Store B2", 12, 30)
DUE = Progress("Store B2", 12, 30, overdue_found=2, overdue_missing=3)

SCREENS: dict[str, Callable[[], Image.Image]] = {
    "verified": lambda: verdict_screen(Verdict(VerdictKind.VERIFIED, "IT-004512", LAPTOP), STORE),
    "mislocated": lambda: verdict_screen(
        Verdict(VerdictKind.MISLOCATED, "IT-004512", LAPTOP, recorded_location="Floor 3 east"),
        STORE,
    ),
    "mislocated-no-location": lambda: verdict_screen(
        Verdict(VerdictKind.MISLOCATED, "IT-004512", LAPTOP, recorded_location=""), STORE
    ),
    "unregistered": lambda: verdict_screen(Verdict(VerdictKind.UNREGISTERED, "IT-999999"), STORE),
    "retired": lambda: verdict_screen(Verdict(VerdictKind.RETIRED, "IT-001907", DOCK), STORE),
    "repeat": lambda: verdict_screen(
        Verdict(VerdictKind.REPEAT, "IT-004512", LAPTOP, reason="first verified"), STORE
    ),
    "rejected": lambda: verdict_screen(
        Verdict(VerdictKind.REJECTED, "\x00\x01\x1b[2J", reason="control characters in payload"),
        STORE,
    ),
    "long-label": lambda: verdict_screen(
        Verdict(VerdictKind.UNREGISTERED, "https://assets.example.com/hardware/000123456789"),
        Progress("Meeting room 4.12 (north wing, second floor)", 1234, 5678),
    ),
    "non-ascii-label": lambda: verdict_screen(
        Verdict(VerdictKind.UNREGISTERED, "Büro-€42 Ωmega \u2713"),
        Progress("Köln Büro 2", 3, 4),
    ),
    "progress": lambda: progress_screen(STORE),
    "verified-overdue": lambda: verdict_screen(
        Verdict(VerdictKind.VERIFIED, "IT-004512", LAPTOP, overdue=True), DUE),
    "progress-overdue": lambda: progress_screen(DUE),
    "progress-overdue-resumed": lambda: progress_screen(DUE, resumed=True,
                                                        status="12 wait 5m !2 list 3h"),
    "progress-status": lambda: progress_screen(STORE, resumed=True,
                                               status="12 wait 5m !2 list 3h"),
    "progress-no-room-status": lambda: progress_screen(Progress(None, 0, 0),
                                                       status="all sent now"),
    "progress-no-room": lambda: progress_screen(Progress(None, 0, 0)),
    "recovered": lambda: verdict_screen(
        Verdict(VerdictKind.RECOVERED, "IT-004512", STOLEN, recorded_location="Floor 3 east"),
        STORE,
    ),
    "ambiguous": lambda: verdict_screen(
        Verdict(VerdictKind.AMBIGUOUS, "IT-0003", reason="2 assets match",
                candidates=(Asset("IT-0003"), Asset("DK-0017", serial="IT-0003"))),
        STORE,
    ),
    "unregistered-foreign": lambda: verdict_screen(
        Verdict(VerdictKind.UNREGISTERED, "https://old.example/hardware/1",
                reason="label of another register (old.example)"),
        STORE,
    ),
    "burst": lambda: burst_screen({VerdictKind.VERIFIED: 281, VerdictKind.MISLOCATED: 12,
                                   VerdictKind.UNREGISTERED: 4, VerdictKind.REPEAT: 3,
                                   VerdictKind.RECOVERED: 1}, Progress("Server Room", 281, 290)),
    "burst-all-ok": lambda: burst_screen({VerdictKind.VERIFIED: 40}, STORE),
    "burst-overdue": lambda: burst_screen({VerdictKind.VERIFIED: 38, VerdictKind.MISLOCATED: 2},
                                          DUE, overdue=5),
    "new-room": lambda: new_room_screen("Storage  C", ["Storage B", "Storage A"]),
    "new-room-unknown": lambda: new_room_screen("Basement", []),
    "summary": lambda: summary_screen(Summary("Store B2", 30, 27, 1, 3, 0, 4, 12, 2, 1, 5)),
    "label-asked": lambda: label_screen("IT-004512", "asked"),
    "label-printed": lambda: label_screen("IT-004512", "printed"),
    "label-queued": lambda: label_screen("IT-004512", "queued", waiting=3),
    "label-uncertain": lambda: label_screen("LAB-CHEM-2024-000815-X", "uncertain"),
    "intake-started": lambda: intake_screen({}, ["serial", "model", "gtin", "mac"],
                                            unknown_label="IT-009999"),
    "intake-gathering": lambda: intake_screen({"serial": "5CG1234XYZ", "gtin": "09506000134352"},
                                              ["model", "mac"]),
    "intake-saved": lambda: intake_saved_screen("FIELD-0001", 3),
    "intake-saved-no-tag": lambda: intake_saved_screen(None, 1),
    "intake-saved-label": lambda: intake_saved_screen("FIELD-0002", 2, label=True),
    "error": lambda: error_screen(
        "CAMERA", "No camera found. Check the ribbon cable, then run rpicam-hello --list-cameras"
    ),
}


def _differs(actual: Image.Image, expected: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of the differing pixels, or None when the images are identical."""
    assert expected.size == actual.size
    return ImageChops.difference(actual.convert("L"), expected.convert("L")).getbbox()


@pytest.mark.parametrize("name", sorted(SCREENS))
def test_screen_matches_reference(name: str, tmp_path: Path) -> None:
    image = SCREENS[name]()
    assert (image.mode, image.size) == ("1", (128, 64))
    reference = REFERENCES / f"{name}.png"
    if REGENERATE:
        REFERENCES.mkdir(exist_ok=True)
        image.save(reference)
        pytest.skip(f"wrote {reference}; check it, then run without STOCKTAKER_REGEN_SCREENS")
    assert reference.exists(), f"no reference {reference}; run with STOCKTAKER_REGEN_SCREENS=1"
    box = _differs(image, Image.open(reference))
    if box is not None:
        image.save(tmp_path / f"{name}.png")
    assert box is None, f"{name} differs from {reference} in {box}; got {tmp_path / name}.png"


def test_every_verdict_kind_has_a_headline_and_a_reference() -> None:
    assert set(HEADLINES) == set(VerdictKind)
    for kind in VerdictKind:
        assert kind.value in SCREENS


def test_verdict_screens_differ_from_each_other() -> None:
    images = [SCREENS[kind.value]().tobytes() for kind in VerdictKind]
    assert len(set(images)) == len(images)


def test_screens_do_not_depend_on_the_process() -> None:
    """A screen is the same in another process with another hash seed (no set or dict
    order, font cache or id() leaks into the pixels)."""
    script = ("import hashlib, json, sys; sys.path.insert(0, sys.argv[1]); import test_screens;"
              " print(json.dumps({n: hashlib.sha256(m().tobytes()).hexdigest()"
              " for n, m in test_screens.SCREENS.items()}))")
    here = {name: hashlib.sha256(make().tobytes()).hexdigest() for name, make in SCREENS.items()}
    for seed in ("1", "4242"):
        done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == here


def test_pixels_are_plain_on_or_off() -> None:
    for make in SCREENS.values():
        histogram = make().histogram()
        assert histogram[0] + histogram[255] == 128 * 64


def test_printable_replaces_what_the_font_cannot_draw() -> None:
    assert printable("IT-0045 é ÿ") == "IT-0045 é ÿ"
    assert printable("a\tb\x00c\x7f\x85€\u2713") == "a?b?c????"
    assert printable("no\xa0break") == "no break"


def test_keep_end_keeps_the_distinguishing_end_of_a_tag() -> None:
    assert keep_end("IT-004512", 21) == "IT-004512"
    assert keep_end("SN-ABCDEFGHIJKL0042", 8) == ELLIPSIS + "JKL0042"
    assert keep_end("https://assets.example.com/hardware/123", 12) == ELLIPSIS + "ardware/123"


def test_keep_start_keeps_the_start_of_a_name() -> None:
    assert keep_start("Latitude 5440 laptop", 21) == "Latitude 5440 laptop"
    assert keep_start("Meeting room 4.12 north", 12) == "Meeting roo" + ELLIPSIS
    assert keep_start("Store B2 annex", 9) == "Store B2" + ELLIPSIS


def test_wrap_breaks_at_words_and_marks_what_is_left_out() -> None:
    assert wrap("No camera found. Check it", 21, 4) == ["No camera found.", "Check it"]
    assert wrap("abcdefghij klm", 5, 3) == ["abcde", "fghij", "klm"]
    assert wrap("one two three four five", 9, 2) == ["one two", "three fo" + ELLIPSIS]
    assert wrap("", 21, 4) == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), columns=st.integers(min_value=1, max_value=COLUMNS))
def test_shortened_text_always_fits(text: str, columns: int) -> None:
    for short in (keep_start(text, columns), keep_end(text, columns)):
        assert len(short) <= columns
        assert printable(short.replace(ELLIPSIS, "")) == short.replace(ELLIPSIS, "")
    assert all(len(line) <= columns for line in wrap(text, columns, 3))


@settings(max_examples=50, deadline=None)
@given(
    label=st.text(max_size=120),
    room=st.none() | st.text(max_size=60),
    verified=st.integers(min_value=0, max_value=10**6),
    kind=st.sampled_from(list(VerdictKind)),
)
def test_any_label_renders(label: str, room: str | None, verified: int, kind: VerdictKind) -> None:
    asset = Asset(label, name=label, status=label) if kind is not VerdictKind.UNREGISTERED else None
    verdict = Verdict(kind, label, asset, recorded_location=label, reason=label)
    for image in (
        verdict_screen(verdict, Progress(room, verified, 30)),
        progress_screen(Progress(room, verified, 30)),
        error_screen(label, label),
    ):
        assert (image.mode, image.size) == ("1", (128, 64))


def test_label_screens_differ_and_refuse_an_unknown_outcome() -> None:
    shown = {outcome: label_screen("IT-004512", outcome).tobytes()
             for outcome in ("printed", "queued", "uncertain")}
    assert len(set(shown.values())) == 3
    assert label_screen("IT-004512", "queued", waiting=2).tobytes() != shown["queued"]
    with pytest.raises(ValueError, match="unknown label outcome"):
        label_screen("IT-004512", "sent")
