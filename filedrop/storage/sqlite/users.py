"""Users and their quota counters, and their API keys."""

from __future__ import annotations

from typing import Any

from ..metadata import (
    KeyRecord,
    UserRecord,
    field_names,
)
from .connection import SqliteDatabase, from_millis, to_millis

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


_KEY_COLUMNS = field_names(KeyRecord)
_KEY_SELECT = f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys"


def _key(row: tuple[Any, ...]) -> KeyRecord:
    values = dict(zip(_KEY_COLUMNS, row, strict=True))
    values["created_at"] = from_millis(values["created_at"])
    values["read_only"] = bool(values["read_only"])
    return KeyRecord(**values)


def _user(row: tuple[Any, ...]) -> UserRecord:
    values = dict(zip(_USER_COLUMNS, row, strict=True))
    values["created_at"] = from_millis(values["created_at"])
    return UserRecord(**values)


class SqliteUsers(SqliteDatabase):
    # -- users and their quota counters ------------------------------------------------

    def create_user(self, user: UserRecord) -> None:
        values = [getattr(user, column) for column in _USER_COLUMNS]
        values[_USER_COLUMNS.index("created_at")] = to_millis(user.created_at)
        self._insert("store a user", "users", _USER_COLUMNS, values)

    def get_user(self, user_id: str) -> UserRecord | None:
        rows = self._read("read a user", f"{_USER_SELECT} WHERE user_id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def find_by_key_hash(self, key_hash: str) -> UserRecord | None:
        rows = self._read("read a user", f"{_USER_SELECT} WHERE key_hash = ?", (key_hash,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
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

    # -- API keys ----------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        values = [getattr(key, column) for column in _KEY_COLUMNS]
        values[_KEY_COLUMNS.index("created_at")] = to_millis(key.created_at)
        values[_KEY_COLUMNS.index("read_only")] = int(key.read_only)
        self._insert("store a key", "api_keys", _KEY_COLUMNS, values)

    def find_key_by_hash(self, key_hash: str) -> KeyRecord | None:
        rows = self._read("look up a key", f"{_KEY_SELECT} WHERE key_hash = ?", (key_hash,))
        return _key(rows[0]) if rows else None

    def find_key_by_access_key(self, access_key_id: str) -> KeyRecord | None:
        sql = f"{_KEY_SELECT} WHERE access_key_id = ?"
        rows = self._read("look up a key", sql, (access_key_id,))
        return _key(rows[0]) if rows else None

    def list_keys(self, owner: str) -> list[KeyRecord]:
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
