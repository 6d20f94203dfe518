"""The register's settings (``[register]``), as the configuration file gives them.

The adapters take these settings; the table of adapters (:mod:`sync.registers`) names the
allowed ``adapter`` values, and the configuration loader checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sync.asset import DEFAULT_LOST_STATUSES, DEFAULT_RETIRED_STATUSES

SNIPEIT_BATCH_SIZE = 500
"""``register.batch_size`` when the adapter is ``snipeit`` and the key is not set."""


@dataclass(frozen=True)
class RegisterSettings:
    """``[register]``: the asset register adapter and how to reach it.

    ``adapter`` names an entry of :data:`sync.registers.ADAPTERS` (the configuration
    checks it; this module imports no adapter).
    """

    adapter: str = "files"
    url: str | None = None
    allow_insecure_http: bool = False
    """Let the token-sending adapters use an ``http://`` URL to another machine (a
    trusted network): the token travels in clear, and every start says so."""
    label_hosts: list[str] = field(default_factory=list)
    token_file: Path | None = None
    timeout: float = 10.0
    rate_per_minute: float | None = None
    batch_size: int = 50
    move_mislocated: bool = False
    bulk_audit: bool = True
    location_ids: dict[str, int] = field(default_factory=dict)
    manifest: Path = Path("expected.csv")
    people: Path = Path("people.csv")
    columns: dict[str, str] = field(default_factory=dict)
    outbox: Path = Path("out")
    retired_statuses: list[str] = field(default_factory=lambda: list(DEFAULT_RETIRED_STATUSES))
    lost_statuses: list[str] = field(default_factory=lambda: list(DEFAULT_LOST_STATUSES))
    locations: list[str] = field(default_factory=list)
    audited_field: str = ""
    intake: bool = False
    """Unregistered assets found in an audit become intake records (new register assets)."""
    intake_status: str = "Pending"
    intake_unknown_model: str = "Unknown model"
    intake_tag_range: str = ""
    """``FIELD-0001..FIELD-9999``: the device tags intakes itself; empty: the register does."""
