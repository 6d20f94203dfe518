"""Sending a batch's audits in bulk (``POST /hardware/audit/bulk``, Snipe-IT 8.7 and later).

Whether the server has the endpoint is found out once per process (a bulk audit of no
ids). Audits of a batch that share their room, location update and note go in one request
(:func:`sync.snipeit_bulk.group_key`), at most :data:`BULK_MAX_IDS` ids at a time, halved
for a server that refuses that many (or answers 413, or no answer comes in time). An asset
gets one bulk audit per session however often it was seen; a call that ended unclearly
has its session's audits read from the log again before any is sent again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sync.errors import RegisterUnavailable
from sync.register import ItemResult, ItemStatus
from sync.sighting import Sighting
from sync.snipeit_api import NO_ROUTE, TOO_LARGE, SnipeItApi, Throttled, error_message
from sync.snipeit_assets import SnipeItAssets
from sync.snipeit_audit import AUDIT_VERDICTS, SAFE_ID, SnipeItAudits
from sync.snipeit_bulk import BulkAnswer, bulk_note, group_key, parse_bulk_answer

__all__ = ["BULK_MAX_IDS", "BulkAudits"]

log = logging.getLogger(__name__)

BULK_MAX_IDS = 500
"""Most asset ids in one bulk audit. Snipe-IT sets no cap; a server that refuses a request
for its ``ids`` (or answers HTTP 413) gets halves of it, and that smaller size from then on."""

_BULK_PATH = "/hardware/audit/bulk"

Rooms = Mapping[int, tuple[int | None, str | None]]


class BulkAudits:
    """Audits sightings in bulk requests, falling back to one audit per request.

    Args:
        api: the requests.
        assets: asset ids and rooms.
        audits: the per-sighting audits and what is known audited.
        enabled: ``register.bulk_audit``; False: never ask the server.
        move_mislocated: ``register.move_mislocated``.

    Attributes:
        available: whether the server has the bulk audit; None: not asked yet.
        max_ids: asset ids per request now.
    """

    def __init__(self, api: SnipeItApi, assets: SnipeItAssets, audits: SnipeItAudits, *,
                 enabled: bool, move_mislocated: bool) -> None:
        self.api = api
        self.assets = assets
        self.audits = audits
        self.move_mislocated = move_mislocated
        self.available: bool | None = None if enabled else False
        self.max_ids = BULK_MAX_IDS

    def candidate(self, record: object) -> bool:
        """Whether a record can go into a bulk audit (else it goes the per-asset way)."""
        if self.available is False or not isinstance(record, Sighting):
            return False
        tag = record.asset_tag
        return (record.verdict in AUDIT_VERDICTS
                and bool(SAFE_ID.fullmatch(record.sighting_id))
                and bool(SAFE_ID.fullmatch(record.session_id))
                and tag is not None and bool(tag.strip()))

    def server_has_it(self) -> bool:
        """Whether the server has the bulk audit; asked once per process.

        The question is a bulk audit of no ids: a server that has the endpoint refuses it
        for its ``ids`` (nothing is audited); an older one answers 404 (or 405).
        """
        if self.available is None:
            data = self.api.read("POST", _BULK_PATH, body={"ids": []}, missing=(404, 405))
            self.available = parse_bulk_answer(data) is not None
            if not self.available:
                log.info("Snipe-IT has no bulk audit (%s): one audit per request",
                         "no such endpoint" if data is NO_ROUTE else "not a bulk answer")
        return self.available

    def push(self, records: Sequence[Sighting]) -> list[ItemResult]:
        """Audit ``records`` (all :meth:`candidate`) in as few requests as can be."""
        results: list[ItemResult | None] = [None] * len(records)
        pending = []
        for n, record in enumerate(records):
            if self.audits.already_audited(record.sighting_id, record.session_id):
                results[n] = ItemResult(record.sighting_id, ItemStatus.DUPLICATE,
                                        "already audited")
            else:
                pending.append(n)
        rooms: dict[int, tuple[int | None, str | None]] = {}
        for n in pending:
            room = records[n].location
            rooms[n] = self.assets.room(room) if room else (None, None)
        ids = self.assets.asset_ids({_tag(records[n]) for n in pending},
                                    {loc for loc, _ in rooms.values() if loc is not None})
        groups: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
        first_of: dict[tuple[str, int], int] = {}
        followers: list[tuple[int, int]] = []
        for n in pending:
            record = records[n]
            sighting_id, session = record.sighting_id, record.session_id
            asset_id = ids.get(_tag(record).casefold())
            if asset_id is None:
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        "Snipe-IT: Asset does not exist.")
                continue
            if asset_id in self.audits.bulk_done.get(session, ()):
                results[n] = ItemResult(sighting_id, ItemStatus.DUPLICATE,
                                        "already audited in this session (bulk audit)")
                continue
            if (session, asset_id) in first_of:  # seen twice in this batch: audited once
                followers.append((n, first_of[session, asset_id]))
                continue
            first_of[session, asset_id] = n
            location = rooms[n][0]
            update = (location is not None and record.verdict == "mislocated"
                      and self.move_mislocated)
            groups.setdefault(group_key(record, location, update), []).append((n, asset_id))
        for key, members in groups.items():
            if self.available is False:  # the server lost the endpoint: one by one
                for n, _ in members:
                    results[n] = self.audits.push_one(records[n])
                continue
            self._send_group(key, members, records, rooms, results)
        for n, first in followers:
            earlier = results[first]
            assert earlier is not None
            if earlier.status is ItemStatus.REJECTED:
                results[n] = ItemResult(records[n].sighting_id, ItemStatus.REJECTED,
                                        earlier.reason)
            else:
                results[n] = ItemResult(records[n].sighting_id, ItemStatus.DUPLICATE,
                                        "already audited in this session (bulk audit)")
        return [r for r in results if r is not None]

    def _send_group(self, key: tuple[Any, ...], members: list[tuple[int, int]],
                    records: Sequence[Sighting], rooms: Rooms,
                    results: list[ItemResult | None]) -> None:
        """Send one group's bulk audits, ``self.max_ids`` ids a request."""
        start = 0
        while start < len(members):
            chunk = members[start:start + self.max_ids]
            answer = self._send_bulk(key, chunk, records)
            if answer is None:  # no such endpoint after all: the per-asset way
                self.available = False
                for n, _ in members[start:]:
                    results[n] = self.audits.push_one(records[n])
                return
            if answer.refused_whole and answer.ids_refused and len(chunk) > 1:
                self.max_ids = max(1, len(chunk) // 2)
                log.info("Snipe-IT refused %d ids in one bulk audit (%s): %d from now on",
                         len(chunk), answer.message, self.max_ids)
                continue
            self._take_answer(answer, chunk, records, rooms, results)
            start += len(chunk)

    def _send_bulk(self, key: tuple[Any, ...], chunk: list[tuple[int, int]],
                   records: Sequence[Sighting]) -> BulkAnswer | None:
        """One bulk audit request; None when the server has no bulk endpoint."""
        session = records[chunk[0][0]].session_id
        location, update = key[2], key[3]
        body: dict[str, Any] = {"ids": [asset_id for _, asset_id in chunk],
                                "note": bulk_note([records[n] for n, _ in chunk],
                                                  str(uuid.uuid4()))}
        if location is not None:
            body["location_id"] = location
            if update:
                body["update_location"] = 1
        sent = time.monotonic()
        try:
            data = self.api.read("POST", _BULK_PATH, body=body, missing=(404, 405, 413))
            if data is TOO_LARGE:
                return BulkAnswer("error", {}, "HTTP 413", ids_refused=True)
            if data is NO_ROUTE:
                return None
            answer = parse_bulk_answer(data)
            if answer is None:
                raise RegisterUnavailable(f"POST {_BULK_PATH}: not a bulk audit answer:"
                                          f" {str(data)[:200]}")
            missing = [a for _, a in chunk if a not in answer.rows]
            if missing and not answer.refused_whole:
                raise RegisterUnavailable(f"POST {_BULK_PATH}: the answer has no row for"
                                          f" asset {missing[0]}")
        except Throttled:
            raise
        except RegisterUnavailable:
            # Some audits may have been logged before the answer was lost: read the
            # session's audits again before sending any of them again.
            self.audits.uncertain_sessions.add(session)
            if len(chunk) > 1 and time.monotonic() - sent >= 0.9 * self.api.timeout:
                # No answer in time: maybe too many rows for the server; smaller from now on.
                self.max_ids = max(1, len(chunk) // 2)
            raise
        return answer

    def _take_answer(self, answer: BulkAnswer, chunk: list[tuple[int, int]],
                     records: Sequence[Sighting], rooms: Rooms,
                     results: list[ItemResult | None]) -> None:
        """Each row of a bulk answer as the result of its sighting."""
        for n, asset_id in chunk:
            record = records[n]
            sighting_id = record.sighting_id
            row = answer.rows.get(asset_id)
            if row is None:  # refused as a whole (not for its size)
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        f"Snipe-IT: {answer.message}")
            elif row.get("status") == "success":
                self.audits.audited.add(sighting_id)
                self.audits.bulk_done.setdefault(record.session_id, set()).add(asset_id)
                results[n] = ItemResult(sighting_id, ItemStatus.ACCEPTED, rooms[n][1])
            else:
                results[n] = ItemResult(sighting_id, ItemStatus.REJECTED,
                                        f"Snipe-IT: {error_message({**row, 'status': 'error'})}")


def _tag(sighting: Sighting) -> str:
    """The asset tag of a bulk candidate (it has one)."""
    assert sighting.asset_tag is not None
    return sighting.asset_tag
