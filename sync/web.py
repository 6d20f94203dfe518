"""HTTP for the register adapters, set up in one place: session, token, timeouts, rate, errors.

Every adapter that speaks HTTP (``http``, ``snipeit``, ``nautobot``) goes through
:class:`RegisterClient`, so that each one sends JSON with its token (a bearer token, or a
session already set up with the register's own scheme), waits at most ``timeout`` seconds, keeps
to a client-side request rate, and turns the network's failures into the two errors the
sync engine understands: :class:`~sync.errors.RegisterUnavailable` (try again later,
maybe after ``retry_after``) and :class:`~sync.errors.RegisterError` (refused).
"""

from __future__ import annotations

import email.utils
import json
import stat
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from pathlib import Path
from typing import Any

import requests

from sync.version import __version__
from hal.errors import ConfigError
from sync.errors import RegisterError, RegisterRefused, RegisterUnavailable

__all__ = ["RateLimiter", "RegisterClient", "parse_retry_after", "read_token"]

USER_AGENT = f"stocktaker/{__version__}"
_MAX_TOKEN_BYTES = 16 * 1024


def read_token(path: Path) -> str:
    """The API token in ``path``: one line, readable by its owner only.

    Raises:
        ConfigError: the file is missing, empty, too big, or readable by group or others.
    """
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"register.token_file: {path} is readable by others"
                              f" (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        raw = path.read_bytes()[: _MAX_TOKEN_BYTES + 1]
    except FileNotFoundError:
        raise ConfigError(f"register.token_file: {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"register.token_file: cannot read {path}: "
                          f"{exc.strerror or exc}") from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"register.token_file: {path} is not a token (not ASCII)") from None
    if not token or len(raw) > _MAX_TOKEN_BYTES or any(c.isspace() for c in token):
        raise ConfigError(f"register.token_file: {path} does not hold one token")
    return token


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 10**6))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


class RateLimiter:
    """At most ``per_minute`` requests in any minute, spread evenly (a leaky bucket).

    Thread-safe; ``acquire`` sleeps until the next request may go. None: no limit.
    """

    def __init__(self, per_minute: float | None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for this request's turn."""
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class RegisterClient:
    """A JSON HTTP client for one register.

    Args:
        base_url: the register's base URL; request paths are appended to it.
        token: the bearer token, or None.
        timeout: seconds to connect and, separately, to wait for the answer.
        rate_per_minute: client-side request limit (None: none).
        session: a ``requests.Session`` (one is made when None).
    """

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 10.0,
                 rate_per_minute: float | None = None,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = RateLimiter(rate_per_minute)
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "Content-Type": "application/json",
                                     "User-Agent": USER_AGENT})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close the connections."""
        self.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, headers: Mapping[str, str] | None = None,
                ok: tuple[int, ...] = (200, 201, 204, 304)) -> requests.Response:
        """Send one request and return the answer when its status is one of ``ok``.

        Raises:
            RegisterUnavailable: no answer (refused, reset, timeout), 5xx, 408 or 429.
            RegisterError: any other status.
        """
        self.limiter.acquire()
        url = self.base_url + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            answer = self.session.request(method, url, params=params, data=data,
                                          headers=dict(headers or {}),
                                          timeout=(self.timeout, self.timeout))
        except requests.Timeout:
            raise RegisterUnavailable(f"{method} {url}: no answer within {self.timeout:g} s"
                                      ) from None
        except requests.RequestException as exc:
            raise RegisterUnavailable(f"{method} {url}: cannot reach the register "
                                      f"({type(exc).__name__})") from None
        if answer.status_code in ok:
            return answer
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        what = f"{method} {url}: HTTP {answer.status_code}"
        if answer.status_code in (408, 429) or answer.status_code >= 500:
            raise RegisterUnavailable(what, retry_after=retry_after)
        if answer.status_code in (401, 403):
            raise RegisterRefused(f"{what}: the register refused the token"
                                " (check register.token_file)")
        raise RegisterError(f"{what}: {_short(answer.text) or _likely_cause(answer.status_code)}")

    @staticmethod
    def json(answer: requests.Response) -> Any:
        """The answer's JSON body.

        Raises:
            RegisterUnavailable: the body is not JSON (a proxy's error page, a cut answer).
        """
        try:
            return answer.json()
        except ValueError:
            raise RegisterUnavailable(f"{answer.request.method} {answer.url}: answer is not"
                                      f" JSON: {_short(answer.text)}") from None


_CAUSES = {
    400: "the register refused the request as malformed (a register of another kind?"
         " check register.adapter)",
    404: "no such address: register.url is probably wrong (the register's base address,"
         " without the API path), or register.adapter names another kind of register",
    405: "method not allowed there: register.url probably points at another service,"
         " or register.adapter names another kind of register",
    407: "a proxy between the device and the register wants credentials",
    410: "the register says this address is gone: check register.url",
}


def _likely_cause(status: int) -> str:
    """What an error status with an empty body most likely means, for a person."""
    return _CAUSES.get(status, "an empty answer (check register.url and register.adapter)")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
