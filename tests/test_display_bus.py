"""The OLED's I2C bus on an adapter that does only SMBus transfers (a PC's SMBus controller,
the kernel's ``i2c-stub``): luma's frame data as SMBus block writes, not one ``I2C_RDWR``
message, which such an adapter refuses (found by tests/vm/test_display.py)."""

from __future__ import annotations

import errno

import pytest
import smbus2
from PIL import Image

from hal.display.bus import open_i2c
from hal.display.oled import OledDisplay

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata:DeprecationWarning")


class Adapter:
    """smbus2.SMBus as /dev/i2c-N answers it: its functionality bits, block writes taken,
    plain I2C messages refused unless the adapter has ``I2C_FUNC_I2C``."""

    opened: list[Adapter] = []

    def __init__(self, bus: int, funcs: int) -> None:
        self.bus, self.funcs = bus, funcs
        self.blocks: list[tuple[int, int, list[int]]] = []
        self.messages = 0
        self.closed = False
        Adapter.opened.append(self)

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self.blocks.append((address, register, list(data)))

    def i2c_rdwr(self, *messages: object) -> None:
        if not self.funcs & smbus2.I2cFunc.I2C:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        self.messages += 1

    def close(self) -> None:
        self.closed = True


SMBUS_ONLY = 0x0C7F0000  # what i2c-stub reports (no I2C_FUNC_I2C)
WITH_I2C = SMBUS_ONLY | smbus2.I2cFunc.I2C


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch):
    def make(funcs: int) -> None:
        monkeypatch.setattr(smbus2, "SMBus", lambda bus: Adapter(bus, funcs))

    Adapter.opened = []
    return make


def test_an_smbus_only_adapter_gets_the_frame_in_block_writes(adapter) -> None:
    adapter(SMBUS_ONLY)
    display = OledDisplay("ssd1306", open_i2c(4, 0x3C))
    (bus,) = Adapter.opened
    bus.blocks.clear()
    frame = Image.new("1", (128, 64))
    frame.putpixel((0, 0), 1)
    display.show(frame)
    data = [b for address, register, block in bus.blocks if register == 0x40 for b in block]
    assert bus.bus == 4 and bus.messages == 0
    assert len(data) == 1024 and data[0] == 0x01 and not any(data[1:])
    assert all(address == 0x3C and len(block) <= 32 for address, _, block in bus.blocks)
    display.close()
    assert bus.closed


def test_an_adapter_with_plain_i2c_is_left_to_luma(adapter) -> None:
    adapter(WITH_I2C)
    display = OledDisplay("ssd1306", open_i2c(4, 0x3C))
    first, luma_own = Adapter.opened
    assert first.closed  # only looked at
    display.show(Image.new("1", (128, 64)))
    assert luma_own.messages >= 1  # the frame as one I2C message, as on a Pi
    display.close()
    assert luma_own.closed
