"""The display backends: the terminal stand-in, the null display, the factory.

The OLED is tested in tests/test_display_oled.py, its burn-in care in tests/test_display_idle.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from hal.display import DisplaySettings, NullDisplay, open_display
from hal.display.terminal import TerminalDisplay, slug, to_braille, to_halfblock

def corners() -> Image.Image:
    """A 128x64 frame with its four corner pixels lit."""
    image = Image.new("1", (128, 64), 0)
    for xy in ((0, 0), (127, 0), (0, 63), (127, 63)):
        image.putpixel(xy, 255)
    return image


def same(a: Image.Image, b: Image.Image) -> bool:
    if a.size != b.size:
        return False
    return ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


# --- text rendering ---------------------------------------------------------------------


def test_braille_of_a_small_pattern() -> None:
    image = Image.new("1", (4, 8), 0)
    for xy in ((0, 0), (1, 1), (0, 3), (3, 3), (2, 4), (3, 7)):
        image.putpixel(xy, 255)
    # Top left cell: dots 1, 5 and 7; top right: dot 8; bottom right: dots 1 and 8.
    assert to_braille(image) == "\u2851\u2880\n\u2800\u2881"


def test_braille_pads_a_partial_cell() -> None:
    image = Image.new("1", (3, 5), 0)
    image.putpixel((2, 4), 255)
    assert to_braille(image) == "\u2800\u2800\n\u2800\u2801"


def test_halfblock_of_a_small_pattern() -> None:
    image = Image.new("1", (4, 4), 0)
    for xy in ((0, 0), (1, 1), (2, 0), (2, 1), (3, 3)):
        image.putpixel(xy, 255)
    assert to_halfblock(image) == "\u2580\u2584\u2588 \n   \u2584"


def test_full_frames_have_the_panel_geometry() -> None:
    braille = to_braille(corners()).split("\n")
    halfblock = to_halfblock(corners()).split("\n")
    assert [len(line) for line in braille] == [64] * 16
    assert [len(line) for line in halfblock] == [128] * 32
    assert braille[0][0] == "\u2801" and braille[-1][-1] == "\u2880"
    assert halfblock[0][0] == "\u2580" and halfblock[-1][-1] == "\u2584"


def test_slug() -> None:
    assert slug("Verified: IT-004512") == "verified-it-004512"
    assert slug("") == "frame"
    assert slug("***") == "frame"
    assert len(slug("x" * 100)) == 40


# --- terminal stand-in --------------------------------------------------------------------


def test_terminal_prints_caption_then_frame() -> None:
    stream = io.StringIO()
    with open_display(DisplaySettings("terminal"), stream=stream) as display:
        display.show(corners(), "start")
        display.show(corners())
    assert stream.getvalue() == f"start\n{to_braille(corners())}\n{to_braille(corners())}\n"


def test_terminal_halfblock_style() -> None:
    stream = io.StringIO()
    with open_display(DisplaySettings("terminal", style="halfblock"), stream=stream) as display:
        display.show(corners(), "x")
    assert stream.getvalue() == f"x\n{to_halfblock(corners())}\n"


def test_terminal_records_frames_as_the_dummy_device_held_them() -> None:
    first, second = corners(), Image.new("1", (128, 64), 255)
    with TerminalDisplay(stream=io.StringIO()) as display:
        display.show(first, "one")
        display.show(second, "two")
        assert display._device.image is not None and same(display._device.image, second)
    assert [frame.caption for frame in display.frames] == ["one", "two"]
    assert same(display.frames[0].image, first) and same(display.frames[1].image, second)
    assert display.frames[0].image.mode == "1"


def test_terminal_saves_numbered_pngs(tmp_path: Path) -> None:
    folder = tmp_path / "shots" / "run"
    with open_display(DisplaySettings("terminal", screens=folder), stream=io.StringIO()) as display:
        display.show(corners(), "Verified: IT-004512")
        display.show(corners())
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["0001-verified-it-004512.png", "0002-frame.png"]
    assert same(Image.open(folder / "0001-verified-it-004512.png"), corners())


def test_terminal_thresholds_a_grey_frame_without_dithering() -> None:
    grey = Image.new("L", (128, 64), 100)
    grey.putpixel((5, 5), 200)
    with TerminalDisplay(stream=io.StringIO()) as display:
        display.show(grey)
    assert display.frames[0].image.getbbox() == (5, 5, 6, 6)


@pytest.mark.parametrize("backend", ["terminal", "none"])
def test_a_frame_of_the_wrong_size_is_refused(backend: str) -> None:
    with open_display(DisplaySettings(backend), stream=io.StringIO()) as display:
        with pytest.raises(ValueError, match="128x64"):
            display.show(Image.new("1", (128, 32)))


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="braille, halfblock"):
        open_display(DisplaySettings("terminal", style="ascii"))


def test_none_backend_discards_frames(tmp_path: Path) -> None:
    """Given the terminal's stream and a screens folder, ``none`` prints nothing, saves
    nothing and keeps nothing, however many frames it is shown; it still checks them."""
    import gc
    import weakref

    stream = io.StringIO()
    with open_display(DisplaySettings("none", screens=tmp_path), stream=stream) as display:
        assert isinstance(display, NullDisplay)
        frame = corners()
        gone = weakref.ref(frame)
        for n in range(200):
            display.show(frame, f"frame {n}")
        del frame
        gc.collect()
        assert gone() is None, "the display kept a frame"
        with pytest.raises(ValueError, match="128x64"):
            display.show(Image.new("1", (64, 32)))
    assert stream.getvalue() == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="terminal, oled, none"):
        open_display(DisplaySettings("lcd"))
