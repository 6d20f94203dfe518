"""Gathering an intake on the device: which scans belong to the unregistered asset.

A pure state machine, no I/O. An intake starts after an UNKNOWN verdict (that label is
its ``unknown_label``), a scanned ``INTAKE`` label or the *next* button; the next one to
three scans are read as identifiers of the same asset, each classified by
:func:`classify`: a GS1 GTIN (AI 01) is the ``gtin``, six hex pairs (``:``, ``-`` or no
separator) the ``mac``, the first other text the ``serial`` and the next the ``model``.
It closes when three are gathered, on the *end* button, a room label, or after
``timeout`` seconds without a scan. The audit decides what the closed intake becomes
(a record only when something was gathered) and drops it when a scan names an asset
the register knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from firmware.gs1 import GS1_AIMS, GS1Error, is_element_string, is_hri, parse_message, split_aim

__all__ = ["GATHERED_KINDS", "MAX_IDENTIFIERS", "Intake", "IntakeGatherer", "classify"]

MAX_IDENTIFIERS = 3
"""An intake closes by itself once this many identifiers are gathered."""

GATHERED_KINDS = ("serial", "model", "gtin", "mac")
"""What the gathering screen lists, in its order."""

_MAC = re.compile(r"[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
                  r"|(?:[0-9A-Fa-f]{2}){5})")


def classify(text: str, gathered: dict[str, str]) -> tuple[str, str] | None:
    """The kind and value of one scan on the asset, given what is already gathered.

    ``(01)`` GS1 data (human-readable, element string or with a GS1 AIM identifier)
    gives the GTIN; a MAC address pattern gives the MAC (upper case, ``:``-separated);
    other text is the serial, then the model. None: the text is empty, or it would be a
    plain identifier when serial and model are both gathered.
    """
    aim, body = split_aim(text.strip())
    body = body.strip()
    if not body:
        return None
    if is_hri(body) or is_element_string(body) or aim in GS1_AIMS:
        try:
            keys = parse_message(body)
        except GS1Error:
            keys = None
        if keys is not None and keys.gtin:
            return "gtin", keys.gtin
    if _MAC.fullmatch(body):
        digits = re.sub(r"[:-]", "", body).upper()
        return "mac", ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    for kind in ("serial", "model"):
        if kind not in gathered:
            return kind, body
    return None


@dataclass
class Intake:
    """An intake being gathered: what started it, what was scanned, when it last moved."""

    started: float
    last: float
    unknown_label: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)

    def expected(self) -> list[str]:
        """The kinds not gathered yet (in :data:`GATHERED_KINDS` order)."""
        return [kind for kind in GATHERED_KINDS if kind not in self.identifiers]

    def full(self) -> bool:
        """Whether :data:`MAX_IDENTIFIERS` identifiers are gathered."""
        return len(self.identifiers) >= MAX_IDENTIFIERS


class IntakeGatherer:
    """Idle or gathering one intake; times are monotonic seconds.

    Args:
        timeout: seconds without a scan after which :meth:`expired` says to close it.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.current: Intake | None = None

    @property
    def gathering(self) -> bool:
        """Whether an intake is open."""
        return self.current is not None

    def start(self, now: float, unknown_label: str | None = None) -> Intake:
        """Open a new intake (an open one is dropped: close it first to keep it)."""
        self.current = Intake(now, now, unknown_label)
        return self.current

    def add(self, text: str, now: float) -> str | None:
        """Take one scan as an identifier; returns its kind, or None when not taken."""
        intake = self.current
        if intake is None:
            raise RuntimeError("no intake is being gathered")
        intake.last = now
        found = classify(text, intake.identifiers)
        if found is None:
            return None
        kind, value = found
        intake.identifiers[kind] = value
        return kind

    def expired(self, now: float) -> bool:
        """Whether the open intake has had no scan for ``timeout`` seconds."""
        return self.current is not None and now - self.current.last >= self.timeout

    def close(self) -> Intake | None:
        """End the open intake and return it (None when idle)."""
        intake, self.current = self.current, None
        return intake
