"""A campaign's reconciliation as CSV, for a person with a spreadsheet.

One row per (room, item, category, sighting): an item seen three times has three rows,
one never seen (missing, not yet audited) has one with empty sighting cells. The file is
UTF-8 with a byte-order mark: Excel opens a ``.csv`` without one in the legacy code page
and garbles every accented room or name; with it, Excel, LibreOffice and Python's
``utf-8-sig`` all read it right. Cells that a spreadsheet would run as a formula get a
leading apostrophe (labels are outside text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any


__all__ = ["RECONCILE_CSV_COLUMNS", "reconciliation_csv", "reconciliation_csv_rows"]

RECONCILE_CSV_COLUMNS = (
    "room", "room_status", "category", "asset_tag", "label", "name", "serial", "expected",
    "from_room", "to_room", "needs_look", "seen_in_room", "seen_at", "device_id",
    "technician", "session_id", "verdict", "payload", "used",
)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One cell, as in a room report's CSV: None empty, booleans ``true``/``false``, and a
    leading apostrophe on text a spreadsheet would run as a formula."""
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def reconciliation_csv_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """The rows of :func:`reconciliation_csv`, header first, every cell a string."""
    status = {room["room"]: room["status"] for room in result.get("rooms", ())}
    rows = [list(RECONCILE_CSV_COLUMNS)]
    for item in result.get("items", ()):
        base = {"room": item["room"], "room_status": status.get(item["room"]),
                "category": item["category"], "asset_tag": item["asset_tag"],
                "label": item["label"], "name": item["name"], "serial": item["serial"],
                "expected": item["expected"], "from_room": item["from"], "to_room": item["to"],
                "needs_look": item["needs_look"]}
        sightings = item["sightings"] or [None]
        for sighting in sightings:
            cells = dict(base)
            if sighting is not None:
                cells.update({"seen_in_room": sighting["room"], "seen_at": sighting["at"],
                              "device_id": sighting["device_id"],
                              "technician": sighting["technician"],
                              "session_id": sighting["session_id"],
                              "verdict": sighting["verdict"], "payload": sighting["payload"],
                              "used": sighting["used"]})
            rows.append([csv_cell(cells.get(column)) for column in RECONCILE_CSV_COLUMNS])
    return rows


def reconciliation_csv(result: Mapping[str, Any]) -> bytes:
    """The reconciliation (from :func:`sync.reconcile.reconcile`) as CSV bytes, with a BOM."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(reconciliation_csv_rows(result))
    return buffer.getvalue().encode("utf-8-sig")
