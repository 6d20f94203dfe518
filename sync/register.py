"""The asset register seen from the device: a small interface with one adapter per kind.

Adapters are chosen in configuration (``[register] adapter``), as TinyDB's storages are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from firmware.errors import ConfigError
from firmware.inventory import Asset
from hal.resource import Resource

if TYPE_CHECKING:
    from firmware.config import RegisterConfig


class Register(Resource, ABC):
    """Where the expected inventory comes from and where sightings and reports go."""

    @abstractmethod
    def expected_assets(self) -> list[Asset]:
        """The register's assets (the expected inventory)."""

    @abstractmethod
    def push(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Hand over a batch of sighting records; idempotent by ``sighting_id``.

        Returns how many records were new to the register.
        """

    @abstractmethod
    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Hand over an audit report; returns where it went (paths or URLs)."""


def open_register(config: RegisterConfig, device_id: str) -> Register:
    """The register adapter ``config.adapter`` names.

    Raises:
        ConfigError: ``config.adapter`` names no known adapter.
    """
    if config.adapter == "files":
        from sync.files import FilesRegister

        return FilesRegister(config.manifest, config.outbox, device_id, config.columns)
    raise ConfigError(f"register.adapter: unknown register adapter {config.adapter!r}"
                      " (known: files)")
