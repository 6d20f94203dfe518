"""The real display: an SSD1306, SH1106 or SSD1309 128x64 OLED on I2C or SPI, via luma.oled.

A panel that stops answering while the device runs (a loose wire, a brown-out) is logged
once; from then on the display is headless, frames are checked and dropped, and scanning
goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from hal.display.base import HEIGHT, WIDTH, Display, check_frame
from hal.display.bus import Bus, open_i2c, open_spi
from hal.errors import DeviceError

DRIVERS = ("ssd1306", "sh1106", "ssd1309")

ROTATIONS = (0, 180)
"""Degrees the picture may be turned. Screens are drawn 128x64 landscape; a quarter turn
would need a 64x128 portrait layout of every screen, so only upside-down mounting is
offered."""

_log = logging.getLogger(__name__)


class OledDisplay(Display):
    """A luma.oled panel on an I2C or SPI bus.

    The panel is initialised (luma's sequence for the controller), set to ``contrast``
    and cleared as soon as the object is made. :meth:`close` blanks and switches off the
    panel, so nothing stays lit (OLEDs burn in) and nothing stale is shown after the
    service stops.

    Args:
        driver: the panel's controller, one of :data:`DRIVERS`.
        bus: the open bus (:func:`hal.display.bus.open_i2c` or ``open_spi``); closed by
            :meth:`close`, or at once if the panel does not answer.
        rotation: 0, or 180 for a panel mounted upside down.
        contrast: 0 to 255.

    Raises:
        ValueError: unknown driver, rotation or contrast.
        DeviceError: the panel does not answer; the message says what to check.

    Attributes:
        headless: True once the panel stopped answering.
    """

    def __init__(self, driver: str, bus: Bus, *, rotation: int = 0, contrast: int = 0x7F) -> None:
        problem = _problem(driver, rotation, contrast)
        if problem:
            bus.serial.cleanup()
            raise ValueError(problem)
        import luma.core.error
        from luma.oled import device as oled

        self._errors = (luma.core.error.Error, OSError)
        self._where = bus.where
        self.contrast = contrast
        self.headless = False
        self._closed = False
        try:
            self._device = getattr(oled, driver)(bus.serial, width=WIDTH, height=HEIGHT,
                                                 rotate=ROTATIONS.index(rotation) * 2)
            self._device.contrast(contrast)
        except self._errors as error:
            bus.serial.cleanup()
            raise DeviceError(f"no {driver} display answers on {bus.where}: {error}. Check"
                              f" {bus.wiring}") from error
        # luma blanks the panel from an exit hook unless ``persist``; close() does it instead.
        self._device.persist = False

    def show(self, image: Image.Image, caption: str = "") -> None:
        """Send the frame to the panel; ``caption`` is only logged.

        Raises:
            ValueError: the frame has the wrong size.
            DeviceError: the display is closed.
        """
        if self._closed:
            raise DeviceError(f"the display on {self._where} is closed")
        frame = check_frame(image)
        _log.debug("display: %s", caption)
        self._send(self._device.display, frame)

    def set_contrast(self, level: int) -> None:
        """Set the panel's contrast (0 to 255) for now; :attr:`contrast` stays the normal one."""
        self._send(self._device.contrast, level)

    def switch_off(self) -> None:
        """Switch the panel off (sleep mode); its memory keeps the last frame."""
        self._send(self._device.hide)

    def switch_on(self) -> None:
        """Switch the panel back on, showing the frame its memory holds."""
        self._send(self._device.show)

    def _send(self, action: Any, *args: Any) -> None:
        if self.headless or self._closed:
            return
        try:
            action(*args)
        except self._errors as error:
            self.headless = True
            _log.error("the display on %s stopped answering, going on without it: %s."
                       " Check its wiring and power", self._where, error)

    def close(self) -> None:
        """Blank and switch off the panel, then release the bus. Safe to call twice.

        A panel that no longer answers is logged, not raised: closing happens on the
        way out, often because something else already failed.
        """
        if self._closed:
            return
        try:
            self._send(self._device.hide)
            self._send(self._device.clear)
        finally:
            self._closed = True
            # Already blanked: the exit hook luma registered must not touch the bus again.
            self._device.persist = True
            try:
                self._device.cleanup()
            except self._errors as error:
                _log.warning("could not release the display's bus %s: %s", self._where, error)


def _problem(driver: str, rotation: int, contrast: int) -> str | None:
    if driver not in DRIVERS:
        return f"unknown display driver {driver!r}; choose one of {', '.join(DRIVERS)}"
    if rotation not in ROTATIONS:
        return f"display rotation {rotation!r} is not one of {', '.join(map(str, ROTATIONS))}"
    if not 0 <= contrast <= 255:
        return f"display contrast {contrast!r} is not from 0 to 255"
    return None


def open_oled(driver: str = "ssd1306", interface: str = "i2c", *, i2c_port: int = 1,
              i2c_address: int = 0x3C, spi_port: int = 0, spi_device: int = 0,
              dc_pin: int = 25, reset_pin: int = 22, spi_speed_hz: int = 8_000_000,
              rotation: int = 0, contrast: int = 0x7F, i2c_bus: Any = None, spi: Any = None,
              gpio: Any = None) -> OledDisplay:
    """Open the bus ``interface`` names and the panel on it.

    ``i2c_bus``, ``spi`` and ``gpio`` replace the real smbus, spidev and RPi.GPIO objects
    (tests pass recording ones).

    Raises:
        ValueError: unknown driver, interface, rotation, contrast or SPI speed.
        DeviceError: the bus or the panel cannot be used.
    """
    problem = _problem(driver, rotation, contrast)
    if problem:
        raise ValueError(problem)
    if interface == "i2c":
        bus = open_i2c(i2c_port, i2c_address, bus=i2c_bus)
    elif interface == "spi":
        bus = open_spi(spi_port, spi_device, dc_pin=dc_pin, reset_pin=reset_pin,
                       speed_hz=spi_speed_hz, spi=spi, gpio=gpio)
    else:
        raise ValueError(f"unknown display interface {interface!r}; choose i2c or spi")
    return OledDisplay(driver, bus, rotation=rotation, contrast=contrast)
