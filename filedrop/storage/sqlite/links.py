"""Share links and their download claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..metadata import (
    LinkRecord,
    field_names,
)
from .connection import SqliteDatabase, from_millis, to_millis

_LINK_COLUMNS = field_names(LinkRecord)
_LINK_SELECT = f"SELECT {', '.join(_LINK_COLUMNS)} FROM links"
_LINK_DATETIMES = ("created_at", "expires_at", "revoked_at")


def _link(row: tuple[Any, ...]) -> LinkRecord:
    values = dict(zip(_LINK_COLUMNS, row, strict=True))
    for column in _LINK_DATETIMES:
        if values[column] is not None:
            values[column] = from_millis(values[column])
    return LinkRecord(**values)


class SqliteLinks(SqliteDatabase):
    def insert_link(self, link: LinkRecord) -> None:
        values = [getattr(link, column) for column in _LINK_COLUMNS]
        for column in _LINK_DATETIMES:
            index = _LINK_COLUMNS.index(column)
            values[index] = None if values[index] is None else to_millis(values[index])
        self._insert("store a link", "links", _LINK_COLUMNS, values)

    def get_link(self, token_hash: str) -> LinkRecord | None:
        rows = self._read("read a link", f"{_LINK_SELECT} WHERE token_hash = ?", (token_hash,))
        return _link(rows[0]) if rows else None

    def find_link(self, owner: str, link_id: str) -> LinkRecord | None:
        sql = f"{_LINK_SELECT} WHERE owner = ? AND link_id = ?"
        rows = self._read("read a link", sql, (owner, link_id))
        return _link(rows[0]) if rows else None

    def list_links(self, owner: str, file_id: str) -> list[LinkRecord]:
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

    def scan_links(self, after: str, limit: int) -> list[LinkRecord]:
        sql = f"{_LINK_SELECT} WHERE token_hash > ? ORDER BY token_hash LIMIT ?"
        return [_link(row) for row in self._read("scan links", sql, (after, limit))]

    def delete_link(self, token_hash: str) -> None:
        with self._write("delete a link") as conn:
            conn.execute("DELETE FROM links WHERE token_hash = ?", (token_hash,))
