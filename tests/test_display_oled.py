"""The OLED backend at the bus: luma's exact bytes for each controller on I2C and SPI.

The I2C bus is an smbus-like recorder; the SPI bus a spidev-like recorder with an
RPi.GPIO-like recorder for the D/C and reset lines, as luma's own tests stand in for
them. Every reference screen in tests/screens/ is sent to each controller and read back
from the bytes, so the pictures the panels get are the reference PNGs.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from hal.display import DisplaySettings, open_display
from hal.display.bus import open_i2c
from hal.display.idle import IdleDimmer
from hal.display.oled import DRIVERS, OledDisplay, open_oled
from hal.errors import DeviceError

SCREENS = sorted((Path(__file__).parent / "screens").glob("*.png"))

# luma.oled 3.16 reads frames with Image.getdata(), deprecated in Pillow 13 (Pillow<14 is pinned).
pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")


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


class FakeGpio:
    """The part of RPi.GPIO luma's SPI interface uses, recording into a shared log."""

    LOW, HIGH, OUT, BCM = 0, 1, 0, 11

    def __init__(self, log: list[tuple]) -> None:
        self.log = log

    def setup(self, pin: int, direction: int) -> None:
        self.log.append(("setup", pin))

    def output(self, pin: int, value: int) -> None:
        self.log.append(("line", pin, int(bool(value))))

    def cleanup(self, pins: object = None) -> None:
        self.log.append(("gpio-cleanup",))


class FakeSpi:
    """A spidev-like bus recording into the same log as the GPIO lines."""

    def __init__(self, log: list[tuple]) -> None:
        self.log = log
        self.max_speed_hz = 0
        self.mode = 0

    def open(self, port: int, device: int) -> None:
        self.log.append(("open", port, device))

    def writebytes(self, data: list[int]) -> None:
        self.log.append(("spi", list(data)))

    def close(self) -> None:
        self.log.append(("close",))


DC, RST = 25, 22


def spi_split(log: list[tuple]) -> tuple[list[list[int]], list[int]]:
    """The SPI writes as (commands, data bytes), told apart by the D/C line as the panel does."""
    dc, commands, data = None, [], []
    for entry in log:
        if entry[0] == "line" and entry[1] == DC:
            dc = entry[2]
        elif entry[0] == "spi":
            assert dc is not None, "bytes sent before D/C was set"
            if dc:
                data += entry[1]
            else:
                commands.append(entry[1])
    return commands, data


def frame_of(data: list[int]) -> Image.Image:
    """The 128x64 picture a panel shows for 1024 bytes of page-major GDDRAM."""
    assert len(data) == 1024
    image = Image.new("1", (128, 64), 0)
    for index, byte in enumerate(data):
        page, x = divmod(index, 128)
        for bit in range(8):
            if byte >> bit & 1:
                image.putpixel((x, page * 8 + bit), 255)
    return image


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(
        a.convert("L"), b.convert("L")).getbbox() is None


def corners() -> Image.Image:
    image = Image.new("1", (128, 64), 0)
    for xy in ((0, 0), (127, 0), (0, 63), (127, 63)):
        image.putpixel(xy, 255)
    return image


def i2c_panel(driver: str = "ssd1306", bus: FakeBus | None = None, **options) -> OledDisplay:
    return open_oled(driver, "i2c", i2c_bus=bus if bus is not None else FakeBus(), **options)


# --- the init sequences -----------------------------------------------------------------

SSD1306_SETUP = [
    0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00,
    0xA1, 0xC8, 0xDA, 0x12, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6,
]  # off, clock, mux 64, offset 0, start line 0, charge pump on, horizontal addressing,
# segment remap, COM scan down, COM pins, precharge, VCOM detect, resume from RAM, normal
SH1106_SETUP = [
    0xAE, 0x20, 0x10, 0xB0, 0xC8, 0x00, 0x10, 0x40, 0xA1, 0xA6, 0xA8, 0x3F, 0xA4,
    0xD3, 0x00, 0xD5, 0xF0, 0xD9, 0x22, 0xDA, 0x12, 0xDB, 0x20, 0x8D, 0x14,
]  # luma.oled's SH1106 sequence as it sends it: off first, charge pump on last
SSD1306_WINDOW = [0x21, 0x00, 0x7F, 0x22, 0x00, 0x07]  # columns 0-127, pages 0-7


def sh1106_pages() -> list[list[int]]:
    return [[0xB0 + page, 0x02, 0x10] for page in range(8)]  # page, column 2 (132-wide RAM)


INIT = {
    # luma's sequence, its own contrast, the clearing frame, display on, then ours (0x7F).
    "ssd1306": [SSD1306_SETUP, [0x81, 0xCF], SSD1306_WINDOW, [0xAF], [0x81, 0x7F]],
    "ssd1309": [SSD1306_SETUP, [0x81, 0xCF], SSD1306_WINDOW, [0xAF], [0x81, 0x7F]],
    "sh1106": [SH1106_SETUP, [0x81, 0x7F], *sh1106_pages(), [0xAF], [0x81, 0x7F]],
}


@pytest.mark.parametrize("driver", DRIVERS)
def test_init_bytes_on_i2c(driver: str) -> None:
    bus = FakeBus()
    i2c_panel(driver, bus, i2c_address=0x3D)
    assert {address for address, _, _ in bus.writes} == {0x3D}
    assert bus.commands() == INIT[driver]
    assert bus.data() == [0x00] * 1024
    assert all(len(data) <= 32 for _, _, data in bus.writes)  # SMBus block limit


@pytest.mark.parametrize("driver", DRIVERS)
def test_init_bytes_on_spi_after_a_reset_pulse(driver: str) -> None:
    log: list[tuple] = []
    open_oled(driver, "spi", spi_port=0, spi_device=1, dc_pin=DC, reset_pin=RST,
              spi_speed_hz=16_000_000, spi=FakeSpi(log), gpio=FakeGpio(log))
    first_write = next(n for n, entry in enumerate(log) if entry[0] == "spi")
    assert log[:first_write] == [("setup", DC), ("setup", RST), ("line", RST, 0),
                                 ("line", RST, 1), ("open", 0, 1), ("line", DC, 0)]
    commands, data = spi_split(log)
    assert commands == INIT[driver]
    assert data == [0x00] * 1024


def test_spi_speed_is_set_and_close_releases_the_bus() -> None:
    log: list[tuple] = []
    spi = FakeSpi(log)
    display = open_oled("ssd1306", "spi", spi_speed_hz=4_000_000, spi=spi, gpio=FakeGpio(log))
    assert spi.max_speed_hz == 4_000_000
    del log[:]
    display.close()
    commands, data = spi_split(log)
    assert commands[0] == [0xAE] and data == [0x00] * 1024 and log[-1] == ("close",)


def test_contrast_and_rotation_are_sent() -> None:
    bus = FakeBus()
    display = i2c_panel(bus=bus, contrast=0x10, rotation=180)
    assert bus.commands()[-1] == [0x81, 0x10]
    bus.writes.clear()
    top_left = Image.new("1", (128, 64), 0)
    top_left.putpixel((0, 0), 255)
    display.show(top_left)
    assert frame_of(bus.data()).getbbox() == (127, 63, 128, 64)  # bottom right on the glass


@pytest.mark.parametrize(("options", "named"), [
    ({"rotation": 90}, "rotation 90 is not one of 0, 180"),
    ({"contrast": 256}, "contrast 256 is not from 0 to 255"),
    ({"driver": "ssd1351"}, "ssd1306, sh1106, ssd1309"),
    ({"interface": "parallel"}, "choose i2c or spi"),
    ({"interface": "spi", "spi_speed_hz": 3_000_000}, "SPI speed 3000000 Hz"),
])
def test_bad_options_are_refused_before_the_bus_is_opened(options: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        open_oled(**{"i2c_bus": FakeBus(), "spi": FakeSpi([]), "gpio": FakeGpio([]), **options})


# --- every screen, on every controller ----------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_reference_screen_reaches_the_panel_unchanged(driver: str) -> None:
    assert len(SCREENS) >= 20
    bus = FakeBus()
    display = i2c_panel(driver, bus)
    for path in SCREENS:
        reference = Image.open(path)
        bus.writes.clear()
        display.show(reference, path.stem)
        assert same(frame_of(bus.data()), reference), path.name


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_panel_mounted_upside_down_gets_every_screen_turned(driver: str) -> None:
    log: list[tuple] = []
    display = open_oled(driver, "spi", rotation=180, spi=FakeSpi(log), gpio=FakeGpio(log))
    for path in SCREENS[:3]:
        reference = Image.open(path)
        del log[:]
        display.show(reference, path.stem)
        _, data = spi_split(log)
        assert same(frame_of(data), reference.rotate(180)), path.name


# --- failures -------------------------------------------------------------------------------


def test_no_answer_on_the_bus_is_a_device_error_with_advice() -> None:
    bus = FakeBus(OSError(errno.EREMOTEIO, "Remote I/O error"))
    with pytest.raises(DeviceError, match=r"0x3C.*wiring.*0x3D") as caught:
        i2c_panel(bus=bus)
    assert caught.value.exit_code == 3


def test_a_panel_lost_while_running_is_logged_once_and_the_display_goes_headless(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = FakeBus()
    display = i2c_panel(bus=bus)
    bus.error = OSError(errno.EIO, "Input/output error")
    for _ in range(3):
        display.show(corners(), "scan")  # no exception: scanning goes on
        display.set_contrast(1)
        display.switch_on()
    lost = [r for r in caplog.records if "stopped answering" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelname == "ERROR" and display.headless
    with pytest.raises(ValueError, match="128x64"):
        display.show(Image.new("1", (10, 10)))  # frames are still checked
    display.close()  # does not touch the lost panel again, does not raise
    assert display.headless


def test_close_blanks_and_switches_off_the_panel_and_later_frames_are_refused() -> None:
    bus = FakeBus()
    display = i2c_panel(bus=bus)
    display.show(corners())
    bus.writes.clear()
    display.close()
    assert bus.commands()[0] == [0xAE] and bus.data() == [0x00] * 1024
    display.close()
    with pytest.raises(DeviceError, match="closed"):
        display.show(corners())


@pytest.mark.parametrize(("code", "advice"),
                         [(errno.ENOENT, "enable I2C"), (errno.EACCES, "'i2c' group")])
def test_a_missing_or_forbidden_bus_says_what_to_do(monkeypatch: pytest.MonkeyPatch, code: int,
                                                     advice: str) -> None:
    import smbus2

    def refuse(port: int) -> None:
        raise OSError(code, "refused", f"/dev/i2c-{port}")

    monkeypatch.setattr(smbus2, "SMBus", refuse)
    with pytest.raises(DeviceError, match=advice):
        open_display(DisplaySettings("oled", i2c_port=7))


def test_spi_without_its_libraries_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "RPi", None)  # import RPi.GPIO fails
    with pytest.raises(DeviceError, match="python3-spidev and python3-rpi-lgpio"):
        open_oled("ssd1306", "spi", spi=FakeSpi([]))


def test_the_factory_wraps_the_panel_in_burn_in_care(monkeypatch: pytest.MonkeyPatch) -> None:
    import smbus2

    bus = FakeBus()
    monkeypatch.setattr(smbus2, "SMBus", lambda port: bus)
    # smbus2's i2c_rdwr is used for data on a bus luma opened itself; route it to the recorder.
    bus.i2c_rdwr = lambda message: None  # type: ignore[attr-defined]
    bus.close = lambda: None  # type: ignore[attr-defined]
    bus.funcs = smbus2.I2cFunc.I2C  # type: ignore[attr-defined]  # a Pi's adapter
    display = open_display(DisplaySettings("oled", driver="sh1106", contrast=200, dim_after=5,
                                           blank_after=9))
    try:
        assert isinstance(display, IdleDimmer)
        assert display.panel.contrast == 200 and display.dim_after == 5
    finally:
        display.close()


def test_an_open_bus_is_described_for_logs() -> None:
    bus = open_i2c(3, 0x3D, bus=FakeBus())
    assert bus.where == "I2C bus 3, address 0x3D" and "i2cdetect -y 3" in bus.wiring


# --- a stop signal clears the screen --------------------------------------------------------

STOPPED_SCRIPT = textwrap.dedent("""
    import contextlib, json, sys, time
    from PIL import Image
    from firmware.stopping import StopRequested, StopSignals
    from hal.display.oled import open_oled

    class FileBus:
        def __init__(self, path):
            self.out = open(path, "w")
        def write_i2c_block_data(self, address, register, data):
            self.out.write(json.dumps([register, list(data)]) + "\\n")
            self.out.flush()

    with StopSignals(), contextlib.ExitStack() as stack:
        display = stack.enter_context(open_oled("ssd1306", "i2c", i2c_bus=FileBus(sys.argv[1])))
        try:
            display.show(Image.new("1", (128, 64), 255), "all lit")
            print("shown", flush=True)
            time.sleep(60)
        except StopRequested:
            pass
""")


def test_sigterm_clears_and_switches_off_the_panel(tmp_path: Path) -> None:
    """The loop's shape: stop signals raise, the ExitStack closes the display."""
    written = tmp_path / "bus.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", STOPPED_SCRIPT, str(written)],
                               stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "shown\n"
        lit = len(written.read_text().splitlines())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    after = [json.loads(line) for line in written.read_text().splitlines()[lit:]]
    assert after[0] == [0x00, [0xAE]]  # display off first: nothing lit is left behind
    assert [byte for register, data in after if register == 0x40 for byte in data] == [0] * 1024
