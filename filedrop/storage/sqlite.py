"""Metadata, users and rate-limit counters in one SQLite file, for embedded mode.

Several gunicorn workers (processes) and threads may share the file, so:
WAL journal (readers never block the writer), a busy timeout instead of
immediate "database is locked", one connection per thread and per process
(never carried across a fork), and ``BEGIN IMMEDIATE`` for every write, so a
read-modify-write takes the write lock before it reads and concurrent
writers queue instead of deadlocking. Datetimes are stored as integer epoch
milliseconds (UTC): exact round trips, and they sort as they should.
"""

from __future__ import annotations

import builtins
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import DatabaseUnavailable
from .metadata import (
    FILE_CHANGEABLE_FIELDS,
    NEWEST_FIRST,
    UPLOAD_PROGRESS_FIELDS,
    FileRecord,
    KeyRecord,
    LinkRecord,
    ListCursor,
    ListOrder,
    MultipartRecord,
    PartRecord,
    UploadRecord,
    UserRecord,
    field_names,
    name_key,
    refuse_unknown,
)

log = logging.getLogger("filedrop.sqlite")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SCAN_PAGE = 500
_PRUNE_EVERY = 256  # rate-limit hits between sweeps of expired windows
_MAX_IDLE = 16  # connections a process keeps open between requests

_FILE_COLUMNS = field_names(FileRecord)
_FILE_SELECT = f"SELECT {', '.join(_FILE_COLUMNS)} FROM files"
_USER_COLUMNS = (
    "user_id",
    "name",
    "key_hash",
    "quota_bytes",
    "bytes_used",
    "file_count",
    "created_at",
)
_USER_SELECT = f"SELECT {', '.join(_USER_COLUMNS)} FROM users"
_DATETIME_COLUMNS = {"created_at", "updated_at", "expires_at", "last_accessed_at"}

_BASE_TABLES = """
CREATE TABLE IF NOT EXISTS files (
    file_id    TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    file_size  INTEGER NOT NULL,
    file_type  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    blob_key   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_owner_newest_first
    ON files (owner, created_at DESC, file_id DESC);
CREATE INDEX IF NOT EXISTS files_owner_name ON files (owner, file_name);
CREATE TABLE IF NOT EXISTS users (
    user_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    quota_bytes INTEGER NOT NULL,
    bytes_used  INTEGER NOT NULL,
    file_count  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_limits (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_limits_window_end ON rate_limits (window_end);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id    TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    length       INTEGER NOT NULL,
    offset       INTEGER NOT NULL,
    metadata     TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    file_type    TEXT,
    folder       TEXT,
    file_id      TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    multipart_id TEXT NOT NULL,
    part_size    INTEGER NOT NULL,
    parts        TEXT NOT NULL,
    staged       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    completed_at INTEGER,
    lock         TEXT,
    lock_until   INTEGER
);
CREATE INDEX IF NOT EXISTS uploads_expires_at ON uploads (expires_at);
"""


_UPLOAD_COLUMNS = field_names(UploadRecord)
_UPLOAD_SELECT = f"SELECT {', '.join(_UPLOAD_COLUMNS)} FROM uploads"
_UPLOAD_DATETIMES = {"created_at", "expires_at", "completed_at", "lock_until"}


def _upload_column(name: str, value: Any) -> Any:
    """A field of UploadRecord as its column stores it."""
    if name in ("parts", "staged"):
        return json.dumps([list(pair) for pair in value], separators=(",", ":"))
    if name in _UPLOAD_DATETIMES and value is not None:
        return to_millis(value)
    return value


def _upload(row: tuple[Any, ...]) -> UploadRecord:
    values = dict(zip(_UPLOAD_COLUMNS, row, strict=True))
    values["parts"] = tuple((int(n), str(etag)) for n, etag in json.loads(values["parts"]))
    values["staged"] = tuple((str(key), int(size)) for key, size in json.loads(values["staged"]))
    for name in _UPLOAD_DATETIMES:
        if values[name] is not None:
            values[name] = from_millis(values[name])
    return UploadRecord(**values)


def to_millis(moment: datetime) -> int:
    """Epoch milliseconds, computed exactly (no float rounding); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def from_millis(millis: int) -> datetime:
    return _EPOCH + millis * _MS


def _record(row: tuple[Any, ...]) -> FileRecord:
    values = dict(zip(_FILE_COLUMNS, row, strict=True))
    for column in _DATETIME_COLUMNS:
        if values[column] is not None:
            values[column] = from_millis(values[column])
    return FileRecord(**values)


def _stored(column: str, value: Any) -> Any:
    """A FileRecord or LinkRecord field as its column keeps it."""
    if column in _DATETIME_COLUMNS and value is not None:
        return to_millis(value)
    return value


# Columns added to ``files`` with folders, expiry and download counts.
_ADDED_FILE_COLUMNS = (
    ("folder", "TEXT NOT NULL DEFAULT '/'"),
    ("expires_at", "INTEGER"),
    ("last_accessed_at", "INTEGER"),
    ("download_count", "INTEGER NOT NULL DEFAULT 0"),
)
_FOLDERS_AND_LINKS = """
CREATE INDEX IF NOT EXISTS files_owner_folder_newest_first
    ON files (owner, folder, created_at DESC, file_id DESC);
CREATE INDEX IF NOT EXISTS files_expires_at ON files (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS folders (
    owner      TEXT NOT NULL,
    path       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    token_hash    TEXT PRIMARY KEY,
    link_id       TEXT NOT NULL,
    owner         TEXT NOT NULL,
    file_id       TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    max_downloads INTEGER,
    downloads     INTEGER NOT NULL,
    password_hash TEXT,
    revoked_at    INTEGER
);
CREATE INDEX IF NOT EXISTS links_owner_file ON links (owner, file_id, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS links_owner_link_id ON links (owner, link_id);
"""
# The S3-compatible API: each content's MD5 (its S3 ETag), keys of their own with an
# S3 pair, and multipart uploads with their parts.
_KEYS_AND_MULTIPART = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    access_key_id TEXT NOT NULL UNIQUE,
    secret_sealed TEXT NOT NULL,
    bucket        TEXT,
    read_only     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys (owner, created_at);
CREATE TABLE IF NOT EXISTS s3_multiparts (
    upload_id    TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    key          TEXT NOT NULL,
    folder       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    file_type    TEXT,
    file_id      TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    multipart_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS s3_multiparts_owner ON s3_multiparts (owner, created_at);
CREATE TABLE IF NOT EXISTS s3_parts (
    upload_id   TEXT NOT NULL,
    number      INTEGER NOT NULL,
    md5         TEXT NOT NULL,
    blob_etag   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, number)
) WITHOUT ROWID;
"""
_MULTIPART_COLUMNS = field_names(MultipartRecord)
_PART_COLUMNS = field_names(PartRecord)


def _multipart(row: tuple[Any, ...]) -> MultipartRecord:
    values = dict(zip(_MULTIPART_COLUMNS, row, strict=True))
    values["created_at"] = from_millis(values["created_at"])
    return MultipartRecord(**values)


def _part(row: tuple[Any, ...]) -> PartRecord:
    values = dict(zip(_PART_COLUMNS, row, strict=True))
    values["uploaded_at"] = from_millis(values["uploaded_at"])
    return PartRecord(**values)


_KEY_COLUMNS = field_names(KeyRecord)
_KEY_SELECT = f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys"


def _key(row: tuple[Any, ...]) -> KeyRecord:
    values = dict(zip(_KEY_COLUMNS, row, strict=True))
    values["created_at"] = from_millis(values["created_at"])
    values["read_only"] = bool(values["read_only"])
    return KeyRecord(**values)


_LINK_COLUMNS = field_names(LinkRecord)
_LINK_SELECT = f"SELECT {', '.join(_LINK_COLUMNS)} FROM links"
_LINK_DATETIMES = ("created_at", "expires_at", "revoked_at")


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    # One statement at a time: executescript() would COMMIT the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _create_base_tables(conn: sqlite3.Connection) -> None:
    """Files, users, rate-limit windows and resumable uploads, as first released."""
    _execute_script(conn, _BASE_TABLES)


def _add_md5_keys_and_multipart(conn: sqlite3.Connection) -> None:
    """The MD5 column on files; the API keys and S3 multipart tables."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
    if "md5_etag" not in present:
        conn.execute("ALTER TABLE files ADD COLUMN md5_etag TEXT")
    _execute_script(conn, _KEYS_AND_MULTIPART)


def _add_folders_expiry_and_links(conn: sqlite3.Connection) -> None:
    """Folder, expiry and download-count columns on files; the folders and links tables."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
    for column, declaration in _ADDED_FILE_COLUMNS:
        if column not in present:
            conn.execute(f"ALTER TABLE files ADD COLUMN {column} {declaration}")
    _execute_script(conn, _FOLDERS_AND_LINKS)


# A name_key column (what name order sorts by, see name_key) and an index per order a
# folder listing can take.
_SORT_INDEXES = """
CREATE INDEX IF NOT EXISTS files_owner_folder_by_name
    ON files (owner, folder, name_key, file_id);
CREATE INDEX IF NOT EXISTS files_owner_folder_by_size
    ON files (owner, folder, file_size, file_id);
"""


def _add_name_key_and_sort_indexes(conn: sqlite3.Connection) -> None:
    """The name_key column, filled in for the files already stored; the sort indexes."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
    if "name_key" not in present:
        conn.execute("ALTER TABLE files ADD COLUMN name_key TEXT NOT NULL DEFAULT ''")
    # Python's casefold, as on insert: SQLite's lower() folds ASCII only.
    conn.create_function("name_key", 1, name_key, deterministic=True)
    conn.execute("UPDATE files SET name_key = name_key(file_name)")
    _execute_script(conn, _SORT_INDEXES)


# The schema's history: each step brings a database from the version before it to its
# own, in order, and the version reached is kept in the file (PRAGMA user_version).
# Files from before numbered migrations say 0 whatever they hold, so every step
# tolerates finding its work done (IF NOT EXISTS, columns added only if missing).
# Append new steps; never change one that has shipped.
MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = (
    (1, _create_base_tables),
    (2, _add_folders_expiry_and_links),
    (3, _add_md5_keys_and_multipart),
    (4, _add_name_key_and_sort_indexes),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the steps this database has not had, inside the caller's transaction;
    return the version it started at."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    for number, step in MIGRATIONS:
        if number > version:
            step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
    return int(version)


def _link(row: tuple[Any, ...]) -> LinkRecord:
    values = dict(zip(_LINK_COLUMNS, row, strict=True))
    for column in _LINK_DATETIMES:
        if values[column] is not None:
            values[column] = from_millis(values[column])
    return LinkRecord(**values)


def _live(live_at: datetime | None) -> tuple[str, list[Any]]:
    if live_at is None:
        return "", []
    return " AND (expires_at IS NULL OR expires_at > ?)", [to_millis(live_at)]


def _user(row: tuple[Any, ...]) -> UserRecord:
    values = dict(zip(_USER_COLUMNS, row, strict=True))
    values["created_at"] = from_millis(values["created_at"])
    return UserRecord(**values)


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


class SqliteMetadataStore:
    """File records, users and rate-limit windows in one SQLite database file."""

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

    # -- connections and transactions -----------------------------------------

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

    # -- FileStore ----------------------------------------------------------

    def insert(self, record: FileRecord) -> None:
        values = [_stored(column, getattr(record, column)) for column in _FILE_COLUMNS]
        values.append(name_key(record.file_name))
        columns = (*_FILE_COLUMNS, "name_key")
        placeholders = ", ".join("?" * len(columns))
        with self._write("store file metadata") as conn:
            conn.execute(
                f"INSERT INTO files ({', '.join(columns)}) VALUES ({placeholders})", values
            )

    def get(self, owner: str, file_id: str, counts: bool = True) -> FileRecord | None:
        # counts come with the row here, for free
        sql = f"{_FILE_SELECT} WHERE file_id = ? AND owner = ?"
        rows = self._read("read file metadata", sql, (file_id, owner))
        return _record(rows[0]) if rows else None

    def update(
        self, owner: str, file_id: str, changes: dict[str, Any], if_sha256: str | None = None
    ) -> FileRecord | None:
        refuse_unknown(changes, FILE_CHANGEABLE_FIELDS, "changeable file record")
        columns = {column: _stored(column, value) for column, value in changes.items()}
        if "file_name" in changes:
            columns["name_key"] = name_key(changes["file_name"])
        assignments = ", ".join(f"{column} = ?" for column in columns)
        values = list(columns.values())
        with self._write("update file metadata") as conn:
            before = self._locked_get(conn, owner, file_id, if_sha256)
            if before is not None and changes:
                sql = f"UPDATE files SET {assignments} WHERE file_id = ?"
                conn.execute(sql, (*values, file_id))
        return before

    def delete(self, owner: str, file_id: str, if_sha256: str | None = None) -> FileRecord | None:
        with self._write("delete file metadata") as conn:
            before = self._locked_get(conn, owner, file_id, if_sha256)
            if before is not None:
                conn.execute("DELETE FROM files WHERE file_id = ?", (file_id,))
        return before

    @staticmethod
    def _locked_get(
        conn: sqlite3.Connection, owner: str, file_id: str, if_sha256: str | None
    ) -> FileRecord | None:
        sql = f"{_FILE_SELECT} WHERE file_id = ? AND owner = ?"
        params: tuple[str, ...] = (file_id, owner)
        if if_sha256 is not None:
            sql += " AND sha256 = ?"
            params += (if_sha256,)
        row = conn.execute(sql, params).fetchone()
        return _record(row) if row else None

    def list(
        self,
        owner: str,
        limit: int,
        after: ListCursor | None,
        prefix: str | None,
        *,
        folder: str | None = None,
        recursive: bool = False,
        live_at: datetime | None = None,
        order: ListOrder = NEWEST_FIRST,
    ) -> builtins.list[FileRecord]:
        sql = f"{_FILE_SELECT} WHERE owner = ?"
        params: builtins.list[Any] = [owner]
        if prefix:
            # Literal prefix, in characters: no LIKE wildcards (% and _) to escape.
            sql += " AND substr(file_name, 1, length(?)) = ?"
            params += [prefix, prefix]
        column = order.field
        direction, beyond = ("DESC", "<") if order.descending else ("ASC", ">")
        if after is not None:
            key = to_millis(after.key) if isinstance(after.key, datetime) else after.key
            sql += f" AND ({column} {beyond} ? OR ({column} = ? AND file_id {beyond} ?))"
            params += [key, key, after.file_id]
        if folder is not None and not recursive:
            sql += " AND folder = ?"
            params.append(folder)
        elif folder is not None and folder != "/":
            beneath = folder + "/"
            sql += " AND (folder = ? OR substr(folder, 1, length(?)) = ?)"
            params += [folder, beneath, beneath]
        live, live_params = _live(live_at)
        sql += live
        params += live_params
        sql += f" ORDER BY {column} {direction}, file_id {direction} LIMIT ?"
        params.append(limit)
        return [_record(row) for row in self._read("list files", sql, tuple(params))]

    def iter_all(self) -> Iterator[FileRecord]:
        # Pages by file_id, so no read transaction stays open while the caller works.
        last = ""
        while True:
            rows = self._read(
                "scan file metadata",
                f"{_FILE_SELECT} WHERE file_id > ? ORDER BY file_id LIMIT ?",
                (last, _SCAN_PAGE),
            )
            for row in rows:
                yield _record(row)
            if len(rows) < _SCAN_PAGE:
                return
            last = rows[-1][0]

    def remove(self, file_id: str) -> None:
        with self._write("delete file metadata") as conn:
            conn.execute("DELETE FROM files WHERE file_id = ?", (file_id,))

    def find_named(
        self, owner: str, folder: str, file_name: str, live_at: datetime
    ) -> builtins.list[FileRecord]:
        live, live_params = _live(live_at)
        sql = f"{_FILE_SELECT} WHERE owner = ? AND folder = ? AND file_name = ?{live}"
        rows = self._read("look up a file name", sql, (owner, folder, file_name, *live_params))
        return [_record(row) for row in rows]

    def record_access(self, file_id: str, at: datetime) -> None:
        # SQLite updates are atomic: the counters can live in the file's own row.
        with self._write("count a download", synced=False) as conn:
            conn.execute(
                "UPDATE files SET last_accessed_at = ?, download_count = download_count + 1"
                " WHERE file_id = ?",
                (to_millis(at), file_id),
            )

    def purgeable(
        self, now: datetime, unaccessed_before: datetime | None, after: str, limit: int
    ) -> tuple[builtins.list[FileRecord], str | None]:
        sql = f"{_FILE_SELECT} WHERE file_id > ? AND ((expires_at IS NOT NULL AND expires_at <= ?)"
        params: builtins.list[Any] = [after, to_millis(now)]
        if unaccessed_before is not None:
            sql += " OR max(updated_at, coalesce(last_accessed_at, 0)) < ?"
            params.append(to_millis(unaccessed_before))
        sql += ") ORDER BY file_id LIMIT ?"
        params.append(limit)
        rows = self._read("find files to purge", sql, tuple(params))
        return [_record(row) for row in rows], (rows[-1][0] if len(rows) == limit else None)

    def ensure_indexes(self) -> None:
        with _sqlite_errors("create the schema"), self._conn():
            pass  # the first connection creates the schema

    def check(self) -> None:
        self._read("answer a ping", "SELECT count(*) FROM sqlite_master")

    # -- UserStore --------------------------------------------------------------

    def create_user(self, user: UserRecord) -> None:
        values = [getattr(user, column) for column in _USER_COLUMNS]
        values[_USER_COLUMNS.index("created_at")] = to_millis(user.created_at)
        placeholders = ", ".join("?" * len(_USER_COLUMNS))
        with self._write("store a user") as conn:
            conn.execute(
                f"INSERT INTO users ({', '.join(_USER_COLUMNS)}) VALUES ({placeholders})", values
            )

    def get_user(self, user_id: str) -> UserRecord | None:
        rows = self._read("read a user", f"{_USER_SELECT} WHERE user_id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def find_by_key_hash(self, key_hash: str) -> UserRecord | None:
        rows = self._read("read a user", f"{_USER_SELECT} WHERE key_hash = ?", (key_hash,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> builtins.list[UserRecord]:  # `list` here is the method above
        rows = self._read("list users", f"{_USER_SELECT} ORDER BY created_at, user_id")
        return [_user(row) for row in rows]

    def delete_user(self, user_id: str) -> UserRecord | None:
        with self._write("delete a user") as conn:
            row = conn.execute(f"{_USER_SELECT} WHERE user_id = ?", (user_id,)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
        return _user(row) if row else None

    def set_key_hash(self, user_id: str, key_hash: str) -> bool:
        with self._write("change a user's key") as conn:
            cursor = conn.execute(
                "UPDATE users SET key_hash = ? WHERE user_id = ?", (key_hash, user_id)
            )
        return cursor.rowcount > 0

    def reserve(self, user_id: str, size: int, files: int) -> bool:
        with self._write("reserve quota") as conn:
            cursor = conn.execute(
                "UPDATE users SET bytes_used = bytes_used + ?, file_count = file_count + ?"
                " WHERE user_id = ? AND bytes_used + ? <= quota_bytes",
                (size, files, user_id, size),
            )
            if cursor.rowcount:
                return True
            exists = conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return exists is None  # no such user (auth disabled): no quota to keep

    def release(self, user_id: str, size: int, files: int) -> None:
        with self._write("release quota") as conn:
            conn.execute(
                "UPDATE users SET bytes_used = bytes_used - ?, file_count = file_count - ?"
                " WHERE user_id = ?",
                (size, files, user_id),
            )

    def set_usage(self, user_id: str, bytes_used: int, file_count: int) -> None:
        with self._write("set a user's usage") as conn:
            conn.execute(
                "UPDATE users SET bytes_used = ?, file_count = ? WHERE user_id = ?",
                (bytes_used, file_count, user_id),
            )

    # -- KeyStore ---------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        values = [getattr(key, column) for column in _KEY_COLUMNS]
        values[_KEY_COLUMNS.index("created_at")] = to_millis(key.created_at)
        values[_KEY_COLUMNS.index("read_only")] = int(key.read_only)
        placeholders = ", ".join("?" * len(_KEY_COLUMNS))
        with self._write("store a key") as conn:
            conn.execute(
                f"INSERT INTO api_keys ({', '.join(_KEY_COLUMNS)}) VALUES ({placeholders})", values
            )

    def find_key_by_hash(self, key_hash: str) -> KeyRecord | None:
        rows = self._read("look up a key", f"{_KEY_SELECT} WHERE key_hash = ?", (key_hash,))
        return _key(rows[0]) if rows else None

    def find_key_by_access_key(self, access_key_id: str) -> KeyRecord | None:
        sql = f"{_KEY_SELECT} WHERE access_key_id = ?"
        rows = self._read("look up a key", sql, (access_key_id,))
        return _key(rows[0]) if rows else None

    def list_keys(self, owner: str) -> builtins.list[KeyRecord]:
        sql = f"{_KEY_SELECT} WHERE owner = ? ORDER BY created_at, key_id"
        return [_key(row) for row in self._read("list keys", sql, (owner,))]

    def delete_key(self, owner: str, key_id: str) -> KeyRecord | None:
        with self._write("delete a key") as conn:
            row = conn.execute(
                f"{_KEY_SELECT} WHERE key_id = ? AND owner = ?", (key_id, owner)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(row) if row else None

    def delete_keys(self, owner: str) -> int:
        with self._write("delete keys") as conn:
            return conn.execute("DELETE FROM api_keys WHERE owner = ?", (owner,)).rowcount

    # -- MultipartStore ---------------------------------------------------------------

    def insert_multipart(self, upload: MultipartRecord) -> None:
        values = [getattr(upload, column) for column in _MULTIPART_COLUMNS]
        values[_MULTIPART_COLUMNS.index("created_at")] = to_millis(upload.created_at)
        columns = ", ".join(_MULTIPART_COLUMNS)
        placeholders = ", ".join("?" * len(_MULTIPART_COLUMNS))
        with self._write("store a multipart upload") as conn:
            conn.execute(f"INSERT INTO s3_multiparts ({columns}) VALUES ({placeholders})", values)

    def get_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        sql = f"SELECT {', '.join(_MULTIPART_COLUMNS)} FROM s3_multiparts"
        rows = self._read(
            "read a multipart upload",
            sql + " WHERE upload_id = ? AND owner = ?",
            (upload_id, owner),
        )
        return _multipart(rows[0]) if rows else None

    def list_multiparts(self, owner: str | None) -> builtins.list[MultipartRecord]:
        sql = f"SELECT {', '.join(_MULTIPART_COLUMNS)} FROM s3_multiparts"
        if owner is None:
            rows = self._read("list multipart uploads", sql + " ORDER BY created_at, upload_id")
        else:
            sql += " WHERE owner = ? ORDER BY created_at, upload_id"
            rows = self._read("list multipart uploads", sql, (owner,))
        return [_multipart(row) for row in rows]

    def put_part(self, part: PartRecord) -> None:
        values = [getattr(part, column) for column in _PART_COLUMNS]
        values[_PART_COLUMNS.index("uploaded_at")] = to_millis(part.uploaded_at)
        placeholders = ", ".join("?" * len(_PART_COLUMNS))
        with self._write("store a part") as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO s3_parts ({', '.join(_PART_COLUMNS)})"
                f" VALUES ({placeholders})",
                values,
            )

    def list_parts(self, upload_id: str) -> builtins.list[PartRecord]:
        sql = f"SELECT {', '.join(_PART_COLUMNS)} FROM s3_parts WHERE upload_id = ? ORDER BY number"
        return [_part(row) for row in self._read("list parts", sql, (upload_id,))]

    def delete_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        sql = f"SELECT {', '.join(_MULTIPART_COLUMNS)} FROM s3_multiparts"
        with self._write("delete a multipart upload") as conn:
            row = conn.execute(
                sql + " WHERE upload_id = ? AND owner = ?", (upload_id, owner)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM s3_multiparts WHERE upload_id = ?", (upload_id,))
                conn.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
        return _multipart(row) if row else None

    # -- UploadStore ----------------------------------------------------------------

    def insert_upload(self, upload: UploadRecord) -> None:
        values = [_upload_column(column, getattr(upload, column)) for column in _UPLOAD_COLUMNS]
        placeholders = ", ".join("?" * len(_UPLOAD_COLUMNS))
        with self._write("store an upload") as conn:
            conn.execute(
                f"INSERT INTO uploads ({', '.join(_UPLOAD_COLUMNS)}) VALUES ({placeholders})",
                values,
            )

    def get_upload(self, owner: str, upload_id: str) -> UploadRecord | None:
        sql = f"{_UPLOAD_SELECT} WHERE upload_id = ? AND owner = ?"
        rows = self._read("read an upload", sql, (upload_id, owner))
        return _upload(rows[0]) if rows else None

    def lock_upload(
        self, owner: str, upload_id: str, lock: str, now: datetime, until: datetime
    ) -> UploadRecord | None:
        with self._write("lock an upload") as conn:
            cursor = conn.execute(
                "UPDATE uploads SET lock = ?, lock_until = ?"
                " WHERE upload_id = ? AND owner = ? AND (lock IS NULL OR lock_until < ?)",
                (lock, to_millis(until), upload_id, owner, to_millis(now)),
            )
            if not cursor.rowcount:
                return None
            row = conn.execute(f"{_UPLOAD_SELECT} WHERE upload_id = ?", (upload_id,)).fetchone()
        return _upload(row)

    def renew_upload_lock(self, upload_id: str, lock: str, until: datetime) -> bool:
        with self._write("renew an upload's lock") as conn:
            cursor = conn.execute(
                "UPDATE uploads SET lock_until = ? WHERE upload_id = ? AND lock = ?",
                (to_millis(until), upload_id, lock),
            )
        return cursor.rowcount > 0

    def commit_upload(self, upload_id: str, lock: str, changes: dict[str, Any]) -> bool:
        refuse_unknown(changes, UPLOAD_PROGRESS_FIELDS, "upload progress")
        assignments = "".join(f"{column} = ?, " for column in changes)
        values = [_upload_column(column, value) for column, value in changes.items()]
        with self._write("update an upload") as conn:
            cursor = conn.execute(
                f"UPDATE uploads SET {assignments}lock = NULL, lock_until = NULL"
                " WHERE upload_id = ? AND lock = ?",
                (*values, upload_id, lock),
            )
        return cursor.rowcount > 0

    def delete_upload(self, upload_id: str, lock: str) -> UploadRecord | None:
        with self._write("delete an upload") as conn:
            row = conn.execute(
                f"{_UPLOAD_SELECT} WHERE upload_id = ? AND lock = ?", (upload_id, lock)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        return _upload(row) if row else None

    def iter_uploads(self, expired_before: datetime | None = None) -> Iterator[UploadRecord]:
        # Pages by upload_id, so no read transaction stays open while the caller works.
        last = ""
        where = "" if expired_before is None else " AND expires_at < ?"
        params: tuple[Any, ...] = () if expired_before is None else (to_millis(expired_before),)
        while True:
            rows = self._read(
                "scan uploads",
                f"{_UPLOAD_SELECT} WHERE upload_id > ?{where} ORDER BY upload_id LIMIT ?",
                (last, *params, _SCAN_PAGE),
            )
            for row in rows:
                yield _upload(row)
            if len(rows) < _SCAN_PAGE:
                return
            last = rows[-1][0]

    # -- FolderStore and LinkStore --------------------------------------------------

    def create_folder(self, owner: str, path: str, at: datetime) -> bool:
        with self._write("create a folder") as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO folders (owner, path, created_at) VALUES (?, ?, ?)",
                (owner, path, to_millis(at)),
            )
        return cursor.rowcount > 0

    def folder_recorded(self, owner: str, path: str) -> bool:
        sql = "SELECT 1 FROM folders WHERE owner = ? AND path = ?"
        return bool(self._read("read a folder", sql, (owner, path)))

    def delete_folders(self, owner: str, path: str, recursive: bool) -> int:
        sql, params = "DELETE FROM folders WHERE owner = ?", [owner]
        if not recursive:
            sql += " AND path = ?"
            params.append(path)
        elif path != "/":
            beneath = path + "/"
            sql += " AND (path = ? OR substr(path, 1, length(?)) = ?)"
            params += [path, beneath, beneath]
        with self._write("delete folders") as conn:
            return conn.execute(sql, params).rowcount

    def folders_beneath(self, owner: str, folder: str, live_at: datetime) -> set[str]:
        beneath = "/" if folder == "/" else folder + "/"
        live, live_params = _live(live_at)
        sql = (
            "SELECT DISTINCT folder FROM files WHERE owner = ?"
            f" AND substr(folder, 1, length(?)) = ? AND folder != '/'{live}"
            " UNION SELECT path FROM folders WHERE owner = ? AND substr(path, 1, length(?)) = ?"
        )
        params = (owner, beneath, beneath, *live_params, owner, beneath, beneath)
        return {row[0] for row in self._read("list folders", sql, params)}

    def insert_link(self, link: LinkRecord) -> None:
        values = [getattr(link, column) for column in _LINK_COLUMNS]
        for column in _LINK_DATETIMES:
            index = _LINK_COLUMNS.index(column)
            values[index] = None if values[index] is None else to_millis(values[index])
        placeholders = ", ".join("?" * len(_LINK_COLUMNS))
        with self._write("store a link") as conn:
            conn.execute(
                f"INSERT INTO links ({', '.join(_LINK_COLUMNS)}) VALUES ({placeholders})", values
            )

    def get_link(self, token_hash: str) -> LinkRecord | None:
        rows = self._read("read a link", f"{_LINK_SELECT} WHERE token_hash = ?", (token_hash,))
        return _link(rows[0]) if rows else None

    def find_link(self, owner: str, link_id: str) -> LinkRecord | None:
        sql = f"{_LINK_SELECT} WHERE owner = ? AND link_id = ?"
        rows = self._read("read a link", sql, (owner, link_id))
        return _link(rows[0]) if rows else None

    def list_links(self, owner: str, file_id: str) -> builtins.list[LinkRecord]:
        sql = (
            f"{_LINK_SELECT} WHERE owner = ? AND file_id = ?"
            " ORDER BY created_at DESC, token_hash DESC"
        )
        return [_link(row) for row in self._read("list links", sql, (owner, file_id))]

    def claim_download(self, link: LinkRecord, now: datetime) -> bool:
        # The guard and the count are one statement under the write lock: exact.
        with self._write("count a download") as conn:
            cursor = conn.execute(
                "UPDATE links SET downloads = downloads + 1 WHERE token_hash = ?"
                " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
                " AND (max_downloads IS NULL OR downloads < max_downloads)",
                (link.token_hash, to_millis(now)),
            )
        return cursor.rowcount > 0

    def revoke_link(self, owner: str, token_hash: str, at: datetime) -> LinkRecord | None:
        with self._write("revoke a link") as conn:
            conn.execute(
                "UPDATE links SET revoked_at = coalesce(revoked_at, ?)"
                " WHERE token_hash = ? AND owner = ?",
                (to_millis(at), token_hash, owner),
            )
            row = conn.execute(
                f"{_LINK_SELECT} WHERE token_hash = ? AND owner = ?", (token_hash, owner)
            ).fetchone()
        return _link(row) if row else None

    def scan_links(self, after: str, limit: int) -> builtins.list[LinkRecord]:
        sql = f"{_LINK_SELECT} WHERE token_hash > ? ORDER BY token_hash LIMIT ?"
        return [_link(row) for row in self._read("scan links", sql, (after, limit))]

    def delete_link(self, token_hash: str) -> None:
        with self._write("delete a link") as conn:
            conn.execute("DELETE FROM links WHERE token_hash = ?", (token_hash,))

    # -- RateLimitStore -----------------------------------------------------------

    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        with self._write("count a request", synced=False) as conn:
            conn.execute(
                "INSERT INTO rate_limits (bucket, window_start, window_end, hits)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + excluded.hits",
                (bucket, window_start, window_start + window_s, n),
            )
            (count,) = conn.execute(
                "SELECT hits FROM rate_limits WHERE bucket = ? AND window_start = ?",
                (bucket, window_start),
            ).fetchone()
            if next(self._hits) % _PRUNE_EVERY == 0:
                conn.execute("DELETE FROM rate_limits WHERE window_end < ?", (int(time.time()),))
        return int(count)
