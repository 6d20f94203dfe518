"""The expected inventory from a CSV export (the ``files`` adapter's input).

The export is read as the register wrote it: stocktaker's own column names and Snipe-IT's
export headers are recognised case-insensitively, and ``[register.columns]`` names the
headers of any other register. Comma- or semicolon-separated; UTF-8 with or without a
byte-order mark; LF, CRLF or CR line endings. The file is not trusted: every problem stops
with a :class:`ManifestError` naming the file, the line and the column, and no row is ever
dropped in silence (the rules every CSV export is read with are :mod:`sync.csv_sheet`).
The format is described in ``docs/expected-inventory.md``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from sync.asset import ASSET_COLUMNS, MAX_ID_DIGITS, Asset, audit_date
from sync.csv_sheet import (
    BIDI_CONTROLS,
    LINE_BREAK,
    MAX_CELL_CHARS,
    CsvSheet,
    breaks_before,
    decode,
    header_key,
    is_blank,
    shown,
)
from sync.errors import ManifestError

__all__ = ["ALIASES", "MAX_CELL_CHARS", "MAX_ID_DIGITS", "REQUIRED", "read_manifest"]

#: Our column -> header names accepted for it without configuration (any case, outer
#: spaces ignored): our own names and Snipe-IT's export headers.
ALIASES: dict[str, tuple[str, ...]] = {
    "asset_tag": ("asset_tag", "asset tag"),
    "serial": ("serial", "serial number"),
    "name": ("name", "asset name"),
    "location": ("location",),
    "status": ("status", "status label"),
    "assigned_to": ("assigned_to", "checked out to"),
    "id": ("id",),
    "next_audit_date": ("next_audit_date", "next audit date"),
}

#: The columns every export must have; the others are read when present.
REQUIRED = ("asset_tag", "location")

_LABELS = {
    "asset_tag": "asset tag",
    "serial": "serial",
    "name": "name",
    "location": "location",
    "status": "status",
    "assigned_to": "assigned to",
    "id": "id",
    "next_audit_date": "next audit date",
}

# Identifiers are compared with scanned labels and configured names, which never hold
# control or format characters; a hidden one would make a record impossible to match.
_IDENTIFIERS = frozenset({"asset_tag", "serial", "id", "location", "status", "next_audit_date"})
_REJECTED_IN_IDENTIFIERS = frozenset({"Cc", "Cf", "Zl", "Zp"})
_ALLOWED_CONTROLS_IN_TEXT = frozenset("\t\n\r")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def read_manifest(path: str | Path, columns: Mapping[str, str] | None = None) -> list[Asset]:
    """Read the assets listed in the CSV export at ``path``.

    Args:
        path: the expected-inventory CSV file.
        columns: our column name -> the export's header for it (``[register.columns]``);
            wins over the built-in header names. Keys must be in
            :data:`sync.asset.ASSET_COLUMNS`.

    Returns:
        One :class:`Asset` per data row, in file order; blank rows are skipped. Each
        asset's ``origin`` names the file and the line its row starts on.

    Raises:
        ManifestError: the file is missing or unreadable, not UTF-8, not valid CSV (an
            unterminated quote, text after a closing quote), lacks a required column or
            a configured header, names a header twice, has a row with more cells than
            the header, an empty, over-long, duplicate or control-character-holding cell
            where one is read, or an id that is not 1 to 18 ASCII digits.
    """
    path = Path(path)
    columns = dict(columns or {})
    for column in columns:
        if column not in ASSET_COLUMNS:
            raise ManifestError(path, None, None, f"register.columns: unknown column {column!r}"
                                f" (known: {', '.join(ASSET_COLUMNS)})")
    text = decode(path, _read(path))
    return _Manifest(path, text, columns).assets()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(path, None, None, "expected-inventory file not found") from None
    except OSError as exc:
        raise ManifestError(path, None, None, f"cannot read: {exc.strerror or exc}") from None


class _Manifest(CsvSheet):
    """One expected-inventory export being read, with its configured column headers."""

    def __init__(self, path: Path, text: str, columns: dict[str, str]) -> None:
        super().__init__(path, text)
        self.columns = columns

    def assets(self) -> list[Asset]:
        rows = self.body()
        assets: list[Asset] = []
        tags: dict[str, tuple[int, str]] = {}
        ids: dict[int, int] = {}
        for line, row in rows:
            if is_blank(row):
                continue
            self._check_row(line, row)
            asset = self._asset(line, row)
            tag_index = self.where["asset_tag"]
            tag_line = line + breaks_before(row, tag_index, 0)
            key = asset.asset_tag.casefold()
            if key in tags:
                first_line, first_tag = tags[key]
                written = f" as {shown(first_tag)}" if first_tag != asset.asset_tag else ""
                raise self._error(tag_line, tag_index,
                                  f"duplicate asset tag {shown(asset.asset_tag)}"
                                  f" (first on line {first_line}{written})")
            tags[key] = (tag_line, asset.asset_tag)
            if asset.id is not None:
                id_index = self.where["id"]
                id_line = line + breaks_before(row, id_index, 0)
                if asset.id in ids:
                    raise self._error(id_line, id_index,
                                      f"duplicate id {asset.id} (first on line {ids[asset.id]})")
                ids[asset.id] = id_line
            assets.append(asset)
        return assets

    def _locate_columns(self, line: int) -> dict[str, int]:
        keys = [header_key(h) for h in self.header]
        where: dict[str, int] = {}
        for column, header in self.columns.items():
            found = [k for k, key in enumerate(keys) if key == header_key(header)]
            if not found:
                raise ManifestError(self.path, line, None, f"column {header!r}"
                                    f" (register.columns.{column}) not in the header")
            where[column] = self._only(line, found)
        claimed = set(where.values())
        for column, accepted in ALIASES.items():
            if column in where:
                continue
            for alias in accepted:
                found = [k for k, key in enumerate(keys) if key == alias and k not in claimed]
                if found:
                    where[column] = self._only(line, found)
                    claimed.add(where[column])
                    break
        for column in REQUIRED:
            if column not in where:
                hint = ("; the header holds tabs: save the export as comma- or"
                        " semicolon-separated CSV" if "\t" in "".join(self.header) else "")
                raise ManifestError(self.path, line, column, "missing column (accepted headers: "
                                    + ", ".join(repr(a) for a in ALIASES[column])
                                    + f", or the header named in register.columns.{column}"
                                    + f"){hint}")
        return where

    def _check_swallowed(self, line: int, row: list[str]) -> None:
        """Reject a quoted field that holds what reads as further rows of the file.

        A missing closing quote makes the reader take the following lines as part of one
        field until some later quote happens to close it: those rows would be lost. A line
        reads as a row when it has the header's number of cells, an asset tag without
        spaces and a location; a note's line rarely has all three.
        """
        width = len(self.header)
        tag_index, location_index = self.where["asset_tag"], self.where["location"]
        if width < 3:
            return
        for index, cell in enumerate(row):
            parts = LINE_BREAK.split(cell)
            for offset, part in enumerate(parts[1:], start=1):
                if part.count(self.delimiter) < width - 1:
                    continue
                try:
                    fields = next(csv.reader([part], delimiter=self.delimiter), [])
                except csv.Error:
                    continue
                tag = fields[tag_index].strip() if len(fields) == width else ""
                if tag and not any(ch.isspace() for ch in tag) and fields[location_index].strip():
                    opened = line + breaks_before(row, index, 0)
                    raise self._error(opened, index, f"this quoted field runs over {len(parts)}"
                                      f" lines and its line {opened + offset} reads as a row"
                                      f" (asset tag {shown(tag)}):"
                                      " is a closing quote missing?")

    def _asset(self, line: int, row: list[str]) -> Asset:
        values = {column: self._cell(line, row, column, index)
                  for column, index in sorted(self.where.items(), key=lambda item: item[1])}
        tag = values["asset_tag"]
        if not tag:
            raise self._error(line + breaks_before(row, self.where["asset_tag"], 0),
                              self.where["asset_tag"], "empty asset tag")
        raw_id = values.get("id", "")
        if raw_id:
            id_index = self.where["id"]
            id_line = line + breaks_before(row, id_index, 0)
            if not _ASCII_DIGITS.fullmatch(raw_id):
                raise self._error(id_line, id_index,
                                  f"id {shown(raw_id)} is not a number (digits 0-9 only)")
            if len(raw_id.lstrip("0")) > MAX_ID_DIGITS:
                raise self._error(id_line, id_index,
                                  f"id {shown(raw_id)} has more than {MAX_ID_DIGITS} digits")
        next_audit = values.get("next_audit_date", "")
        if next_audit:
            index = self.where["next_audit_date"]
            try:
                next_audit = audit_date(next_audit)
            except ValueError as exc:
                raise self._error(line + breaks_before(row, index, 0), index,
                                  f"next audit date {exc}") from None
        return Asset(
            asset_tag=tag, serial=values.get("serial", ""), name=values.get("name", ""),
            location=values["location"], status=values.get("status", ""),
            assigned_to=values.get("assigned_to", ""), id=int(raw_id) if raw_id else None,
            origin=f"{self.path.name}, line {line}", next_audit_date=next_audit,
        )

    def _cell(self, line: int, row: list[str], column: str, index: int) -> str:
        """The stripped value of a read column's cell, once checked."""
        if index >= len(row):
            return ""
        value = row[index]
        if len(value) > MAX_CELL_CHARS:
            raise self._error(line + breaks_before(row, index, 0), index,
                              f"{_LABELS[column]} over {MAX_CELL_CHARS} characters"
                              f" ({len(value)})")
        if not value.isprintable():
            strict = column in _IDENTIFIERS
            for offset, ch in enumerate(value):
                category = unicodedata.category(ch)
                if strict:
                    bad = category in _REJECTED_IN_IDENTIFIERS
                else:
                    bad = ((category == "Cc" and ch not in _ALLOWED_CONTROLS_IN_TEXT)
                           or ch in BIDI_CONTROLS)
                if bad:
                    raise self._error(line + breaks_before(row, index, offset), index,
                                      f"control character U+{ord(ch):04X}"
                                      f" in {_LABELS[column]}")
        return value.strip()
