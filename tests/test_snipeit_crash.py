"""Crash test of the ``snipeit`` adapter: a pushing process is SIGKILLed at random moments.

A child (``snipeit_pusher.py``) pushes sightings through ``SnipeItRegister.push`` in
small batches and records each batch's answers durably (a stand-in for the queue's
acknowledge). The Snipe-IT emulator runs in this test's process, so it outlives every
child and its activity log is the ground truth. Each child is killed with SIGKILL at one
of four kinds of moment:

- ``startup``: at a random time after it is started (often before it has sent anything);
- ``running``: at a random time after it has opened the register;
- ``applied``: from inside the emulator, right after the k-th audit of that child was
  logged and before its answer is sent: the audit is in Snipe-IT, the child never
  heard of it;
- ``acked``: just after the j-th batch's answers were made durable.

Then a new child is started on the same files, until one finishes by itself. At the end
of each round every sighting must have an answer, and the activity log must hold exactly
one audit for each sighting that is an audit of a known asset and none for the others.
With the bulk audit (Snipe-IT 8.7 and later; the ``bulk`` run, batches of 20) one request
audits many assets and a kill can land in the middle of it; there the log must hold
exactly one audit for each session and asset that has an audit sighting (an asset seen
twice in one session is audited once), and none for the others.
A low rate of injected faults (HTTP 500 and dropped connections, before and after the
audit is applied) runs at the same time. Rounds go on (fresh sightings, the same emulator)
until at least ``STOCKTAKER_SNIPEIT_KILLS`` (default 100) children were killed.

The emulator and the client run at 100 requests per second (the emulator counts 100 per
one-second window) so that a hundred kills fit in about a minute; nothing here depends on
the rate.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sync.snipeit_audit import AUDIT_VERDICTS
from sync.snipeit_bulk import session_in_bulk_note
from tests.snipeit_emulator import LogEntry, SnipeItEmulator
from tests.snipeit_pusher import answered

PUSHER = Path(__file__).with_name("snipeit_pusher.py")
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "crash-test-token-0c1d"
KILLS = int(os.environ.get("STOCKTAKER_SNIPEIT_KILLS", "100"))
ROUND_SIZE = 120
ASSETS = 300
CHILD_TIMEOUT = 30.0  # seconds; only reached if a child hangs
ROOMS = ("Storage B", "Büro 3.14", "Lab 2")
VERDICTS = (("verified", 70), ("mislocated", 10), ("recovered", 5), ("unregistered", 5),
            ("repeat", 4), ("ambiguous", 2), ("rejected", 2), ("retired", 2))


class KillOnAudit:
    """The emulator's audit hook: SIGKILLs the armed child after its k-th logged audit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._left = 0

    def arm(self, pid: int, audits: int) -> None:
        """Kill ``pid`` right after ``audits`` more audits are logged."""
        with self._lock:
            self._pid, self._left = pid, audits

    def disarm(self) -> None:
        """Kill no one."""
        with self._lock:
            self._pid = None

    def __call__(self, entry: LogEntry) -> None:
        with self._lock:
            if self._pid is None:
                return
            self._left -= 1
            if self._left > 0:
                return
            pid, self._pid = self._pid, None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Child:
    """One pusher process; its stdout lines are collected by a thread."""

    def __init__(self, settings: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, str(PUSHER), str(settings)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.decode().strip())
        self.lines.put(None)

    def wait_for(self, word: str, count: int = 1) -> bool:
        """Wait for the ``count``-th line starting with ``word``; False if the child ended."""
        deadline = time.monotonic() + CHILD_TIMEOUT
        while count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if line is None:
                return False
            if line.startswith(word):
                count -= 1
        return True

    def kill(self) -> None:
        """SIGKILL it (if it is still running)."""
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self) -> int:
        """Wait for the end (killing it after ``CHILD_TIMEOUT``); returns its exit status."""
        if self.proc.stdout is None or self.proc.stdout.closed:
            return self.proc.returncode
        try:
            self.proc.wait(CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        self._reader.join(5)  # it ends at the end of stdout, which the exit closed
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()
        return self.proc.returncode


def make_round(rng: random.Random) -> list[dict[str, Any]]:
    """ROUND_SIZE sighting records over two or three rooms and sessions."""
    sessions = [(str(uuid.uuid4()), room) for room in rng.sample(ROOMS, rng.randint(2, 3))]
    kinds, weights = zip(*VERDICTS)
    records = []
    for n in range(ROUND_SIZE):
        session, room = sessions[n * len(sessions) // ROUND_SIZE]
        verdict = rng.choices(kinds, weights)[0]
        tag = None if verdict == "unregistered" else (
            f"IT-9{n:04d}" if rng.random() < 0.03 else f"IT-{rng.randrange(ASSETS):05d}")
        records.append({
            "sighting_id": str(uuid.uuid4()), "device_id": "handheld-07",
            "session_id": session, "location": room, "technician": "Zoë Ångström",
            "asset_tag": tag, "payload": tag or "???", "symbology": "QR", "source": "camera",
            "verdict": verdict, "recorded_location": None, "reason": None,
            "wall_time": "2026-11-24T09:15:02.120Z", "clock_synchronized": True,
            "monotonic": 100.0 + n, "boot_id": "b", "firmware_version": "0.1.0"})
    return records


@pytest.mark.parametrize(("bulk", "kills_wanted"), [(False, KILLS), (True, max(20, KILLS // 2))],
                         ids=["per-asset", "bulk"])
def test_sigkill_while_pushing_audits_each_sighting_once(tmp_path, bulk, kills_wanted):
    rng = random.Random(20261124)
    kills: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    started = time.monotonic()
    trigger = KillOnAudit()
    with SnipeItEmulator(TOKEN, throttle_limit=100, throttle_window=1.0, bulk_audit=bulk) as emu:
        for room in ROOMS:
            emu.add_location(room)
        for n in range(ASSETS):
            emu.add_asset(f"IT-{n:05d}", location=ROOMS[n % len(ROOMS)])
        emu.on_audit_applied = trigger
        emu.chaos(0.02, seed=5, method="POST", path="/api/v1/hardware/audit",
                  kinds=[("500", False), ("500", True), ("drop", False), ("drop", True)])
        rounds = 0
        while sum(kills.values()) < kills_wanted:
            assert time.monotonic() - started < 240, f"too slow: {dict(kills)}"
            rounds += 1
            work = tmp_path / f"round-{rounds}"
            work.mkdir()
            records = make_round(rng)
            (work / "records.json").write_text(json.dumps(records))
            settings = work / "settings.json"
            settings.write_text(json.dumps({
                "url": emu.url, "token_file": str(token), "records": str(work / "records.json"),
                "answers": str(work / "answers.jsonl"), "outbox": str(work / "out"),
                "batch_size": 20 if bulk else 5, "rate_per_minute": 6000, "timeout": 2.0,
                "max_wait": 0.05, "bulk_audit": bulk}))
            while True:
                plan = rng.choice(("startup", "running", "running", "applied", "applied",
                                   "acked"))
                child = Child(settings)
                try:
                    if plan == "startup":
                        time.sleep(rng.uniform(0.0, 0.4))
                        child.kill()
                    elif plan == "running":
                        if child.wait_for("ready"):
                            time.sleep(rng.uniform(0.0, 0.5))
                            child.kill()
                    elif plan == "applied":
                        trigger.arm(child.proc.pid, rng.randint(1, 15))
                    elif child.wait_for("acked", rng.randint(1, 4)):
                        time.sleep(rng.uniform(0.0, 0.003))
                        child.kill()
                    status = child.finish()
                finally:
                    trigger.disarm()
                    if child.proc.poll() is None:  # the test failed mid-way
                        child.kill()
                    child.finish()
                if status == -signal.SIGKILL:
                    kills[plan] += 1
                    continue
                assert status == 0, child.stderr.decode(errors="replace")[-2000:]
                break
            if bulk:
                check_bulk_round(records, answered(work / "answers.jsonl"), emu, totals)
            else:
                check_round(records, answered(work / "answers.jsonl"), emu, totals)
        totals["429"] = emu.statuses_seen()[429]
        totals["faults"] = sum(emu.faults_fired.values())
    elapsed = time.monotonic() - started
    print(f"\nsnipeit crash test ({'bulk' if bulk else 'per asset'}):"
          f" {sum(kills.values())} kills {dict(kills)} over {rounds}"
          f" rounds in {elapsed:.0f} s; {dict(totals)}")
    assert kills["applied"] >= kills_wanted // 10 and kills["acked"] >= kills_wanted // 20
    assert totals["duplicate"] >= 10  # audits logged by a killed child, found by the next
    if bulk:
        assert len(emu.requests_to("/api/v1/hardware/audit", "POST")) == len(
            emu.requests_to("/api/v1/hardware/audit/bulk", "POST"))  # no per-asset audits


def check_round(records: list[dict[str, Any]], answers: dict[str, str], emu: SnipeItEmulator,
                totals: Counter[str]) -> None:
    """Every sighting answered; exactly one audit for each audit of a known asset."""
    audits = emu.audits_by_sighting()
    known = {a.asset_tag for a in emu.assets.values()}
    for record in records:
        sid, verdict = record["sighting_id"], record["verdict"]
        status = answers.get(sid)
        is_audit = verdict in AUDIT_VERDICTS
        if is_audit and record["asset_tag"] in known:
            assert audits[sid] == 1, (record, status, audits[sid])
            assert status in ("accepted", "duplicate"), (record, status)
        else:
            assert audits[sid] == 0, (record, status)
            assert status == ("rejected" if is_audit else "accepted"), (record, status)
        totals[status] += 1
        totals["audited"] += audits[sid]


def check_bulk_round(records: list[dict[str, Any]], answers: dict[str, str],
                     emu: SnipeItEmulator, totals: Counter[str]) -> None:
    """Every sighting answered; one audit for each session and asset with an audit sighting."""
    sessions = {r["session_id"] for r in records}
    audits = Counter((session_in_bulk_note(e.note), e.item_id) for e in emu.audit_entries()
                     if session_in_bulk_note(e.note) in sessions)
    ids = {a.asset_tag: a.id for a in emu.assets.values()}
    wanted = set()
    for record in records:
        status = answers.get(record["sighting_id"])
        is_audit = record["verdict"] in AUDIT_VERDICTS
        if is_audit and record["asset_tag"] in ids:
            wanted.add((record["session_id"], ids[record["asset_tag"]]))
            assert status in ("accepted", "duplicate"), (record, status)
        else:
            assert status == ("rejected" if is_audit else "accepted"), (record, status)
        totals[status] += 1
    assert audits == {key: 1 for key in wanted}, (audits - Counter(dict.fromkeys(wanted, 1)))
    totals["audited"] += sum(audits.values())
