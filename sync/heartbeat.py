"""What a device tells the register in a heartbeat (``POST /api/v1/heartbeat``).

The sync engine sends one after each round that reached the register
(:meth:`sync.register.Register.heartbeat`): the queue's depth and the age of its oldest
sighting, the dead letters and conflicts, the last sync and how the round ended, and what
the device adds itself (firmware version, mode, room).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["heartbeat_state"]


def _iso(wall: float) -> str:
    moment = datetime.fromtimestamp(wall, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _age(wall_time: Any, now_wall: float) -> float | None:
    """Seconds since ``wall_time`` (an ISO time), or None when it is not one."""
    if not isinstance(wall_time, str):
        return None
    try:
        then = datetime.fromisoformat(wall_time)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return round(max(0.0, now_wall - then.timestamp()), 3)


def heartbeat_state(status: Mapping[str, Any], *, queued: int, now_wall: float,
                    error: str | None, extra: Mapping[str, Any] | None = None
                    ) -> dict[str, Any]:
    """The heartbeat body (without ``device_id``, which the adapter adds).

    Args:
        status: the queue's status (:meth:`sync.queue.SightingQueue.status`).
        queued: sightings queued now.
        now_wall: the device's wall clock (Unix time).
        error: how the last round failed, or None when it went well.
        extra: what the device adds (``firmware_version``, ``mode``, ``room``).
    """
    last_sync = status.get("last_sync")
    state: dict[str, Any] = {
        "sent_at": _iso(now_wall),
        "queue_depth": max(0, int(queued)),
        "oldest_queued_age": _age(status.get("oldest"), now_wall) if queued else None,
        "dead_letters": max(0, int(status.get("dead_letters") or 0)),
        "conflicts": max(0, int(status.get("conflicts") or 0)),
        "last_sync": last_sync if _age(last_sync, now_wall) is not None else None,
        "last_sync_ok": error is None,
        "last_sync_error": error,
    }
    for key, value in (extra or {}).items():
        if key not in state and key != "device_id":
            state[key] = value
    return state
