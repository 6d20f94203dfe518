"""The reference receiver's database: SQLite (embedded, the default) or PostgreSQL (a fleet).

One code path for both: the store writes its SQL once, with ``?`` parameters and
``INSERT ... ON CONFLICT`` upserts, and :class:`Database` runs it on either. What differs
is kept here:

- **SQLite** (``--db PATH`` or ``--db sqlite:///PATH``): WAL mode, ``synchronous=FULL``;
  write transactions are ``BEGIN IMMEDIATE`` and, inside one receiver, taken one at a
  time behind a lock (no busy-waiting between the receiver's own threads).
- **PostgreSQL** (``--db postgresql://USER@HOST:PORT/DBNAME``): psycopg 3 (the
  ``stocktaker[postgres]`` extra), ``READ COMMITTED`` transactions that run side by side;
  the store's upserts and row locks make concurrent writers agree, and a transaction
  PostgreSQL ends as a deadlock or serialization failure is run again
  (:meth:`Database.transient`). The password never appears in the URL: libpq reads
  ``PGPASSWORD`` or ``~/.pgpass``, or ``--db-password-file`` names a file.

Connections come from a small pool (``pool_size``), one per request in flight.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["BadDatabase", "Connection", "Database", "DatabaseUnavailable", "open_database"]

DEFAULT_POOL_SIZE = 8
"""Connections a receiver keeps open at most (PostgreSQL allows 100 by default)."""


class BadDatabase(ValueError):
    """The database named cannot be used (the message names ``--db`` and says why)."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used now (the request may be tried again)."""


class Connection:
    """One database connection, running SQL written with ``?`` parameters."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.dialect = dialect

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        """Run one statement; returns its cursor (``fetchone``, ``fetchall``, ``rowcount``)."""
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        return self.raw.execute(sql, params)


class Database:
    """A pool of connections to the database ``url`` names; see the module docstring.

    Raises:
        BadDatabase: the URL is not one of the forms above, names a password, the
            PostgreSQL driver is missing, or the database cannot be opened.
    """

    def __init__(self, url: str | Path, *, password: str | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = str(url)
        self.dialect, self._target = _parse(self.url)
        self._password = password
        self._pool: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._size = max(1, pool_size)
        self._slots = threading.BoundedSemaphore(self._size)
        self._all: list[Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._write_lock: Any = (threading.Lock() if self.dialect == "sqlite"
                                 else nullcontext())
        if self.dialect == "postgresql":
            try:
                import psycopg
            except ImportError:
                raise BadDatabase(f"--db {self.url}: PostgreSQL needs the psycopg driver:"
                                  " pip install 'stocktaker[postgres]'") from None
            self._driver_errors: tuple[type[BaseException], ...] = (psycopg.Error,)
            self._transient: tuple[type[BaseException], ...] = (
                psycopg.errors.DeadlockDetected,
                               psycopg.errors.SerializationFailure)
            self._unavailable: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
        else:
            self._driver_errors = (sqlite3.Error,)
            self._transient = ()
            self._unavailable = (sqlite3.OperationalError,)
        # The first connection proves the database can be used at all.
        try:
            with self.connection():
                pass
        except DatabaseUnavailable as exc:
            raise BadDatabase(f"--db {self.url}: cannot use it as the receiver's database:"
                              f" {exc}") from None

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exception classes (sqlite3.Error or psycopg.Error)."""
        return self._driver_errors

    @property
    def unavailable(self) -> tuple[type[BaseException], ...]:
        """Failures that mean "not now" (the server gone, a file locked): try again later."""
        return (DatabaseUnavailable, *self._unavailable)

    def transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` ended a transaction that should simply be run again."""
        return isinstance(exc, self._transient)

    def _connect(self) -> Connection:
        if self.dialect == "sqlite":
            raw = sqlite3.connect(self._target, isolation_level=None,
                                  check_same_thread=False, timeout=30.0)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
            return Connection(raw, self.dialect)
        import psycopg

        extra: dict[str, Any] = {} if self._password is None else {"password": self._password}
        server = psycopg.connect(self._target, autocommit=True, connect_timeout=10, **extra)
        return Connection(server, self.dialect)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection from the pool (made when none is free, up to ``pool_size``).

        Raises:
            DatabaseUnavailable: the database cannot be connected to, or the pool is closed.
        """
        if self._closed:
            raise DatabaseUnavailable("the receiver's database is closed")
        self._slots.acquire()
        try:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                try:
                    conn = self._connect()
                except self._driver_errors as exc:
                    raise DatabaseUnavailable(str(exc).strip() or type(exc).__name__) from None
                with self._all_lock:
                    self._all.append(conn)
            healthy = False
            try:
                yield conn
                healthy = True
            finally:
                if healthy or not self._broken(conn):
                    self._pool.put(conn)
                else:
                    self._discard(conn)
        finally:
            self._slots.release()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a write transaction: committed when the block ends,
        rolled back when it raises."""
        with self._write_lock, self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            try:
                yield conn
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except self._driver_errors:
                    pass
                raise
            conn.execute("COMMIT")

    def _broken(self, conn: Connection) -> bool:
        if self.dialect == "sqlite":
            return False
        return bool(conn.raw.closed or conn.raw.broken)

    def _discard(self, conn: Connection) -> None:
        with self._all_lock:
            if conn in self._all:
                self._all.remove(conn)
        try:
            conn.raw.close()
        except self._driver_errors:
            pass

    def schema_version(self, conn: Connection) -> int:
        """The schema version the database holds (0: none yet)."""
        if self.dialect == "sqlite":
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute("CREATE TABLE IF NOT EXISTS receiver_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM receiver_schema").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, conn: Connection, version: int) -> None:
        """Record ``version`` as the database's schema version."""
        if self.dialect == "sqlite":
            conn.execute(f"PRAGMA user_version={int(version)}")
            return
        conn.execute("DELETE FROM receiver_schema")
        conn.execute("INSERT INTO receiver_schema (version) VALUES (?)", (int(version),))

    def close(self) -> None:
        """Close every connection (wait for the requests using them first)."""
        self._closed = True
        taken = 0
        for _ in range(self._size):  # every request in flight ends first (30 s at most)
            if self._slots.acquire(timeout=30.0):
                taken += 1
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.raw.close()
            except self._driver_errors:
                pass
        for _ in range(taken):
            self._slots.release()


def _parse(url: str) -> tuple[str, str]:
    """The dialect and what its driver connects to.

    ``sqlite:///PATH`` (``sqlite:////abs/path`` for an absolute one, as SQLAlchemy spells
    it) or a plain path is SQLite; ``postgresql://`` (or ``postgres://``) is PostgreSQL.
    """
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise BadDatabase(f"--db {url}: write sqlite:///relative/path.db or"
                              " sqlite:////absolute/path.db")
        return "sqlite", url[len("sqlite:///"):]
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        if parts.password is not None:
            raise BadDatabase("--db: the URL holds a password; give it in PGPASSWORD,"
                              " ~/.pgpass or --db-password-file instead (a command line is"
                              " visible to every user of the machine)")
        return "postgresql", url
    if "://" in url:
        raise BadDatabase(f"--db {url.split('://')[0]}://...: unknown database"
                          " (known: a path, sqlite:///PATH, postgresql://USER@HOST:PORT/DB)")
    return "sqlite", url


def open_database(url: str | Path, *, password_file: Path | None = None,
                  pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    """The database ``url`` names, its password (PostgreSQL) read from ``password_file``.

    Raises:
        BadDatabase: see :class:`Database`; or the password file cannot be read.
    """
    password = None
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadDatabase(f"--db-password-file {password_file}: cannot read it:"
                              f" {getattr(exc, 'strerror', None) or exc}") from None
    return Database(url, password=password, pool_size=pool_size)
