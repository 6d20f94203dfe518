"""Crash test of intakes in Snipe-IT: a pushing process is SIGKILLed between Snipe-IT's
answer and the acknowledgement, and the next process makes no second asset.

A child (``snipeit_pusher.py``, the process the Snipe-IT crash test uses) pushes intake
records through ``SnipeItRegister.push`` and records each batch's answers durably (a
stand-in for the queue's acknowledge). The emulator runs in this test's process and
kills the child from inside ``POST /hardware``, right after the asset is saved and before
the answer goes out: the asset is in Snipe-IT, the child never heard of it. Other
children are killed just after a batch's answers were made durable. A new child is
started on the same files until one finishes; then every intake must be answered and
Snipe-IT must hold exactly one asset for each.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sync.intake import IntakeRecord
from tests.snipeit_emulator import EmuAsset, SnipeItEmulator
from tests.snipeit_pusher import answered
from tests.test_snipeit_crash import Child

TOKEN = "intake-crash-token-5e1f"
INTAKES = 24
KILLS_WANTED = 12


class KillOnCreate:
    """The emulator's create hook: SIGKILLs the armed child after its k-th new asset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: Child | None = None
        self._left = 0

    def arm(self, child: Child, creates: int) -> None:
        with self._lock:
            self._child, self._left = child, creates

    def disarm(self) -> None:
        with self._lock:
            self._child = None

    def __call__(self, asset: EmuAsset) -> None:
        with self._lock:
            if self._child is None:
                return
            self._left -= 1
            if self._left > 0:
                return
            child, self._child = self._child, None
        child.kill()
        child.proc.wait()  # dead before the answer is written


def intakes(rng: random.Random) -> list[dict[str, Any]]:
    records = []
    for n in range(INTAKES):
        identifiers = {"serial": f"SN-{uuid.uuid4().hex[:10]}"}
        if rng.random() < 0.3:
            identifiers["gtin"] = "04006381333931"
        records.append(IntakeRecord(
            intake_id=str(uuid.uuid4()), device_id="handheld-07", session_id="s-1",
            location="Storage B", technician="Zoë Ångström",
            wall_time="2026-12-07T09:15:02Z", clock_synchronized=True,
            identifiers=identifiers, unknown_label=None,
            asset_tag=f"FIELD-{n + 1:04d}" if n % 2 else None).to_record())
    return records


def test_sigkill_between_snipeits_answer_and_the_ack_makes_no_second_asset(
        tmp_path: Path) -> None:
    rng = random.Random(20261207)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    records = intakes(rng)
    (tmp_path / "records.json").write_text(json.dumps(records))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({
        "url": "", "token_file": str(token), "records": str(tmp_path / "records.json"),
        "answers": str(tmp_path / "answers.jsonl"), "outbox": str(tmp_path / "out"),
        "batch_size": 3, "rate_per_minute": 6000, "timeout": 5.0, "max_wait": 0.05}))
    trigger = KillOnCreate()
    kills: Counter[str] = Counter()
    started = time.monotonic()
    with SnipeItEmulator(TOKEN, throttle_limit=None, auto_increment=True,
                         auto_increment_prefix="AUTO-") as emu:
        emu.add_location("Storage B")
        emu.add_model("Unknown model")
        emu.add_model("Catalyst 9200L", "4006381333931")
        emu.on_asset_created = trigger
        settings.write_text(settings.read_text().replace('"url": ""', f'"url": "{emu.url}"'))
        while True:
            assert time.monotonic() - started < 240, f"too slow: {dict(kills)}"
            plan = "applied" if sum(kills.values()) < KILLS_WANTED and rng.random() < 0.8 \
                else "acked" if sum(kills.values()) < KILLS_WANTED else "finish"
            child = Child(settings)
            try:
                if plan == "applied":
                    trigger.arm(child, rng.randint(1, 3))
                elif plan == "acked" and child.wait_for("acked", rng.randint(1, 2)):
                    child.kill()
                status = child.finish()
            finally:
                trigger.disarm()
                if child.proc.poll() is None:
                    child.kill()
                child.finish()
            if status == -signal.SIGKILL:
                kills[plan] += 1
                continue
            assert status == 0, child.stderr.decode(errors="replace")[-2000:]
            break
        done = answered(tmp_path / "answers.jsonl")
        per_intake = {r["sighting_id"]: len(emu.assets_noted(r["sighting_id"]))
                      for r in records}
        tags = [a.asset_tag for a in emu.assets.values()]
    assert kills["applied"] >= KILLS_WANTED // 2, dict(kills)
    assert set(done) == {r["sighting_id"] for r in records}
    assert set(done.values()) <= {"accepted", "duplicate"}, Counter(done.values())
    assert Counter(done.values())["duplicate"] >= kills["applied"] // 2
    assert per_intake == {r["sighting_id"]: 1 for r in records}
    assert len(tags) == len(set(tags)) == INTAKES
    assert {f"FIELD-{n + 1:04d}" for n in range(1, INTAKES, 2)} <= set(tags)
