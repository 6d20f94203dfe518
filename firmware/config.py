"""The device configuration: one TOML file, every key with a default, strictly checked.

An unknown section or key, a value of the wrong type or a value out of its range is a
:class:`ConfigError` naming the key (``camera.path: expected a string, got integer``).
Paths are resolved relative to the directory of the configuration file.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware.errors import ConfigError
from sync.asset import ASSET_COLUMNS
from firmware.cards import FORMATS as CARD_FORMATS
from firmware.kiosk_rules import DEFAULT_BLOCKED_STATUSES
from firmware.tags import DEFAULT_TAG_PATTERN
from hal.backends import Backend
from hal.buttons.backends import ButtonsSettings
from hal.camera.backends import CameraSettings
from hal.cards.backends import CardsSettings
from hal.display.backends import DisplaySettings
from hal.feedback.backends import FeedbackSettings
from hal.printer.backends import PrinterSettings
from hal.rfid.backends import RfidSettings
from hal.scanner.backends import ScannerSettings
from sync.registers import ADAPTERS, sends_token
from sync.settings import SNIPEIT_BATCH_SIZE, RegisterSettings
from sync.transport import cleartext_host, cleartext_refusal


def _choice(*values: str) -> dict[str, tuple[str, ...]]:
    return {"choices": values}


@dataclass(frozen=True)
class DeviceConfig:
    """``[device]``: who this device is and what it does."""

    id: str = "stocktaker"
    mode: str = field(default="handheld", metadata=_choice("handheld", "kiosk"))


@dataclass(frozen=True)
class AuditConfig:
    """``[audit]``: the handheld audit session."""

    location: str | None = None
    technician: str = ""
    repeat_window: float = 2.0
    tag_pattern: str = DEFAULT_TAG_PATTERN
    room_confirm_window: float = 10.0
    resume_within: float = 12.0
    on_stop: str = field(default="report", metadata=_choice("report", "keep"))
    campaign: str | None = None
    intake_timeout: float = 20.0
    """Seconds without a scan after which an intake being gathered closes."""


@dataclass(frozen=True)
class KioskConfig:
    """``[kiosk]``: the door kiosk (``device.mode = "kiosk"``)."""

    location: str | None = None
    session_timeout: float = 30.0
    overdue_days: float = 14.0
    blocked_statuses: list[str] = field(default_factory=lambda: list(DEFAULT_BLOCKED_STATUSES))


@dataclass(frozen=True)
class IdentityConfig:
    """``[identity]``: how a scanned identifier is matched to the register's records."""

    leading_zeros: str = field(default="ignore", metadata=_choice("ignore", "keep"))
    giai_prefixes: list[str] = field(default_factory=list)
    card_format: str = field(default="decimal", metadata=_choice(*CARD_FORMATS))


CameraConfig = CameraSettings
"""``[camera]``: where frames come from and how they are decoded."""
ScannerConfig = ScannerSettings
"""``[scanner]``: the keyboard-wedge (HID) scanner."""
RfidConfig = RfidSettings
"""``[rfid]``: a serial UHF RFID reader reporting EPCs."""


@dataclass(frozen=True)
class CardsConfig(CardsSettings):
    """``[cards]``: a keyboard-emulating 125 kHz / 13.56 MHz RFID card reader; its
    ``format`` one of the firmware's card formats."""

    format: str = field(default="decimal", metadata=_choice(*CARD_FORMATS))


DisplayConfig = DisplaySettings
"""``[display]``: the OLED and its terminal stand-in."""
FeedbackConfig = FeedbackSettings
"""``[feedback]``: buzzer and LEDs."""
ButtonsConfig = ButtonsSettings
"""``[buttons]``: end room, next/confirm and mode buttons."""


@dataclass(frozen=True)
class RegisterConfig(RegisterSettings):
    """``[register]``: the asset register adapter; its ``adapter`` one of the table's."""

    adapter: str = field(default="files", metadata={"choices": ADAPTERS})


@dataclass(frozen=True)
class SyncConfig:
    """``[sync]``: when the background sync hands the queue to the register."""

    interval: float = 30.0
    backoff_max: float = 300.0
    retry_after_max: float = 900.0


@dataclass(frozen=True)
class QueueConfig:
    """``[queue]``: the durable on-device sighting queue."""

    path: Path = Path("state")


@dataclass(frozen=True)
class ServiceConfig:
    """``[service]``: running as a systemd service (health textfile for node_exporter)."""

    health_file: Path | None = None
    health_interval: float = 15.0


PrinterConfig = PrinterSettings
"""``[printer]``: the label printer (``stocktaker label``)."""


@dataclass(frozen=True)
class Config:
    """The whole configuration, one attribute per TOML section."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    kiosk: KioskConfig = field(default_factory=KioskConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    rfid: RfidConfig = field(default_factory=RfidConfig)
    cards: CardsConfig = field(default_factory=CardsConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    printer: PrinterConfig = field(default_factory=PrinterConfig)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list of strings", Path: "a path (string)",
               dict: "a table of strings"}
_TOML_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array",
               dict: "table"}


#: A configuration file is a page of text; anything this big is the wrong file.
MAX_CONFIG_BYTES = 1024 * 1024


def load_config(path: str | Path) -> Config:
    """Read and check the TOML file at ``path``.

    Raises:
        ConfigError: the file is missing, not UTF-8 TOML, or has an unknown key or wrong
            value; the message names the file or the key.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES // 1024} KiB, not a configuration file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}, line {line}: byte 0x{raw[exc.start]:02X} is not UTF-8 text"
                          " (save the file as UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    # tomllib raises these past its own error type: nesting too deep, integers too long.
    except (RecursionError, ValueError) as exc:
        raise ConfigError(f"{path}: not a usable TOML file: {exc}") from None
    return config_from_dict(data, base=path.resolve().parent)


def config_from_dict(data: dict[str, Any], base: Path) -> Config:
    """Build a :class:`Config` from parsed TOML, resolving paths against ``base``."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    built: dict[str, Any] = {}
    for name, value in data.items():
        if name not in sections:
            raise ConfigError(f"unknown section [{name}] (known: {', '.join(sections)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table [{name}], got {_toml_name(value)}")
        section_type = typing.get_type_hints(Config)[name]
        built[name] = _section(name, section_type, value, base)
    config = _with_defaults_resolved(Config(**built), base)
    if config.register.adapter == "snipeit" and "batch_size" not in data.get("register", {}):
        # One push is one bulk audit request per room: a shelf of tags in one request.
        config = dataclasses.replace(config, register=dataclasses.replace(
            config.register, batch_size=SNIPEIT_BATCH_SIZE))
    _check_values(config)
    return config


def _check_values(config: Config) -> None:
    """Checks of values that types alone cannot express.

    Every key of every section is checked, by its rule in ``_VALUE_RULES`` or, for a number
    without one here or in its backend, as ``0 or more``; then, in a part's section, by the
    rule the chosen backend has for it (:attr:`hal.backends.Backend.rules`: ``evdev`` needs
    its device). Whatever a rule raises becomes a :class:`ConfigError` naming the key.
    """
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        backend = _backend_of(section)
        for spec in dataclasses.fields(section):
            key = f"{section_field.name}.{spec.name}"
            value = getattr(section, spec.name)
            rule = _VALUE_RULES.get(key)
            backend_rule = backend.rules.get(spec.name) if backend is not None else None
            if rule is None and backend_rule is None and _is_number(value):
                rule = _in_range(0)
            if value is None:
                continue
            try:
                if rule is not None:
                    rule(value, config)
                if backend_rule is not None:
                    backend_rule(value, section)
            except ConfigError:
                raise
            except (ValueError, TypeError, OverflowError, RecursionError, re.error) as exc:
                raise ConfigError(f"{key}: {exc}") from None


def _backend_of(section: Any) -> Backend[Any] | None:
    """The table entry a part's section chose (its ``backend`` key's table), or None for a
    section that configures no part."""
    fields = {f.name: f for f in dataclasses.fields(section)}
    table = fields["backend"].metadata.get("choices") if "backend" in fields else None
    return table[section.backend] if isinstance(table, Mapping) else None


_Rule = Callable[[Any, Config], None]


def _in_range(low: float, high: float | None = None, *, above: bool = False,
              unit: str = "") -> _Rule:
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
_GPIO = _in_range(0, 27, unit=" (a BCM GPIO number of the 40-pin header)")
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
    backend = _backend_of(settings)
    return backend is not None and backend.uses_gpio(settings)


def _pin(key: str) -> _Rule:
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
    _in_range(0, 86400, unit=" seconds")(value, config)
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
    _in_range(0, unit=" ms")(value, config)
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


_VALUE_RULES: dict[str, _Rule] = {
    "device.id": _device_id,
    "audit.location": _location,
    "audit.repeat_window": _in_range(0, unit=" seconds"),
    "audit.tag_pattern": _tag_pattern,
    "audit.room_confirm_window": _in_range(0, unit=" seconds"),
    "audit.intake_timeout": _in_range(0, 3600, above=True, unit=" seconds"),
    "audit.resume_within": _in_range(0, above=True, unit=" hours"),
    "audit.campaign": _campaign,
    "device.mode": _device_mode,
    "kiosk.location": _kiosk_location,
    "kiosk.session_timeout": _in_range(1, 3600, unit=" seconds"),
    "kiosk.overdue_days": _in_range(0, 3650, above=True, unit=" days"),
    "identity.giai_prefixes": _giai_prefixes,
    "camera.fps": _in_range(0, above=True),
    "camera.width": _in_range(16, 4096, unit=" pixels"),
    "camera.height": _in_range(16, 4096, unit=" pixels"),
    "camera.exposure_ms": _camera_exposure,
    "camera.symbologies": _symbologies,
    "camera.redundancy": _in_range(1, 10, unit=" frames"),
    "display.i2c_port": _in_range(0, 255, unit=" (the N of /dev/i2c-N)"),
    "display.i2c_address": _i2c_address,
    "display.spi_port": _in_range(0, 6, unit=" (the N of /dev/spidevN.M)"),
    "display.spi_device": _in_range(0, 3, unit=" (the M of /dev/spidevN.M)"),
    "display.spi_speed_hz": _spi_speed,
    "display.rotation": _rotation,
    "display.contrast": _in_range(0, 255),
    "display.dim_after": _in_range(0, 86400, unit=" seconds"),
    "display.blank_after": _blank_after,
    "buttons.bounce": _in_range(0, 1, unit=" seconds"),
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
    "register.timeout": _in_range(0, 600, above=True, unit=" seconds"),
    "register.rate_per_minute": _in_range(0, 6000, above=True),
    "register.batch_size": _in_range(1, 1000),
    "scanner.devices": _scanner_devices,
    "cards.format": _cards_format,
    "scanner.inter_key_timeout": _in_range(0, 10, above=True, unit=" seconds"),
    "scanner.max_length": _in_range(1, 65536),
    "rfid.baudrate": _in_range(1200, 4_000_000),
    "rfid.window": _in_range(0, 3600, unit=" seconds"),
    "sync.interval": _in_range(0, 86400, above=True, unit=" seconds"),
    "sync.backoff_max": _in_range(1, 86400, unit=" seconds"),
    "sync.retry_after_max": _in_range(1, 86400, unit=" seconds"),
    "service.health_file": _health_file,
    "service.health_interval": _in_range(1, 3600, unit=" seconds"),
    "printer.url": _printer_url,
    "printer.timeout": _in_range(0, 600, above=True, unit=" seconds"),
}
"""Value rules by dotted key: each raises ValueError with the problem, the key is added."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _section(name: str, section_type: type, values: dict[str, Any], base: Path) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section_type)}
    hints = typing.get_type_hints(section_type)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"unknown key {name}.{key} (known: {', '.join(fields)})")
        kwargs[key] = _check(f"{name}.{key}", hints[key], fields[key], value, base)
    return section_type(**kwargs)


def _check(key: str, hint: Any, spec: dataclasses.Field, value: Any, base: Path) -> Any:
    try:
        return _checked(key, hint, spec, value, base)
    except ConfigError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _checked(key: str, hint: Any, spec: dataclasses.Field, value: Any, base: Path) -> Any:
    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    wanted = next(t for t in typing.get_args(hint) if t is not type(None)) if optional else hint
    origin = typing.get_origin(wanted) or wanted
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected {_TYPE_NAMES[list]}, got {_toml_name(value)}")
        for item in value:
            _check_text(key, item, "list item")
        return list(value)
    if origin is dict:
        item_type = typing.get_args(wanted)[1]
        if not isinstance(value, dict) or not all(
                isinstance(v, item_type) and not isinstance(v, bool) for v in value.values()):
            name = _TYPE_NAMES[dict] if item_type is str else "a table of whole numbers"
            raise ConfigError(f"{key}: expected {name}, got {_toml_name(value)}")
        for name, item in value.items():
            _check_text(key, name, "table key")
            if item_type is str:
                _check_text(key, item, "table value")
            elif item < 1:
                raise ConfigError(f"{key}: {name!r} must be 1 or more")
        return dict(value)
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    expected = str if origin is Path else origin
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ConfigError(f"{key}: expected {_TYPE_NAMES[origin]}, got {_toml_name(value)}")
    if origin is float and not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, not {value}")
    if isinstance(value, str):
        _check_text(key, value, "path" if origin is Path else None)
    choices = spec.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    if origin is Path:
        return base / value
    return value


def _check_text(key: str, text: str, what: str | None) -> None:
    """No control character in any string; none empty or blank where ``what`` is named."""
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            raise ConfigError(f"{key}: control character U+{ord(ch):04X} in {text!r}")
    if what is not None and not text.strip():
        raise ConfigError(f"{key}: {'empty' if not text else 'blank'} {what}")


def _with_defaults_resolved(config: Config, base: Path) -> Config:
    """Resolve the default (relative) paths against ``base`` as well."""
    def resolved(section: Any) -> Any:
        changes = {f.name: base / getattr(section, f.name)
                   for f in dataclasses.fields(section)
                   if isinstance(getattr(section, f.name), Path)
                   and not getattr(section, f.name).is_absolute()}
        return dataclasses.replace(section, **changes)

    return Config(**{f.name: resolved(getattr(config, f.name)) for f in dataclasses.fields(config)})


def _toml_name(value: Any) -> str:
    for kind, name in _TOML_NAMES.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return name
    return type(value).__name__
