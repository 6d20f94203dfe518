"""The people CSV (``register.people``): who may take assets from a door kiosk's room.

A header row, then one person per row: ``badge`` (the RFID card number or the id printed
on a ``BADGE:<id>`` badge), ``employee_num``, ``name``, ``username`` and, optionally, ``id``
(the register's user id). The file is read with every rule of the expected-inventory CSV
(:mod:`sync.csv_sheet`): UTF-8 with or without a byte-order mark, comma or semicolon,
quoted cells, no NULs, no control characters in identifiers, no cell over
:data:`~sync.csv_sheet.MAX_CELL_CHARS`. A badge, employee number or id given twice stops
the read with the file, line and column of the second one: a badge that names two
people would let the wrong one take an asset.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from sync.errors import ManifestError, RegisterError, RegisterUnavailable
from sync.person import Person, person_key
from sync.asset import MAX_ID_DIGITS
from sync.csv_sheet import (
    BIDI_CONTROLS,
    MAX_CELL_CHARS,
    CsvSheet,
    breaks_before,
    decode,
    header_key,
    is_blank,
    shown,
)

__all__ = ["PEOPLE_ALIASES", "PeopleFileError", "PeopleFileMissing", "read_people"]

#: Our column -> header names accepted for it (any case, outer spaces ignored).
PEOPLE_ALIASES: dict[str, tuple[str, ...]] = {
    "badge": ("badge", "badge number", "card", "card number"),
    "employee_num": ("employee_num", "employee number", "employee no", "employee"),
    "name": ("name", "full name"),
    "username": ("username", "user name", "login"),
    "id": ("id",),
}
_LABELS = {"badge": "badge", "employee_num": "employee number", "name": "name",
           "username": "username", "id": "id"}
_IDENTIFIERS = frozenset({"badge", "employee_num", "username", "id"})


class PeopleFileError(RegisterError):
    """The people CSV cannot be used; the message names the key, the file, line and column.

    A bad input file, like a bad expected inventory: exit code 2.
    """

    exit_code = 2

    def __init__(self, path: object, line: int | None, column: str | None,
                 problem: str) -> None:
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"register.people: {where}: {problem}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


class PeopleFileMissing(PeopleFileError, RegisterUnavailable):
    """The people CSV is not there (a USB stick not plugged in, a file not yet copied): the
    door kiosk identifies people with the list it saved last time, if any."""


def read_people(path: str | Path) -> list[Person]:
    """The people listed in the CSV at ``path``, in file order (blank rows skipped).

    Raises:
        PeopleFileMissing: the file is not there.
        PeopleFileError: the file is unreadable, not UTF-8 or not valid CSV,
            has neither a ``badge`` nor an ``employee_num`` column, a row with more cells
            than the header, a cell that is over-long or holds control characters, a row
            with neither badge nor employee number, a badge, employee number or id given
            twice, or an id that is not 1 to 18 digits.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PeopleFileMissing(path, None, None, "people file not found (the door kiosk's"
                              " badges; set register.people)") from None
    except OSError as exc:
        raise PeopleFileError(path, None, None,
                              f"cannot read: {exc.strerror or exc}") from None
    try:
        return _PeopleSheet(path, decode(path, raw)).people()
    except ManifestError as exc:
        raise PeopleFileError(exc.path, exc.line, exc.column, exc.problem) from None


class _PeopleSheet(CsvSheet):
    """The CSV export's line, quote and byte checks, with the people's columns."""

    def people(self) -> list[Person]:
        rows = self.body()
        people: list[Person] = []
        seen: dict[tuple[str, str], int] = {}
        for line, row in rows:
            if is_blank(row):
                continue
            self._check_row(line, row)
            person = self._person(line, row)
            for column in ("badge", "employee_num", "id"):
                value = getattr(person, column)
                if value in ("", None):
                    continue
                key = (column, _key(str(value)))
                index = self.where[column]
                at = line + breaks_before(row, index, 0)
                if key in seen:
                    raise self._error(at, index, f"{_LABELS[column]} {shown(str(value))}"
                                      f" given twice (first on line {seen[key]})")
                seen[key] = at
            people.append(person)
        return people

    def _locate_columns(self, line: int) -> dict[str, int]:
        keys = [header_key(h) for h in self.header]
        where: dict[str, int] = {}
        for column, accepted in PEOPLE_ALIASES.items():
            for alias in accepted:
                found = [k for k, key in enumerate(keys) if key == alias]
                if found:
                    where[column] = self._only(line, found)
                    break
        if "badge" not in where and "employee_num" not in where:
            raise ManifestError(self.path, line, "badge", "missing column: a people file needs"
                                " a 'badge' or an 'employee_num' column (or both)")
        return where

    def _check_swallowed(self, line: int, row: list[str]) -> None:
        """People files hold no multi-line notes: a line break in a cell is refused."""
        for index, cell in enumerate(row):
            if "\n" in cell or "\r" in cell:
                raise self._error(line + breaks_before(row, index, 0), index,
                                  "a line break inside a cell (is a closing quote missing?)")

    def _person(self, line: int, row: list[str]) -> Person:
        values = {column: self._value(line, row, column, index)
                  for column, index in self.where.items()}
        if not values.get("badge") and not values.get("employee_num"):
            index = self.where.get("badge", self.where.get("employee_num"))
            raise self._error(line, index, "neither a badge nor an employee number: nobody"
                              " could identify as this person")
        raw_id = values.get("id", "")
        if raw_id and (not raw_id.isascii() or not raw_id.isdigit()
                       or len(raw_id.lstrip("0")) > MAX_ID_DIGITS):
            raise self._error(line, self.where["id"], f"id {shown(raw_id)} is not"
                              f" a number of 1 to {MAX_ID_DIGITS} digits")
        return Person(badge=values.get("badge", ""), employee_num=values.get("employee_num", ""),
                      name=values.get("name", ""), username=values.get("username", ""),
                      id=int(raw_id) if raw_id else None,
                      origin=f"{self.path.name}, line {line}")

    def _value(self, line: int, row: list[str], column: str, index: int) -> str:
        if index >= len(row):
            return ""
        value = row[index]
        if len(value) > MAX_CELL_CHARS:
            raise self._error(line, index, f"{_LABELS[column]} over {MAX_CELL_CHARS}"
                              f" characters ({len(value)})")
        for ch in value:
            category = unicodedata.category(ch)
            if category in ("Cc", "Cf", "Zl", "Zp") and (
                    column in _IDENTIFIERS or ch in BIDI_CONTROLS
                    or category == "Cc"):
                raise self._error(line, index, f"control character U+{ord(ch):04X}"
                                  f" in {_LABELS[column]}")
        return value.strip()


def _key(text: str) -> str:
    """Badges and numbers compare as the door compares them (case, spaces, leading zeros)."""
    return person_key(text)
