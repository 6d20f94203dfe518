"""The bus an OLED panel hangs on: luma's ``i2c`` or ``spi`` serial interface, opened with advice.

The bus is kept apart from the panel's protocol (:mod:`hal.display.oled`), as luma keeps
``luma.core.interface.serial`` apart from ``luma.oled.device``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hal.errors import DeviceError

INTERFACES = ("i2c", "spi")

SPI_SPEEDS_HZ = tuple(int(mhz * 1_000_000) for mhz in (
    0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 50, 52))
"""The SPI clock rates luma's ``spi`` interface accepts."""


@dataclass(frozen=True)
class Bus:
    """An open luma serial interface and how to describe it to a technician.

    Attributes:
        serial: luma's interface object (``command``, ``data``, ``cleanup``).
        where: the bus in words, e.g. ``I2C bus 1, address 0x3C``.
        wiring: what to check when the panel does not answer.
    """

    serial: Any
    where: str
    wiring: str


def open_i2c(port: int = 1, address: int = 0x3C, *, bus: Any = None) -> Bus:
    """Open ``/dev/i2c-<port>`` for a panel at ``address``.

    Args:
        bus: an open smbus-like object to use instead (it must provide
            ``write_i2c_block_data(address, register, data)``).

    Raises:
        DeviceError: the bus is missing or forbidden; the message says what to do.
    """
    import luma.core.error
    from luma.core.interface.serial import i2c

    own = smbus_only(port) if bus is None else None
    try:
        serial = i2c(bus=bus or own, port=port, address=address)
    except luma.core.error.DevicePermissionError as error:
        raise DeviceError(f"no permission to use /dev/i2c-{port}: add the service user to the"
                          " 'i2c' group") from error
    except luma.core.error.DeviceNotFoundError as error:
        raise DeviceError(f"I2C bus {port} not found (/dev/i2c-{port}): enable I2C with"
                          " raspi-config (Interface Options, I2C) or 'dtparam=i2c_arm=on' in"
                          " /boot/firmware/config.txt, then reboot") from error
    except (luma.core.error.Error, OSError) as error:
        raise DeviceError(f"cannot open I2C bus {port} for the display: {error}") from error
    if own is not None:
        # luma leaves a bus it was given open: closing the display closes it
        serial.cleanup = own.close
    return Bus(serial, f"I2C bus {port}, address 0x{address:02X}",
               f"the wiring (SDA to GPIO2, SCL to GPIO3, VCC, GND) and the address (0x3C or"
               f" 0x3D; 'i2cdetect -y {port}' lists what answers)")


def smbus_only(port: int) -> Any:
    """``/dev/i2c-<port>`` opened with smbus2 when its adapter does only SMBus transfers,
    else None (luma then opens the bus itself).

    luma sends a frame's data as one plain I2C message (``I2C_RDWR``), which an SMBus-only
    adapter (a PC's SMBus controller, the kernel's ``i2c-stub``) refuses with "Operation
    not supported"; given an open bus, luma sends it in SMBus block writes of 32 bytes,
    which every adapter that can drive the panel's commands also takes. A bus that cannot
    be opened gives None too: luma then says why, in its own words.
    """
    try:
        import smbus2
    except ImportError:
        return None
    try:
        bus = smbus2.SMBus(port)
    except OSError:
        return None
    if bus.funcs & smbus2.I2cFunc.I2C:
        bus.close()
        return None
    return bus


def open_spi(port: int = 0, device: int = 0, *, dc_pin: int = 25, reset_pin: int = 22,
             speed_hz: int = 8_000_000, spi: Any = None, gpio: Any = None) -> Bus:
    """Open ``/dev/spidev<port>.<device>`` and the panel's D/C and reset lines.

    luma drives D/C and reset through the RPi.GPIO interface (on a Pi 5 the
    ``python3-rpi-lgpio`` package provides it) and the bus through ``spidev``.

    Args:
        dc_pin: BCM number of the data/command line.
        reset_pin: BCM number of the reset line (pulsed low once at start).
        speed_hz: the SPI clock, one of :data:`SPI_SPEEDS_HZ`.
        spi: a spidev-like object to use instead of ``spidev.SpiDev()``.
        gpio: an RPi.GPIO-like module to use instead of ``RPi.GPIO``.

    Raises:
        ValueError: ``speed_hz`` is not a speed luma accepts.
        DeviceError: the bus, its library or the GPIO lines cannot be used.
    """
    if speed_hz not in SPI_SPEEDS_HZ:
        raise ValueError(f"SPI speed {speed_hz} Hz is not one of"
                         f" {', '.join(map(str, SPI_SPEEDS_HZ))}")
    import luma.core.error
    from luma.core.interface.serial import spi as luma_spi

    node = f"/dev/spidev{port}.{device}"
    try:
        serial = luma_spi(spi=spi, gpio=gpio, port=port, device=device, bus_speed_hz=speed_hz,
                          gpio_DC=dc_pin, gpio_RST=reset_pin)
    except ImportError as error:
        raise DeviceError(f"the SPI display needs the '{error.name}' module: install"
                          " python3-spidev and python3-rpi-lgpio (Raspberry Pi OS) into the"
                          " environment stocktaker runs in") from error
    except luma.core.error.DeviceNotFoundError as error:
        raise DeviceError(f"SPI bus {node} not found: enable SPI with raspi-config (Interface"
                          " Options, SPI) or 'dtparam=spi=on' in /boot/firmware/config.txt,"
                          " then reboot") from error
    except PermissionError as error:
        raise DeviceError(f"no permission to use {node} or the GPIO lines: add the service"
                          " user to the 'spi' and 'gpio' groups") from error
    except (luma.core.error.Error, OSError, RuntimeError) as error:
        raise DeviceError(f"cannot open {node} for the display: {error}") from error
    return Bus(serial, f"SPI {node} (D/C GPIO {dc_pin}, reset GPIO {reset_pin})",
               f"the wiring (MOSI to GPIO10, SCLK to GPIO11, CS to CE{device}, D/C to GPIO"
               f" {dc_pin}, RES to GPIO {reset_pin}, VCC, GND)")
