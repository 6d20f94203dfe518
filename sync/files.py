"""The ``files`` register adapter: a CSV export in, JSON Lines and CSV reports out.

For air-gapped rooms, first use and demos: the outbox folder can be a USB stick. A door
kiosk's people come from a CSV too (``register.people``), and its check-outs, check-ins
and refusals go into the same JSON Lines file plus a daily movements CSV. Intake records
(assets the audit found that the register lacks) also go into ``intake-<device>.csv``,
in the column layout of Snipe-IT's asset importer (see :mod:`sync.intake_csv`). A folder
cannot disagree, so this adapter never answers a conflict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sync.errors import RegisterError, RegisterUnavailable
from sync.asset import Asset
from sync.person import Person
from sync.intake_csv import write_intakes
from sync.manifest import read_manifest
from sync.movements_csv import write_movements
from sync.outbox import FilesOutbox, folder_error
from sync.people_csv import read_people
from sync.register import ItemResult, ItemStatus, Register
from sync.sighting import Outgoing


class FilesRegister(Register):
    """The register as two places on disk: the manifest CSV and the outbox folder.

    Args:
        manifest: the expected-inventory CSV export.
        outbox: the folder sightings and reports are written to (created when needed).
        device_id: names this device's sightings file in the outbox.
        columns: our column name -> the export's header for it (``[register.columns]``).
        people: the door kiosk's people CSV (``register.people``), None when not kept.
        intake_status: the "Status" of intake rows (``register.intake_status``).
        intake_unknown_model: their "Model Name" when no model number was scanned.
    """

    def __init__(self, manifest: str | Path, outbox: str | Path, device_id: str,
                 columns: Mapping[str, str] | None = None, *,
                 people: str | Path | None = None, intake_status: str = "Pending",
                 intake_unknown_model: str = "Unknown model") -> None:
        self.intake_status = intake_status
        self.intake_unknown_model = intake_unknown_model
        self.manifest = Path(manifest)
        self.columns = dict(columns or {})
        self.outbox = FilesOutbox(outbox, device_id)
        self.people_path = None if people is None else Path(people)

    def expected_assets(self) -> list[Asset]:
        """The assets listed in the manifest (see :func:`sync.manifest.read_manifest`).

        Raises:
            RegisterUnavailable: the manifest is not there (a USB stick not plugged in):
                the device audits with the copy it saved last time, if any.
            ManifestError: the manifest is there but unusable.
        """
        if not self.manifest.exists():
            raise RegisterUnavailable(f"{self.manifest}: expected-inventory file not found"
                                      " (on a USB stick: is it plugged in?)")
        return read_manifest(self.manifest, self.columns)

    def check(self) -> None:
        """Prove both places are usable: the manifest can be read, and the outbox folder
        (or, before it is made, the folder it will be made in) can be written.

        Raises:
            RegisterUnavailable: the manifest or the outbox's disk is not there (a USB
                stick not plugged in).
            RegisterError: either is there but cannot be used (permissions, not a folder).
        """
        try:
            with self.manifest.open("rb") as fh:
                fh.read(1)
        except FileNotFoundError:
            raise RegisterUnavailable(f"{self.manifest}: expected-inventory file not found"
                                      " (on a USB stick: is it plugged in?)") from None
        except OSError as exc:
            raise RegisterError(f"{self.manifest}: cannot read the expected inventory:"
                                f" {exc.strerror or exc}") from None
        folder = self.outbox.directory
        made = folder
        while not made.exists() and made.parent != made:
            made = made.parent
        if not made.is_dir():
            raise RegisterError(f"cannot write to the outbox folder {folder}: {made} is not"
                                " a folder")
        if not os.access(made, os.W_OK | os.X_OK):
            raise RegisterError(f"cannot write to the outbox folder {folder}: {made} is not"
                                " writable by this user")

    def people(self) -> list[Person]:
        """The people of ``register.people`` (see :func:`sync.people_csv.read_people`).

        Raises:
            RegisterError: no people file is configured, or it cannot be used (the
                message names the key, the file, and the line and column at fault).
        """
        if self.people_path is None:
            raise RegisterError("register.people: no people file is set for the door kiosk")
        return read_people(self.people_path)

    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Append the records not yet in this device's JSON Lines file; all are accepted.

        Kiosk events also go into the day's movements CSV, each once, and intake records
        into the intake CSV. The CSVs are written before the JSON Lines file, so a record
        the JSON Lines file has is in its CSV too.
        """
        self.outbox.make_folder()
        try:
            write_movements(self.outbox.directory, self.outbox.device_id, records)
            write_intakes(self.outbox.directory, self.outbox.device_id, records,
                          self.intake_status, self.intake_unknown_model)
        except OSError as exc:
            raise folder_error(self.outbox.directory, exc) from exc
        new = self.outbox.push_new([r.to_record() for r in records])
        return [ItemResult(r.sighting_id, ItemStatus.ACCEPTED if r.sighting_id in new
                           else ItemStatus.DUPLICATE) for r in records]

    def state_time(self) -> float | None:
        """The manifest's export time (its modification time): the register never reads the
        device's movements back into it, so the kiosk's own since then still count."""
        try:
            return self.manifest.stat().st_mtime
        except OSError:
            return None  # out of reach: the device's saved copy is no younger than it was

    def record_conflicts(self, conflicts: Sequence[Mapping[str, Any]]) -> None:
        """Write ``conflicts-<device>.json`` into the outbox (both sides of each)."""
        self.outbox.write_conflicts(conflicts)

    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Write ``report-<session_id>.json`` and ``.csv`` into the outbox."""
        return [str(p) for p in self.outbox.write_report(report)]
