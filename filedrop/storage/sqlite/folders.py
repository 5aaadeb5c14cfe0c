"""Recorded (possibly empty) folders."""

from __future__ import annotations

from datetime import datetime

from .connection import SqliteDatabase, _live, to_millis


class SqliteFolders(SqliteDatabase):
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
