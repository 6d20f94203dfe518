"""The asset register seen from the device: a small interface with one adapter per kind.

Adapters are chosen in configuration (``[register] adapter``), as TinyDB's storages are.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from firmware.errors import ConfigError
from firmware.inventory import Asset
from hal.resource import Resource

if TYPE_CHECKING:
    from firmware.config import RegisterConfig


class ItemStatus(str, enum.Enum):
    """What the register made of one sighting of a batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    """The register already had it (an earlier try was applied): done, like accepted."""
    REJECTED = "rejected"
    """Refused for good (the reason says why): it goes to the dead letters, not back."""


@dataclass(frozen=True)
class ItemResult:
    """The register's answer for one sighting of a pushed batch."""

    sighting_id: str
    status: ItemStatus
    reason: str | None = None


class Register(Resource, ABC):
    """Where the expected inventory comes from and where sightings and reports go."""

    @abstractmethod
    def expected_assets(self) -> list[Asset]:
        """The register's assets (the expected inventory).

        Raises:
            RegisterUnavailable: the register cannot be reached now.
            RegisterError: it refused (bad token, bad data).
        """

    @abstractmethod
    def push(self, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Hand over a batch of sighting records; idempotent by ``sighting_id``.

        Returns one result per record, in order. Per-item refusals are results; an
        error means nothing of the batch is known to be done and it is sent again later.

        Raises:
            RegisterUnavailable: not reachable now (retry with backoff, honouring
                ``retry_after``).
            RegisterError: the batch as a whole was refused.
        """

    @abstractmethod
    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Hand over an audit report; returns where it went (paths or URLs)."""


def open_register(config: RegisterConfig, device_id: str) -> Register:
    """The register adapter ``config.adapter`` names.

    Raises:
        ConfigError: ``config.adapter`` names no known adapter, or the adapter's
            settings are missing or unusable (the message names the key).
    """
    if config.adapter == "files":
        from sync.files import FilesRegister

        return FilesRegister(config.manifest, config.outbox, device_id, config.columns)
    if config.adapter == "http":
        from sync.http import HttpRegister

        return HttpRegister.from_config(config, device_id)
    if config.adapter == "snipeit":
        from sync.snipeit import SnipeItRegister

        return SnipeItRegister(config, device_id)
    raise ConfigError(f"register.adapter: unknown register adapter {config.adapter!r}"
                      " (known: files, http, snipeit)")
