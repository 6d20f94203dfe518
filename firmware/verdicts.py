"""``Verdict``: what one scan means for the audit of a room."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sync.asset import Asset


class VerdictKind(str, enum.Enum):
    """The live verdicts of a handheld audit (``ghost`` is only known at the end)."""

    VERIFIED = "verified"
    MISLOCATED = "mislocated"
    UNREGISTERED = "unregistered"
    RETIRED = "retired"
    RECOVERED = "recovered"
    AMBIGUOUS = "ambiguous"
    REPEAT = "repeat"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Verdict:
    """The verdict on one scan.

    Attributes:
        kind: the verdict.
        label: what was scanned, as a technician reads it (asset tag, or the payload text).
        asset: the register's record, when the tag names a known asset.
        recorded_location: for ``mislocated`` and ``recovered``, where the register says
            the asset is.
        reason: for ``rejected``, why the payload was refused; for ``repeat``, the first
            verdict; for ``unregistered``, why the label was not looked up, if it was not;
            for ``ambiguous``, how many assets match.
        candidates: for ``ambiguous``, every asset the label matches.
        overdue: the asset's audit was overdue (its next audit date had passed) when it
            was found.
    """

    kind: VerdictKind
    label: str
    asset: Asset | None = None
    recorded_location: str | None = None
    reason: str | None = None
    candidates: tuple[Asset, ...] = ()
    overdue: bool = False


@dataclass(frozen=True)
class Progress:
    """How far the audit of one room has come: ``verified`` of ``expected``.

    ``overdue_found`` and ``overdue_missing``: the expected assets whose audit is overdue,
    verified and not (yet) seen.
    """

    location: str | None
    verified: int
    expected: int
    overdue_found: int = 0
    overdue_missing: int = 0


@dataclass(frozen=True)
class Summary:
    """The end of an audit: counts per verdict (and ``ghost``), for the summary screen."""

    location: str
    expected: int
    verified: int
    mislocated: int
    unregistered: int
    retired: int
    repeat: int
    rejected: int
    ghost: int
    recovered: int = 0
    ambiguous: int = 0
