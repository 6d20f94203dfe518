"""``stocktaker bench receiver`` in small: a fleet pushing at once into the receiver on
SQLite and on a real PostgreSQL, every sighting stored exactly once (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sync.bench_receiver import bench_receiver, format_figures


def _check(figures: list, database: str) -> None:
    (run,) = figures
    assert run.database == database
    assert (run.stored, run.duplicates) == (5 * 200, 0)
    assert run.pushes == 5 * 4 and run.heartbeats == 5
    assert 0 < run.push_p50_ms <= run.push_p99_ms
    assert run.sightings_per_second > 0


def test_a_small_fleet_on_sqlite_stores_each_sighting_once() -> None:
    figures = bench_receiver(devices=5, sightings=200, databases=("sqlite",))
    _check(figures, "sqlite")
    assert any("sightings/s" in line for line in format_figures(figures))


@pytest.mark.postgres
def test_a_small_fleet_on_postgresql_stores_each_sighting_once(postgres_server) -> None:
    from tests.postgres import fresh_database

    figures = bench_receiver(devices=5, sightings=200, databases=("postgresql",),
                             postgres_url=fresh_database(postgres_server))
    _check(figures, "postgresql")


def test_the_command_prints_json_and_refuses_silly_sizes() -> None:
    done = subprocess.run([sys.executable, "-m", "firmware", "bench", "receiver", "--db",
                           "sqlite", "--devices", "2", "--sightings", "60", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)["receiver"]
    assert run["stored"] == 120 and run["heartbeats"] == 2
    bad = subprocess.run([sys.executable, "-m", "firmware", "bench", "receiver",
                          "--devices", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
