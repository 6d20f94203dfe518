"""Every register adapter behind one face for the contract tests: a :class:`RegisterBench`.

Each kind is built by ONE function (``memory_bench``, ``files_bench``, ``http_bench``,
``snipeit_bench``, ``nautobot_bench``): the register itself plus the controls the contract
needs, each working on the register's own side (its server, its emulator, its folder):
make it refuse the token, go out of reach and come back, lose its answer after applying a
batch, refuse one item with its own reason, hold more assets than one page.
A control a kind cannot have is None, and the contract says why (``NOT_APPLICABLE``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sync.asset import Asset
from firmware.config import RegisterConfig
from sync.files import FilesRegister
from sync.http import HttpRegister
from sync.memory_register import MemoryRegister
from sync.register import Register
from sync.snipeit import SnipeItRegister
from tests.contract.gate import TcpGate
from tests.sightings import typed

DEVICE = "hh-contract"
SESSION = "5a0e3c2e-0000-4000-8000-00000000c0de"
ROOM = "Storage A"
KNOWN_TAGS = [f"CT-{n:04d}" for n in range(1, 4)]
"""Assets every register holds before a test, so its sightings can be applied."""


def sighting(asset_tag: str = KNOWN_TAGS[0], **changes: Any) -> dict[str, Any]:
    """A verified sighting as the device queues it, with a fresh UUID."""
    record = {
        "sighting_id": str(uuid.uuid4()), "device_id": DEVICE, "session_id": SESSION,
        "location": ROOM, "technician": "ana", "tag": {"kind": "asset_tag", "value": asset_tag},
        "asset_tag": asset_tag, "payload": asset_tag, "symbology": "CODE128",
        "source": "scanner", "verdict": "verified", "recorded_location": None,
        "reason": None, "wall_time": "2026-12-07T09:15:02.120Z", "clock_synchronized": True,
        "monotonic": 1234.5, "boot_id": "d6677f11-8fd8-43dd-ae22-471e769fa1c7",
        "firmware_version": "0.1.0", "candidates": [],
    }
    record.update(changes)
    return record


@dataclass
class RegisterBench:
    """A register under test and its controls (None: the kind cannot do it)."""

    kind: str
    register: Register
    stored_counts: Callable[[list[str]], dict[str, int]]
    """How many times the register side holds each sighting id (a double shows as 2)."""
    new_record: Callable[[], dict[str, Any]] = sighting
    """A sighting this register applies."""
    refused_record: Callable[[], tuple[dict[str, Any], str]] | None = None
    """A sighting this register refuses, and a piece of the reason it gives."""
    wrong_token: Callable[[], Register] | None = None
    """The same register reached with a token it refuses."""
    go_down: Callable[[], None] | None = None
    come_back: Callable[[], None] | None = None
    lose_next_answer: Callable[[], None] | None = None
    """The next batch is applied on the register side and its answer is lost."""
    hold_assets: Callable[[int], set[str]] | None = None
    """Give the register ``n`` more assets; returns every asset tag it now lists."""
    page_size: int | None = None
    """Assets per page of its listing; None: the inventory is one document."""


def _counts_of(ids: list[str], seen: list[str]) -> dict[str, int]:
    return {sid: seen.count(sid) for sid in ids}


# -- memory -----------------------------------------------------------------------------


@contextmanager
def memory_bench(tmp_path: Path) -> Iterator[RegisterBench]:
    """The shipped in-memory register."""
    register = MemoryRegister([Asset(tag, location=ROOM) for tag in KNOWN_TAGS])

    def refused() -> tuple[dict[str, Any], str]:
        record = sighting()
        register.refusals[record["sighting_id"]] = "Asset does not exist."
        return record, "Asset does not exist."

    def wrong_token() -> Register:
        other = MemoryRegister()
        other.token_refused = True
        return other

    def hold(n: int) -> set[str]:
        register.assets += [Asset(f"PG-{i:05d}", location=ROOM) for i in range(n)]
        return {a.asset_tag for a in register.assets}

    def go_down() -> None:
        register.down = 1_000_000

    def come_back() -> None:
        register.down = 0

    def lose() -> None:
        register.lose_answers = 1

    with register:
        yield RegisterBench(
            "memory", register, lambda ids: {sid: register.store_counts[sid] for sid in ids},
            refused_record=refused, wrong_token=wrong_token, go_down=go_down,
            come_back=come_back, lose_next_answer=lose, hold_assets=hold)


# -- files ------------------------------------------------------------------------------


def _manifest_text(tags: list[str]) -> str:
    return "asset_tag,location\n" + "".join(f"{tag},{ROOM}\n" for tag in tags)


@contextmanager
def files_bench(tmp_path: Path) -> Iterator[RegisterBench]:
    """The files adapter on a manifest CSV and an outbox folder in ``tmp_path``."""
    import json

    manifest, outbox = tmp_path / "expected.csv", tmp_path / "stick" / "outbox"
    manifest.write_text(_manifest_text(KNOWN_TAGS), encoding="utf-8")
    register = FilesRegister(manifest, outbox, DEVICE)

    def counts(ids: list[str]) -> dict[str, int]:
        path = outbox / f"sightings-{DEVICE}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return _counts_of(ids, [json.loads(line)["sighting_id"] for line in lines if line])

    def hold(n: int) -> set[str]:
        tags = KNOWN_TAGS + [f"PG-{i:05d}" for i in range(n)]
        manifest.write_text(_manifest_text(tags), encoding="utf-8")
        return set(tags)

    stick, unplugged = tmp_path / "stick", tmp_path / "unplugged"

    def go_down() -> None:
        # The USB stick is pulled: the manifest is gone and its folder cannot be made.
        manifest.rename(tmp_path / "expected.away")
        if stick.exists():
            stick.rename(unplugged)
        stick.write_text("not a folder any more\n")

    def come_back() -> None:
        stick.unlink()
        if unplugged.exists():
            unplugged.rename(stick)
        (tmp_path / "expected.away").rename(manifest)

    with register:
        yield RegisterBench("files", register, counts, go_down=go_down, come_back=come_back,
                            hold_assets=hold)


# -- http against the reference receiver --------------------------------------------------


@contextmanager
def http_bench(tmp_path: Path, db: str | None = None) -> Iterator[RegisterBench]:
    """The http adapter against a real ``stocktaker register-server`` subprocess, through
    the fault proxy of the http tests (for an answer lost after the batch was applied).
    An outage stops the receiver by its PID; it comes back on the same database (a SQLite
    file, or the PostgreSQL database ``db`` names)."""
    from tests.test_http_register import FaultProxy
    from tests.test_receiver import TOKEN, running_receiver, stop_process, stored_counts

    directory = tmp_path / "receiver"
    directory.mkdir()
    manifest = directory / "expected.csv"
    manifest.write_text("Asset Tag,Location\n" + "".join(f"{t},{ROOM}\n" for t in KNOWN_TAGS),
                        encoding="utf-8")
    stack: list[Any] = []
    first = running_receiver(directory, manifest=manifest, db=db)
    receiver = first.__enter__()
    stack.append(first)
    proxy = FaultProxy(receiver.address)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    register = HttpRegister(proxy.url, TOKEN, DEVICE, timeout=5.0)

    def refused() -> tuple[dict[str, Any], str]:
        # A sighting as the device types it, that the receiver's checks refuse.
        return sighting(wall_time="at noon"), "is not an RFC 3339 date-time"

    def hold(n: int) -> set[str]:
        tags = KNOWN_TAGS + [f"PG-{i:05d}" for i in range(n)]
        manifest.write_text("Asset Tag,Location\n" + "".join(f"{t},{ROOM}\n" for t in tags),
                            encoding="utf-8")
        return set(tags)

    current = {"receiver": receiver}

    def go_down() -> None:
        stop_process(current["receiver"].proc)

    def come_back() -> None:
        again = running_receiver(directory, db=receiver.db, manifest=manifest)
        current["receiver"] = again.__enter__()
        stack.append(again)
        proxy.upstream = current["receiver"].address

    try:
        yield RegisterBench(
            "http", register, lambda ids: stored_counts(receiver.db, ids),
            refused_record=refused,
            wrong_token=lambda: HttpRegister(proxy.url, "not-the-token", DEVICE, timeout=5.0),
            go_down=go_down, come_back=come_back,
            lose_next_answer=lambda: proxy.fail_next("apply_then_reset"), hold_assets=hold)
    finally:
        register.close()
        proxy.closing.set()
        proxy.shutdown()
        proxy.server_close()
        thread.join(10)
        while stack:
            stack.pop().__exit__(None, None, None)


# -- snipeit against the emulator ---------------------------------------------------------


SNIPEIT_TOKEN = "snipe-contract-token"
SNIPEIT_PAGE = 5


def _token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


@contextmanager
def snipeit_bench(tmp_path: Path, *, bulk: bool = True) -> Iterator[RegisterBench]:
    """The snipeit adapter against the Snipe-IT emulator, pages of :data:`SNIPEIT_PAGE`;
    with ``bulk`` (the default) audits go in bulk requests, else one per asset.

    A bulk audit names its session, not each sighting, and audits an asset once per
    session: each sighting is then of an asset of its own, and what the register holds
    of a sighting is the audit rows of its asset in its session.
    """
    from sync.snipeit_bulk import session_in_bulk_note
    from tests.snipeit_emulator import SnipeItEmulator

    with SnipeItEmulator(SNIPEIT_TOKEN, throttle_limit=None,
                         max_results=SNIPEIT_PAGE) as emu:
        room = emu.add_location(ROOM)
        for tag in KNOWN_TAGS:
            emu.add_asset(tag, location=room, rtd_location=room)

        def config(token: str, name: str) -> RegisterConfig:
            return RegisterConfig(adapter="snipeit", url=emu.url, outbox=tmp_path / "out",
                                  token_file=_token_file(tmp_path / name, token),
                                  timeout=5.0, rate_per_minute=60000.0, bulk_audit=bulk)

        register = SnipeItRegister(config(SNIPEIT_TOKEN, "token"), DEVICE)
        made: dict[str, dict[str, Any]] = {}

        def new_record() -> dict[str, Any]:
            if not bulk:
                return sighting()
            tag = f"CT-B{len(made):04d}"
            emu.add_asset(tag, location=room, rtd_location=room)
            record = sighting(tag)
            made[record["sighting_id"]] = record
            return record

        def counts(ids: list[str]) -> dict[str, int]:
            audits = emu.audits_by_sighting()
            bulk_rows = [(e.item_id, session_in_bulk_note(e.note)) for e in emu.audit_entries()]
            found = {}
            for sid in ids:
                found[sid] = audits[sid]
                if sid in made:
                    asset = emu.asset(made[sid]["asset_tag"]).id
                    found[sid] += bulk_rows.count((asset, made[sid]["session_id"]))
            return found

        def refused() -> tuple[dict[str, Any], str]:
            return sighting("CT-NOT-THERE"), "Asset does not exist."

        def hold(n: int) -> set[str]:
            for i in range(n):
                emu.add_asset(f"PG-{i:05d}", location=room)
            return (set(KNOWN_TAGS) | {f"PG-{i:05d}" for i in range(n)}
                    | {r["asset_tag"] for r in made.values()} | ({"CT-WARM"} if bulk else set()))

        def go_down() -> None:
            emu.inject("drop", times=1_000_000)

        def come_back() -> None:
            with emu._lock:  # the emulator has no call to withdraw an injected fault
                emu.faults.clear()

        with register:
            if bulk:  # the first audit after a start finds out whether bulk is there
                emu.add_asset("CT-WARM", location=room, rtd_location=room)
                register.push(typed([sighting("CT-WARM", session_id=str(uuid.uuid4()))]))
            yield RegisterBench(
                "snipeit" if bulk else "snipeit-per-asset", register, counts,
                new_record=new_record, refused_record=refused,
                wrong_token=lambda: SnipeItRegister(config("not-the-token", "bad"), DEVICE),
                go_down=go_down, come_back=come_back,
                lose_next_answer=lambda: emu.inject("drop", apply=True, method="POST",
                                                    path="/api/v1/hardware/audit"),
                hold_assets=hold, page_size=SNIPEIT_PAGE)


# -- nautobot (the real server the suite starts) ------------------------------------------


NAUTOBOT_PAGE = 2


@contextmanager
def nautobot_bench(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RegisterBench]:
    """The nautobot adapter against the suite's real Nautobot, through a TCP gate (an outage
    shuts the gate), reading pages of :data:`NAUTOBOT_PAGE` devices."""
    from sync import nautobot
    from sync.nautobot import NautobotRegister

    server = request.getfixturevalue("nautobot_server")
    seeder = request.getfixturevalue("seeder")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(nautobot, "PAGE_LIMIT", NAUTOBOT_PAGE)
    room = f"Contract {uuid.uuid4().hex[:8]}"
    tags = [f"CT-{uuid.uuid4().hex[:10].upper()}" for _ in range(2)]
    device_ids = [d["id"] for d in seeder.devices([{"asset_tag": tag, "location": room}
                                                  for tag in tags])]
    parts = urlsplit(server.url)
    gate = TcpGate((parts.hostname, parts.port))
    base = server.url[len(f"{parts.scheme}://{parts.netloc}"):]

    def config(token_file: Path) -> RegisterConfig:
        return RegisterConfig(adapter="nautobot", url=gate.url + base, token_file=token_file,
                              outbox=tmp_path / "out", timeout=60.0, locations=[room])

    register = NautobotRegister(config(server.token_file), DEVICE)

    def counts(ids: list[str]) -> dict[str, int]:
        # Note ids are the sighting ids; a double would be another note naming the sighting.
        texts = [n.get("note") or "" for n in seeder.notes_of(device_ids[0])]
        return {sid: sum(f"stocktaker sighting {sid}\n" in t + "\n" for t in texts)
                for sid in ids}

    def hold(n: int) -> set[str]:
        more = [f"PG-{uuid.uuid4().hex[:10].upper()}" for _ in range(n)]
        seeder.devices([{"asset_tag": tag, "location": room} for tag in more])
        return set(tags) | set(more)

    try:
        with register:
            yield RegisterBench(
                "nautobot", register, counts,
                new_record=lambda: sighting(tags[0], location=room),
                refused_record=lambda: (sighting("CT-NOT-THERE", location=room), "CT-NOT-THERE"),
                wrong_token=lambda: NautobotRegister(
                    config(_token_file(tmp_path / "bad-token", "0" * 40)), DEVICE),
                go_down=gate.shut, come_back=gate.open, hold_assets=hold,
                page_size=NAUTOBOT_PAGE)
    finally:
        gate.close()

