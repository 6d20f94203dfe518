"""The expected inventory saved on the device: used when the register is out of reach."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sync.asset import Asset
from firmware.errors import RegisterRefused, RegisterUnavailable
from sync.inventory_cache import InventoryCache
from sync.memory_register import MemoryRegister
from tests.test_receiver import write_token

ASSETS = [Asset("IT-1", "SN1", "Laptop", "Storage B", "Ready", id=1),
          Asset("IT-2", "SN2", "Dock", "Storage A", "Lost", id=2, origin="register")]


def register_of(assets: list[Asset] = ASSETS) -> MemoryRegister:
    """A register answering ``assets`` until its ``down`` is set."""
    return MemoryRegister(assets)


OUT_OF_REACH = 1_000_000  # requests: for the rest of the test


def test_fresh_from_the_register_then_the_saved_copy_with_its_age(tmp_path: Path) -> None:
    cache, register = InventoryCache(tmp_path), register_of()
    assert cache.fetch(register, now=1000.0) == (ASSETS, None)
    register.down = OUT_OF_REACH
    assert cache.fetch(register, now=1000.0 + 7200) == (ASSETS, 7200.0)


def test_nothing_saved_and_no_register_is_an_error(tmp_path: Path) -> None:
    register = register_of()
    register.down = OUT_OF_REACH
    with pytest.raises(RegisterUnavailable, match="no expected inventory is saved"):
        InventoryCache(tmp_path).fetch(register, now=0.0)


@pytest.mark.parametrize("damage", [b"", b"{", b'{"fetched_at": 1, "assets": [{"x": 1}]}',
                                    b'{"assets": []}', b"\xff\xfe"])
def test_a_damaged_copy_is_not_used(tmp_path: Path, damage: bytes) -> None:
    (tmp_path / "inventory.json").write_bytes(damage)
    assert InventoryCache(tmp_path).load() is None


def test_stocktaker_run_audits_with_the_saved_copy_when_the_register_is_down(
        tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_token(tmp_path / "token")
    (tmp_path / "c.toml").write_text(
        '[device]\nid = "hh-1"\n[audit]\nlocation = "Storage B"\n[display]\nbackend = "none"\n'
        f'[register]\nadapter = "http"\nurl = "http://127.0.0.1:{port}"\n'
        'token_file = "token"\ntimeout = 2\n[queue]\npath = "state"\n', encoding="utf-8")
    InventoryCache(tmp_path / "state").save(ASSETS, fetched_at=0.0)
    done = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", "c.toml"],
                          cwd=tmp_path, input=b"IT-1\nIT-2\n", capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert b"auditing with the expected inventory saved" in done.stderr
    out = done.stdout.decode()
    assert "verified 1 of 1 expected" in out and "recovered 1" in out


HERE = {"adapter": "http", "url": "https://register.example", "locations": ["Storage B"]}


def test_the_saved_copy_records_its_origin_and_another_one_is_not_used(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    register = register_of()
    InventoryCache(tmp_path, HERE).fetch(register, now=0.0)
    saved = json.loads((tmp_path / "inventory.json").read_text(encoding="utf-8"))
    assert saved["origin"] == HERE
    register.down = OUT_OF_REACH
    assert InventoryCache(tmp_path, HERE).fetch(register, now=60.0) == (ASSETS, 60.0)
    elsewhere = {**HERE, "locations": ["Storage A"]}
    assert InventoryCache(tmp_path, elsewhere).load() is None
    with pytest.raises(RegisterUnavailable, match=r"came from another register \(http https:"
                       r"//register.example, locations Storage B; now http https://register"
                       r".example, locations Storage A\): not used"):
        InventoryCache(tmp_path, elsewhere).fetch(register, now=60.0)


def test_a_copy_saved_before_origins_were_recorded_is_used_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    InventoryCache(tmp_path).save(ASSETS, fetched_at=0.0)  # no origin: an earlier version's
    assert "origin" not in json.loads((tmp_path / "inventory.json").read_text())
    register = register_of()
    register.down = OUT_OF_REACH
    assert InventoryCache(tmp_path, HERE).fetch(register, now=60.0) == (ASSETS, 60.0)
    assert "does not record where it came from" in caplog.text


def test_a_refused_token_gives_the_saved_copy_and_says_why(tmp_path: Path) -> None:
    refusing = register_of()
    refusing.token_refused = True
    cache = InventoryCache(tmp_path, HERE)
    with pytest.raises(RegisterRefused, match="no expected inventory is saved"):
        cache.fetch(refusing, now=0.0)
    cache.fetch(register_of(), now=0.0)
    assert cache.problem is None
    assert cache.fetch(refusing, now=30.0) == (ASSETS, 30.0)
    assert isinstance(cache.problem, RegisterRefused)
    assert cache.fetch(register_of(), now=40.0) == (ASSETS, None) and cache.problem is None
