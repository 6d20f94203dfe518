"""The real display: an SSD1306 or SH1106 128x64 OLED on I2C, driven by luma.oled."""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from hal.display.base import HEIGHT, WIDTH, Display, check_frame
from hal.errors import DeviceError

DRIVERS = ("ssd1306", "sh1106")

_log = logging.getLogger(__name__)


class OledDisplay(Display):
    """A luma.oled device on an I2C bus.

    The panel is initialised and cleared as soon as the object is made. :meth:`close`
    blanks and switches off the panel, so nothing stays lit (OLEDs burn in) and nothing
    stale is shown after the service stops.

    Args:
        driver: the panel's controller, ``ssd1306`` or ``sh1106``.
        i2c_port: the I2C bus number (``/dev/i2c-<port>``).
        i2c_address: the panel's address, 0x3C or 0x3D on common boards.
        bus: an open smbus-like object to use instead of opening ``/dev/i2c-<port>``;
            it must provide ``write_i2c_block_data(address, register, data)``.

    Raises:
        ValueError: unknown driver.
        DeviceError: the bus or the panel cannot be used; the message says what to check.
    """

    def __init__(
        self,
        driver: str = "ssd1306",
        i2c_port: int = 1,
        i2c_address: int = 0x3C,
        *,
        bus: Any = None,
    ) -> None:
        if driver not in DRIVERS:
            choices = ", ".join(DRIVERS)
            raise ValueError(f"unknown display driver {driver!r}; choose one of {choices}")
        import luma.core.error
        from luma.core.interface.serial import i2c
        from luma.oled import device as oled

        self._errors = (luma.core.error.Error, OSError)
        self._where = f"I2C bus {i2c_port}, address 0x{i2c_address:02X}"
        try:
            serial = i2c(bus=bus, port=i2c_port, address=i2c_address)
        except self._errors as error:
            raise DeviceError(self._bus_problem(error, i2c_port)) from error
        try:
            self._device = getattr(oled, driver)(serial, width=WIDTH, height=HEIGHT)
        except self._errors as error:
            serial.cleanup()
            raise DeviceError(
                f"no {driver} display answers on {self._where}: {error}. Check the wiring "
                f"(SDA to GPIO2, SCL to GPIO3, VCC, GND) and the address "
                f"(0x3C or 0x3D; 'i2cdetect -y {i2c_port}' lists what answers)"
            ) from error
        # luma blanks the panel from an exit hook unless ``persist``; close() does it instead.
        self._device.persist = False
        self._closed = False

    @staticmethod
    def _bus_problem(error: BaseException, port: int) -> str:
        import luma.core.error

        if isinstance(error, luma.core.error.DevicePermissionError):
            return (
                f"no permission to use /dev/i2c-{port}: add the service user to the 'i2c' group"
            )
        if isinstance(error, luma.core.error.DeviceNotFoundError):
            return (
                f"I2C bus {port} not found (/dev/i2c-{port}): enable I2C with raspi-config "
                "(Interface Options, I2C) or 'dtparam=i2c_arm=on' in /boot/firmware/config.txt, "
                "then reboot"
            )
        return f"cannot open I2C bus {port} for the display: {error}"

    def show(self, image: Image.Image, caption: str = "") -> None:
        """Send the frame to the panel; ``caption`` is only logged."""
        if self._closed:
            raise DeviceError(f"the display on {self._where} is closed")
        frame = check_frame(image)
        _log.debug("display: %s", caption)
        try:
            self._device.display(frame)
        except self._errors as error:
            raise DeviceError(
                f"the display on {self._where} stopped answering: {error}. "
                "Check its wiring and power"
            ) from error

    def close(self) -> None:
        """Blank and switch off the panel, then release the bus.

        A panel that no longer answers is logged, not raised: closing happens on the
        way out, often because something else already failed.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._device.hide()
            self._device.clear()
        except self._errors as error:
            _log.warning("could not blank the display on %s: %s", self._where, error)
        finally:
            # Already blanked: the exit hook luma registered must not touch the bus again.
            self._device.persist = True
            self._device.cleanup()
