"""Fuzz target: ``firmware.tags.parse_read`` on any payload from any symbology.

The contract under test: whatever the bytes, ``parse_read`` returns a :class:`Tag` or
raises :class:`TagRejected`, nothing else; a returned tag has a non-empty value without
control characters, as the module documents.

Run from the repository root (atheris is in the ``test`` extra on Linux x86_64)::

    python tests/fuzz/fuzz_tags.py -max_total_time=300 tests/fuzz/corpus/tags

New interesting inputs are added to the corpus folder given first. A failing input is
written as ``crash-<sha1>`` in the current folder (``-artifact_prefix=`` moves it); once
understood, keep it in ``tests/fuzz/crashes/tags/``, which ``tests/test_fuzz.py`` replays.
Replay one input with ``python tests/fuzz/fuzz_tags.py FILE``.

Input layout: the first byte picks the symbology from :data:`SYMBOLOGIES`, the rest is
the payload.
"""

from __future__ import annotations

import contextlib
import sys
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

    return atheris.instrument_imports(include=["firmware", "hal", "biip"])


with _instrumented():
    from firmware.tags import Tag, TagRejected, parse_read
    from hal.read import Read

SYMBOLOGIES = (
    "UNKNOWN", "QR", "CODE128", "CODE39", "EAN13", "DATAMATRIX", "PDF417", "AZTEC",
    "GS1-128", "GS1-DATAMATRIX", "GS1-QR", "GS1-DOTCODE", "DATABAR", "",
)
"""Symbology names a reader may report; GS1 ones make any payload parse as GS1."""

_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def decode_input(data: bytes) -> Read:
    """The read one fuzz input stands for."""
    if not data:
        return Read(b"", SYMBOLOGIES[0], "fuzz", 0.0)
    return Read(data[1:], SYMBOLOGIES[data[0] % len(SYMBOLOGIES)], "fuzz", 0.0)


def fuzz_one_input(data: bytes) -> None:
    """Check the contract for one input; raise on any breach."""
    try:
        tag = parse_read(decode_input(data))
    except TagRejected:
        return
    if not isinstance(tag, Tag):
        raise AssertionError(f"parse_read returned {tag!r}, not a Tag")
    if not isinstance(tag.value, str) or not tag.value:
        raise AssertionError(f"tag with an empty value: {tag!r}")
    for text in (tag.value, tag.serial or ""):
        if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text):
            raise AssertionError(f"tag holding a control character: {tag!r}")


def main() -> None:
    """Run the fuzzer with libFuzzer's command-line options (``-help=1`` lists them)."""
    import atheris

    atheris.Setup(sys.argv, fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
