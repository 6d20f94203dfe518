"""``stocktaker bench sync``, Snipe-IT part: the ``snipeit`` adapter at Snipe-IT's real limit.

The Snipe-IT emulator of the test suite counts 120 requests per token in one-minute
windows, as Snipe-IT does by default (``API_THROTTLE_PER_MINUTE``), and answers 429 past
it. The adapter runs with the device default ``register.rate_per_minute = 120``. A run
audits enough sightings to cross more than one window (150: about 80 s) and reports the
requests per minute achieved, the most requests seen in any 60 seconds, the 429s, and
whether every sighting was audited exactly once. It sends one audit per request (the
per-asset way of servers without the bulk audit): what is measured is the pacing.

:func:`bench_snipeit_handover` puts the bulk audit and the per-asset way side by side:
requests and seconds to hand over a UHF shelf and a whole site.

The emulator is ``tests/snipeit_emulator.py``: the bench needs a source checkout (an
editable install) and says so otherwise.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

from sync.settings import RegisterSettings
from sync.bench_sightings import audit_sighting
from sync.sighting import Sighting
from sync.snipeit import SnipeItRegister

_TOKEN = "bench-token"
_EMULATOR = Path(__file__).resolve().parents[1] / "tests" / "snipeit_emulator.py"


def _emulator_module() -> ModuleType | None:
    if not _EMULATOR.is_file():
        return None
    spec = importlib.util.spec_from_file_location("stocktaker_snipeit_emulator", _EMULATOR)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def bench_snipeit(sightings: int = 150, rate_per_minute: float = 120.0,
                  limit_per_minute: int = 120, batch_size: int = 50) -> list[str]:
    """Audit ``sightings`` sightings through the emulator at Snipe-IT's request limit.

    Args:
        sightings: how many audits to send (each one request).
        rate_per_minute: the adapter's ``register.rate_per_minute``.
        limit_per_minute: the emulator's limit per one-minute window.
        batch_size: sightings per ``push``, as the sync engine batches them.

    Returns:
        The printed lines.
    """
    module = _emulator_module()
    if module is None:
        return [f"snipeit: skipped, the emulator ({_EMULATOR}) is not here: run from a"
                " source checkout"]
    with tempfile.TemporaryDirectory() as tmp, \
            module.SnipeItEmulator(_TOKEN, throttle_limit=limit_per_minute,
                                   throttle_window=60.0) as emulator:
        room = emulator.add_location("Storage B")
        for n in range(sightings):
            emulator.add_asset(f"IT-{n:06d}", location=room)
        token = Path(tmp) / "token"
        token.write_text(_TOKEN + "\n")
        token.chmod(0o600)
        config = RegisterSettings(adapter="snipeit", url=emulator.url, token_file=token,
                                rate_per_minute=rate_per_minute, outbox=Path(tmp) / "out",
                                bulk_audit=False)
        session = str(uuid.uuid4())
        records = [audit_sighting(session, "Storage B", f"IT-{n:06d}",
                                  "2026-11-24T09:15:02.120Z") for n in range(sightings)]
        answers = []
        with SnipeItRegister(config, "bench") as register:
            started = time.monotonic()
            for start in range(0, sightings, batch_size):
                answers += register.push(records[start:start + batch_size])
            elapsed = time.monotonic() - started
        requests = len(emulator.requests)
        audits = emulator.audits_by_sighting()
        doubled = sum(1 for count in audits.values() if count > 1)
        missing = sum(1 for r in records if audits[r.sighting_id] == 0)
        refused = sum(1 for a in answers if a.status.value == "rejected")
        return [
            f"snipeit: {sightings} audits, {requests} requests in {elapsed:.1f} s:"
            f" {requests / elapsed * 60:.1f} requests/min (client limit"
            f" {rate_per_minute:g}/min, Snipe-IT limit {limit_per_minute} per 60 s)",
            f"snipeit: most requests in any 60 s {emulator.max_requests_in(60.0)},"
            f" HTTP 429 {emulator.statuses_seen()[429]}, refused {refused},"
            f" audited twice {doubled}, not audited {missing}",
        ]


SHELF_TAGS = 300
SITE_ASSETS = 5_000
SITE_ROOMS = 50


def bench_snipeit_handover(shelf: int = SHELF_TAGS, site: int = SITE_ASSETS,
                           rooms: int = SITE_ROOMS, rate_per_minute: float = 120.0
                           ) -> list[str]:
    """Requests and seconds to hand a UHF shelf and a whole site to Snipe-IT, bulk vs per asset.

    Each case runs on a fresh emulator at Snipe-IT's default throttle (``rate_per_minute``
    requests per minute and token) with a fresh adapter process state, as after a start:
    the bulk probe, the rooms' ids, the sessions' audit logs, and the room lists that give
    the asset ids all count. The shelf is ``shelf`` verified sightings in one room (one
    session); the site is ``site`` assets over ``rooms`` rooms, one session per room. The
    sync engine's batches are the adapter's default (``register.batch_size`` 500).

    Runs whose pace is set by the throttle alone are run with the emulator's window and the
    client's rate both sped up (the ``clock`` column) and their time scaled back; the
    requests are the same either way. The emulator does its work in memory, so the
    seconds leave out the time a real server spends writing each audit.
    """
    module = _emulator_module()
    if module is None:
        return [f"snipeit: skipped, the emulator ({_EMULATOR}) is not here: run from a"
                " source checkout"]
    from sync.settings import SNIPEIT_BATCH_SIZE

    cases = [(f"shelf {shelf:,} tags", [shelf], True, 1.0),
             (f"shelf {shelf:,} tags", [shelf], False, 10.0),
             (f"site {site:,} assets", _split(site, rooms), True, 10.0),
             (f"site {site:,} assets", _split(site, rooms), False, 30.0)]
    lines = [f"snipeit hand-over at {rate_per_minute:g} requests/min"
             f" (batches of {SNIPEIT_BATCH_SIZE})",
             f"{'':<20}{'audits':<10}{'requests':>9}{'seconds':>10}{'clock':>7}"
             f"{'twice':>7}{'missed':>8}"]
    for label, sizes, bulk, speed in cases:
        requests, seconds, twice, missed = _handover(module, sizes, bulk, speed,
                                                     rate_per_minute, SNIPEIT_BATCH_SIZE)
        lines.append(f"{label:<20}{'bulk' if bulk else 'per asset':<10}{requests:>9,}"
                     f"{seconds:>10.1f}{speed:>6g}x{twice:>7}{missed:>8}")
    return lines


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def _handover(module: ModuleType, sizes: list[int], bulk: bool, speed: float,
              rate_per_minute: float, batch_size: int) -> tuple[int, float, int, int]:
    """One hand-over: (requests, seconds scaled back, assets audited twice, sightings missed)."""
    limit = int(rate_per_minute)
    with tempfile.TemporaryDirectory() as tmp, \
            module.SnipeItEmulator(_TOKEN, throttle_limit=limit,
                                   throttle_window=60.0 / speed) as emulator:
        records: list[Sighting] = []
        for room_number, size in enumerate(sizes):
            room = f"Room {room_number + 1:03d}"
            location = emulator.add_location(room)
            session = str(uuid.uuid4())
            for n in range(size):
                tag = f"R{room_number:03d}-{n:05d}"
                emulator.add_asset(tag, location=location)
                records.append(audit_sighting(session, room, tag, "2026-12-07T09:15:02.120Z"))
        token = Path(tmp) / "token"
        token.write_text(_TOKEN + "\n")
        token.chmod(0o600)
        config = RegisterSettings(adapter="snipeit", url=emulator.url, token_file=token,
                                rate_per_minute=rate_per_minute * speed, timeout=30.0,
                                outbox=Path(tmp) / "out", bulk_audit=bulk)
        with SnipeItRegister(config, "bench") as register:
            started = time.monotonic()
            for start in range(0, len(records), batch_size):
                register.push(records[start:start + batch_size])
            elapsed = time.monotonic() - started
        audits = emulator.audits_by_asset()
        ids = {asset.asset_tag: asset.id for asset in emulator.assets.values()}
        wanted = {ids[str(r.asset_tag)] for r in records}
        twice = sum(1 for asset_id in wanted if audits[asset_id] > 1)
        missed = sum(1 for asset_id in wanted if audits[asset_id] == 0)
        if emulator.statuses_seen()[429]:
            raise RuntimeError("Snipe-IT's limit was hit: the client's pacing is broken")
        return len(emulator.requests), elapsed * speed, twice, missed
