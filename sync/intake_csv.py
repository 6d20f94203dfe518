"""Intake records as a CSV Snipe-IT's importer takes (the ``files`` adapter).

Every intake record also goes, as one row, into ``intake-<device>.csv`` in the outbox
folder. Its header names are the English labels of Snipe-IT's asset importer
(``app/Livewire/Importer.php``: ``asset_tag`` "Asset Tag", ``asset_model`` "Model Name",
``model_number`` via its alias "model number", ``serial`` "Serial Number", ``status``,
``location``, ``category``, ``manufacturer``, ``asset_notes`` "Asset Notes"), so an import
of type *Assets* maps every column by itself. "Asset Tag" is empty when the device gave
no tag: the importer then takes Snipe-IT's auto-increment tag. "Model Name" is the
intake's model number when one was scanned, else ``register.intake_unknown_model``;
"Status" is ``register.intake_status``. The last column, "Intake Id", is not an importer
field (the importer leaves it unmapped): it keeps one row per intake, so a batch pushed
again adds nothing.

The file is rewritten whole and atomically (an audit finds a handful of unknown assets,
not thousands); cells a spreadsheet would run as formulas are escaped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from sync.intake import IntakeRecord
from sync.snipeit_notes import intake_note
from sync.sighting import Outgoing
from sync.outbox import csv_cell, read_csv_rows
from sync.storage import fsync_directory, replace_file

__all__ = ["INTAKE_COLUMNS", "intake_row", "write_intakes"]

INTAKE_COLUMNS = ("Asset Tag", "Model Name", "Model Number", "Category", "Manufacturer",
                  "Serial Number", "Status", "Location", "Asset Notes", "Intake Id")
"""The header row: Snipe-IT importer labels, then the intake id."""


def intake_row(intake: IntakeRecord, status: str, unknown_model: str) -> list[str]:
    """One intake as the cells of :data:`INTAKE_COLUMNS`."""
    model = intake.identifiers.get("model")
    cells = [intake.asset_tag or "", model or unknown_model, model or "", "", "",
             intake.identifiers.get("serial", ""), status, intake.location,
             intake_note(intake), intake.intake_id]
    return [csv_cell(cell) for cell in cells]


def write_intakes(directory: Path, device_id: str, records: Sequence[Outgoing],
                  status: str, unknown_model: str) -> set[str]:
    """Add the intake records among ``records`` to ``intake-<device>.csv``; durable on return.

    Returns:
        The intake ids written now.

    Raises:
        OSError: the file cannot be read or written (it is complete or as it was).
    """
    intakes = [record for record in records if isinstance(record, IntakeRecord)]
    if not intakes:
        return set()
    path = directory / f"intake-{device_id}.csv"
    rows, known = _existing(path)
    written = set()
    for intake in intakes:
        if csv_cell(intake.intake_id) in known:
            continue  # written by an earlier push, or twice in this batch
        known.add(csv_cell(intake.intake_id))
        rows.append(intake_row(intake, status, unknown_model))
        written.add(intake.intake_id)
    if not written:
        return written
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([list(INTAKE_COLUMNS), *rows])
    replace_file(path, buffer.getvalue().encode("utf-8"))
    fsync_directory(directory)
    return written


def _existing(path: Path) -> tuple[list[list[str]], set[str]]:
    """The data rows of the file and their intake ids (none when it does not exist).

    A file that is no longer CSV is set aside (``.damaged``) and a new one started.
    """
    rows = read_csv_rows(path, lambda row: any(row) and row != list(INTAKE_COLUMNS))
    return rows, {row[-1] for row in rows}
