"""A register's CSV export read strictly: the rules the expected inventory
(:mod:`sync.manifest`) and the people file (:mod:`sync.people_csv`) share.

UTF-8 with or without a byte-order mark (bytes that are not UTF-8 reported by line and
column), comma- or semicolon-separated, LF, CRLF or CR line endings, quoted fields over
several lines counted right; the csv module's complaints (an unterminated quote, text
after a closing quote) located and explained; no NUL in the header, no row wider than the
header. What each file's columns are and mean is its reader's
(:meth:`CsvSheet._locate_columns`, :meth:`CsvSheet._check_swallowed`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from sync.errors import ManifestError

__all__ = ["BIDI_CONTROLS", "MAX_CELL_CHARS", "UNDECODABLE", "CsvSheet", "breaks_before",
           "decode", "header_key", "is_blank", "shown"]

MAX_CELL_CHARS = 4096
"""Longest cell, in characters, of a column that is read."""

# Free text may span lines and hold joiners (U+200C/U+200D are part of many scripts),
# but not the bidi overrides that make a screen or report show something else.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Line breaks as io.StringIO(newline="") splits lines, so that counts agree with the csv
# reader's line numbers whatever the file's line endings.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Bytes that are not UTF-8, as errors="surrogateescape" decodes them (U+DC80..U+DCFF).
UNDECODABLE = re.compile("[\udc80-\udcff]")
_QUOTE = '"'


def decode(path: Path, raw: bytes) -> str:
    """The file's text; bytes that are not UTF-8 are kept as lone surrogates.

    They are reported later, by line and column, when the row holding them is read, so
    that position is computed on parsed CSV whatever the line endings.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ManifestError(path, 1, None, "the file is UTF-16 text, not UTF-8"
                            " (save the export as 'CSV UTF-8')")
    return raw.decode("utf-8-sig", errors="surrogateescape")


def _delimiter(text: str) -> str:
    first = next((line for line in LINE_BREAK.split(text, maxsplit=64) if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _breaks(text: str) -> int:
    return len(LINE_BREAK.findall(text))


def breaks_before(row: list[str], index: int, offset: int) -> int:
    """Line breaks in ``row`` before character ``offset`` of cell ``index``.

    A cell past the end of a short row counts as being at the row's end.
    """
    inside = _breaks(row[index][:offset]) if index < len(row) else 0
    return sum(_breaks(cell) for cell in row[:index]) + inside


def is_blank(row: list[str]) -> bool:
    return not any(cell.strip(" \t") for cell in row)


def header_key(header: str) -> str:
    return header.strip().lstrip("\ufeff").strip().casefold()


def shown(value: str, limit: int = 40) -> str:
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


class CsvSheet:
    """One export being read: its lines, header and column positions.

    A reader subclasses it with its own columns: :meth:`_locate_columns` finds them in the
    header, :meth:`_check_swallowed` refuses a row that a missing quote ran into.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
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
            if not is_blank(row):
                self.header = row
                break
        else:
            raise ManifestError(self.path, 1, None, "empty file: a header row is needed")
        self._check_header(header_line)
        self.where = self._locate_columns(header_line)
        return rows

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
            if name and not UNDECODABLE.search(name):
                return name
        return f"#{index + 1}"

    def _check_header(self, line: int) -> None:
        self._check_bytes(line, self.header)
        if any("\x00" in cell for cell in self.header):
            raise ManifestError(self.path, line, None, "NUL characters in the header: the file"
                                " looks like UTF-16 text (save the export as 'CSV UTF-8')")

    def _only(self, line: int, found: list[int]) -> int:
        if len(found) > 1:
            raise self._error(line, found[1], f"the header names this column twice"
                              f" (columns {found[0] + 1} and {found[1] + 1})")
        return found[0]

    def _check_bytes(self, line: int, row: list[str]) -> None:
        for index, cell in enumerate(row):
            if found := UNDECODABLE.search(cell):
                byte = ord(found.group()) - 0xDC00
                raise self._error(line + breaks_before(row, index, found.start()), index,
                                  f"byte 0x{byte:02X} is not UTF-8 text"
                                  " (save the export as 'CSV UTF-8')")

    def _check_row(self, line: int, row: list[str]) -> None:
        self._check_bytes(line, row)
        width = len(self.header)
        # Even empty extra cells count: "Dell, monitor" unquoted shifts every later cell.
        if len(row) > width:
            raise self._error(line + breaks_before(row, width, 0), width,
                              f"the row has {len(row)} cells, the header {width}"
                              " (a delimiter inside an unquoted field? quote that field)")
        self._check_swallowed(line, row)


    def _locate_columns(self, line: int) -> dict[str, int]:
        """Where each column read is in :attr:`header` (the header is on ``line``).

        Raises:
            ManifestError: a required column is missing, or named twice.
        """
        raise NotImplementedError

    def _check_swallowed(self, line: int, row: list[str]) -> None:
        """Refuse a quoted field that holds what reads as further rows (nothing here)."""
