"""A throw-away PostgreSQL server on loopback, for ``stocktaker bench receiver`` and the tests.

It uses the PostgreSQL programs installed on the machine (``apt install postgresql``):
``initdb`` makes a cluster in a temporary folder (owned by the ``postgres`` user when run
as root: PostgreSQL refuses to run as root), ``postgres`` serves it on 127.0.0.1 on a free
port with no Unix socket, trust authentication for the one user, and ``createdb`` makes
the database. :meth:`ScratchPostgres.stop` stops the server by its PID (fast shutdown)
and removes the folder; it runs on every exit path of a ``with`` block.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["PostgresMissing", "ScratchPostgres", "postgres_bin_dir"]

USER = "stocktaker"
DATABASE = "stocktaker"


class PostgresMissing(RuntimeError):
    """PostgreSQL is not installed, or the scratch server could not be started (why)."""


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``postgres`` are (the newest installed version), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScratchPostgres:
    """A PostgreSQL server for one run; :attr:`url` once started.

    Args:
        durable: keep PostgreSQL's defaults (``fsync``, ``synchronous_commit``), as a real
            server has them; False turns them off for a faster test run.
    """

    def __init__(self, *, durable: bool = True) -> None:
        self.durable = durable
        self.url = ""
        self.port = 0
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0
        """Seconds :meth:`start` took (initdb, server start, createdb)."""

    def start(self) -> ScratchPostgres:
        """Make the cluster and serve it.

        Raises:
            PostgresMissing: PostgreSQL is not installed, or a step failed (the message
                holds the end of its output).
        """
        started = time.monotonic()
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise PostgresMissing("PostgreSQL is not installed (apt install postgresql)")
        user = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="stocktaker-pg-"))
        data = self.folder / "data"
        data.mkdir()
        if user:
            shutil.chown(self.folder, user, user)
            shutil.chown(data, user, user)
        try:
            _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8"], "initdb", user)
            self.port = _free_port()
            settings = [] if self.durable else ["-c", "fsync=off", "-c",
                                                "synchronous_commit=off", "-c",
                                                "full_page_writes=off"]
            kwargs: dict[str, Any] = {}
            if user:
                kwargs.update(user=user, group=user, extra_groups=[], cwd="/")
            log = (self.folder / "postgres.log").open("ab")
            self.process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", "", "-c", "max_connections=200", *settings],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, **kwargs)
            log.close()
            deadline = time.monotonic() + 60
            while not self._ready(bin_dir):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.folder / "postgres.log").read_text(errors="replace")[-2000:]
                    raise PostgresMissing(f"PostgreSQL did not start:\n{tail}")
                time.sleep(0.1)
            _run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", USER, DATABASE], "createdb", None)
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"
        self.started_in = time.monotonic() - started
        return self

    def _ready(self, bin_dir: Path) -> bool:
        return subprocess.run([str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                               str(self.port)], check=False).returncode == 0

    def stop(self) -> None:
        """Stop the server by its PID (fast shutdown, then SIGKILL) and remove its folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> ScratchPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run(argv: list[str], what: str, user: str | None) -> None:
    kwargs: dict[str, Any] = {}
    if user:
        kwargs.update(user=user, group=user, extra_groups=[], cwd="/")
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=300,
                              **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresMissing(f"{what} could not run: {exc}") from None
    if done.returncode != 0:
        tail = done.stdout.decode("utf-8", "replace")[-2000:]
        raise PostgresMissing(f"{what} failed (exit {done.returncode}):\n{tail}")
