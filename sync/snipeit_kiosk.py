"""A door kiosk's events in Snipe-IT: check-out to a user, check-in to the room, conflicts.

- ``checked_out``: ``POST /hardware/{id}/checkout`` with ``checkout_to_type=user``,
  ``assigned_user`` (the person's Snipe-IT user id), ``checkout_at`` (the scan time, UTC,
  ``YYYY-MM-DD HH:MM:SS``) and a note naming the event (``stocktaker sighting <uuid>``).
  Snipe-IT's check-out takes no location: the asset's location becomes the user's
  location, or none when the user has none.
- ``checked_in``: ``POST /hardware/{id}/checkin`` with ``location_id`` (the kiosk's room,
  from ``register.location_ids`` or looked up by name) and the note.
- ``refused``: nothing is sent; accepted (the kiosk keeps it in its own records).

Snipe-IT refuses a second check-out ("not available") and a second check-in ("already
checked in"), so an event sent again after a lost answer cannot apply twice. When the
asset is not in the state the event needs, its activity log is searched for the event's
note: found, the event is ``duplicate``; the same person already holds it, or it is
already in the room, ``accepted`` (nothing to change); otherwise a ``conflict`` carrying
what Snipe-IT holds (holder, status, location). An asset Snipe-IT does not know, or a
person without a Snipe-IT user id, is ``rejected``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from sync.errors import RegisterUnavailable
from sync.register import ItemResult, ItemStatus
from sync.sighting import Sighting
from sync.snipeit_notes import note_text

__all__ = ["KioskMoves", "kiosk_note"]

MOVE_VERDICTS = frozenset({"checked_out", "checked_in"})
_NOT_FOUND = re.compile(r"does not exist|not found", re.IGNORECASE)

Read = Callable[..., Any]
ListAll = Callable[[str, Mapping[str, Any]], list[dict[str, Any]]]
Room = Callable[[str], tuple[int | None, str | None]]
ErrorMessage = Callable[[Any], str | None]


def kiosk_note(event: Sighting, marker: str) -> str:
    """The note of a kiosk event's check-out or check-in: marker, time, room, person, device."""
    person: Mapping[str, Any] = event.person or {}
    parts = [f"{marker} {event.sighting_id}",
             f"scanned {note_text(event.wall_time) or 'at an unknown time'}"]
    if event.location:
        parts.append(f"at the door of {note_text(event.location)}")
    who = person.get("name") or person.get("username") or person.get("employee_num")
    if who:
        parts.append(f"by {note_text(who)}")
    if person.get("badge"):
        parts.append(f"badge {note_text(person['badge'])}")
    if event.device_id:
        parts.append(f"kiosk {note_text(event.device_id)}")
    return "; ".join(parts)


def checkout_time(wall_time: Any) -> str | None:
    """The scan time as Snipe-IT's ``checkout_at`` (``2026-11-24 09:15:02``, UTC), or None."""
    if not isinstance(wall_time, str):
        return None
    try:
        moment = datetime.fromisoformat(wall_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class KioskMoves:
    """Sends kiosk events to Snipe-IT through the adapter's own requests.

    Args:
        read: one request, its JSON answer (``read(method, path, params=, body=)``).
        list_all: every row of a paged list.
        room: a room name's location id and, when there is none, why.
        error_message: the message of an error envelope, or None.
        marker: starts the note's part naming the event (``stocktaker sighting``).
        found_in_log: whether the activity log holds a note naming this sighting id.
    """

    def __init__(self, read: Read, list_all: ListAll, room: Room,
                 error_message: ErrorMessage, marker: str,
                 found_in_log: Callable[[str], bool]) -> None:
        self._read = read
        self._list_all = list_all
        self._room = room
        self._error = error_message
        self._marker = marker
        self._found_in_log = found_in_log
        self.done: set[str] = set()
        """Events applied by this process (answered again as duplicates)."""

    def push_one(self, record: Sighting) -> ItemResult:
        """One kiosk event (``checked_out``, ``checked_in`` or ``refused``) as a result.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached or failed; the event is
                looked up in the activity log before it is sent again.
        """
        sighting_id, verdict = record.sighting_id, record.verdict
        if verdict not in MOVE_VERDICTS:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, "refused at the door: recorded"
                              " on the device only")
        if sighting_id in self.done:
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, f"already {verdict}")
        tag = record.asset_tag
        if tag is None or not tag.strip():
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"a {verdict} event without"
                              " an asset tag")
        row = self._asset_row(tag)
        if row is None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: no asset {tag!r}")
        if verdict == "checked_out":
            result = self._check_out(sighting_id, row, record)
        else:
            result = self._check_in(sighting_id, row, record)
        if result.status is ItemStatus.ACCEPTED:
            self.done.add(sighting_id)
        return result

    # -- check-out ------------------------------------------------------------------------

    def _check_out(self, sighting_id: str, row: dict[str, Any],
                   record: Sighting) -> ItemResult:
        person: Mapping[str, Any] = record.person or {}
        user_id = person.get("id")
        if type(user_id) is not int or user_id <= 0:
            return ItemResult(sighting_id, ItemStatus.REJECTED, "the person has no Snipe-IT"
                              " user id (people come from Snipe-IT's users)")
        if _available(row):
            body: dict[str, Any] = {"checkout_to_type": "user", "assigned_user": user_id,
                                    "note": kiosk_note(record, self._marker)}
            at = checkout_time(record.wall_time)
            if at is not None:
                body["checkout_at"] = at
            data = self._send(f"/hardware/{row['id']}/checkout", body)
            message = self._error(data)
            if message is None:
                return ItemResult(sighting_id, ItemStatus.ACCEPTED)
            if _NOT_FOUND.search(message) and "target" not in message.casefold():
                return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
            if "not available" not in message.casefold():
                return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
            row = self._asset_row(str(row.get("asset_tag") or "")) or row
        if self._found_in_log(sighting_id):
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "already checked out")
        holder = row.get("assigned_to") if isinstance(row.get("assigned_to"), dict) else None
        if holder is not None and holder.get("type", "user") == "user" \
                and holder.get("id") == user_id:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED,
                              "already checked out to this person in Snipe-IT")
        side = register_side(row)
        if holder is not None:
            reason = f"checked out to {_holder_name(holder)} in Snipe-IT"
        else:
            reason = f"not available for checkout in Snipe-IT (status {side['status']!r})"
        return ItemResult(sighting_id, ItemStatus.CONFLICT, reason, side)

    # -- check-in -------------------------------------------------------------------------

    def _check_in(self, sighting_id: str, row: dict[str, Any],
                  record: Sighting) -> ItemResult:
        room = record.location
        location, problem = self._room(room) if room else (None, None)
        if row.get("assigned_to") is not None:
            body: dict[str, Any] = {"note": kiosk_note(record, self._marker)}
            if location is not None:
                body["location_id"] = location
            data = self._send(f"/hardware/{row['id']}/checkin", body)
            message = self._error(data)
            if message is None:
                return ItemResult(sighting_id, ItemStatus.ACCEPTED, problem)
            if "already checked in" not in message.casefold():
                return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
            row = self._asset_row(str(row.get("asset_tag") or "")) or row
        if self._found_in_log(sighting_id):
            return ItemResult(sighting_id, ItemStatus.DUPLICATE, "already checked in")
        here = row.get("location") if isinstance(row.get("location"), dict) else None
        if location is not None and here is not None and here.get("id") == location:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, "already checked in here")
        side = register_side(row)
        return ItemResult(sighting_id, ItemStatus.CONFLICT, "not checked out in Snipe-IT; it"
                          f" is in {side['location'] or 'no location'}", side)

    # -- requests -------------------------------------------------------------------------

    def _asset_row(self, tag: str) -> dict[str, Any] | None:
        """Snipe-IT's asset object for ``tag`` (archived included), or None."""
        rows = self._list_all("/hardware", {"asset_tag": tag})
        if not rows:
            rows = self._list_all("/hardware", {"asset_tag": tag, "status": "Archived"})
        exact = [r for r in rows if isinstance(r.get("id"), int)
                 and html.unescape(str(r.get("asset_tag") or "")).casefold() == tag.casefold()]
        return exact[0] if len(exact) == 1 else None

    def _send(self, path: str, body: Mapping[str, Any]) -> Any:
        data = self._read("POST", path, body=dict(body))
        if not isinstance(data, dict) or data.get("status") not in ("success", "error"):
            raise RegisterUnavailable(f"POST {path}: not a Snipe-IT answer: {str(data)[:200]}")
        return data


def register_side(row: Mapping[str, Any]) -> dict[str, Any]:
    """What Snipe-IT holds for an asset: holder, status and location (names unescaped)."""
    holder = row.get("assigned_to") if isinstance(row.get("assigned_to"), dict) else None
    label = found if isinstance(found := row.get("status_label"), dict) else {}
    location = row.get("location") if isinstance(row.get("location"), dict) else None
    return {
        "asset_tag": html.unescape(str(row.get("asset_tag") or "")),
        "holder": None if holder is None else {
            "id": holder.get("id"), "type": holder.get("type"),
            "username": html.unescape(str(holder.get("username") or "")),
            "name": html.unescape(str(holder.get("name") or ""))},
        "status": html.unescape(str(label.get("name") or "")),
        "status_type": label.get("status_type"),
        "location": None if location is None else html.unescape(str(location.get("name"))),
    }


def _available(row: Mapping[str, Any]) -> bool:
    label = found if isinstance(found := row.get("status_label"), dict) else {}
    return row.get("assigned_to") is None and label.get("status_type") == "deployable" \
        and not row.get("deleted_at")


def _holder_name(holder: Mapping[str, Any]) -> str:
    return html.unescape(str(holder.get("name") or holder.get("username")
                             or holder.get("id")))
