"""The device configuration: one TOML file, every key with a default, strictly checked.

An unknown section or key, a value of the wrong type or a value out of its range is a
:class:`ConfigError` naming the key (``camera.path: expected a string, got integer``).
Paths are resolved relative to the directory of the configuration file.

This module reads and checks the file; the sections are :mod:`firmware.config_sections`
(imported from here as before) and the value rules :mod:`firmware.config_rules`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
import unicodedata
from pathlib import Path
from typing import Any

from firmware.config_rules import VALUE_RULES as _VALUE_RULES
from firmware.config_rules import in_range
from firmware.config_sections import (
    AuditConfig,
    ButtonsConfig,
    CameraConfig,
    CardsConfig,
    Config,
    DeviceConfig,
    DisplayConfig,
    FeedbackConfig,
    IdentityConfig,
    KioskConfig,
    PrinterConfig,
    QueueConfig,
    RegisterConfig,
    RfidConfig,
    ScannerConfig,
    ServiceConfig,
    SyncConfig,
    backend_of,
)
from firmware.errors import ConfigError
from sync.settings import SNIPEIT_BATCH_SIZE

__all__ = ["MAX_CONFIG_BYTES", "AuditConfig", "ButtonsConfig", "CameraConfig", "CardsConfig",
           "Config", "DeviceConfig", "DisplayConfig", "FeedbackConfig", "IdentityConfig",
           "KioskConfig", "PrinterConfig", "QueueConfig", "RegisterConfig", "RfidConfig",
           "ScannerConfig", "ServiceConfig", "SyncConfig", "config_from_dict", "load_config"]


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
        backend = backend_of(section)
        for spec in dataclasses.fields(section):
            key = f"{section_field.name}.{spec.name}"
            value = getattr(section, spec.name)
            rule = _VALUE_RULES.get(key)
            backend_rule = backend.rules.get(spec.name) if backend is not None else None
            if rule is None and backend_rule is None and _is_number(value):
                rule = in_range(0)
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
