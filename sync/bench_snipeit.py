"""``stocktaker bench sync``, Snipe-IT part: the ``snipeit`` adapter at Snipe-IT's real limit.

The Snipe-IT emulator of the test suite counts 120 requests per token in one-minute
windows, as Snipe-IT does by default (``API_THROTTLE_PER_MINUTE``), and answers 429 past
it. The adapter runs with the device default ``register.rate_per_minute = 120``. A run
audits enough sightings to cross more than one window (150: about 80 s) and reports the
requests per minute achieved, the most requests seen in any 60 seconds, the 429s, and
whether every sighting was audited exactly once.

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

from firmware.config import RegisterConfig
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
        config = RegisterConfig(adapter="snipeit", url=emulator.url, token_file=token,
                                rate_per_minute=rate_per_minute, outbox=Path(tmp) / "out")
        session = str(uuid.uuid4())
        records = [{"sighting_id": str(uuid.uuid4()), "device_id": "bench",
                    "session_id": session, "location": "Storage B", "technician": "bench",
                    "asset_tag": f"IT-{n:06d}", "verdict": "verified",
                    "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True}
                   for n in range(sightings)]
        answers = []
        with SnipeItRegister(config, "bench") as register:
            started = time.monotonic()
            for start in range(0, sightings, batch_size):
                answers += register.push(records[start:start + batch_size])
            elapsed = time.monotonic() - started
        requests = len(emulator.requests)
        audits = emulator.audits_by_sighting()
        doubled = sum(1 for count in audits.values() if count > 1)
        missing = sum(1 for r in records if audits[r["sighting_id"]] == 0)
        refused = sum(1 for a in answers if a.status.value == "rejected")
        return [
            f"snipeit: {sightings} audits, {requests} requests in {elapsed:.1f} s:"
            f" {requests / elapsed * 60:.1f} requests/min (client limit"
            f" {rate_per_minute:g}/min, Snipe-IT limit {limit_per_minute} per 60 s)",
            f"snipeit: most requests in any 60 s {emulator.max_requests_in(60.0)},"
            f" HTTP 429 {emulator.statuses_seen()[429]}, refused {refused},"
            f" audited twice {doubled}, not audited {missing}",
        ]
