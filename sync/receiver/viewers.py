"""Who may look at the receiver's dashboard: the viewers file and HTTP Basic checks.

The file (``register-server --viewers FILE``, made by ``stocktaker register-viewer``) has
one line per viewer, ``NAME:pbkdf2_sha256$ITERATIONS$SALT$HASH`` (salt and hash in hex);
blank lines and ``#`` comments are skipped. It holds no password, only salted hashes, and
is read again when it changes. Viewer credentials open only the dashboard; the devices'
bearer token opens only the device API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from hal.errors import ConfigError
from sync.receiver.manifest import file_stamp

__all__ = ["ITERATIONS", "ViewerFile", "add_viewer", "hash_password"]

ITERATIONS = 200_000
"""PBKDF2-HMAC-SHA256 rounds of a new viewer's hash (OWASP's 2023 floor is 600,000 for
SHA-256; a Raspberry Pi would take over a second a check, so a passed check is remembered
for the running server, see :meth:`ViewerFile.check`)."""

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_LINE = re.compile(r"(?P<name>[^:]+):pbkdf2_sha256\$(?P<rounds>\d{1,7})\$(?P<salt>[0-9a-f]{16,128})"
                   r"\$(?P<hash>[0-9a-f]{64})")
_MAX_FILE_BYTES = 1 << 20
_MAX_PASSWORD = 1024


def hash_password(password: str, *, salt: bytes | None = None,
                  iterations: int = ITERATIONS) -> str:
    """The stored form of ``password``: ``pbkdf2_sha256$ROUNDS$SALT$HASH``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def _verify(password: bytes, rounds: int, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", password, salt, rounds), expected)


def _parse(path: Path, text: str) -> dict[str, tuple[int, bytes, bytes]]:
    viewers: dict[str, tuple[int, bytes, bytes]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None or not NAME.fullmatch(match["name"]) or int(match["rounds"]) < 1000:
            raise ConfigError(f"--viewers {path}, line {number}: not NAME:pbkdf2_sha256$..."
                              " (make lines with stocktaker register-viewer)")
        if match["name"] in viewers:
            raise ConfigError(f"--viewers {path}, line {number}: {match['name']} is listed twice")
        viewers[match["name"]] = (int(match["rounds"]), bytes.fromhex(match["salt"]),
                                  bytes.fromhex(match["hash"]))
    return viewers


def _read(path: Path) -> dict[str, tuple[int, bytes, bytes]]:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(f"--viewers {path}: writable by others; chmod 600 it")
        raw = path.read_bytes()[: _MAX_FILE_BYTES + 1]
    except FileNotFoundError:
        raise ConfigError(f"--viewers {path}: not found (make it with stocktaker"
                          " register-viewer)") from None
    except OSError as exc:
        raise ConfigError(f"--viewers {path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise ConfigError(f"--viewers {path}: over 1 MiB, not a viewers file")
    try:
        return _parse(path, raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"--viewers {path}: not UTF-8 text") from None


class ViewerFile:
    """The viewers file at ``path``, checked against HTTP Basic credentials.

    Args:
        path: the file.
        log: where a replacement that cannot be read is reported (the last good one stays).

    Raises:
        ConfigError: the file cannot be read, or lists no viewer.
    """

    def __init__(self, path: Path, log: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._log = log or (lambda line: None)
        self._lock = threading.Lock()
        self._stamp = file_stamp(path)
        self._viewers = _read(path)
        if not self._viewers:
            raise ConfigError(f"--viewers {path}: lists no viewer (add one with stocktaker"
                              " register-viewer)")
        self._passed: set[bytes] = set()

    def _refresh(self) -> None:
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._viewers = _read(self.path)
        except ConfigError as exc:
            self._log(f"viewers not reloaded, the previous ones stay: {exc}")
            return
        self._passed.clear()

    def check(self, authorization: str | None) -> str | None:
        """The viewer an ``Authorization: Basic ...`` header names with a right password,
        or None. A header that passed is remembered (as a hash) until the file changes,
        so a page's requests cost one slow hash, not one each."""
        scheme, _, encoded = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip() or len(encoded) > 4 * _MAX_PASSWORD:
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        name_bytes, colon, password = decoded.partition(b":")
        name = name_bytes.decode("utf-8", "replace")
        if not colon:
            return None
        with self._lock:
            self._refresh()
            known = self._viewers.get(name)
            remembered = hashlib.sha256(decoded).digest()
            if known is not None and remembered in self._passed:
                return name
        if known is None:
            # Spend the same time as for a known name: no timing tells which names exist.
            _verify(password, ITERATIONS, b"\0" * 16, b"\0" * 32)
            return None
        if not _verify(password, *known):
            return None
        with self._lock:
            self._passed.add(remembered)
        return name

    def accepts_password(self, password: str) -> str | None:
        """The viewer whose password is ``password``, if any (to refuse the devices' token
        as a viewer's password)."""
        raw = password.encode("utf-8")
        return next((name for name, known in self._viewers.items() if _verify(raw, *known)),
                    None)


def add_viewer(path: Path, name: str, password: str) -> bool:
    """Add viewer ``name`` to the file at ``path`` (made with mode 600 when missing), or
    give them a new password; True when they are new.

    Raises:
        ConfigError: a bad name or password, or the file cannot be read or written.
    """
    if not NAME.fullmatch(name):
        raise ConfigError(f"viewer name {name[:70]!r}: 1 to 64 letters, digits, '.', '_', '@'"
                          " or '-'")
    if len(password) < 8 or len(password) > _MAX_PASSWORD:
        raise ConfigError("a viewer's password is 8 to 1024 characters")
    lines: list[str] = []
    if path.exists():
        _read(path)  # refuse to rewrite a file that is not a viewers file
        lines = path.read_text(encoding="utf-8").splitlines()
    new_line = f"{name}:{hash_password(password)}"
    kept = [line for line in lines if line.strip().partition(":")[0] != name]
    new = len(kept) == len(lines)
    text = "\n".join(kept + [new_line]) + "\n"
    temporary = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return new
