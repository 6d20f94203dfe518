"""The door kiosk end to end: ``stocktaker run`` in kiosk mode, ``stocktaker sync``, and the
reference receiver (``stocktaker register-server --people``) as real processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.test_receiver import _first_line, receiver_command, stop_process

TOKEN = "kiosk-e2e-token-0123456789"
MANIFEST = ("asset_tag,name,location,status,assigned_to\n"
            "IT-1,Laptop,Storage B,Ready to Deploy,\n"
            "IT-2,Dock,Storage B,Ready to Deploy,Cleo Park\n"
            "IT-3,Drill,Storage B,Ready to Deploy,\n"
            "IT-4,Scope,Office 2,Ready to Deploy,\n"
            "IT-5,Old PC,Storage B,Archived,\n")
PEOPLE = ("badge,employee_num,name,username,id\n"
          "0004211234,E-100,Ana Lopes,ana,7\n0004215678,E-101,Ben Ode,ben,8\n")


@contextmanager
def receiver(directory: Path, port: int = 0) -> Iterator[str]:
    """``stocktaker register-server`` with a people file; yields its URL, stops it by PID."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (directory / "people.csv").write_text(PEOPLE, encoding="utf-8")
    token = directory / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    command = receiver_command(directory / "receiver.sqlite", directory / "expected.csv", token,
                               port) + ["--people", str(directory / "people.csv")]
    with (directory / "receiver.log").open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, text=True)
    try:
        yield _first_line(proc, timeout=30)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def kiosk_config(folder: Path, url: str, device: str = "door-1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    token = folder / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    path = folder / "kiosk.toml"
    path.write_text(f"""\
[device]
id = "{device}"
mode = "kiosk"
[kiosk]
location = "storage b"
session_timeout = 30
[audit]
repeat_window = 0
[display]
backend = "none"
[register]
adapter = "http"
url = "{url}"
token_file = "token"
timeout = 2
[sync]
interval = 3600
[queue]
path = "state"
""", encoding="utf-8")
    return path


def run_kiosk(config: Path, lines: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                          input=("\n".join(lines) + "\n").encode(), capture_output=True,
                          timeout=120, cwd=config.parent)


def sync(config: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "firmware", "sync", "--config", str(config)],
                          capture_output=True, timeout=120, cwd=config.parent)


def queue_status(config: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "firmware", "queue", "status", "--json",
                           "--config", str(config)], capture_output=True, timeout=60,
                          cwd=config.parent)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def stored(db: Path) -> list[tuple[str, str]]:
    """(verdict, asset_tag) of every event the receiver stored, in arrival order."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT record FROM sightings ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return [(json.loads(r)["verdict"], json.loads(r)["asset_tag"]) for (r,) in rows]


def holder(db: Path, tag: str) -> str | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT holder FROM holdings WHERE asset_tag = ?", (tag,)).fetchone()
    finally:
        conn.close()
    return None if row is None or row[0] is None else json.loads(row[0]).get("username")


def test_badge_then_assets_out_returns_without_badge_and_refusals(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = kiosk_config(tmp_path / "door", url)
        done = run_kiosk(config, ["BADGE:E-100", "IT-1", "IT-3", "IT-4", "IT-5", "\x1bOP",
                                  "IT-2", "BADGE:0009999999"])
        assert done.returncode == 0, done.stderr.decode()
        err = done.stderr.decode()
        assert "badge 0009999999 refused: not known to the register" in err
        synced = sync(config)
        assert synced.returncode == 0, synced.stderr.decode()
        db = tmp_path / "register" / "receiver.sqlite"
        assert sorted(stored(db)) == sorted([
            ("checked_out", "IT-1"), ("checked_out", "IT-3"), ("refused", "IT-4"),
            ("refused", "IT-5"), ("checked_in", "IT-2")])
        assert holder(db, "IT-1") == "ana" and holder(db, "IT-3") == "ana"
        assert holder(db, "IT-2") is None
    report = subprocess.run([sys.executable, "-m", "firmware", "report", "--movements",
                             "--config", str(config)], capture_output=True, timeout=60,
                            cwd=config.parent)
    assert report.returncode == 0, report.stderr.decode()
    text = report.stdout.decode()
    assert "Out now (2)" in text and "IT-1  Ana Lopes" in text and "IN      IT-2" in text


def test_a_power_cut_mid_visit_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = kiosk_config(tmp_path / "door", url)
        proc = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config",
                                 str(config)], cwd=config.parent, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(b"BADGE:E-101\nIT-1\nIT-3\n")
            proc.stdin.flush()
            for _ in range(3):  # the badge, then two check-outs: each saved before shown
                assert proc.stdout.readline().startswith(b"[feedback]")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # Back on: IT-1 comes back without a badge; the kiosk knows it is out.
        done = run_kiosk(config, ["IT-1"])
        assert done.returncode == 0, done.stderr.decode()
        assert sync(config).returncode == 0
        db = tmp_path / "register" / "receiver.sqlite"
        assert sorted(stored(db)) == sorted([("checked_out", "IT-1"), ("checked_out", "IT-3"),
                                             ("checked_in", "IT-1")])
        assert holder(db, "IT-1") is None and holder(db, "IT-3") == "ben"
        assert sync(config).returncode == 0  # nothing sent twice
        assert len(stored(db)) == 3


def test_two_kiosks_offline_checking_out_one_asset_give_a_conflict(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        pass  # the register goes down: both kiosks work from their saved copies
    first = kiosk_config(tmp_path / "door-a", url, device="door-a")
    second = kiosk_config(tmp_path / "door-b", url, device="door-b")
    with receiver(tmp_path / "register", port=int(url.rsplit(":", 1)[1])):
        for config in (first, second):  # each kiosk saves the register's lists once
            assert run_kiosk(config, []).returncode == 0
    a = run_kiosk(first, ["BADGE:E-100", "IT-3"])
    b = run_kiosk(second, ["BADGE:E-101", "IT-3"])
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert "is it" not in b.stderr.decode()
    with receiver(tmp_path / "register", port=int(url.rsplit(":", 1)[1])):
        assert sync(first).returncode == 0
        assert sync(second).returncode == 0
        db = tmp_path / "register" / "receiver.sqlite"
        assert holder(db, "IT-3") == "ana"
    status = queue_status(second)
    assert status["queued"] == 0 and status["conflicts"] == 1
    (conflict,) = status["conflict_items"]
    assert conflict["asset_tag"] == "IT-3" and conflict["verdict"] == "checked_out"
    assert conflict["person"] == "Ben Ode"  # this kiosk's side
    assert conflict["register_holder"] == "Ana Lopes"  # the register's side
    copied = json.loads((tmp_path / "door-b" / "out" / "conflicts-door-b.json")
                        .read_text(encoding="utf-8"))
    assert [c["sighting_id"] for c in copied] == [conflict["sighting_id"]]
    assert copied[0]["register_side"]["holder"]


def test_with_the_files_register_a_restart_remembers_every_movement_since_the_export(
        tmp_path: Path) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    os.utime(tmp_path / "expected.csv", (1_700_000_000, 1_700_000_000))  # exported long ago
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    config = tmp_path / "kiosk.toml"
    config.write_text('[device]\nid = "door-f"\nmode = "kiosk"\n[kiosk]\nlocation = "Storage B"\n'
                      '[audit]\nrepeat_window = 0\n[display]\nbackend = "none"\n',
                      encoding="utf-8")
    first = run_kiosk(config, ["BADGE:E-100", "IT-2", "IT-1"])  # IT-2 back, IT-1 out
    assert first.returncode == 0, first.stderr.decode()
    second = run_kiosk(config, ["IT-2", "IT-1"])  # the manifest still says Cleo has IT-2
    assert second.returncode == 0, second.stderr.decode()
    rows = (tmp_path / "out").glob("movements-door-f-*.csv")
    text = "".join(p.read_text(encoding="utf-8") for p in rows)
    assert text.count("checked_in") == 2 and text.count("checked_out") == 1
    assert text.count("refused") == 1 and "scan your badge first" in text
