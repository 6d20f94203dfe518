"""The status display: choose a backend by name with :func:`open_display`.

Backends: ``oled`` (the real SSD1306/SH1106 panel on I2C), ``terminal`` (the stand-in:
luma's dummy device printed as text, optionally saved as PNG) and ``none``.
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
    i2c_port: int = 1,
    i2c_address: int = 0x3C,
) -> Display:
    """Open the display ``backend`` names.

    Args:
        backend: ``oled``, ``terminal`` or ``none``.
        stream: ``terminal`` only: where frames are printed (standard output by default).
        screens_dir: ``terminal`` only: a folder to save every frame in as PNG.
        style: ``terminal`` only: ``braille`` or ``halfblock``.
        driver: ``oled`` only: ``ssd1306`` or ``sh1106``.
        i2c_port: ``oled`` only: the I2C bus number.
        i2c_address: ``oled`` only: the panel's I2C address.

    Returns:
        The open display; close it (or use it as a context manager) when done.

    Raises:
        ValueError: unknown backend, style or driver.
        DeviceError: the panel or its bus cannot be used.
    """
    if backend == "terminal":
        from hal.display.terminal import TerminalDisplay

        return TerminalDisplay(stream=stream, screens_dir=screens_dir, style=style)
    if backend == "oled":
        from hal.display.oled import OledDisplay

        return OledDisplay(driver=driver, i2c_port=i2c_port, i2c_address=i2c_address)
    if backend == "none":
        return NullDisplay()
    raise ValueError(f"unknown display backend {backend!r}; choose one of {', '.join(BACKENDS)}")
