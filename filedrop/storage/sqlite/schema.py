"""The SQLite tables and the numbered MIGRATIONS that bring a database file up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..metadata import name_key

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
