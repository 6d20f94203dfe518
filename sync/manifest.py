"""The expected inventory from a CSV export (the ``files`` adapter's input).

Accepts stocktaker's own column names and Snipe-IT's export headers, case-insensitively,
comma- or semicolon-separated, UTF-8 with or without a byte-order mark. Any problem stops
with a :class:`ManifestError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from firmware.errors import ManifestError
from firmware.inventory import Asset

#: Our column -> header names accepted for it (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "asset_tag": ("asset_tag", "asset tag"),
    "serial": ("serial", "serial number"),
    "name": ("name", "asset name"),
    "location": ("location",),
    "status": ("status", "status label"),
    "assigned_to": ("assigned_to", "checked out to"),
    "id": ("id",),
}
OPTIONAL = frozenset({"id"})


def read_manifest(path: str | Path) -> list[Asset]:
    """Read the assets listed in the CSV file at ``path``.

    Raises:
        ManifestError: missing file or column, undecodable bytes, empty or duplicate asset
            tag, a non-numeric id.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(path, None, None, "expected-inventory file not found") from None
    except OSError as exc:
        raise ManifestError(path, None, None, f"cannot read: {exc.strerror}") from None
    text = _decode(path, raw)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header = next(rows, None)
    if not header:
        raise ManifestError(path, 1, None, "empty file: a header row is needed")
    where = _locate_columns(path, header)
    assets: list[Asset] = []
    seen: dict[str, int] = {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        asset = _asset(path, rows.line_num, row, where, header)
        if asset.asset_tag in seen:
            raise ManifestError(path, rows.line_num, header[where["asset_tag"]],
                                f"duplicate asset tag {asset.asset_tag!r}"
                                f" (first on line {seen[asset.asset_tag]})")
        seen[asset.asset_tag] = rows.line_num
        assets.append(asset)
    return assets


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[:exc.start].count(b"\n") + 1
        before = raw[line_start:exc.start].decode("utf-8-sig", errors="replace")
        column = len(next(csv.reader([before], delimiter=_delimiter(before)), [""]))
        header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8-sig", "replace")]), [])
        name = header[column - 1].strip() if 0 < column <= len(header) else f"#{column}"
        raise ManifestError(path, line, name, f"byte 0x{raw[exc.start]:02X} is not UTF-8 text"
                            " (save the export as 'CSV UTF-8')") from None


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def _locate_columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [h.strip().casefold() for h in header]
    where: dict[str, int] = {}
    for column, accepted in COLUMNS.items():
        index = next((names.index(a) for a in accepted if a in names), None)
        if index is None and column in OPTIONAL:
            continue
        if index is None:
            raise ManifestError(path, 1, column, "missing column (accepted headers: "
                                + ", ".join(repr(a) for a in accepted) + ")")
        where[column] = index
    return where


def _asset(path: Path, line: int, row: list[str], where: dict[str, int],
           header: list[str]) -> Asset:
    def cell(column: str) -> str:
        index = where.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    tag = cell("asset_tag")
    if not tag:
        raise ManifestError(path, line, header[where["asset_tag"]], "empty asset tag")
    raw_id = cell("id")
    if raw_id and not raw_id.isdigit():
        raise ManifestError(path, line, header[where["id"]], f"id {raw_id!r} is not a number")
    return Asset(
        asset_tag=tag, serial=cell("serial"), name=cell("name"), location=cell("location"),
        status=cell("status"), assigned_to=cell("assigned_to"),
        id=int(raw_id) if raw_id else None,
    )
