"""A real Nautobot on loopback for the integration tests: set up, started, stopped by PID.

Usable as a library (the pytest session fixture in ``tests/conftest.py``) and by hand::

    python tests/nautobot/server.py start   # prints the URL and the token file; keeps running
    python tests/nautobot/server.py stop    # stops every process ``start`` left running

What ``start`` does, each step only when needed:

1. PostgreSQL and Redis from apt (``sudo`` when not root) when their programs are missing.
2. A venv under ``.nautobot/venv`` with the pinned ``nautobot`` (:data:`NAUTOBOT_VERSION`).
3. PostgreSQL (as the ``postgres`` user when run as root: it refuses root) and Redis, each
   bound to 127.0.0.1 on a free port, with throw-away data under ``.nautobot/run-<port>``
   (PostgreSQL's cluster in a temporary folder of its own when run as root).
4. The schema: the committed dump (:data:`DUMP`, made after migrating the pinned version)
   is restored and ``migrate`` runs as a no-op; without a dump for this version the 471
   migrations run and a new dump is written.
5. A superuser and an API token, then ``nautobot-server runserver`` on 127.0.0.1.

Every process it starts is a direct child, recorded by PID (and in ``.nautobot/pids.json``),
and stopped by that PID on every exit path: :meth:`NautobotServer.stop`, ``atexit``,
SIGTERM/SIGINT/SIGHUP, and ``stop`` for a server left running by hand.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

NAUTOBOT_VERSION = "3.2.7"
"""The pinned Nautobot release (Python 3.10 to 3.14)."""

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / ".nautobot"
"""Venv, configuration and data: git-ignored, kept between runs."""
DUMP = Path(__file__).with_name(f"nautobot-{NAUTOBOT_VERSION}.pgdump")
"""The committed database after migrating :data:`NAUTOBOT_VERSION` (pg_dump custom format)."""
STATE = HOME / "pids.json"
ADMIN = "admin"
START_TIMEOUT = 180.0  # seconds for runserver to answer; it loads every app first
APT_PACKAGES = ("postgresql", "redis-server")


class SetupError(RuntimeError):
    """A step of the set-up failed; the message says which and why."""


@dataclass
class Child:
    """One process this module started."""

    name: str
    process: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM


@dataclass
class NautobotServer:
    """A Nautobot with its own PostgreSQL and Redis, on loopback.

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started.
        token: the API token of the superuser once started.
        timings: seconds taken by each set-up step (for the figures in the README).
        keep_running: leave the processes running when this Python process exits
            (``start`` by hand); otherwise they are stopped at exit and on signals.
    """

    keep_running: bool = False
    url: str = ""
    token: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    run_dir: Path | None = None
    pg_dir: Path | None = None
    web_port: int = 0
    _env: dict[str, str] = field(default_factory=dict)

    @property
    def token_file(self) -> Path:
        """The file holding :attr:`token` (mode 600), as ``register.token_file`` wants it."""
        assert self.run_dir is not None, "not started"
        return self.run_dir / "token"

    # -- starting --------------------------------------------------------------------------

    def start(self) -> NautobotServer:
        """Set up and start everything (see the module docstring).

        Raises:
            SetupError: a step failed (apt, pip, PostgreSQL, migrations, runserver); what
                was started is stopped again before it is raised.
        """
        if not self.keep_running:
            atexit.register(self.stop)
            _install_signal_handlers(self.stop)
        try:
            self._timed("apt packages", ensure_apt_packages)
            self._timed("python package", ensure_venv)
            pg_port, redis_port, web_port = free_ports(3)
            self.run_dir = HOME / f"run-{pg_port}"
            self._timed("postgresql", lambda: self._start_postgres(pg_port))
            self._timed("redis", lambda: self._start_redis(redis_port))
            self._env = nautobot_env(pg_port, redis_port, self.run_dir)
            self._timed("schema", self._load_schema)
            self.web_port = web_port
            self.url = f"http://127.0.0.1:{web_port}"
            self._timed("admin, token and runserver", self._serve)
        except BaseException:
            self.stop()
            raise
        if self.keep_running:
            self._save_state()
        return self

    def _timed(self, step: str, action: Callable[[], object]) -> None:
        started = time.monotonic()
        action()
        self.timings[step] = time.monotonic() - started

    def _start_postgres(self, port: int) -> None:
        assert self.run_dir is not None
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)
        as_user = _postgres_user()
        if as_user:
            # The project may sit below a folder only root can enter (a mktemp -d clone):
            # the cluster lives where the postgres user can reach it.
            self.pg_dir = Path(tempfile.mkdtemp(prefix="stocktaker-pg-"))
            shutil.chown(self.pg_dir, as_user, as_user)
            data = self.pg_dir / "pg"
            data.mkdir()
            shutil.chown(data, as_user, as_user)
        else:
            data = self.run_dir / "pg"
            data.mkdir()
        _run([_pg_bin("initdb"), "-D", str(data), "-U", "nautobot", "--auth=trust",
              "-E", "UTF8", "--locale=C.UTF-8"], "initdb", user=as_user)
        log = (self.run_dir / "postgres.log").open("ab")
        self._spawn("postgres", [
            _pg_bin("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
            "-k", "", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off"], log, user=as_user, stop_signal=signal.SIGINT)
        _wait_for(lambda: _pg_ready(port), 30, "PostgreSQL did not accept connections",
                  self.children[-1])
        _run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "nautobot",
              "nautobot"], "createdb")

    def _start_redis(self, port: int) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise SetupError("redis-server is not installed")
        assert self.run_dir is not None
        log = (self.run_dir / "redis.log").open("ab")
        self._spawn("redis", [server, "--bind", "127.0.0.1", "--port", str(port),
                              "--save", "", "--appendonly", "no", "--daemonize", "no",
                              "--dir", str(self.run_dir)], log)
        _wait_for(lambda: _port_open(port), 15, "Redis did not listen", self.children[-1])

    def _load_schema(self) -> None:
        pg_port = self._env["NAUTOBOT_DB_PORT"]
        if DUMP.is_file():
            _run([_pg_bin("pg_restore"), "-h", "127.0.0.1", "-p", pg_port, "-U", "nautobot",
                  "-d", "nautobot", "--no-owner", "--exit-on-error", str(DUMP)], "pg_restore")
            self._manage("migrate", "--no-input")  # a no-op when the dump matches
            return
        self._manage("migrate", "--no-input")
        for old in DUMP.parent.glob("nautobot-*.pgdump"):
            old.unlink()
        _run([_pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", pg_port, "-U", "nautobot",
              "-Fc", "-Z", "9", "--no-owner", "-f", str(DUMP), "nautobot"], "pg_dump")

    def _serve(self) -> None:
        self.token = secrets.token_hex(20)
        code = ("from nautobot.users.models import Token, User\n"
                f"u = User.objects.create_superuser({ADMIN!r}, 'admin@example.org',"
                f" {secrets.token_hex(16)!r})\n"
                f"Token.objects.create(user=u, key={self.token!r})\n")
        # The account is made while runserver loads: the two share the 2 cores' wait.
        admin = subprocess.Popen([str(_venv_bin("nautobot-server")), "shell", "-c", code],
                                 env=self._env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
        self._spawn_web()
        out, _ = admin.communicate(timeout=START_TIMEOUT)
        if admin.returncode != 0:
            raise SetupError(f"creating the admin and token failed:\n{_tail(out)}")
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        self._wait_web()

    def _spawn_web(self) -> None:
        assert self.run_dir is not None
        log = (self.run_dir / "nautobot.log").open("ab")
        self._spawn("nautobot", [str(_venv_bin("nautobot-server")), "runserver",
                                 f"127.0.0.1:{self.web_port}", "--insecure", "--noreload"],
                    log, env=self._env)

    def _wait_web(self) -> None:
        assert self.run_dir is not None
        web = next(c for c in self.children if c.name == "nautobot")
        _wait_for(lambda: _api_ready(self.url, self.token), START_TIMEOUT,
                  "nautobot-server runserver did not answer", web,
                  self.run_dir / "nautobot.log")

    def stop_web(self) -> None:
        """Stop the web server only (its PID), as an outage: the database stays."""
        for child in [c for c in self.children if c.name == "nautobot"]:
            self.children.remove(child)
            _stop_child(child.process, child.stop_signal)

    def start_web(self) -> None:
        """Start the web server again on the same port, after :meth:`stop_web`."""
        self._spawn_web()
        self._wait_web()

    def _manage(self, *args: str) -> None:
        _run([str(_venv_bin("nautobot-server")), *args], f"nautobot-server {args[0]}",
             env=self._env)

    def _spawn(self, name: str, argv: list[str], log: object, *, user: str | None = None,
               env: dict[str, str] | None = None, stop_signal: int = signal.SIGTERM) -> None:
        kwargs: dict[str, object] = {}
        if user:
            kwargs.update(user=user, group=user, extra_groups=[])
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self.children.append(Child(name, process, stop_signal))
        if self.keep_running:
            self._save_state()

    # -- stopping --------------------------------------------------------------------------

    @property
    def pids(self) -> list[int]:
        """PIDs of the processes started (running or not)."""
        return [child.process.pid for child in self.children]

    def stop(self) -> None:
        """Stop every process started, newest first, by PID; waits for each to end."""
        while self.children:
            child = self.children.pop()
            _stop_child(child.process, child.stop_signal)
        if self.keep_running and STATE.is_file():
            STATE.unlink()
        if self.run_dir is not None and self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.pg_dir is not None:
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    def _save_state(self) -> None:
        HOME.mkdir(parents=True, exist_ok=True)
        STATE.write_text(json.dumps({
            "url": self.url, "token_file": str(self.token_file) if self.run_dir else None,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "pg_dir": str(self.pg_dir) if self.pg_dir else None,
            "processes": [{"name": c.name, "pid": c.process.pid, "signal": int(c.stop_signal)}
                          for c in self.children]}, indent=2))

    def __enter__(self) -> NautobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_recorded() -> list[str]:
    """Stop the processes a by-hand ``start`` left running (from ``.nautobot/pids.json``).

    A PID is signalled only while its command line still names the program that was
    started (a PID reused by another process is left alone).
    """
    if not STATE.is_file():
        return ["nothing recorded as running"]
    state = json.loads(STATE.read_text())
    done = []
    for entry in reversed(state.get("processes", [])):
        pid, name = int(entry["pid"]), str(entry["name"])
        if not _cmdline_names(pid, name):
            done.append(f"{name} (pid {pid}) was not running")
            continue
        os.kill(pid, int(entry["signal"]))
        if not _wait_gone(pid, 20):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
        done.append(f"{name} (pid {pid}) stopped")
    STATE.unlink()
    for folder in (state.get("run_dir"), state.get("pg_dir")):
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return done


# -- the steps' helpers ------------------------------------------------------------------------


def ensure_apt_packages() -> None:
    """Install PostgreSQL and Redis from apt when their programs are missing.

    Raises:
        SetupError: apt-get failed (no network, no sudo).
    """
    if _pg_bin_dir() is not None and shutil.which("redis-server"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", *APT_PACKAGES]):
        _run(sudo + argv, "apt-get", env=env)
    if _pg_bin_dir() is None or not shutil.which("redis-server"):
        raise SetupError(f"apt-get installed {', '.join(APT_PACKAGES)} but their programs"
                         " are still missing")


def ensure_venv() -> None:
    """Make ``.nautobot/venv`` with ``nautobot==NAUTOBOT_VERSION`` unless it is there.

    Raises:
        SetupError: venv or pip failed (no network for PyPI).
    """
    venv = HOME / "venv"
    stamp = venv / "nautobot-version"
    if stamp.is_file() and stamp.read_text().strip() == NAUTOBOT_VERSION:
        return
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
          f"nautobot=={NAUTOBOT_VERSION}"], "pip install nautobot")
    stamp.write_text(NAUTOBOT_VERSION + "\n")


def nautobot_env(pg_port: int, redis_port: int, run_dir: Path) -> dict[str, str]:
    """The environment of every ``nautobot-server`` call for this server."""
    config = HOME / "nautobot_config.py"
    if not config.is_file():
        config.write_text("# Every setting comes from NAUTOBOT_* environment variables.\n"
                          "from nautobot.core.settings import *  # noqa: F401,F403\n")
    return {
        "PATH": f"{HOME / 'venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(HOME), "LANG": "C.UTF-8",
        "NAUTOBOT_ROOT": str(run_dir), "NAUTOBOT_CONFIG": str(config),
        "NAUTOBOT_DB_HOST": "127.0.0.1", "NAUTOBOT_DB_PORT": str(pg_port),
        "NAUTOBOT_DB_USER": "nautobot", "NAUTOBOT_DB_PASSWORD": "",
        "NAUTOBOT_DB_NAME": "nautobot",
        "NAUTOBOT_REDIS_HOST": "127.0.0.1", "NAUTOBOT_REDIS_PORT": str(redis_port),
        "NAUTOBOT_ALLOWED_HOSTS": "127.0.0.1 localhost",
        "NAUTOBOT_SECRET_KEY": secrets.token_urlsafe(50),
        "NAUTOBOT_INSTALLATION_METRICS_ENABLED": "False",
        "NAUTOBOT_LOG_LEVEL": "WARNING",
    }


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _pg_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _pg_bin(name: str) -> str:
    directory = _pg_bin_dir()
    if directory is None:
        raise SetupError("PostgreSQL is not installed")
    return str(directory / name)


def _postgres_user() -> str | None:
    """Who runs PostgreSQL: ``postgres`` when this is root (it refuses root), else no one else."""
    return "postgres" if os.geteuid() == 0 else None


def _venv_bin(name: str) -> Path:
    return HOME / "venv" / "bin" / name


def _run(argv: list[str], what: str, *, user: str | None = None,
         env: dict[str, str] | None = None) -> None:
    kwargs: dict[str, object] = {}
    if user:
        kwargs.update(user=user, group=user, extra_groups=[], cwd="/")
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, timeout=1800,
                              **kwargs)  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"{what} could not run: {exc}") from None
    if done.returncode != 0:
        raise SetupError(f"{what} failed (exit {done.returncode}):\n{_tail(done.stdout)}")


def _tail(output: bytes | None, lines: int = 25) -> str:
    text = (output or b"").decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def _wait_for(ready: Callable[[], bool], timeout: float, problem: str, child: Child,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if child.process.poll() is not None:
            break
        time.sleep(0.2)
    status = child.process.poll()
    detail = f"exited with {status}" if status is not None else f"not ready in {timeout:g} s"
    tail = _tail(log.read_bytes()) if log is not None and log.is_file() else ""
    raise SetupError(f"{problem} ({child.name} {detail})" + (f":\n{tail}" if tail else ""))


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pg_ready(port: int) -> bool:
    return subprocess.run([_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                          check=False).returncode == 0


def _api_ready(url: str, token: str) -> bool:
    request = urllib.request.Request(f"{url}/api/status/",
                                     headers={"Authorization": f"Token {token}",
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop_child(process: subprocess.Popen[bytes], stop_signal: int) -> None:
    if process.poll() is None:
        try:
            process.send_signal(stop_signal)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    else:
        process.wait()


def _cmdline_names(pid: int, name: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    program = {"nautobot": b"nautobot-server", "redis": b"redis-server",
               "postgres": b"postgres"}.get(name, name.encode())
    return program in cmdline


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.1)
    return False


_handlers_installed: list[Callable[[], None]] = []


def _install_signal_handlers(stop: Callable[[], None]) -> None:
    """On SIGTERM, SIGINT or SIGHUP: stop the servers, then die of the signal as before."""
    _handlers_installed.append(stop)
    if len(_handlers_installed) > 1:
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        for each in list(_handlers_installed):
            each()
        signal.signal(signum, previous.get(signum) or signal.SIG_DFL)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)


def main(argv: list[str]) -> int:
    """``start`` (prints the URL, the token file and the step timings) or ``stop``."""
    if argv[1:] == ["start"]:
        if STATE.is_file():
            print(f"already started (see {STATE}); run stop first", file=sys.stderr)
            return 1
        try:
            server = NautobotServer(keep_running=True).start()
        except SetupError as exc:
            print(f"set-up failed: {exc}", file=sys.stderr)
            return 1
        print(f"url {server.url}\ntoken_file {server.token_file}")
        for step, seconds in server.timings.items():
            print(f"{step}: {seconds:.1f} s")
        return 0
    if argv[1:] == ["stop"]:
        print("\n".join(stop_recorded()))
        return 0
    print("usage: python tests/nautobot/server.py start|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
