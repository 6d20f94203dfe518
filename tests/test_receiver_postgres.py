"""``stocktaker register-server --db postgresql://...``: the real command on a real PostgreSQL
(marker ``postgres``), its password never on the command line, and an outage of the
database answered "try again later"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests

from firmware.errors import RegisterUnavailable
from sync.http import HttpRegister
from sync.receiver.pgcluster import ScratchPostgres
from tests.postgres import fresh_database
from tests.test_receiver import (
    TOKEN,
    receiver_command,
    sighting,
    stop_process,
    write_manifest,
    write_token,
)
from tests.sightings import typed

pytestmark = pytest.mark.postgres


def _start(db_url: str, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    manifest = write_manifest(tmp_path / "expected.csv")
    token = write_token(tmp_path / "token")
    argv = receiver_command(Path("x"), manifest, token)
    argv[argv.index("--db") + 1] = db_url
    proc = subprocess.Popen([*argv, *extra], stdout=subprocess.PIPE,
                            stderr=(tmp_path / "log").open("w"), text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_the_receiver_keeps_sightings_and_heartbeats_in_postgresql(
        postgres_server: ScratchPostgres, tmp_path: Path) -> None:
    url = fresh_database(postgres_server)
    proc, base = _start(url, tmp_path)
    try:
        assert base.startswith("http://127.0.0.1:"), (tmp_path / "log").read_text()
        with HttpRegister(base, TOKEN, "hh-01") as register:
            records = [sighting(n) for n in range(30)]
            assert {r.status.value for r in register.push(typed(records))} == {"accepted"}
            assert {r.status.value for r in register.push(typed(records[:10]))} == {"duplicate"}
            register.heartbeat({"queue_depth": 0, "firmware_version": "1"})
        devices = requests.get(f"{base}/api/v1/devices", timeout=10,
                               headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert devices["devices"][0]["state"]["queue_depth"] == 0
    finally:
        stop_process(proc)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT sighting_id)"
                            " FROM sightings").fetchone() == (30, 30)


def test_a_password_goes_in_a_file_never_in_the_url(postgres_server: ScratchPostgres,
                                                    tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "expected.csv")
    token = write_token(tmp_path / "token")
    argv = receiver_command(Path("x"), manifest, token)
    argv[argv.index("--db") + 1] = "postgresql://stocktaker:hunter2@127.0.0.1:1/x"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--db-password-file" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    # trust authentication ignores the password, but the file is read and used
    secret = tmp_path / "pg-password"
    secret.write_text("unused-with-trust\n")
    proc, base = _start(fresh_database(postgres_server), tmp_path, "--db-password-file",
                        str(secret))
    try:
        assert base.startswith("http://127.0.0.1:")
    finally:
        stop_process(proc)
    missing = subprocess.run([*argv[:argv.index("--db") + 1], "postgresql://u@127.0.0.1:1/x",
                              *argv[argv.index("--db") + 2:], "--db-password-file",
                              str(tmp_path / "nope")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "cannot read it" in missing.stderr


def test_a_database_gone_is_answered_try_again_later(tmp_path: Path) -> None:
    from tests.postgres import ensure_postgres_installed

    ensure_postgres_installed()
    with ScratchPostgres(durable=False) as server:
        proc, base = _start(server.url, tmp_path)
        try:
            with HttpRegister(base, TOKEN, "hh-01") as register:
                register.push(typed([sighting(1)]))
                server.stop()
                with pytest.raises(RegisterUnavailable, match="503"):
                    register.push(typed([sighting(2)]))
                register.check()  # the receiver itself still answers
            assert proc.poll() is None
            assert "Traceback" not in (tmp_path / "log").read_text()
        finally:
            stop_process(proc)


def test_an_unreachable_database_stops_the_receiver_with_code_2(tmp_path: Path) -> None:
    proc, base = _start("postgresql://stocktaker@127.0.0.1:9/none", tmp_path)
    assert proc.wait(timeout=60) == 2 and base == ""
    log = (tmp_path / "log").read_text()
    assert "cannot use it as the receiver's database" in log and "Traceback" not in log
    assert os.environ.get("PGPASSWORD") is None or "PGPASSWORD" not in log
