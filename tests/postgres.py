"""PostgreSQL for the receiver's tests (marker ``postgres``): one scratch server a session.

:class:`sync.receiver.pgcluster.ScratchPostgres` runs it (a cluster in a temporary folder
the ``postgres`` user can reach, on a free loopback port, stopped by PID on every exit
path); this installs PostgreSQL from apt first when it is missing, as the Nautobot tests
do, and gives each test a database of its own.
"""

from __future__ import annotations

import itertools
import os
import subprocess

from sync.receiver.pgcluster import PostgresMissing, ScratchPostgres, postgres_bin_dir

__all__ = ["PostgresMissing", "ensure_postgres_installed", "fresh_database", "start_postgres"]

_numbers = itertools.count(1)


def ensure_postgres_installed() -> None:
    """``apt-get install postgresql`` (``sudo -n`` when not root) when it is missing.

    Raises:
        PostgresMissing: apt-get failed, or installed nothing usable.
    """
    if postgres_bin_dir() is not None:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(sudo + argv, capture_output=True, text=True, env=env,
                              timeout=1800, check=False)
        if done.returncode != 0:
            raise PostgresMissing(f"{' '.join(argv)} failed: {done.stdout[-1000:]}"
                                  f"{done.stderr[-1000:]}")
    if postgres_bin_dir() is None:
        raise PostgresMissing("apt-get installed postgresql but initdb is still missing")


def start_postgres() -> ScratchPostgres:
    """A started scratch server (fsync off: the tests check behaviour, not durability)."""
    ensure_postgres_installed()
    return ScratchPostgres(durable=False).start()


def fresh_database(server: ScratchPostgres) -> str:
    """A new, empty database on ``server``; its URL."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + "/" + name
