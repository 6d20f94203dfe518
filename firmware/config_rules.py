"""The configuration's value rules: what a key's type alone cannot say (a range, a URL, a
GPIO pin not claimed twice, a room name not blank), by dotted key.

Each rule is ``rule(value, config)`` and raises ValueError with the problem;
:func:`firmware.config.config_from_dict` adds the key's name. A part's rules that depend on
its backend live in the backend's table entry (:attr:`hal.backends.Backend.rules`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware.config_sections import Config, backend_of
from sync.asset import ASSET_COLUMNS
from sync.registers import sends_token
from sync.transport import cleartext_host, cleartext_refusal

__all__ = ["VALUE_RULES", "Rule", "in_range"]


Rule = Callable[[Any, Config], None]
"""A value rule: ``rule(value, config)`` raises ValueError with the problem."""


def in_range(low: float, high: float | None = None, *, above: bool = False,
              unit: str = "") -> Rule:
    """A rule: the number is ``low`` or more (more than ``low`` if ``above``), ``high`` at most."""
    def rule(value: float, config: Config) -> None:
        if (value > low if above else value >= low) and (high is None or value <= high):
            return
        if high is not None:
            raise ValueError(f"must be from {low} to {high}{unit}")
        if above:
            raise ValueError(f"must be more than {low}{unit}")
        raise ValueError(f"must be {low} or more{unit}")

    return rule


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_GPIO = in_range(0, 27, unit=" (a BCM GPIO number of the 40-pin header)")
_PINS = ("feedback.buzzer_pin", "feedback.green_pin", "feedback.red_pin", "buttons.end_pin",
         "buttons.next_pin", "buttons.mode_pin", "display.dc_pin", "display.reset_pin")
"""Every GPIO a part may claim; each must differ from those before it that are in use."""


def _device_id(value: str, config: Config) -> None:
    if not _FILE_NAME.fullmatch(value):
        raise ValueError("use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter"
                         f" or digit (it names files in the outbox), not {value!r}")


def _location(value: str, config: Config) -> None:
    if not value.strip():
        raise ValueError("an empty room name (leave the key out to start from a LOC: label)")


def _campaign(value: str, config: Config) -> None:
    if not value.strip():
        raise ValueError("an empty campaign name (leave the key out for none)")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("a control character in the campaign name")


def _device_mode(value: str, config: Config) -> None:
    if value == "kiosk" and config.kiosk.location is None:
        raise ValueError("a kiosk needs kiosk.location: the room its door leads into")


def _kiosk_location(value: str | None, config: Config) -> None:
    if not value.strip():
        raise ValueError("an empty room name: name the room this kiosk's door leads into")


def _tag_pattern(value: str, config: Config) -> None:
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


def _i2c_address(value: int, config: Config) -> None:
    if not 0x03 <= value <= 0x77:
        raise ValueError("must be a 7-bit I2C address (0x03 to 0x77)")


def _on_gpio(section: str, config: Config) -> bool:
    """Whether the part a section configures claims its GPIO pins (its backend says)."""
    settings = getattr(config, section)
    backend = backend_of(settings)
    return backend is not None and backend.uses_gpio(settings)


def _pin(key: str) -> Rule:
    """A pin differs from the pins before it in ``_PINS`` of its own section, and from
    those of other sections when both parts are on GPIO."""
    section = key.split(".")[0]

    def rule(value: int, config: Config) -> None:
        _GPIO(value, config)
        if section == "display" and value == 0:
            raise ValueError("GPIO 0 cannot drive the display (luma takes pin 0 for none)")
        for other in _PINS[: _PINS.index(key)]:
            other_section, other_name = other.split(".")
            if other_section != section and not (_on_gpio(section, config)
                                                 and _on_gpio(other_section, config)):
                continue
            if getattr(getattr(config, other_section), other_name) == value:
                raise ValueError(f"GPIO {value} is already {other}")

    return rule


def _rotation(value: int, config: Config) -> None:
    if value not in (0, 180):
        raise ValueError("must be 0 or 180 (degrees; screens are drawn landscape, so a"
                         " quarter turn is not offered)")


def _spi_speed(value: int, config: Config) -> None:
    from hal.display.bus import SPI_SPEEDS_HZ

    if value not in SPI_SPEEDS_HZ:
        raise ValueError(f"must be one of {', '.join(map(str, SPI_SPEEDS_HZ))} (Hz)")


def _blank_after(value: float, config: Config) -> None:
    in_range(0, 86400, unit=" seconds")(value, config)
    dim_after = config.display.dim_after
    if value and dim_after and value <= dim_after:
        raise ValueError(f"must be longer than display.dim_after ({dim_after} s), or 0")


def _scanner_devices(value: list[str], config: Config) -> None:
    named = [config.scanner.device.strip()] + [device.strip() for device in value]
    if any(not device for device in named[1:]):
        raise ValueError("an empty device name")
    doubled = sorted({device for device in named if device and named.count(device) > 1})
    if doubled:
        raise ValueError(f"{', '.join(map(repr, doubled))} named twice (scanner.device and"
                         " scanner.devices together name each scanner once)")


def _cards_format(value: str, config: Config) -> None:
    from firmware.cards import check_convertible

    check_convertible(value, config.identity.card_format)


def _camera_exposure(value: float, config: Config) -> None:
    in_range(0, unit=" ms")(value, config)
    if value > 1000 / config.camera.fps:
        raise ValueError(f"{value} ms is longer than one frame at camera.fps ="
                         f" {config.camera.fps:g} ({1000 / config.camera.fps:g} ms)")


def _symbologies(value: list[str], config: Config) -> None:
    if not value:
        return  # the default set; and the camera stack (numpy) stays unloaded on a camera-less device
    from hal.camera.decode import SYMBOLOGIES

    known = SYMBOLOGIES[config.camera.decoder]
    unknown = [name for name in value if name.upper() not in known]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))}: not read by the"
                         f" {config.camera.decoder} decoder (valid: {', '.join(sorted(known))})")


def _giai_prefixes(value: list[str], config: Config) -> None:
    for prefix in value:
        if not re.fullmatch(r"[0-9]{4,12}", prefix):
            raise ValueError(f"{prefix!r} is not a GS1 company prefix (4 to 12 digits)")


def _register_adapter(value: str, config: Config) -> None:
    if value == "nautobot" and config.device.mode != "handheld":
        raise ValueError(f"the nautobot adapter serves handheld audits only; device.mode"
                         f" {config.device.mode!r} needs check-out and check-in, which a DCIM"
                         " register does not record (use snipeit, http or files)")


def _intake(value: bool, config: Config) -> None:
    if value and config.register.adapter == "nautobot":
        raise ValueError("the nautobot adapter takes no intake records: Nautobot needs a"
                         " device type, role and site for a new device, which a scan cannot"
                         " tell (set register.intake = false, or use snipeit, http or files)")


def _intake_text(value: str, config: Config) -> None:
    if not value.strip() or len(value) > 255:
        raise ValueError(f"{value!r} is not a name (1 to 255 characters)")


def _intake_tag_range(value: str, config: Config) -> None:
    if value:
        from sync.intake_tags import parse_tag_range

        parse_tag_range(value)


def _audited_field(value: str, config: Config) -> None:
    if value and not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", value):
        raise ValueError(f"{value!r} is not a Nautobot custom field key (lowercase letters,"
                         " digits and '_', starting with a letter)")


def _register_url(value: str, config: Config) -> None:
    parts = urlsplit(value)
    port = parts.port  # raises ValueError for a port out of range or not a number
    if (parts.scheme not in ("http", "https") or not parts.hostname or port == 0
            or any(ch.isspace() for ch in value)):
        raise ValueError(f"{value!r} is not an http(s) URL")
    host = cleartext_host(value)
    if (host is not None and sends_token(config.register.adapter)
            and not config.register.allow_insecure_http):
        raise ValueError(cleartext_refusal(value, host))


def _label_hosts(value: list[str], config: Config) -> None:
    for host in value:
        match = re.fullmatch(r"[A-Za-z0-9.-]+(?::([0-9]{1,5}))?(?:/\S*)?", host)
        if not match or (match[1] is not None and not 0 < int(match[1]) <= 65535):
            raise ValueError(f"{host!r} is not a host name (host, host:port or host/base-path)")


def _columns(value: dict[str, str], config: Config) -> None:
    for column in value:
        if column not in ASSET_COLUMNS:
            raise ValueError(f"unknown column {column!r} (known: {', '.join(ASSET_COLUMNS)})")


def _printer_url(value: str, config: Config) -> None:
    if value and (urlsplit(value).scheme not in ("http", "https")
                  or not urlsplit(value).hostname or any(ch.isspace() for ch in value)):
        raise ValueError(f"{value!r} is not an http(s) URL")


def _health_file(value: Path, config: Config) -> None:
    if value.suffix != ".prom":
        raise ValueError(f"{value.name!r}: node_exporter reads only files ending in .prom")


VALUE_RULES: dict[str, Rule] = {
    "device.id": _device_id,
    "audit.location": _location,
    "audit.repeat_window": in_range(0, unit=" seconds"),
    "audit.tag_pattern": _tag_pattern,
    "audit.room_confirm_window": in_range(0, unit=" seconds"),
    "audit.intake_timeout": in_range(0, 3600, above=True, unit=" seconds"),
    "audit.resume_within": in_range(0, above=True, unit=" hours"),
    "audit.campaign": _campaign,
    "device.mode": _device_mode,
    "kiosk.location": _kiosk_location,
    "kiosk.session_timeout": in_range(1, 3600, unit=" seconds"),
    "kiosk.overdue_days": in_range(0, 3650, above=True, unit=" days"),
    "identity.giai_prefixes": _giai_prefixes,
    "camera.fps": in_range(0, above=True),
    "camera.width": in_range(16, 4096, unit=" pixels"),
    "camera.height": in_range(16, 4096, unit=" pixels"),
    "camera.exposure_ms": _camera_exposure,
    "camera.symbologies": _symbologies,
    "camera.redundancy": in_range(1, 10, unit=" frames"),
    "display.i2c_port": in_range(0, 255, unit=" (the N of /dev/i2c-N)"),
    "display.i2c_address": _i2c_address,
    "display.spi_port": in_range(0, 6, unit=" (the N of /dev/spidevN.M)"),
    "display.spi_device": in_range(0, 3, unit=" (the M of /dev/spidevN.M)"),
    "display.spi_speed_hz": _spi_speed,
    "display.rotation": _rotation,
    "display.contrast": in_range(0, 255),
    "display.dim_after": in_range(0, 86400, unit=" seconds"),
    "display.blank_after": _blank_after,
    "buttons.bounce": in_range(0, 1, unit=" seconds"),
    **{key: _pin(key) for key in _PINS},
    "register.adapter": _register_adapter,
    "register.audited_field": _audited_field,
    "register.intake": _intake,
    "register.intake_status": _intake_text,
    "register.intake_unknown_model": _intake_text,
    "register.intake_tag_range": _intake_tag_range,
    "register.url": _register_url,
    "register.label_hosts": _label_hosts,
    "register.columns": _columns,
    "register.timeout": in_range(0, 600, above=True, unit=" seconds"),
    "register.rate_per_minute": in_range(0, 6000, above=True),
    "register.batch_size": in_range(1, 1000),
    "scanner.devices": _scanner_devices,
    "cards.format": _cards_format,
    "scanner.inter_key_timeout": in_range(0, 10, above=True, unit=" seconds"),
    "scanner.max_length": in_range(1, 65536),
    "rfid.baudrate": in_range(1200, 4_000_000),
    "rfid.window": in_range(0, 3600, unit=" seconds"),
    "sync.interval": in_range(0, 86400, above=True, unit=" seconds"),
    "sync.backoff_max": in_range(1, 86400, unit=" seconds"),
    "sync.retry_after_max": in_range(1, 86400, unit=" seconds"),
    "service.health_file": _health_file,
    "service.health_interval": in_range(1, 3600, unit=" seconds"),
    "printer.url": _printer_url,
    "printer.timeout": in_range(0, 600, above=True, unit=" seconds"),
}
"""Value rules by dotted key: each raises ValueError with the problem, the key is added."""
