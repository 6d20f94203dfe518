"""The configuration's sections: one frozen dataclass per TOML section, every key with
its default, and :class:`Config`, the whole file.

The parts' sections are their layer's own settings (``[camera]`` is
:class:`hal.camera.backends.CameraSettings`, ``[register]`` extends
:class:`sync.settings.RegisterSettings`); the application adds its own sections (the
device, the audit, the kiosk, identity, sync, queue and service). Reading and checking
the TOML file is :mod:`firmware.config`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from sync.registers import ADAPTERS
from sync.settings import RegisterSettings

__all__ = ["AuditConfig", "ButtonsConfig", "CameraConfig", "CardsConfig", "Config",
           "DeviceConfig", "DisplayConfig", "FeedbackConfig", "IdentityConfig", "KioskConfig",
           "PrinterConfig", "QueueConfig", "RegisterConfig", "RfidConfig", "ScannerConfig",
           "ServiceConfig", "SyncConfig", "backend_of"]


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


def backend_of(section: Any) -> Backend[Any] | None:
    """The table entry a part's section chose (its ``backend`` key's table), or None for a
    section that configures no part."""
    fields = {f.name: f for f in dataclasses.fields(section)}
    table = fields["backend"].metadata.get("choices") if "backend" in fields else None
    return table[section.backend] if isinstance(table, Mapping) else None
