"""File records: insert, read, swap, list, delete and the download bookkeeping."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..metadata import (
    FILE_CHANGEABLE_FIELDS,
    NEWEST_FIRST,
    FileRecord,
    ListCursor,
    ListOrder,
    field_names,
    name_key,
    refuse_unknown,
)
from .connection import _SCAN_PAGE, SqliteDatabase, _live, from_millis, to_millis

_FILE_COLUMNS = field_names(FileRecord)
_FILE_SELECT = f"SELECT {', '.join(_FILE_COLUMNS)} FROM files"


_DATETIME_COLUMNS = {"created_at", "updated_at", "expires_at", "last_accessed_at"}


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


class SqliteFiles(SqliteDatabase):
    def insert(self, record: FileRecord) -> None:
        values = [_stored(column, getattr(record, column)) for column in _FILE_COLUMNS]
        values.append(name_key(record.file_name))
        self._insert("store file metadata", "files", (*_FILE_COLUMNS, "name_key"), values)

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
