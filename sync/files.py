"""The ``files`` register adapter: a CSV export in, JSON Lines and CSV reports out.

For air-gapped rooms, first use and demos: the outbox folder can be a USB stick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from firmware.inventory import Asset
from sync.manifest import read_manifest
from sync.outbox import FilesOutbox
from sync.register import ItemResult, ItemStatus, Register


class FilesRegister(Register):
    """The register as two places on disk: the manifest CSV and the outbox folder.

    Args:
        manifest: the expected-inventory CSV export.
        outbox: the folder sightings and reports are written to (created when needed).
        device_id: names this device's sightings file in the outbox.
        columns: our column name -> the export's header for it (``[register.columns]``).
    """

    def __init__(self, manifest: str | Path, outbox: str | Path, device_id: str,
                 columns: Mapping[str, str] | None = None) -> None:
        self.manifest = Path(manifest)
        self.columns = dict(columns or {})
        self.outbox = FilesOutbox(outbox, device_id)

    def expected_assets(self) -> list[Asset]:
        """The assets listed in the manifest (see :func:`sync.manifest.read_manifest`)."""
        return read_manifest(self.manifest, self.columns)

    def push(self, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Append the records not yet in this device's JSON Lines file; all are accepted."""
        new = self.outbox.push_new(records)
        return [ItemResult(str(r["sighting_id"]),
                           ItemStatus.ACCEPTED if str(r["sighting_id"]) in new
                           else ItemStatus.DUPLICATE) for r in records]

    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Write ``report-<session_id>.json`` and ``.csv`` into the outbox."""
        return [str(p) for p in self.outbox.write_report(report)]
