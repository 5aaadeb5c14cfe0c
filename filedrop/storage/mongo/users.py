"""Users and their quota counters, and their API keys."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from ..metadata import (
    KeyRecord,
    UserRecord,
    field_names,
)
from .connection import MongoDatabase, _mongo_errors, _utc

_USER_FIELDS = ("name", "key_hash", "quota_bytes", "bytes_used", "file_count", "created_at")


def _user_from_doc(doc: dict[str, Any]) -> UserRecord:
    values = {name: doc[name] for name in _USER_FIELDS}
    values["created_at"] = _utc(values["created_at"])
    return UserRecord(user_id=doc["_id"], **values)


_KEY_FIELDS = field_names(KeyRecord)[1:]  # key_id is the _id


def _key_from_doc(doc: dict[str, Any]) -> KeyRecord:
    values = {name: doc[name] for name in _KEY_FIELDS}
    values["created_at"] = _utc(values["created_at"])
    return KeyRecord(key_id=doc["_id"], **values)


class MongoUsers(MongoDatabase):
    # -- users -------------------------------------------------------------------------

    def create_user(self, user: UserRecord) -> None:
        doc = {name: getattr(user, name) for name in _USER_FIELDS}
        doc["_id"] = user.user_id
        with _mongo_errors("create a user"):
            self._users.insert_one(doc)

    def get_user(self, user_id: str) -> UserRecord | None:
        with _mongo_errors("read a user"):
            doc = self._users.find_one({"_id": user_id})
        return _user_from_doc(doc) if doc else None

    def find_by_key_hash(self, key_hash: str) -> UserRecord | None:
        with _mongo_errors("look up a key"):
            doc = self._users.find_one({"key_hash": key_hash})
        return _user_from_doc(doc) if doc else None

    def list_users(self) -> list[UserRecord]:
        with _mongo_errors("list users"):
            docs = list(self._users.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)]))
        return [_user_from_doc(doc) for doc in docs]

    def delete_user(self, user_id: str) -> UserRecord | None:
        with _mongo_errors("delete a user"):
            doc = self._users.find_one_and_delete({"_id": user_id})
        return _user_from_doc(doc) if doc else None

    def set_key_hash(self, user_id: str, key_hash: str) -> bool:
        with _mongo_errors("rotate a key"):
            result = self._users.update_one({"_id": user_id}, {"$set": {"key_hash": key_hash}})
        return result.matched_count == 1

    # -- API keys ----------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        doc = {name: getattr(key, name) for name in _KEY_FIELDS}
        doc["_id"] = key.key_id
        with _mongo_errors("store a key"):
            self._keys.insert_one(doc)

    def find_key_by_hash(self, key_hash: str) -> KeyRecord | None:
        with _mongo_errors("look up a key"):
            doc = self._keys.find_one({"key_hash": key_hash})
        return _key_from_doc(doc) if doc else None

    def find_key_by_access_key(self, access_key_id: str) -> KeyRecord | None:
        with _mongo_errors("look up a key"):
            doc = self._keys.find_one({"access_key_id": access_key_id})
        return _key_from_doc(doc) if doc else None

    def list_keys(self, owner: str) -> list[KeyRecord]:
        with _mongo_errors("list keys"):
            docs = list(
                self._keys.find({"owner": owner}).sort([("created_at", ASCENDING), ("_id", 1)])
            )
        return [_key_from_doc(doc) for doc in docs]

    def delete_key(self, owner: str, key_id: str) -> KeyRecord | None:
        with _mongo_errors("delete a key"):
            doc = self._keys.find_one_and_delete({"_id": key_id, "owner": owner})
        return _key_from_doc(doc) if doc else None

    def delete_keys(self, owner: str) -> int:
        with _mongo_errors("delete keys"):
            return self._keys.delete_many({"owner": owner}).deleted_count

    # -- quota counters ----------------------------------------------------------------

    def reserve(self, user_id: str, size: int, files: int) -> bool:
        with _mongo_errors("reserve quota"):
            # Usually one round trip: try the quota seen last time. The guard names that
            # quota, so a stale one cannot let usage past the real quota; it only misses,
            # and then we read the quota and try once more.
            quota = self._quotas.get(user_id)
            if quota is not None and self._reserve_within(user_id, quota, size, files):
                return True
            user = self._users.find_one({"_id": user_id}, {"quota_bytes": 1})
            if user is None:
                return True
            self._quotas[user_id] = user["quota_bytes"]
            return self._reserve_within(user_id, user["quota_bytes"], size, files)

    def _reserve_within(self, user_id: str, quota: int, size: int, files: int) -> bool:
        # The guard and the increment are one update: MongoDB applies them atomically.
        result = self._users.update_one(
            {"_id": user_id, "quota_bytes": quota, "bytes_used": {"$lte": quota - size}},
            {"$inc": {"bytes_used": size, "file_count": files}},
        )
        return result.matched_count == 1

    def release(self, user_id: str, size: int, files: int) -> None:
        with _mongo_errors("release quota"):
            self._users.update_one(
                {"_id": user_id}, {"$inc": {"bytes_used": -size, "file_count": -files}}
            )

    def set_usage(self, user_id: str, bytes_used: int, file_count: int) -> None:
        with _mongo_errors("set usage"):
            self._users.update_one(
                {"_id": user_id}, {"$set": {"bytes_used": bytes_used, "file_count": file_count}}
            )
