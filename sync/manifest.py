"""The expected inventory from a CSV export (the ``files`` adapter's input).

The export is read as the register wrote it: stocktaker's own column names and Snipe-IT's
export headers are recognised case-insensitively, and ``[register.columns]`` names the
headers of any other register. Comma- or semicolon-separated; UTF-8 with or without a
byte-order mark; LF, CRLF or CR line endings. The file is not trusted: every problem stops
with a :class:`ManifestError` naming the file, the line and the column, and no row is ever
dropped in silence. The format is described in ``docs/expected-inventory.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from sync.asset import ASSET_COLUMNS, MAX_ID_DIGITS, Asset, audit_date
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

MAX_CELL_CHARS = 4096
"""Longest cell, in characters, of a column that is read."""


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
# Free text may span lines and hold joiners (U+200C/U+200D are part of many scripts),
# but not the bidi overrides that make a screen or report show something else.
_ALLOWED_CONTROLS_IN_TEXT = frozenset("\t\n\r")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Line breaks as io.StringIO(newline="") splits lines, so that counts agree with the csv
# reader's line numbers whatever the file's line endings.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Bytes that are not UTF-8, as errors="surrogateescape" decodes them (U+DC80..U+DCFF).
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_QUOTE = '"'


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
    text = _decode(path, _read(path))
    return _Manifest(path, text, columns).assets()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(path, None, None, "expected-inventory file not found") from None
    except OSError as exc:
        raise ManifestError(path, None, None, f"cannot read: {exc.strerror or exc}") from None


def _decode(path: Path, raw: bytes) -> str:
    """The file's text; bytes that are not UTF-8 are kept as lone surrogates.

    They are reported later, by line and column, when the row holding them is read, so
    that position is computed on parsed CSV whatever the line endings.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ManifestError(path, 1, None, "the file is UTF-16 text, not UTF-8"
                            " (save the export as 'CSV UTF-8')")
    return raw.decode("utf-8-sig", errors="surrogateescape")


def _delimiter(text: str) -> str:
    first = next((line for line in _LINE_BREAK.split(text, maxsplit=64) if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _breaks(text: str) -> int:
    return len(_LINE_BREAK.findall(text))


def _breaks_before(row: list[str], index: int, offset: int) -> int:
    """Line breaks in ``row`` before character ``offset`` of cell ``index``.

    A cell past the end of a short row counts as being at the row's end.
    """
    inside = _breaks(row[index][:offset]) if index < len(row) else 0
    return sum(_breaks(cell) for cell in row[:index]) + inside


def _blank(row: list[str]) -> bool:
    return not any(cell.strip(" \t") for cell in row)


def _header_key(header: str) -> str:
    return header.strip().lstrip("\ufeff").strip().casefold()


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


class _Span(NamedTuple):
    """Where one field of a row lies in the file's text, and how it is quoted."""

    start: int
    end: int
    stray: int | None = None
    """Offset of a closing quote that text follows, if any."""
    open: bool = False
    """True for a quoted field still open at the end of the text."""


def _field_spans(text: str, delimiter: str) -> list[_Span]:
    """The fields of the one CSV row ``text`` starts with, as the strict reader sees them.

    Offsets are into ``text``; never raises.
    """
    spans: list[_Span] = []
    ends = re.compile(f"[{re.escape(delimiter)}\r\n]")
    i, n = 0, len(text)
    while True:
        start, stray = i, None
        if text.startswith(_QUOTE, i):
            i += 1
            while True:
                j = text.find(_QUOTE, i)
                if j < 0:
                    spans.append(_Span(start, n, open=True))
                    return spans
                if text.startswith(_QUOTE, j + 1):
                    i = j + 2
                    continue
                i = j + 1
                if i < n and text[i] not in (delimiter, "\r", "\n"):
                    stray = j
                break
        end = ends.search(text, i)
        if end is None:
            spans.append(_Span(start, n, stray))
            return spans
        spans.append(_Span(start, end.start(), stray))
        if end.group() != delimiter:
            return spans
        i = end.end()


class _Manifest:
    """One export being read: its lines, header and column positions."""

    def __init__(self, path: Path, text: str, columns: dict[str, str]) -> None:
        self.path = path
        self.columns = columns
        self.delimiter = _delimiter(text)
        self.lines = io.StringIO(text, newline="").readlines()
        self.header: list[str] = []
        self.where: dict[str, int] = {}

    def body(self) -> Iterator[tuple[int, list[str]]]:
        """The rows after the header, which is read and checked first.

        Raises:
            ManifestError: no header, or one without the required columns.
        """
        rows = self._rows()
        for header_line, row in rows:  # noqa: B007 (the header's line, used below)
            if not _blank(row):
                self.header = row
                break
        else:
            raise ManifestError(self.path, 1, None, "empty file: a header row is needed")
        self._check_header(header_line)
        self.where = self._locate_columns(header_line)
        return rows

    def assets(self) -> list[Asset]:
        rows = self.body()
        assets: list[Asset] = []
        tags: dict[str, tuple[int, str]] = {}
        ids: dict[int, int] = {}
        for line, row in rows:
            if _blank(row):
                continue
            self._check_row(line, row)
            asset = self._asset(line, row)
            tag_index = self.where["asset_tag"]
            tag_line = line + _breaks_before(row, tag_index, 0)
            key = asset.asset_tag.casefold()
            if key in tags:
                first_line, first_tag = tags[key]
                written = f" as {_shown(first_tag)}" if first_tag != asset.asset_tag else ""
                raise self._error(tag_line, tag_index,
                                  f"duplicate asset tag {_shown(asset.asset_tag)}"
                                  f" (first on line {first_line}{written})")
            tags[key] = (tag_line, asset.asset_tag)
            if asset.id is not None:
                id_index = self.where["id"]
                id_line = line + _breaks_before(row, id_index, 0)
                if asset.id in ids:
                    raise self._error(id_line, id_index,
                                      f"duplicate id {asset.id} (first on line {ids[asset.id]})")
                ids[asset.id] = id_line
            assets.append(asset)
        return assets

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line the row starts on, cells)`` for every row, blank ones included."""
        reader = csv.reader(self.lines, delimiter=self.delimiter, strict=True)
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise self._csv_error(start, reader.line_num, str(exc)) from None
            yield start, row
            start = reader.line_num + 1

    def _csv_error(self, start: int, current: int, message: str) -> ManifestError:
        """The csv module's complaint about the row from line ``start``, located and explained."""
        text = "".join(self.lines[start - 1 : max(current, start)])
        spans = _field_spans(text, self.delimiter)
        limit = csv.field_size_limit()
        if "field larger than field limit" in message:
            index = next((k for k, span in enumerate(spans) if span.end - span.start > limit),
                         len(spans) - 1)
            return self._error(start + _breaks(text[: spans[index].start]), index,
                               f"field over {limit} characters (is a closing quote missing?)")
        if spans[-1].open:
            index = len(spans) - 1
            opened = start + _breaks(text[: spans[index].start])
            last = len(self.lines)
            swallowed = f": lines {opened} to {last} would be one field" if last > opened else ""
            return self._error(opened, index, "the quote that opens this field is never"
                               f" closed{swallowed} (add the missing closing quote)")
        stray = next(((k, span) for k, span in enumerate(spans) if span.stray is not None), None)
        if stray is not None:
            index, span = stray
            opened = start + _breaks(text[: span.start])
            at = start + _breaks(text[: span.stray])
            if at == opened:
                problem = ("text after the closing quote (a quote inside a quoted field"
                           " must be doubled: \"\")")
            else:
                problem = (f"text after a quote that closes the field opened on line {opened}"
                           f" (is a closing quote missing on line {opened}, or a quote"
                           " here not doubled?)")
            return self._error(at, index, problem)
        return ManifestError(self.path, current, None, f"not valid CSV: {message}")

    def _error(self, line: int, index: int | None, problem: str) -> ManifestError:
        return ManifestError(self.path, line, self._column_name(index), problem)

    def _column_name(self, index: int | None) -> str | None:
        if index is None:
            return None
        if index < len(self.header):
            name = self.header[index].strip().lstrip("\ufeff").strip()
            if name and not _UNDECODABLE.search(name):
                return name
        return f"#{index + 1}"

    def _check_header(self, line: int) -> None:
        self._check_bytes(line, self.header)
        if any("\x00" in cell for cell in self.header):
            raise ManifestError(self.path, line, None, "NUL characters in the header: the file"
                                " looks like UTF-16 text (save the export as 'CSV UTF-8')")

    def _locate_columns(self, line: int) -> dict[str, int]:
        keys = [_header_key(h) for h in self.header]
        where: dict[str, int] = {}
        for column, header in self.columns.items():
            found = [k for k, key in enumerate(keys) if key == _header_key(header)]
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

    def _only(self, line: int, found: list[int]) -> int:
        if len(found) > 1:
            raise self._error(line, found[1], f"the header names this column twice"
                              f" (columns {found[0] + 1} and {found[1] + 1})")
        return found[0]

    def _check_bytes(self, line: int, row: list[str]) -> None:
        for index, cell in enumerate(row):
            if found := _UNDECODABLE.search(cell):
                byte = ord(found.group()) - 0xDC00
                raise self._error(line + _breaks_before(row, index, found.start()), index,
                                  f"byte 0x{byte:02X} is not UTF-8 text"
                                  " (save the export as 'CSV UTF-8')")

    def _check_row(self, line: int, row: list[str]) -> None:
        self._check_bytes(line, row)
        width = len(self.header)
        # Even empty extra cells count: "Dell, monitor" unquoted shifts every later cell.
        if len(row) > width:
            raise self._error(line + _breaks_before(row, width, 0), width,
                              f"the row has {len(row)} cells, the header {width}"
                              " (a delimiter inside an unquoted field? quote that field)")
        self._check_swallowed(line, row)

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
            parts = _LINE_BREAK.split(cell)
            for offset, part in enumerate(parts[1:], start=1):
                if part.count(self.delimiter) < width - 1:
                    continue
                try:
                    fields = next(csv.reader([part], delimiter=self.delimiter), [])
                except csv.Error:
                    continue
                tag = fields[tag_index].strip() if len(fields) == width else ""
                if tag and not any(ch.isspace() for ch in tag) and fields[location_index].strip():
                    opened = line + _breaks_before(row, index, 0)
                    raise self._error(opened, index, f"this quoted field runs over {len(parts)}"
                                      f" lines and its line {opened + offset} reads as a row"
                                      f" (asset tag {_shown(tag)}):"
                                      " is a closing quote missing?")

    def _asset(self, line: int, row: list[str]) -> Asset:
        values = {column: self._cell(line, row, column, index)
                  for column, index in sorted(self.where.items(), key=lambda item: item[1])}
        tag = values["asset_tag"]
        if not tag:
            raise self._error(line + _breaks_before(row, self.where["asset_tag"], 0),
                              self.where["asset_tag"], "empty asset tag")
        raw_id = values.get("id", "")
        if raw_id:
            id_index = self.where["id"]
            id_line = line + _breaks_before(row, id_index, 0)
            if not _ASCII_DIGITS.fullmatch(raw_id):
                raise self._error(id_line, id_index,
                                  f"id {_shown(raw_id)} is not a number (digits 0-9 only)")
            if len(raw_id.lstrip("0")) > MAX_ID_DIGITS:
                raise self._error(id_line, id_index,
                                  f"id {_shown(raw_id)} has more than {MAX_ID_DIGITS} digits")
        next_audit = values.get("next_audit_date", "")
        if next_audit:
            index = self.where["next_audit_date"]
            try:
                next_audit = audit_date(next_audit)
            except ValueError as exc:
                raise self._error(line + _breaks_before(row, index, 0), index,
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
            raise self._error(line + _breaks_before(row, index, 0), index,
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
                           or ch in _BIDI_CONTROLS)
                if bad:
                    raise self._error(line + _breaks_before(row, index, offset), index,
                                      f"control character U+{ord(ch):04X}"
                                      f" in {_LABELS[column]}")
        return value.strip()
