"""Intake records in Snipe-IT: each becomes a new asset, created once.

- The asset is created with ``POST /hardware``: status ``register.intake_status`` (e.g.
  *Pending*, looked up in ``/statuslabels`` by name), in the room's location (default and
  current: ``rtd_location_id`` and ``location_id``), serial from the intake, and a note
  that starts with the marker ``stocktaker intake <uuid>`` and lists what was scanned.
- The model: the intake's ``model`` identifier is matched against the models' model
  numbers (then names), its ``gtin`` against the models' model numbers (digits compared
  as GTIN-14, so a model number holding an EAN-13 or UPC-A matches its GTIN). Snipe-IT
  has no GTIN field on models; a shop that keeps GTINs writes them into the model number.
  Nothing found: the model named ``register.intake_unknown_model``, which must exist.
  That model and the status are the work left to finish the asset.
- The tag: the device's own from ``register.intake_tag_range`` (it is in the record), or
  none, and Snipe-IT gives its auto-increment tag (its setting must be on; otherwise
  Snipe-IT refuses with "The asset tag field is required.").
- Exactly once: before every create the asset list is searched for the marker
  (``GET /hardware?search=<uuid>``; Snipe-IT's search covers ``notes``,
  ``Asset::$searchableAttributes``). Found, the intake is ``duplicate``: a replay after
  a kill between Snipe-IT's answer and the queue's acknowledgement makes no second asset.
- An intake whose serial Snipe-IT already has on another asset is a ``conflict`` carrying
  that asset: the device took it for unregistered, the register knows it.
- A refusal (validation) is ``rejected`` with Snipe-IT's message: a dead letter.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

from sync.errors import RegisterUnavailable
from sync.intake import INTAKE_MARKER, IntakeRecord
from sync.snipeit_notes import intake_note
from sync.register import ItemResult, ItemStatus
from sync.snipeit_kiosk import register_side

__all__ = ["SnipeItIntake", "gtin14"]

_SAFE_ID = re.compile(r"[A-Za-z0-9-]{8,64}")

Read = Callable[..., Any]
ListAll = Callable[[str, Mapping[str, Any]], list[dict[str, Any]]]
Room = Callable[[str], tuple[int | None, str | None]]
ErrorMessage = Callable[[Any], str | None]


def gtin14(text: str) -> str | None:
    """A GTIN-8/12/13/14 (or a model number that is one) as 14 digits, else None."""
    digits = text.strip()
    if not re.fullmatch(r"[0-9]{8}|[0-9]{12,14}", digits):
        return None
    return digits.zfill(14)


class SnipeItIntake:
    """Creates intake assets through the Snipe-IT adapter's own requests.

    Args:
        read: one request, its JSON answer (``read(method, path, params=, body=)``).
        list_all: every row of a paged list.
        room: a room name's location id and, when there is none, why.
        error_message: the message of an error envelope, or None.
        status_name: ``register.intake_status``.
        unknown_model: ``register.intake_unknown_model``.
    """

    def __init__(self, read: Read, list_all: ListAll, room: Room,
                 error_message: ErrorMessage, status_name: str, unknown_model: str) -> None:
        self._read = read
        self._list_all = list_all
        self._room = room
        self._error = error_message
        self._status_name = status_name
        self._unknown_model = unknown_model
        self._status_id: int | None = None
        self._models: dict[tuple[str, str], int | None] = {}
        self.created: dict[str, str] = {}
        """Intake id -> asset tag of the assets this process created."""

    def push_one(self, intake: IntakeRecord) -> ItemResult:
        """One intake record as a result.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached or failed; the marker is
                searched for before the intake is sent again.
        """
        sighting_id = intake.intake_id
        if not _SAFE_ID.fullmatch(intake.intake_id):
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              "intake id cannot be written into a Snipe-IT note (use a UUID)")
        if intake.intake_id in self.created:
            return ItemResult(sighting_id, ItemStatus.DUPLICATE,
                              f"already created as {self.created[intake.intake_id]}")
        existing = self._marked(intake.intake_id)
        if existing is not None:
            self.created[intake.intake_id] = existing
            return ItemResult(sighting_id, ItemStatus.DUPLICATE,
                              f"already created as {existing}")
        serial = intake.identifiers.get("serial")
        if serial:
            known = self._by_serial(serial)
            if known is not None:
                side = register_side(known)
                return ItemResult(sighting_id, ItemStatus.CONFLICT,
                                  f"Snipe-IT already has serial {serial!r} as asset"
                                  f" {side['asset_tag']!r}: not an intake", side)
        status_id = self._status()
        if status_id is None:
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              f"Snipe-IT has no status label {self._status_name!r}"
                              " (create it, or set register.intake_status)")
        model_id, how = self._model(intake)
        if model_id is None:
            return ItemResult(sighting_id, ItemStatus.REJECTED,
                              f"no model matches and Snipe-IT has no model named"
                              f" {self._unknown_model!r} (create it, or set"
                              " register.intake_unknown_model)")
        location, problem = self._room(intake.location)
        body: dict[str, Any] = {"model_id": model_id, "status_id": status_id,
                                "notes": intake_note(intake)}
        if intake.asset_tag is not None:
            body["asset_tag"] = intake.asset_tag
        if serial:
            body["serial"] = serial
        if location is not None:
            body["rtd_location_id"] = location
            body["location_id"] = location
        data = self._read("POST", "/hardware", body=body)
        if not isinstance(data, dict) or data.get("status") not in ("success", "error"):
            raise RegisterUnavailable(f"POST /hardware: not a Snipe-IT answer:"
                                      f" {str(data)[:200]}")
        message = self._error(data)
        if message is not None:
            return ItemResult(sighting_id, ItemStatus.REJECTED, f"Snipe-IT: {message}")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        tag = html.unescape(str(payload.get("asset_tag") or intake.asset_tag or ""))
        self.created[intake.intake_id] = tag
        notes = [f"created as {tag}", how]
        if problem:
            notes.append(problem.replace("audited", "created"))
        return ItemResult(sighting_id, ItemStatus.ACCEPTED, "; ".join(notes))

    # -- lookups ---------------------------------------------------------------------------

    def _marked(self, intake_id: str) -> str | None:
        """The tag of the asset whose notes carry this intake's marker, or None."""
        for extra in ({}, {"status": "Archived"}):
            rows = self._list_all("/hardware", {"search": intake_id, **extra})
            for row in rows:
                note = html.unescape(str(row.get("notes") or ""))
                if f"{INTAKE_MARKER} {intake_id}" in note:
                    return html.unescape(str(row.get("asset_tag") or ""))
        return None

    def _by_serial(self, serial: str) -> dict[str, Any] | None:
        rows = self._list_all("/hardware", {"serial": serial})
        rows += self._list_all("/hardware", {"serial": serial, "status": "Archived"})
        exact = [r for r in rows if html.unescape(str(r.get("serial") or "")).casefold()
                 == serial.casefold()]
        return exact[0] if exact else None

    def _status(self) -> int | None:
        if self._status_id is None:  # looked up until found (an admin may add it)
            rows = self._list_all("/statuslabels", {"name": self._status_name})
            ids = [r["id"] for r in rows if isinstance(r.get("id"), int)
                   and html.unescape(str(r.get("name") or "")).casefold()
                   == self._status_name.casefold()]
            self._status_id = ids[0] if ids else None
        return self._status_id

    def _model(self, intake: IntakeRecord) -> tuple[int | None, str]:
        """The model id for an intake and how it was found."""
        model = intake.identifiers.get("model")
        if model:
            found = self._find_model("model_number", model)
            if found is None:
                found = self._find_model("name", model)
            if found is not None:
                return found, f"model found by model number {model!r}"
        gtin = intake.identifiers.get("gtin")
        if gtin and gtin14(gtin) is not None:
            found = self._find_model("gtin", gtin)
            if found is not None:
                return found, f"model found by GTIN {gtin}"
        found = self._find_model("name", self._unknown_model)
        return found, f"model unknown: {self._unknown_model!r}, to be finished in Snipe-IT"

    def _find_model(self, by: str, value: str) -> int | None:
        key = (by, value.casefold())
        if key not in self._models:
            # Snipe-IT's search is a LIKE: a GTIN without its leading zeros is found in a
            # model number written with or without them.
            term = value.lstrip("0") or value if by == "gtin" else value
            rows = self._list_all("/models", {"search": term})
            matches = []
            for row in rows:
                if not isinstance(row.get("id"), int):
                    continue
                number = html.unescape(str(row.get("model_number") or ""))
                name = html.unescape(str(row.get("name") or ""))
                if by == "gtin":
                    hit = gtin14(number) == gtin14(value)
                elif by == "model_number":
                    hit = number.casefold() == value.casefold()
                else:
                    hit = name.casefold() == value.casefold()
                if hit:
                    matches.append(row["id"])
            self._models[key] = min(matches) if matches else None
        return self._models[key]
