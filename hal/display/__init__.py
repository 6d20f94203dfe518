"""The status display: choose a backend by name with :func:`open_display`.

Backends: ``oled`` (the real SSD1306, SH1106 or SSD1309 panel on I2C or SPI, with
burn-in care), ``terminal`` (the stand-in: luma's dummy device printed as text, optionally
saved as PNG) and ``none``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from hal.display.base import HEIGHT, WIDTH, Display, NullDisplay

__all__ = ["BACKENDS", "HEIGHT", "WIDTH", "Display", "NullDisplay", "open_display"]

BACKENDS = ("oled", "terminal", "none")


def open_display(
    backend: str,
    *,
    stream: TextIO | None = None,
    screens_dir: Path | None = None,
    style: str = "braille",
    driver: str = "ssd1306",
    interface: str = "i2c",
    i2c_port: int = 1,
    i2c_address: int = 0x3C,
    spi_port: int = 0,
    spi_device: int = 0,
    dc_pin: int = 25,
    reset_pin: int = 22,
    spi_speed_hz: int = 8_000_000,
    rotation: int = 0,
    contrast: int = 0x7F,
    dim_after: float = 60.0,
    blank_after: float = 300.0,
) -> Display:
    """Open the display ``backend`` names.

    Args:
        backend: ``oled``, ``terminal`` or ``none``.
        stream: ``terminal`` only: where frames are printed (standard output by default).
        screens_dir: ``terminal`` only: a folder to save every frame in as PNG.
        style: ``terminal`` only: ``braille`` or ``halfblock``.
        driver: ``oled`` only: ``ssd1306``, ``sh1106`` or ``ssd1309``.
        interface: ``oled`` only: ``i2c`` or ``spi``.
        i2c_port, i2c_address: ``oled`` on I2C: the bus number and the panel's address.
        spi_port, spi_device, dc_pin, reset_pin, spi_speed_hz: ``oled`` on SPI: the bus
            (``/dev/spidev<port>.<device>``), the BCM numbers of the D/C and reset lines,
            the clock.
        rotation: ``oled`` only: 0, or 180 for a panel mounted upside down.
        contrast: ``oled`` only: 0 to 255.
        dim_after, blank_after: ``oled`` only: idle seconds before the panel is dimmed,
            then switched off (0: never); see :mod:`hal.display.idle`.

    Returns:
        The open display; close it (or use it as a context manager) when done.

    Raises:
        ValueError: unknown backend, style, driver, interface, rotation or contrast.
        DeviceError: the panel or its bus cannot be used.
    """
    if backend == "terminal":
        from hal.display.terminal import TerminalDisplay

        return TerminalDisplay(stream=stream, screens_dir=screens_dir, style=style)
    if backend == "oled":
        from hal.display.idle import IdleDimmer
        from hal.display.oled import open_oled

        panel = open_oled(driver, interface, i2c_port=i2c_port, i2c_address=i2c_address,
                          spi_port=spi_port, spi_device=spi_device, dc_pin=dc_pin,
                          reset_pin=reset_pin, spi_speed_hz=spi_speed_hz, rotation=rotation,
                          contrast=contrast)
        try:
            return IdleDimmer(panel, dim_after=dim_after, blank_after=blank_after)
        except ValueError:
            panel.close()
            raise
    if backend == "none":
        return NullDisplay()
    raise ValueError(f"unknown display backend {backend!r}; choose one of {', '.join(BACKENDS)}")
