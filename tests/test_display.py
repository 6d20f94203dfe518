"""The display backends: the terminal stand-in, the OLED on a fake I2C bus, the factory."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from hal.display import BACKENDS, NullDisplay, open_display
from hal.display.oled import OledDisplay
from hal.display.terminal import TerminalDisplay, slug, to_braille, to_halfblock
from hal.errors import DeviceError

# luma.oled 3.16 reads frames with Image.getdata(), deprecated in Pillow 13 (Pillow<14 is pinned).
oled_warnings = pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")


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


class FakeBus:
    """An smbus-like bus that records every block write as (address, register, bytes)."""

    def __init__(self, error: OSError | None = None) -> None:
        self.writes: list[tuple[int, int, list[int]]] = []
        self.error = error

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        if self.error is not None:
            raise self.error
        self.writes.append((address, register, list(data)))

    def commands(self) -> list[list[int]]:
        return [data for _, register, data in self.writes if register == 0x00]

    def data(self) -> list[int]:
        return [byte for _, register, data in self.writes if register == 0x40 for byte in data]


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
    with open_display("terminal", stream=stream) as display:
        display.show(corners(), "start")
        display.show(corners())
    assert stream.getvalue() == f"start\n{to_braille(corners())}\n{to_braille(corners())}\n"


def test_terminal_halfblock_style() -> None:
    stream = io.StringIO()
    with open_display("terminal", stream=stream, style="halfblock") as display:
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
    with open_display("terminal", stream=io.StringIO(), screens_dir=folder) as display:
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


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_a_frame_of_the_wrong_size_is_refused(backend: str) -> None:
    with open_display(backend, stream=io.StringIO()) as display:
        with pytest.raises(ValueError, match="128x64"):
            display.show(Image.new("1", (128, 32)))


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="braille, halfblock"):
        open_display("terminal", style="ascii")


def test_none_backend_discards_frames() -> None:
    with open_display("none") as display:
        assert isinstance(display, NullDisplay)
        display.show(corners(), "ignored")


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="oled, terminal, none"):
        open_display("lcd")


# --- OLED on a fake bus -------------------------------------------------------------------

SSD1306_INIT = [
    [0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00,
     0xA1, 0xC8, 0xDA, 0x12, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6],  # off, clock, mux 64, offset 0,
    # start line 0, charge pump on, horizontal addressing, remap, COM scan down, COM pins,
    # precharge, VCOM detect, resume from RAM, normal (not inverted)
    [0x81, 0xCF],  # contrast
    [0x21, 0x00, 0x7F, 0x22, 0x00, 0x07],  # columns 0-127, pages 0-7 (the clearing frame)
    [0xAF],  # display on
]  # fmt: skip


@oled_warnings
def test_ssd1306_init_bytes() -> None:
    bus = FakeBus()
    OledDisplay("ssd1306", i2c_address=0x3C, bus=bus)
    assert {address for address, _, _ in bus.writes} == {0x3C}
    assert bus.commands() == SSD1306_INIT
    assert bus.data() == [0x00] * 1024
    assert all(len(data) <= 32 for _, _, data in bus.writes)


@oled_warnings
def test_ssd1306_frame_bytes() -> None:
    bus = FakeBus()
    display = OledDisplay(bus=bus)
    bus.writes.clear()
    display.show(corners(), "corners")
    assert bus.commands() == [[0x21, 0x00, 0x7F, 0x22, 0x00, 0x07]]
    data = bus.data()
    # Page-major, one byte per column of 8 rows, least significant bit on top.
    expected = [0x00] * 1024
    expected[0], expected[127], expected[896], expected[1023] = 0x01, 0x01, 0x80, 0x80
    assert data == expected


@oled_warnings
def test_sh1106_init_starts_with_display_off_and_sets_its_contrast() -> None:
    bus = FakeBus()
    OledDisplay("sh1106", i2c_address=0x3D, bus=bus)
    commands = bus.commands()
    assert {address for address, _, _ in bus.writes} == {0x3D}
    assert commands[0][0] == 0xAE and [0x81, 0x7F] in commands and commands[-1] == [0xAF]


@oled_warnings
def test_close_blanks_the_panel_and_later_frames_are_refused() -> None:
    bus = FakeBus()
    display = OledDisplay(bus=bus)
    bus.writes.clear()
    display.close()
    assert bus.commands()[0] == [0xAE]
    assert bus.data() == [0x00] * 1024
    display.close()
    with pytest.raises(DeviceError, match="closed"):
        display.show(corners())


def test_no_answer_on_the_bus_is_a_device_error() -> None:
    bus = FakeBus(OSError(errno.EREMOTEIO, "Remote I/O error"))
    with pytest.raises(DeviceError, match=r"0x3C.*wiring.*0x3D") as caught:
        OledDisplay(bus=bus)
    assert caught.value.exit_code == 3


@oled_warnings
def test_a_panel_lost_while_running_is_a_device_error() -> None:
    bus = FakeBus()
    display = OledDisplay(bus=bus)
    bus.error = OSError(errno.EIO, "Input/output error")
    with pytest.raises(DeviceError, match="stopped answering"):
        display.show(corners())
    display.close()  # logs, does not raise


@pytest.mark.parametrize(
    ("code", "advice"), [(errno.ENOENT, "enable I2C"), (errno.EACCES, "'i2c' group")]
)
def test_a_missing_or_forbidden_bus_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, code: int, advice: str
) -> None:
    import smbus2

    def refuse(port: int) -> None:
        raise OSError(code, "refused", f"/dev/i2c-{port}")

    monkeypatch.setattr(smbus2, "SMBus", refuse)
    with pytest.raises(DeviceError, match=advice):
        open_display("oled", i2c_port=7)


def test_unknown_driver_is_refused() -> None:
    with pytest.raises(ValueError, match="ssd1306, sh1106"):
        OledDisplay("ssd1351", bus=FakeBus())
