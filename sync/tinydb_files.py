"""TinyDB's JSON file as bytes: written compactly (:func:`dump_tables`), read strictly
(:func:`load_tables`), or salvaged document by document from a damaged file
(:func:`salvage_tables`)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Tables", "dump_tables", "load_tables", "salvage_tables"]

Tables = dict[str, dict[str, Any]]
"""A TinyDB file's contents: table name -> document id -> document."""


_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def dump_tables(data: Tables) -> bytes:
    """Serialise TinyDB tables as this storage writes them (compact UTF-8 JSON).

    Raises:
        TypeError, ValueError: ``data`` is not JSON-able.
    """
    return _json(data).encode("utf-8")


def load_tables(raw: bytes) -> Tables | None:
    """Parse the bytes of a TinyDB JSON file strictly.

    Returns:
        The tables, or None for an empty file.

    Raises:
        ValueError: the bytes are not UTF-8 JSON, or not an object of tables; the
            message says what is wrong.
    """
    if not raw.strip():
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise ValueError("the top level is not an object of tables")
    return data


_SPACE = " \t\n\r"


def salvage_tables(raw: bytes) -> Tables:
    """Read every complete document from the start of a damaged TinyDB JSON file.

    The file is read as TinyDB lays it out, ``{"table": {"id": {document}, ...}, ...}``,
    document by document, up to the first byte that does not fit: a file cut short
    by a failing card keeps everything before the cut. Documents after a damaged
    spot are not searched for.

    Args:
        raw: the file's bytes.

    Returns:
        The tables and documents that could be read (possibly none).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8")
    found: Tables = {}
    decoder = json.JSONDecoder()

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        return pos

    def expect(pos: int, char: str) -> int:
        pos = skip(pos)
        if text[pos : pos + 1] != char:
            raise ValueError(f"expected {char!r} at {pos}")
        return skip(pos + 1)

    def key(pos: int) -> tuple[str, int]:
        name, pos = decoder.raw_decode(text, skip(pos))
        if not isinstance(name, str):
            raise ValueError(f"expected a name at {pos}")
        return name, expect(pos, ":")

    try:
        pos = expect(0, "{")
        while text[pos : pos + 1] != "}":
            name, pos = key(pos)
            table = found.setdefault(name, {})
            pos = expect(pos, "{")
            while text[pos : pos + 1] != "}":
                doc_id, pos = key(pos)
                document, pos = decoder.raw_decode(text, pos)
                table[doc_id] = document
                pos = skip(pos)
                if text[pos : pos + 1] == ",":
                    pos = skip(pos + 1)
            pos = skip(pos + 1)
            if text[pos : pos + 1] == ",":
                pos = skip(pos + 1)
    except (ValueError, IndexError):
        pass
    return found
