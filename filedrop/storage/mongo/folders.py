"""Recorded (possibly empty) folders."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from .connection import _ROOT, MongoDatabase, _live_query, _mongo_errors


class MongoFolders(MongoDatabase):
    def create_folder(self, owner: str, path: str, at: datetime) -> bool:
        doc = {"_id": f"{owner}:{path}", "owner": owner, "path": path, "created_at": at}
        with _mongo_errors("create a folder"):
            try:
                self._folders.insert_one(doc)
            except DuplicateKeyError:
                return False
        return True

    def folder_recorded(self, owner: str, path: str) -> bool:
        with _mongo_errors("read a folder"):
            return self._folders.find_one({"_id": f"{owner}:{path}"}, {"_id": 1}) is not None

    def delete_folders(self, owner: str, path: str, recursive: bool) -> int:
        with _mongo_errors("delete folders"):
            if not recursive:
                return self._folders.delete_one({"_id": f"{owner}:{path}"}).deleted_count
            query: dict[str, Any] = {"owner": owner}
            if path != _ROOT:
                query["$or"] = [{"path": path}, {"path": {"$regex": "^" + re.escape(path + "/")}}]
            return self._folders.delete_many(query).deleted_count

    def folders_beneath(self, owner: str, folder: str, live_at: datetime) -> set[str]:
        # "^/." for the root: every folder but the root itself.
        pattern = "^/." if folder == _ROOT else "^" + re.escape(folder + "/")
        files_query = {"owner": owner, "folder": {"$regex": pattern}, **_live_query(live_at)}
        with _mongo_errors("list folders"):
            paths = {str(p) for p in self._files.distinct("folder", files_query) if p}
            recorded = self._folders.find(
                {"owner": owner, "path": {"$regex": pattern}}, {"path": 1}
            )
            paths.update(str(doc["path"]) for doc in recorded)
        return paths
