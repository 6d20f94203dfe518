"""Fuzz target: ``sync.manifest.read_manifest`` on any file, with or without a column map.

The contract under test: whatever the bytes, ``read_manifest`` returns a list of assets
or raises :class:`ManifestError` naming a line that exists, nothing else; the assets it
returns hold what it promises (unique non-empty asset tags and ids, identifiers without
control characters, an ``origin`` naming the file and line).

Run from the repository root (atheris is in the ``test`` extra on Linux x86_64)::

    python tests/fuzz/fuzz_manifest.py -max_total_time=300 tests/fuzz/corpus/manifest

New interesting inputs are added to the corpus folder given first. A failing input is
written as ``crash-<sha1>`` in the current folder (``-artifact_prefix=`` moves it); once
understood, keep it in ``tests/fuzz/crashes/manifest/``, which ``tests/test_fuzz.py``
replays. Replay one input with ``python tests/fuzz/fuzz_manifest.py FILE``.

Input layout: when the input starts with ``#columns `` its first line is a column map,
``asset_tag=Inventory number|location=Room`` (our column ``=`` the export's header,
``|`` between pairs); the rest of the input is the CSV file's bytes.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _instrumented() -> contextlib.AbstractContextManager[object]:
    """Coverage instrumentation of the code under test, when run as the fuzzer."""
    if __name__ != "__main__":
        return contextlib.nullcontext()
    import atheris

    return atheris.instrument_imports(include=["firmware", "sync"])


with _instrumented():
    from firmware.errors import ManifestError
    from firmware.inventory import Asset
    from sync.manifest import MAX_CELL_CHARS, MAX_ID_DIGITS, read_manifest

COLUMNS_PREFIX = b"#columns "
FILE_NAME = "expected.csv"

_IDENTIFIER_FIELDS = ("asset_tag", "serial", "location", "status")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_scratch: Path | None = None


def decode_input(data: bytes) -> tuple[dict[str, str] | None, bytes]:
    """The column map (None without one) and the file content one fuzz input stands for."""
    if not data.startswith(COLUMNS_PREFIX):
        return None, data
    spec, _, content = data[len(COLUMNS_PREFIX):].partition(b"\n")
    columns: dict[str, str] = {}
    for pair in spec.decode("utf-8", errors="replace").split("|"):
        column, equals, header = pair.partition("=")
        if equals:
            columns[column] = header
    return columns, content


def _path() -> Path:
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="stocktaker-fuzz-"))
        atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    return _scratch / FILE_NAME


def fuzz_one_input(data: bytes) -> None:
    """Check the contract for one input; raise on any breach."""
    columns, content = decode_input(data)
    path = _path()
    path.write_bytes(content)
    try:
        assets = read_manifest(path, columns)
    except ManifestError as exc:
        _check_error(exc, path, content)
        return
    _check_assets(assets, path)


def _check_error(exc: ManifestError, path: Path, content: bytes) -> None:
    if not str(exc).startswith(str(path)):
        raise AssertionError(f"error not naming the file: {exc}")
    lines = len(_LINE_BREAK.findall(content)) + 1
    if exc.line is not None and not 1 <= exc.line <= lines:
        raise AssertionError(f"error naming line {exc.line} of a {lines}-line file: {exc}")


def _check_assets(assets: object, path: Path) -> None:
    if not isinstance(assets, list):
        raise AssertionError(f"read_manifest returned {type(assets).__name__}, not a list")
    tags: set[str] = set()
    ids: set[int] = set()
    for asset in assets:
        if not isinstance(asset, Asset):
            raise AssertionError(f"not an Asset: {asset!r}")
        if not asset.asset_tag or asset.asset_tag != asset.asset_tag.strip():
            raise AssertionError(f"empty or unstripped asset tag: {asset!r}")
        if asset.asset_tag.casefold() in tags:
            raise AssertionError(f"duplicate asset tag let through: {asset!r}")
        tags.add(asset.asset_tag.casefold())
        if asset.id is not None:
            if not 0 <= asset.id < 10**MAX_ID_DIGITS or asset.id in ids:
                raise AssertionError(f"bad or duplicate id let through: {asset!r}")
            ids.add(asset.id)
        for field in ("asset_tag", "serial", "name", "location", "status", "assigned_to"):
            value = getattr(asset, field)
            if len(value) > MAX_CELL_CHARS or any("\ud800" <= ch <= "\udfff" for ch in value):
                raise AssertionError(f"over-long or undecoded {field}: {asset!r}")
        for field in _IDENTIFIER_FIELDS:
            value = getattr(asset, field)
            if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value):
                raise AssertionError(f"control character in {field}: {asset!r}")
        if not re.fullmatch(rf"{re.escape(path.name)}, line [1-9][0-9]*", asset.origin):
            raise AssertionError(f"origin not naming file and line: {asset!r}")


def main() -> None:
    """Run the fuzzer with libFuzzer's command-line options (``-help=1`` lists them)."""
    import atheris

    atheris.Setup(sys.argv, fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
