"""Asset tags the device hands out itself, from ``register.intake_tag_range``.

A range is ``FIELD-0001..FIELD-9999``: the same prefix on both ends and a run of digits
whose width the first end sets. The next number to hand out lives in a small JSON file
on the device (``intake-tags.json`` in the queue folder). It is advanced, written to a
temporary file, fsynced and renamed (and the folder fsynced) *before* the tag is handed
out, so no restart, power cut or kill can give the same tag twice; the worst a crash can
do is skip a number. Two processes taking tags at once are kept apart by a lock file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from sync.storage import fsync_directory, replace_file

__all__ = ["DeviceTags", "TagRange", "TagRangeExhausted", "counter_path", "device_tags",
           "parse_tag_range"]

_END = re.compile(r"(.*?)([0-9]+)")


class TagRangeExhausted(RuntimeError):
    """Every tag of the range has been handed out."""


@dataclass(frozen=True)
class TagRange:
    """A run of asset tags: ``prefix`` then ``first``..``last`` zero-filled to ``width``."""

    prefix: str
    first: int
    last: int
    width: int

    def tag(self, number: int) -> str:
        """The tag with ``number``."""
        return f"{self.prefix}{number:0{self.width}d}"

    def __str__(self) -> str:
        return f"{self.tag(self.first)}..{self.tag(self.last)}"


def parse_tag_range(text: str) -> TagRange:
    """``FIELD-0001..FIELD-9999`` as a :class:`TagRange`.

    Raises:
        ValueError: not two ends with the same prefix and digits, or the first end is
            after the last (the message says which).
    """
    ends = text.split("..")
    if len(ends) != 2:
        raise ValueError(f"{text!r} is not a tag range (write FIRST..LAST, e.g."
                         " \"FIELD-0001..FIELD-9999\")")
    matches = [_END.fullmatch(end.strip()) for end in ends]
    if matches[0] is None or matches[1] is None:
        raise ValueError(f"{text!r}: both ends of a tag range must end in digits")
    (prefix, first), (prefix2, last) = matches[0].groups(), matches[1].groups()
    if prefix != prefix2:
        raise ValueError(f"{text!r}: both ends of a tag range need the same prefix"
                         f" ({prefix!r} and {prefix2!r})")
    if any(ch.isspace() for ch in prefix) or len(prefix) + len(last) > 255:
        raise ValueError(f"{text!r}: a tag has no spaces and at most 255 characters")
    if int(first) > int(last):
        raise ValueError(f"{text!r}: the first tag comes after the last")
    return TagRange(prefix, int(first), int(last), len(first))


class DeviceTags:
    """Hands out the tags of a :class:`TagRange`, each once, durably.

    Args:
        tag_range: the configured range.
        path: the counter file (its folder must exist).
    """

    def __init__(self, tag_range: TagRange, path: Path) -> None:
        self.range = tag_range
        self.path = Path(path)
        self._lock = threading.Lock()

    def take(self) -> str:
        """The next tag; it is on disk as used before it is returned.

        Raises:
            TagRangeExhausted: the range is used up (the message says which).
            OSError: the counter file cannot be written (no tag is handed out).
        """
        with self._lock, open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            number = self.next_number()
            if number > self.range.last:
                raise TagRangeExhausted(f"every tag of register.intake_tag_range"
                                        f" {self.range} has been handed out")
            data = {"range": str(self.range), "prefix": self.range.prefix,
                    "width": self.range.width, "next": number + 1}
            replace_file(self.path, json.dumps(data).encode("ascii") + b"\n")
            fsync_directory(self.path.parent)
            return self.range.tag(number)

    def next_number(self) -> int:
        """The number the next :meth:`take` hands out (the range's first when none was).

        A counter written for a range with the same prefix and width is followed (a range
        moved or shortened never hands out a number it handed out before); one written
        for another prefix leaves this range starting at its first number.

        Raises:
            OSError: the file exists but cannot be read.
            ValueError: the file is damaged (not the counter this class writes).
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self.range.first
        try:
            data = json.loads(raw)
            number = int(data["next"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path}: not a tag counter ({exc}); move it aside only"
                             " after checking which tags were handed out") from None
        if data.get("prefix", self.range.prefix) != self.range.prefix \
                or data.get("width", self.range.width) != self.range.width:
            return self.range.first
        return max(number, self.range.first)


def counter_path(queue_folder: Path) -> Path:
    """Where the tag counter lives: beside the device's queue."""
    return Path(os.fspath(queue_folder)) / "intake-tags.json"


def device_tags(tag_range: str, queue_folder: Path) -> DeviceTags | None:
    """The device's tag source for ``register.intake_tag_range`` (checked at load), kept
    in the queue folder; None when the range is empty (the register assigns tags)."""
    if not tag_range:
        return None
    return DeviceTags(parse_tag_range(tag_range), counter_path(queue_folder))
