"""MetadataStore on MongoDB (or anything speaking its protocol, e.g. FerretDB)."""

from __future__ import annotations

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
from .metadata import FileRecord, ListCursor

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


class MongoMetadataStore:
    name = "mongo"

    def __init__(self, db: Database[Any]) -> None:
        self._files: Collection[Any] = db["files"]
        self._db = db

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

    def ensure_indexes(self) -> None:
        with _mongo_errors("create indexes"):
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
