"""MetadataStore on MongoDB (or anything speaking its protocol, e.g. FerretDB)."""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

from ..errors import DatabaseUnavailable
from .metadata import FileRecord, ListCursor, UserRecord

log = logging.getLogger("filedrop.mongo")

_FIELDS = (
    "owner",
    "file_name",
    "file_size",
    "file_type",
    "created_at",
    "updated_at",
    "sha256",
    "blob_key",
)


@contextmanager
def _mongo_errors(action: str) -> Iterator[None]:
    try:
        yield
    except ConnectionFailure as exc:  # includes timeouts and AutoReconnect
        log.warning("MongoDB %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database is unreachable ({action})") from exc
    except PyMongoError as exc:
        log.warning("MongoDB %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database failed to {action}") from exc


def _utc(value: datetime) -> datetime:
    # pymongo returns naive datetimes unless the client is tz_aware; both are UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _to_doc(record: FileRecord) -> dict[str, Any]:
    doc = {name: getattr(record, name) for name in _FIELDS}
    doc["_id"] = record.file_id
    return doc


def _from_doc(doc: dict[str, Any]) -> FileRecord:
    values = {name: doc[name] for name in _FIELDS}
    values["created_at"] = _utc(values["created_at"])
    values["updated_at"] = _utc(values["updated_at"])
    return FileRecord(file_id=doc["_id"], **values)


_USER_FIELDS = ("name", "key_hash", "quota_bytes", "bytes_used", "file_count", "created_at")


def _user_from_doc(doc: dict[str, Any]) -> UserRecord:
    values = {name: doc[name] for name in _USER_FIELDS}
    values["created_at"] = _utc(values["created_at"])
    return UserRecord(user_id=doc["_id"], **values)


class MongoMetadataStore:
    """Files, users and rate-limit counters, one collection each."""

    name = "mongo"
    _CLEANUP_EVERY = 500  # rate-limit hits between sweeps of expired windows

    def __init__(self, db: Database[Any]) -> None:
        self._files: Collection[Any] = db["files"]
        self._users: Collection[Any] = db["users"]
        self._limits: Collection[Any] = db["rate_limits"]
        self._db = db
        self._hits = 0

    def describe(self) -> str:
        return f"MongoDB database {self._db.name!r}"

    def insert(self, record: FileRecord) -> None:
        with _mongo_errors("store file metadata"):
            self._files.insert_one(_to_doc(record))

    def get(self, owner: str, file_id: str) -> FileRecord | None:
        with _mongo_errors("read file metadata"):
            doc = self._files.find_one({"_id": file_id, "owner": owner})
        return _from_doc(doc) if doc else None

    def update(
        self, owner: str, file_id: str, changes: dict[str, Any], if_sha256: str | None = None
    ) -> FileRecord | None:
        query: dict[str, Any] = {"_id": file_id, "owner": owner}
        if if_sha256 is not None:
            query["sha256"] = if_sha256
        with _mongo_errors("update file metadata"):
            doc = self._files.find_one_and_update(
                query, {"$set": changes}, return_document=ReturnDocument.BEFORE
            )
        return _from_doc(doc) if doc else None

    def delete(self, owner: str, file_id: str, if_sha256: str | None = None) -> FileRecord | None:
        query: dict[str, Any] = {"_id": file_id, "owner": owner}
        if if_sha256 is not None:
            query["sha256"] = if_sha256
        with _mongo_errors("delete file metadata"):
            doc = self._files.find_one_and_delete(query)
        return _from_doc(doc) if doc else None

    def list(
        self, owner: str, limit: int, after: ListCursor | None, prefix: str | None
    ) -> list[FileRecord]:
        query: dict[str, Any] = {"owner": owner}
        if prefix:
            query["file_name"] = {"$regex": "^" + re.escape(prefix)}
        if after is not None:
            query["$or"] = [
                {"created_at": {"$lt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$lt": after.file_id}},
            ]
        with _mongo_errors("list files"):
            docs = list(
                self._files.find(query)
                .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
                .limit(limit)
            )
        return [_from_doc(doc) for doc in docs]

    def iter_all(self) -> Iterator[FileRecord]:
        with _mongo_errors("scan file metadata"):
            for doc in self._files.find({}):
                yield _from_doc(doc)

    def remove(self, file_id: str) -> None:
        with _mongo_errors("delete file metadata"):
            self._files.delete_one({"_id": file_id})

    # -- users -----------------------------------------------------------------

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

    def list_users(self) -> builtins.list[UserRecord]:
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

    def reserve(self, user_id: str, size: int, files: int) -> bool:
        with _mongo_errors("reserve quota"):
            user = self._users.find_one({"_id": user_id}, {"quota_bytes": 1})
            if user is None:
                return True
            quota = user["quota_bytes"]
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

    # -- rate limits -----------------------------------------------------------

    def hit(self, bucket: str, window_start: int, window_s: int) -> int:
        with _mongo_errors("count a request"):
            doc = self._limits.find_one_and_update(
                {"_id": f"{bucket}@{window_start}"},
                {"$inc": {"n": 1}, "$setOnInsert": {"window_end": window_start + window_s}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            self._hits += 1
            if doc is None:  # upsert=True always returns a document; be explicit anyway
                return 1
            if self._hits % self._CLEANUP_EVERY == 0:
                # No TTL index: FerretDB v1 has none, so expired windows are swept here.
                self._limits.delete_many({"window_end": {"$lt": window_start}})
        return int(doc["n"])

    def ensure_indexes(self) -> None:
        with _mongo_errors("create indexes"):
            self._users.create_index("key_hash", unique=True, name="key_hash")
            self._files.create_index(
                [("owner", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="owner_newest_first",
            )
            self._files.create_index(
                [("owner", ASCENDING), ("file_name", ASCENDING)], name="owner_name"
            )

    def check(self) -> None:
        with _mongo_errors("answer a ping"):
            self._db.command("ping")
