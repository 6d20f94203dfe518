"""What the handheld audit's parts share: the attributes each of them reads and sets.

:class:`firmware.handheld_audit.HandheldAudit` is made of parts, one module each (the room
from start to report, the rooms a kill left, the labels made on the spot); they work on
one object, whose attributes are declared here once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware.audit_rules import AuditSession
from firmware.audit_settings import Settings
from firmware.inventory import Inventory
from firmware.intake_rules import IntakeGatherer
from firmware.room import RoomJournal
from firmware.scan_path import ScanPath
from firmware.sightings import Stamp
from firmware.verdicts import Verdict
from hal.clock import Clock
from sync.intake_tags import DeviceTags
from sync.pending_reports import PendingReports
from sync.queue import SightingStore
from sync.register import Register
from sync.sighting import Sighting


class AuditState:
    """The handheld audit's attributes, as its parts see them (set by its ``__init__``)."""

    # what the audit is given
    settings: Settings
    inventory: Inventory
    queue: SightingStore
    register: Register
    pending_reports: PendingReports
    clock: Clock
    rooms: Path
    labels: Path
    on_room_end: Callable[[], None] | None
    path: ScanPath[Verdict]
    # the room being audited
    session: AuditSession
    stamp: Stamp
    journal: RoomJournal
    sightings: list[Sighting]
    intakes: list[dict[str, Any]]
    started_at: str
    clock_ok: bool
    resumed: int
    campaign: str | None
    reports: list[dict[str, Any]]
    repeat_reads_dropped: int
    _dropped_before: int
    _show_resumed: bool
    _unconfirmed: tuple[str, float] | None
    # intake and relabelling
    intake: IntakeGatherer
    intake_tags: DeviceTags | None
    label_url: Callable[[str], str] | None
    label_line: str
    _relabel_armed: float | None
    _relabel_tag: str | None
