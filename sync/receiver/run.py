"""``stocktaker register-server``: the reference receiver run until a stop signal.

It puts together the token, the manifest, the people, the database and, with viewers, the
dashboard, then serves (:class:`~sync.receiver.server.ReceiverServer`) on one thread.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from hal.errors import ConfigError
from sync.campaign import CampaignError
from sync.campaign_file import defined_campaigns
from sync.errors import RegisterError
from sync.receiver.campaigns import CampaignBoard
from sync.receiver.dashboard import Dashboard
from sync.receiver.manifest import ManifestSource
from sync.receiver.people import PeopleSource
from sync.receiver.server import ReceiverServer
from sync.receiver.store import ReceiverStore
from sync.receiver.viewers import ViewerFile
from sync.version import __version__

__all__ = ["run_receiver"]


def _read_token(path: Path) -> str:
    from sync.web import read_token

    try:
        return read_token(path)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("register.token_file", "--token-file", 1)) from None


def run_receiver(db: str | Path, manifest: Path, token_file: Path, host: str = "127.0.0.1",
                 port: int = 8080, *, out: TextIO | None = None,
                 err: TextIO | None = None, people: Path | None = None,
                 db_password_file: Path | None = None,
                 viewers: Path | None = None, campaigns: Path | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code (0 after a clean stop).

    The first line on ``out`` is the base URL, flushed at once (with port 0 it names the
    port picked). Each request is logged as one line on ``err``.

    ``people`` is a people CSV served to door kiosks (``GET /api/v1/people``). ``db`` is a
    SQLite path or URL, or a PostgreSQL URL (:mod:`sync.receiver.database`), its password
    in ``db_password_file`` (or ``PGPASSWORD``, ``~/.pgpass``). ``viewers`` is the file of
    viewer credentials (:mod:`sync.receiver.viewers`) that turns on the dashboard
    (``/dashboard/``, :mod:`sync.receiver.dashboard`). ``campaigns`` is a TOML file of
    campaigns (:mod:`sync.campaign_file`, as ``stocktaker reconcile --campaign-file``
    reads): the dashboard reconciles each with its rooms and period.

    Raises:
        ConfigError: the token file, the manifest, the people file, the campaigns file,
            the database or the address cannot be used, or a viewer's password is the
            devices' token (exit code 2).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    lock = threading.Lock()

    def log_line(line: str) -> None:
        with lock:
            err.write(line + "\n")
            err.flush()

    token = _read_token(token_file)
    source = ManifestSource(manifest, log=log_line)
    try:
        people_source = None if people is None else PeopleSource(people, log=log_line)
    except RegisterError as exc:
        raise ConfigError(str(exc).replace("register.people", "--people", 1)) from None
    viewer_file = None if viewers is None else ViewerFile(viewers, log=log_line)
    if viewer_file is not None and viewer_file.accepts_password(token) is not None:
        raise ConfigError(f"--viewers {viewers}: a viewer's password is the devices' token;"
                          " give the viewer another one")
    try:
        defined = [] if campaigns is None else defined_campaigns(campaigns)
    except CampaignError as exc:
        raise ConfigError(f"--campaigns {exc}") from None
    store = ReceiverStore(db, password_file=db_password_file)
    try:
        try:
            dashboard = Dashboard(CampaignBoard(store, source, defined), viewer_file, store.devices)
            server = ReceiverServer((host, port), store=store, manifest=source, token=token,
                                    log_line=log_line, people=people_source,
                                    dashboard=dashboard)
        except OSError as exc:
            raise ConfigError(f"--host {host} --port {port}: cannot listen:"
                              f" {exc.strerror or exc}") from None
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            if not stopping.is_set():
                stopping.set()
                # shutdown() waits for serve_forever(), which runs in this very thread.
                threading.Thread(target=server.shutdown, daemon=True).start()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            print(server.url, file=out, flush=True)
            log_line(f"receiver {__version__} serving {server.url} (manifest {manifest},"
                     f" database {db})")
            if campaigns is not None:
                log_line(f"{len(defined)} campaign(s) defined in {campaigns}")
            server.serve_forever(poll_interval=0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            server.server_close()
        log_line("receiver stopped")
    finally:
        store.close()
    return 0
