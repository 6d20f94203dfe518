"""The device configuration: one TOML file, every key with a default, strictly checked.

An unknown section or key, or a value of the wrong type, is a :class:`ConfigError` naming
the key (``camera.path: expected a string, got integer``). Paths are resolved relative to
the directory of the configuration file.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware.errors import ConfigError
from firmware.inventory import ASSET_COLUMNS, DEFAULT_LOST_STATUSES, DEFAULT_RETIRED_STATUSES
from firmware.tags import DEFAULT_TAG_PATTERN


def _choice(*values: str) -> dict[str, tuple[str, ...]]:
    return {"choices": values}


@dataclass(frozen=True)
class DeviceConfig:
    """``[device]``: who this device is and what it does."""

    id: str = "stocktaker"
    mode: str = field(default="handheld", metadata=_choice("handheld"))


@dataclass(frozen=True)
class AuditConfig:
    """``[audit]``: the handheld audit session."""

    location: str | None = None
    technician: str = ""
    repeat_window: float = 2.0
    tag_pattern: str = DEFAULT_TAG_PATTERN
    room_confirm_window: float = 10.0
    resume_within: float = 12.0


@dataclass(frozen=True)
class IdentityConfig:
    """``[identity]``: how a scanned identifier is matched to the register's records."""

    leading_zeros: str = field(default="ignore", metadata=_choice("ignore", "keep"))
    giai_prefixes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CameraConfig:
    """``[camera]``: where frames come from and how they are decoded."""

    backend: str = field(default="none", metadata=_choice("files", "none"))
    path: Path = Path("frames")
    fps: float = 10.0
    decoder: str = field(default="zbar", metadata=_choice("zbar", "zxing"))
    symbologies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScannerConfig:
    """``[scanner]``: the keyboard-wedge (HID) scanner."""

    backend: str = field(default="stdin", metadata=_choice("stdin", "none"))


@dataclass(frozen=True)
class DisplayConfig:
    """``[display]``: the OLED and its terminal stand-in."""

    backend: str = field(default="terminal", metadata=_choice("terminal", "oled", "none"))
    style: str = field(default="braille", metadata=_choice("braille", "halfblock"))
    screens: Path | None = None
    driver: str = field(default="ssd1306", metadata=_choice("ssd1306", "sh1106"))
    i2c_port: int = 1
    i2c_address: int = 0x3C


@dataclass(frozen=True)
class FeedbackConfig:
    """``[feedback]``: buzzer and LEDs."""

    backend: str = field(default="terminal", metadata=_choice("terminal", "gpio", "none"))
    buzzer_pin: int = 18
    green_pin: int = 23
    red_pin: int = 24


@dataclass(frozen=True)
class RegisterConfig:
    """``[register]``: the asset register adapter."""

    adapter: str = field(default="files", metadata=_choice("files"))
    url: str | None = None
    label_hosts: list[str] = field(default_factory=list)
    manifest: Path = Path("expected.csv")
    columns: dict[str, str] = field(default_factory=dict)
    outbox: Path = Path("out")
    retired_statuses: list[str] = field(default_factory=lambda: list(DEFAULT_RETIRED_STATUSES))
    lost_statuses: list[str] = field(default_factory=lambda: list(DEFAULT_LOST_STATUSES))


@dataclass(frozen=True)
class QueueConfig:
    """``[queue]``: the durable on-device sighting queue."""

    path: Path = Path("state")


@dataclass(frozen=True)
class Config:
    """The whole configuration, one attribute per TOML section."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list of strings", Path: "a path (string)",
               dict: "a table of strings"}
_TOML_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array",
               dict: "table"}


def load_config(path: str | Path) -> Config:
    """Read and check the TOML file at ``path``.

    Raises:
        ConfigError: the file is missing, not TOML, or has an unknown key or wrong value.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
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
    _check_values(config)
    return config


def _check_values(config: Config) -> None:
    """Checks of values that types alone cannot express."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", config.device.id):
        raise ConfigError("device.id: use 1 to 128 letters, digits, '.', '_' or '-'"
                          " (it names files in the outbox)")
    if config.audit.repeat_window < 0:
        raise ConfigError("audit.repeat_window: must be 0 or more seconds")
    if config.camera.fps <= 0:
        raise ConfigError("camera.fps: must be more than 0")
    if not 0x03 <= config.display.i2c_address <= 0x77:
        raise ConfigError("display.i2c_address: must be a 7-bit I2C address (0x03 to 0x77)")
    try:
        re.compile(config.audit.tag_pattern)
    except re.error as exc:
        raise ConfigError(f"audit.tag_pattern: not a valid regular expression: {exc}") from None
    if config.audit.room_confirm_window < 0:
        raise ConfigError("audit.room_confirm_window: must be 0 or more seconds")
    if config.audit.resume_within <= 0:
        raise ConfigError("audit.resume_within: must be more than 0 hours")
    for prefix in config.identity.giai_prefixes:
        if not re.fullmatch(r"[0-9]{4,12}", prefix):
            raise ConfigError(f"identity.giai_prefixes: {prefix!r} is not a GS1 company prefix"
                              " (4 to 12 digits)")
    if config.register.url is not None:
        parts = urlsplit(config.register.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"register.url: {config.register.url!r} is not an http(s) URL")
    for host in config.register.label_hosts:
        if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?", host):
            raise ConfigError(f"register.label_hosts: {host!r} is not a host name"
                              " (host, host:port or host/base-path)")
    for column in config.register.columns:
        if column not in ASSET_COLUMNS:
            raise ConfigError(f"register.columns: unknown column {column!r}"
                              f" (known: {', '.join(ASSET_COLUMNS)})")


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
    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    wanted = next(t for t in typing.get_args(hint) if t is not type(None)) if optional else hint
    origin = typing.get_origin(wanted) or wanted
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected {_TYPE_NAMES[list]}, got {_toml_name(value)}")
        return list(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{key}: expected {_TYPE_NAMES[dict]}, got {_toml_name(value)}")
        return dict(value)
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    expected = str if origin is Path else origin
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ConfigError(f"{key}: expected {_TYPE_NAMES[origin]}, got {_toml_name(value)}")
    choices = spec.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    if origin is Path:
        return base / value
    return value


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
