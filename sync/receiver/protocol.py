"""The rules of the register protocol (``sync/openapi.yaml``) as the receiver checks them.

Each request body is checked against the same fields, types and limits the OpenAPI
document declares: a body the document calls invalid is refused (400, 413 or 422), a
sighting record it calls invalid is answered ``rejected`` with the reason, and the rest
of its batch goes through.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "API",
    "IDEMPOTENCY_KEY",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "SESSION_ID",
    "Invalid",
    "canonical",
    "check_batch",
    "check_heartbeat",
    "check_report",
    "check_sighting",
    "parse_json",
]

API = "/api/v1"
"""The path every endpoint of this protocol version lives under."""

MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body (413 above it)."""

MAX_BATCH = 1000
"""Most sightings in one ``POST /sightings`` (422 above it)."""

IDENTIFIER = re.compile(r"[!-~]{1,128}")
"""A sighting, device or session id: 1 to 128 visible ASCII characters."""

SESSION_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
"""A session id as it appears in a URL path (a UUID in practice)."""

IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")
"""An ``Idempotency-Key`` header value: 1 to 255 visible ASCII characters."""

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))")


class Invalid(ValueError):
    """A body, or one record of a batch, breaks the protocol; the message says how."""


@dataclass(frozen=True)
class Field:
    """One property as the OpenAPI document declares it."""

    kind: str
    """``string``, ``integer``, ``number``, ``boolean``, ``object`` or ``array``."""
    nullable: bool = False
    pattern: re.Pattern[str] | None = None
    date_time: bool = False
    minimum: int | None = None
    items: str | None = None
    """For an array, the kind of its items; for an object, the kind of its values."""


_TEXT = Field("string")
_NULLABLE_TEXT = Field("string", nullable=True)

SIGHTING_FIELDS: dict[str, Field] = {
    "sighting_id": Field("string", pattern=IDENTIFIER),
    "device_id": Field("string", pattern=IDENTIFIER),
    "session_id": Field("string", pattern=IDENTIFIER),
    "location": _NULLABLE_TEXT,
    "technician": _TEXT,
    "tag": Field("object", nullable=True),
    "asset_tag": _NULLABLE_TEXT,
    "payload": _TEXT,
    "symbology": _TEXT,
    "source": _TEXT,
    "verdict": Field("string", pattern=re.compile(r".{1,32}", re.DOTALL)),
    "recorded_location": _NULLABLE_TEXT,
    "reason": _NULLABLE_TEXT,
    "wall_time": Field("string", date_time=True),
    "clock_synchronized": Field("boolean"),
    "monotonic": Field("number"),
    "boot_id": _TEXT,
    "firmware_version": _TEXT,
    "candidates": Field("array", items="string"),
    "person": Field("object", nullable=True),
    "identifiers": Field("object", nullable=True, items="string"),
    "unknown_label": _NULLABLE_TEXT,
    "campaign": _NULLABLE_TEXT,
}
INTAKE_IDENTIFIERS = ("serial", "gtin", "model", "mac")
"""The identifier kinds an intake record may carry (``identifiers``)."""

SIGHTING_REQUIRED = ("sighting_id", "device_id", "session_id", "payload", "verdict",
                     "wall_time")

REPORT_FIELDS: dict[str, Field] = {
    "session_id": Field("string", pattern=SESSION_ID),
    "device_id": Field("string", pattern=IDENTIFIER),
    "location": _NULLABLE_TEXT,
    "technician": _TEXT,
    "campaign": _NULLABLE_TEXT,
    "started_at": _TEXT,
    "ended_at": _TEXT,
    "clock_synchronized": Field("boolean"),
    "interrupted": Field("boolean"),
    "resumed": Field("integer", minimum=0),
    "repeat_reads_dropped": Field("integer", minimum=0),
    "expected": Field("integer", minimum=0),
    "counts": Field("object", items="count"),
    "ghosts": Field("array", items="object"),
    "mislocated": Field("array", items="object"),
    "unregistered": Field("array", items="object"),
    "recovered": Field("array", items="object"),
    "ambiguous": Field("array", items="object"),
    "warnings": Field("array", items="string"),
    "labels": Field("array", items="object"),
    "scans": Field("array", items="object"),
}
REPORT_REQUIRED = ("session_id", "device_id", "counts", "scans")

HEARTBEAT_FIELDS: dict[str, Field] = {
    "device_id": Field("string", pattern=IDENTIFIER),
    "sent_at": Field("string", date_time=True),
    "queue_depth": Field("integer", minimum=0),
    "oldest_queued_age": Field("number", nullable=True),
    "dead_letters": Field("integer", minimum=0),
    "conflicts": Field("integer", minimum=0),
    "firmware_version": _TEXT,
    "last_sync": Field("string", nullable=True, date_time=True),
    "last_sync_ok": Field("boolean", nullable=True),
    "last_sync_error": _NULLABLE_TEXT,
    "mode": _NULLABLE_TEXT,
    "room": _NULLABLE_TEXT,
}
HEARTBEAT_REQUIRED = ("device_id", "queue_depth")

BATCH_FIELDS: dict[str, Field] = {
    "device_id": Field("string", pattern=IDENTIFIER),
    "sightings": Field("array"),
}
BATCH_REQUIRED = ("device_id", "sightings")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body.

    Raises:
        Invalid: not UTF-8, not JSON (``NaN`` and out-of-range numbers included), or nested
            too deeply.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except RecursionError:
        raise Invalid("the body is nested too deeply") from None
    # ValueError covers malformed JSON and integers past the interpreter's digit limit.
    except ValueError as exc:
        raise Invalid(f"the body is not JSON: {exc}") from None


def canonical(value: Any) -> bytes:
    """``value`` as canonical JSON (sorted keys, no spaces, ASCII): equal data, equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _is(value: Any, kind: str) -> bool:
    found = _kind_of(value)
    if kind == "count":
        return found == "integer" and value >= 0
    return found == kind or (kind == "number" and found == "integer")


def _valid_date_time(text: str) -> bool:
    match = _DATE_TIME.fullmatch(text)
    if not match:
        return False
    _, month, day, hour, minute, second, off_h, off_m = (
        int(g) if g is not None else 0 for g in match.groups())
    return (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59
            and second <= 60 and off_h <= 23 and off_m <= 59)


def _check_field(name: str, value: Any, field: Field) -> None:
    if value is None:
        if not field.nullable:
            raise Invalid(f"{name} is null")
        return
    if not _is(value, field.kind):
        raise Invalid(f"{name} is {_kind_of(value)}, not {field.kind}")
    if field.kind == "string":
        if field.pattern is not None and not field.pattern.fullmatch(value):
            raise Invalid(f"{name} {_shown(value)} is not allowed here")
        if field.date_time and not _valid_date_time(value):
            raise Invalid(f"{name} {_shown(value)} is not an RFC 3339 date-time")
    elif field.kind == "integer" and field.minimum is not None and value < field.minimum:
        raise Invalid(f"{name} is below {field.minimum}")
    elif field.items is not None:
        members = value.items() if field.kind == "object" else enumerate(value)
        for key, member in members:
            if not _is(member, field.items):
                wanted = "a count (0 or more)" if field.items == "count" else field.items
                raise Invalid(f"{name}[{key!r}] is not {wanted}")


def _check_object(value: Any, fields: Mapping[str, Field], required: tuple[str, ...],
                  what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{what} is {_kind_of(value)}, not an object")
    missing = [name for name in required if name not in value]
    if missing:
        raise Invalid(f"{what} lacks {', '.join(missing)}")
    for name, field in fields.items():
        if name in value:
            _check_field(name, value[name], field)
    return value


def check_batch(body: Any) -> tuple[str, list[Any]]:
    """The device id and the records of a ``POST /sightings`` body.

    Raises:
        Invalid: the body is not ``{"device_id": ..., "sightings": [...]}`` or holds more
            than :data:`MAX_BATCH` records.
    """
    _check_object(body, BATCH_FIELDS, BATCH_REQUIRED, "the body")
    records = body["sightings"]
    if len(records) > MAX_BATCH:
        raise Invalid(f"{len(records)} sightings in one batch; at most {MAX_BATCH}")
    return body["device_id"], records


def check_sighting(record: Any, device_id: str) -> None:
    """Check one record of a batch sent by ``device_id``.

    Raises:
        Invalid: a required field is missing, a field has the wrong type or form, or the
            record names another device.
    """
    _check_object(record, SIGHTING_FIELDS, SIGHTING_REQUIRED, "the record")
    if record["device_id"] != device_id:
        raise Invalid(f"device_id {_shown(record['device_id'])} is not the batch's"
                      f" {_shown(device_id)}")
    verdict = record["verdict"]
    if verdict in ("checked_out", "checked_in"):
        tag = record.get("asset_tag")
        if not isinstance(tag, str) or not tag.strip():
            raise Invalid(f"a {verdict} event needs an asset_tag")
        if not isinstance(record.get("location"), str) or not record["location"].strip():
            raise Invalid(f"a {verdict} event needs the kiosk's room as location")
    if verdict == "checked_out" and not isinstance(record.get("person"), dict):
        raise Invalid("a checked_out event needs the person who took the asset")
    if verdict == "intake":
        _check_intake(record)


def _check_intake(record: dict[str, Any]) -> None:
    """An intake record: a room, known identifier kinds, something to find the asset by."""
    if not isinstance(record.get("location"), str) or not record["location"].strip():
        raise Invalid("an intake needs the room it was found in as location")
    identifiers = record.get("identifiers") or {}
    unknown = sorted(set(identifiers) - set(INTAKE_IDENTIFIERS))
    if unknown:
        raise Invalid(f"identifiers: unknown kind {_shown(unknown[0])} (known:"
                      f" {', '.join(INTAKE_IDENTIFIERS)})")
    empty = [kind for kind, value in identifiers.items() if not value.strip()]
    if empty:
        raise Invalid(f"identifiers: {empty[0]} is empty")
    if not identifiers and not (record.get("unknown_label") or "").strip():
        raise Invalid("an intake needs at least one identifier or the unknown label")


def check_heartbeat(body: Any) -> dict[str, Any]:
    """Check a ``POST /heartbeat`` body: a device's state as it reports it.

    Raises:
        Invalid: not a heartbeat object (a field of the wrong type or form).
    """
    return _check_object(body, HEARTBEAT_FIELDS, HEARTBEAT_REQUIRED, "the heartbeat")


def check_report(report: Any, session_id: str) -> dict[str, Any]:
    """Check a report sent to ``PUT /reports/{session_id}``.

    Raises:
        Invalid: not a report object, or its ``session_id`` is not the one in the URL.
    """
    checked = _check_object(report, REPORT_FIELDS, REPORT_REQUIRED, "the report")
    if checked["session_id"] != session_id:
        raise Invalid(f"the report's session_id {_shown(checked['session_id'])} is not the"
                      f" one in the URL ({_shown(session_id)})")
    return checked


def _shown(value: str, limit: int = 60) -> str:
    return json.dumps(value if len(value) <= limit else value[: limit - 3] + "...")
