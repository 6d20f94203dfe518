"""The display's settings (``[display]``), its table of backends and :func:`open_display`.

Pillow and the panel libraries are imported only when a display is opened: the
configuration reads this module on every command.

Backends: ``terminal`` (the stand-in: luma's dummy device printed as text, optionally
saved as PNG), ``oled`` (the real SSD1306, SH1106 or SSD1309 panel on I2C or SPI, with
burn-in care) and ``none`` (:class:`~hal.display.base.NullDisplay`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from hal.backends import Backend, backend_choices, choices, choose, known
from hal.checks import Finding, System

if TYPE_CHECKING:
    from hal.display.base import Display


def _open_terminal(settings: DisplaySettings, *, stream: TextIO | None = None) -> Display:
    from hal.display.terminal import TerminalDisplay

    return TerminalDisplay(stream=stream, screens_dir=settings.screens, style=settings.style)


def _open_oled(settings: DisplaySettings, *, stream: TextIO | None = None) -> Display:
    from hal.display.idle import IdleDimmer
    from hal.display.oled import open_oled

    panel = open_oled(settings.driver, settings.interface, i2c_port=settings.i2c_port,
                      i2c_address=settings.i2c_address, spi_port=settings.spi_port,
                      spi_device=settings.spi_device, dc_pin=settings.dc_pin,
                      reset_pin=settings.reset_pin, spi_speed_hz=settings.spi_speed_hz,
                      rotation=settings.rotation, contrast=settings.contrast)
    try:
        return IdleDimmer(panel, dim_after=settings.dim_after, blank_after=settings.blank_after)
    except ValueError:
        panel.close()
        raise


def _open_none(settings: DisplaySettings, *, stream: TextIO | None = None) -> Display:
    from hal.display.base import NullDisplay

    return NullDisplay()


def _check_oled(settings: DisplaySettings, system: System) -> list[Finding]:
    """The panel's bus switched on and usable (whether the panel answers is not asked)."""
    if settings.interface == "spi":
        node = f"/dev/spidev{settings.spi_port}.{settings.spi_device}"
        if not system.exists(node):
            return [Finding("display", f"{settings.driver} on {node}", False, "SPI is off",
                            "sudo raspi-config nonint do_spi 0 (or dtparam=spi=on in"
                            " /boot/firmware/config.txt), then reboot")]
    else:
        node = f"/dev/i2c-{settings.i2c_port}"
        if not system.exists(node):
            return [Finding("display", f"{settings.driver} at 0x{settings.i2c_address:02X} on"
                            f" {node}", False, "I2C is off",
                            "sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in"
                            " /boot/firmware/config.txt), then reboot")]
    if not system.usable(node):
        group = "spi" if settings.interface == "spi" else "i2c"
        return [Finding("display", node, False, "permission denied",
                        system.join_fix(node, group))]
    return [Finding("display", f"{settings.driver} on {node}", True,
                    "bus present (i2cdetect -y N shows whether the panel answers)")]


BACKENDS: dict[str, Backend[Display]] = {
    "terminal": Backend(_open_terminal),
    "oled": Backend(_open_oled, _check_oled,
                    uses_gpio=lambda settings: settings.interface == "spi"),
    "none": Backend(_open_none),
}
"""The display backends by name."""


@dataclass(frozen=True)
class DisplaySettings:
    """``[display]``: the OLED and its terminal stand-in.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        style: ``terminal`` only: ``braille`` or ``halfblock``.
        screens: ``terminal`` only: a folder to save every frame in as PNG.
        driver: ``oled`` only: ``ssd1306``, ``sh1106`` or ``ssd1309``.
        interface: ``oled`` only: ``i2c`` or ``spi``.
        i2c_port, i2c_address: ``oled`` on I2C: the bus number and the panel's address.
        spi_port, spi_device, spi_speed_hz, dc_pin, reset_pin: ``oled`` on SPI: the bus
            (``/dev/spidev<port>.<device>``), the clock, the BCM numbers of the D/C and
            reset lines.
        rotation: ``oled`` only: 0, or 180 for a panel mounted upside down.
        contrast: ``oled`` only: 0 to 255.
        dim_after, blank_after: ``oled`` only: idle seconds before the panel is dimmed,
            then switched off (0: never); see :mod:`hal.display.idle`.
    """

    backend: str = field(default="terminal", metadata=backend_choices(BACKENDS))
    style: str = field(default="braille", metadata=choices("braille", "halfblock"))
    screens: Path | None = None
    driver: str = field(default="ssd1306", metadata=choices("ssd1306", "sh1106", "ssd1309"))
    interface: str = field(default="i2c", metadata=choices("i2c", "spi"))
    i2c_port: int = 1
    i2c_address: int = 0x3C
    spi_port: int = 0
    spi_device: int = 0
    spi_speed_hz: int = 8_000_000
    dc_pin: int = 25
    reset_pin: int = 22
    rotation: int = 0
    contrast: int = 0x7F
    dim_after: float = 60.0
    blank_after: float = 300.0


def open_display(settings: DisplaySettings, *, stream: TextIO | None = None) -> Display:
    """Open the display ``settings.backend`` names.

    Args:
        settings: the ``[display]`` settings.
        stream: ``terminal`` only: where frames are printed (standard output by default).

    Returns:
        The open display (a :class:`~hal.display.base.NullDisplay` for ``none``); close
        it (or use it as a context manager) when done.

    Raises:
        ValueError: unknown backend, style, driver, interface, rotation or contrast.
        DeviceError: the panel or its bus cannot be used.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown display backend {name!r}; choose one of {known(BACKENDS)}"))
    return backend.open(settings, stream=stream)
