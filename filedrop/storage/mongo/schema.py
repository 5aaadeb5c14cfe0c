"""The collections' indexes, created at startup (MongoDB needs no table migrations)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING

from ..metadata import name_key, utcnow
from .connection import MongoDatabase, _mongo_errors


class MongoSchema(MongoDatabase):
    def ensure_indexes(self) -> None:
        with _mongo_errors("create indexes"):
            self._files.create_index(
                [
                    ("owner", ASCENDING),
                    ("folder", ASCENDING),
                    ("created_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="owner_folder_newest_first",
            )
            self._files.create_index("expires_at", name="expires_at")
            self._folders.create_index(
                [("owner", ASCENDING), ("path", ASCENDING)], name="owner_path"
            )
            self._links.create_index(
                [("owner", ASCENDING), ("file_id", ASCENDING), ("created_at", DESCENDING)],
                name="owner_file_newest_first",
            )
            self._links.create_index(
                [("owner", ASCENDING), ("link_id", ASCENDING)], name="owner_link_id"
            )
            self._link_claims.create_index("link", name="link")
            self._uploads.create_index("expires_at", name="expires_at")
            self._users.create_index("key_hash", unique=True, name="key_hash")
            self._keys.create_index("key_hash", unique=True, name="key_hash")
            self._multiparts.create_index([("owner", 1), ("created_at", 1)], name="owner")
            self._parts.create_index([("upload_id", 1), ("number", 1)], name="upload")
            self._keys.create_index("access_key_id", unique=True, name="access_key_id")
            self._keys.create_index([("owner", ASCENDING), ("created_at", ASCENDING)], name="owner")
            self._files.create_index(
                [("owner", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="owner_newest_first",
            )
            self._files.create_index(
                [("owner", ASCENDING), ("file_name", ASCENDING)], name="owner_name"
            )
            for field in ("name_key", "file_size"):
                self._files.create_index(
                    [("owner", 1), ("folder", 1), (field, 1), ("_id", 1)],
                    name=f"owner_folder_by_{field}",
                )
            # Records stored before name order get their sort key, once: no index
            # serves the search for them, so it is not repeated at every start.
            if self._migrations.find_one({"_id": "name_key"}) is None:
                for doc in self._files.find({"name_key": {"$exists": False}}, {"file_name": 1}):
                    key = name_key(doc["file_name"])
                    # Only if not renamed meanwhile (the rename set the key itself).
                    same = {"_id": doc["_id"], "file_name": doc["file_name"]}
                    self._files.update_one(same, {"$set": {"name_key": key}})
                self._upsert(self._migrations, "name_key", {"$set": {"done_at": utcnow()}})
