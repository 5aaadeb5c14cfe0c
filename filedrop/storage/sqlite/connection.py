"""The SQLite metadata store's base: its connections, transactions and shared helpers.

Several gunicorn workers (processes) and threads may share the file, so:
WAL journal (readers never block the writer), a busy timeout instead of
immediate "database is locked", one connection per thread and per process
(never carried across a fork), and ``BEGIN IMMEDIATE`` for every write, so a
read-modify-write takes the write lock before it reads and concurrent
writers queue instead of deadlocking. Datetimes are stored as integer epoch
milliseconds (UTC): exact round trips, and they sort as they should.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ...errors import DatabaseUnavailable
from .schema import migrate

log = logging.getLogger("filedrop.sqlite")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SCAN_PAGE = 500


_MAX_IDLE = 16  # connections a process keeps open between requests


def to_millis(moment: datetime) -> int:
    """Epoch milliseconds, computed exactly (no float rounding); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def from_millis(millis: int) -> datetime:
    return _EPOCH + millis * _MS


def _live(live_at: datetime | None) -> tuple[str, list[Any]]:
    if live_at is None:
        return "", []
    return " AND (expires_at IS NULL OR expires_at > ?)", [to_millis(live_at)]


@contextmanager
def _sqlite_errors(action: str) -> Iterator[None]:
    """A locked, full, unreadable or unopenable database can't serve: DatabaseUnavailable.

    Misuse of the API (ProgrammingError, InterfaceError) is a bug and stays one.
    """
    try:
        yield
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise
    except sqlite3.Error as exc:
        log.warning("SQLite %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database failed to {action}") from exc
    except OSError as exc:  # creating the database's directory
        log.warning("SQLite %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database is unreachable ({action})") from exc


class SqliteDatabase:
    """The database file, its connection pool and transactions; each aggregate's
    mixin builds on these."""

    name = "sqlite"

    def __init__(self, path: Path | str, timeout_s: float = 10.0) -> None:
        self.path = Path(path).absolute()
        self._timeout_s = timeout_s
        # Idle connections, each used by one caller at a time. A pool, not a
        # threading.local: under gevent that is per greenlet, so every request
        # would open (and at its end close) a connection of its own.
        self._idle: list[sqlite3.Connection] = []
        self._idle_pid = os.getpid()
        self._pool_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._hits = itertools.count(1)

    def describe(self) -> str:
        return f"sqlite database {self.path}"

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process's for the length of the block, opened if
        none is idle, kept for the next caller afterwards."""
        conn = self._take_idle()
        if conn is None:
            conn = self._connect()
        try:
            if not self._schema_ready:
                with self._schema_lock:
                    if not self._schema_ready:
                        self._create_schema(conn)
                        self._schema_ready = True
            yield conn
        finally:
            self._give_back(conn)

    def _take_idle(self) -> sqlite3.Connection | None:
        with self._pool_lock:
            if self._idle_pid != os.getpid():
                # Connections inherited across a fork belong to the parent: leave them unclosed.
                self._idle, self._idle_pid = [], os.getpid()
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if self._idle_pid == os.getpid() and len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
        # check_same_thread=False: a pooled connection moves between threads, never
        # used by two at once.
        conn = sqlite3.connect(
            self.path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
            self._use_wal(conn)
            # FULL: a commit is on disk before we answer, like the blob it points to.
            conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Put the database in WAL mode, once for its life (the mode is stored in it).

        Switching needs the database to itself, and SQLite does not wait for that:
        with other connections busy it fails at once with "database is locked"
        (seen when several first requests, or two workers starting, met a new
        database). So ask first, and retry the switch until the busy timeout."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                for sql in ("PRAGMA journal_mode", "PRAGMA journal_mode = WAL"):
                    (mode,) = conn.execute(sql).fetchone()
                    if str(mode).lower() == "wal":
                        return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("could not switch to WAL: database is locked")
            time.sleep(0.01)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            migrate(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self, action: str, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its first statement.

        ``synced=False`` for bookkeeping (download and request counts): its commit skips
        the fsync, so a power cut (not a crash of the process) may lose the last few.
        The next synced commit makes them durable too: the WAL is synced as a whole."""
        with _sqlite_errors(action), self._conn() as conn:
            if not synced:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back (disk full, I/O)
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if not synced:
                    conn.execute("PRAGMA synchronous = FULL")

    def _insert(
        self, action: str, table: str, columns: Sequence[str], values: Sequence[Any]
    ) -> None:
        """One row into ``table``: ``values`` in the order of ``columns``."""
        placeholders = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        with self._write(action) as conn:
            conn.execute(sql, values)

    def _read(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with _sqlite_errors(action), self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the idle connections (tests; the next call reopens)."""
        with self._pool_lock:
            idle, self._idle = self._idle, []
            ours = self._idle_pid == os.getpid()
        for conn in idle if ours else []:
            conn.close()

    def ensure_indexes(self) -> None:
        with _sqlite_errors("create the schema"), self._conn():
            pass  # the first connection creates the schema

    def check(self) -> None:
        self._read("answer a ping", "SELECT count(*) FROM sqlite_master")
