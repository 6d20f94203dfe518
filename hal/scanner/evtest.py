"""Recordings of a scanner in ``evtest``'s text format → the decoder's events.

``sudo evtest --grab /dev/input/by-id/usb-…-event-kbd > scan.txt`` records what a scanner
sends; :func:`parse_evtest` reads such a file back:

* ``Event: time 1700000000.123456, type 1 (EV_KEY), code 30 (KEY_A), value 1`` →
  :class:`~hal.scanner.keys.KeyEvent`;
* ``Event: time …, -------------- SYN_REPORT ------------`` → a report end, and
  ``SYN_DROPPED`` (evtest frames it ``>>>>>>>>>>>>>> SYN_DROPPED <<<<<<<<<<<<``; the
  ``-------------- SYN_DROPPED ------------`` form is read too) →
  :class:`~hal.scanner.keys.SynEvent`; without the ``Event: time …,`` part they take the
  time of the event before;
* other event types (``EV_MSC`` scan codes, ``EV_LED``, ``EV_REP``…) are skipped;
* evtest's header (device name, ``Supported events:`` …, ``Testing … (interrupt to
  exit)``), blank lines and ``#`` comments are skipped.

Anything else is an error naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from hal.errors import StocktakerError
from hal.scanner.keys import KeyEvent, SynEvent

EV_SYN, EV_KEY = 0, 1
SYN_REPORT, SYN_DROPPED = 0, 3

_TIME = r"Event: time (?P<sec>\d+)\.(?P<usec>\d{1,9}), "
_EVENT = re.compile(_TIME + r"type (?P<type>\d+) \([^()]*\), code (?P<code>\d+) \([^()]*\), "
                    r"value (?P<value>-?[0-9a-fA-F]+)")
_SYN = re.compile(rf"(?:{_TIME})?(?:-+|>+|\++) (?P<name>SYN_[A-Z_]+) (?:-+|<+|\++)")
_HEADER = re.compile(
    r"(Input driver version is|Input device ID:|Input device name:|Supported events:"
    r"|Event type \d|Event code \d|Value\b|Min\b|Max\b|Fuzz\b|Flat\b|Resolution\b"
    r"|Properties:|Property type \d|Key repeat handling:|Repeat type \d|Repeat code \d"
    r"|Testing \.\.\. \(interrupt to exit\)|No device specified|Available devices:"
    r"|/dev/input/event\d|Select the device event number)")


class EvtestError(StocktakerError, ValueError):
    """A recording that is not evtest output; the message names the file and line."""

    exit_code = 2

    def __init__(self, source: object, line: int | None, problem: str) -> None:
        where = str(source) if line is None else f"{source}, line {line}"
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


def parse_evtest(lines: Iterable[str], source: object = "<evtest>",
                 ) -> Iterator[KeyEvent | SynEvent]:
    """Yield the key and sync events of evtest output, in order.

    Args:
        lines: the text, line by line.
        source: how errors name the input (a file name).

    Raises:
        EvtestError: a line that is neither an event nor evtest's header.
    """
    at: float | None = None
    started = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if event := _EVENT.fullmatch(line):
            started = True
            at = _seconds(event["sec"], event["usec"])
            kind, code = int(event["type"]), int(event["code"])
            if kind == EV_KEY:
                value = event["value"]
                if value not in ("0", "1", "2"):
                    raise EvtestError(source, number, f"key value {value!r} is not 0, 1 or 2")
                yield KeyEvent(code, int(value), at)
            elif kind == EV_SYN and code in (SYN_REPORT, SYN_DROPPED):
                yield SynEvent(code == SYN_DROPPED, at)
            continue
        if syn := _SYN.fullmatch(line):
            started = True
            if syn["sec"] is not None:
                at = _seconds(syn["sec"], syn["usec"])
            if at is None:
                raise EvtestError(source, number, f"{syn['name']} before any timed event")
            if syn["name"] in ("SYN_REPORT", "SYN_DROPPED"):
                yield SynEvent(syn["name"] == "SYN_DROPPED", at)
            continue
        if not started and _HEADER.match(line):
            continue
        raise EvtestError(source, number, f"not an evtest event line: {_shorten(line)!r}")


def read_evtest(path: Path) -> list[KeyEvent | SynEvent]:
    """All events of the evtest recording in ``path``.

    Raises:
        EvtestError: the file cannot be read, is not UTF-8 text, or has a bad line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise EvtestError(path, line, "not UTF-8 text") from None
    except OSError as exc:
        raise EvtestError(path, None, f"cannot read: {exc.strerror or exc}") from None
    return list(parse_evtest(text.splitlines(), path))


def _seconds(sec: str, fraction: str) -> float:
    return float(f"{sec}.{fraction}")


def _shorten(line: str, limit: int = 60) -> str:
    return line if len(line) <= limit else line[:limit] + "…"
