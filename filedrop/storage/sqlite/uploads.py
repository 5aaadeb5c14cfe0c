"""Unfinished uploads: resumable (tus) uploads and S3 multipart uploads with their parts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..metadata import (
    UPLOAD_PROGRESS_FIELDS,
    MultipartRecord,
    PartRecord,
    UploadRecord,
    field_names,
    refuse_unknown,
)
from .connection import _SCAN_PAGE, SqliteDatabase, from_millis, to_millis

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


class SqliteUploads(SqliteDatabase):
    # -- S3 multipart uploads ----------------------------------------------------------

    def insert_multipart(self, upload: MultipartRecord) -> None:
        values = [getattr(upload, column) for column in _MULTIPART_COLUMNS]
        values[_MULTIPART_COLUMNS.index("created_at")] = to_millis(upload.created_at)
        self._insert("store a multipart upload", "s3_multiparts", _MULTIPART_COLUMNS, values)

    def get_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        sql = f"SELECT {', '.join(_MULTIPART_COLUMNS)} FROM s3_multiparts"
        rows = self._read(
            "read a multipart upload",
            sql + " WHERE upload_id = ? AND owner = ?",
            (upload_id, owner),
        )
        return _multipart(rows[0]) if rows else None

    def list_multiparts(self, owner: str | None) -> list[MultipartRecord]:
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

    def list_parts(self, upload_id: str) -> list[PartRecord]:
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

    # -- resumable (tus) uploads -------------------------------------------------------

    def insert_upload(self, upload: UploadRecord) -> None:
        values = [_upload_column(column, getattr(upload, column)) for column in _UPLOAD_COLUMNS]
        self._insert("store an upload", "uploads", _UPLOAD_COLUMNS, values)

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
