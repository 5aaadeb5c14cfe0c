"""File records: insert, read, swap, list, delete and the download bookkeeping."""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import PyMongoError

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
from .connection import _ROOT, MongoDatabase, _live_query, _mongo_errors, _utc, _utc_or_none

log = logging.getLogger("filedrop.mongo")


# Kept as they are; file_id is the _id, and folder, expiry and download counts are
# read with defaults (older documents lack them, counts live in file_access).
_FIELDS = tuple(
    name
    for name in field_names(FileRecord)
    if name
    not in {"file_id", "folder", "expires_at", "last_accessed_at", "download_count", "md5_etag"}
)


def _to_doc(record: FileRecord) -> dict[str, Any]:
    doc = {name: getattr(record, name) for name in _FIELDS}
    doc["_id"] = record.file_id
    doc["folder"] = record.folder
    doc["expires_at"] = record.expires_at
    doc["md5_etag"] = record.md5_etag
    doc["name_key"] = name_key(record.file_name)
    return doc


def _from_doc(doc: dict[str, Any], access: dict[str, Any] | None = None) -> FileRecord:
    """A record from its document and (optionally) its ``file_access`` document."""
    values = {name: doc[name] for name in _FIELDS}
    values["created_at"] = _utc(values["created_at"])
    values["updated_at"] = _utc(values["updated_at"])
    access = access or {}
    return FileRecord(
        file_id=doc["_id"],
        # Records from before folders and expiry lack the fields: root, never expiring.
        folder=doc.get("folder") or _ROOT,
        expires_at=_utc_or_none(doc.get("expires_at")),
        last_accessed_at=_utc_or_none(access.get("last_accessed_at")),
        download_count=int(access.get("download_count", 0)),
        md5_etag=doc.get("md5_etag"),
        **values,
    )


def _folder_query(folder: str | None, recursive: bool) -> dict[str, Any] | None:
    """Files in ``folder`` (and beneath it, if ``recursive``); None: no condition."""
    if folder is None or (recursive and folder == _ROOT):
        return None
    exact: dict[str, Any] = (
        {"folder": {"$in": [_ROOT, None]}} if folder == _ROOT else {"folder": folder}
    )
    if not recursive:
        return exact
    return {"$or": [exact, {"folder": {"$regex": "^" + re.escape(folder + "/")}}]}


def _all_of(query: dict[str, Any], clauses: builtins.list[dict[str, Any]]) -> dict[str, Any]:
    if len(clauses) == 1 and not set(clauses[0]) & set(query):
        return {**query, **clauses[0]}
    return {**query, "$and": clauses} if clauses else query


class MongoFiles(MongoDatabase):
    def insert(self, record: FileRecord) -> None:
        with _mongo_errors("store file metadata"):
            self._files.insert_one(_to_doc(record))

    def get(self, owner: str, file_id: str, counts: bool = True) -> FileRecord | None:
        with _mongo_errors("read file metadata"):
            # By _id alone: FerretDB uses its index only for a bare {"_id": ...} filter
            # (with "owner" too it scans the collection). A file's owner never changes.
            doc = self._files.find_one({"_id": file_id})
            if doc is None or doc.get("owner") != owner:
                return None
            if not counts:
                return _from_doc(doc)
            records = self._with_access([doc])
        return records[0] if records else None

    def _with_access(self, docs: builtins.list[dict[str, Any]]) -> builtins.list[FileRecord]:
        """Records for ``docs``, with their download counts (one more query)."""
        if not docs:
            return []
        ids = [doc["_id"] for doc in docs]
        if len(ids) == 1:  # the common case, and FerretDB's index serves only a bare _id
            found = self._access.find_one({"_id": ids[0]})
            access = {ids[0]: found} if found else {}
        else:
            access = {a["_id"]: a for a in self._access.find({"_id": {"$in": ids}})}
        return [_from_doc(doc, access.get(doc["_id"])) for doc in docs]

    def _forget_access(self, file_id: str) -> None:
        """Best effort: counts of a deleted file are never read again (ids are never reused)."""
        try:
            self._access.delete_one({"_id": file_id})
        except PyMongoError as exc:
            log.warning("could not drop the download count of %s: %s", file_id, exc)

    def update(
        self, owner: str, file_id: str, changes: dict[str, Any], if_sha256: str | None = None
    ) -> FileRecord | None:
        refuse_unknown(changes, FILE_CHANGEABLE_FIELDS, "changeable file record")
        query: dict[str, Any] = {"_id": file_id, "owner": owner}
        if if_sha256 is not None:
            query["sha256"] = if_sha256
        stored = dict(changes)
        if "file_name" in changes:
            stored["name_key"] = name_key(changes["file_name"])
        with _mongo_errors("update file metadata"):
            doc = self._files.find_one_and_update(
                query, {"$set": stored}, return_document=ReturnDocument.BEFORE
            )
            records = self._with_access([doc] if doc else [])
        return records[0] if records else None

    def delete(self, owner: str, file_id: str, if_sha256: str | None = None) -> FileRecord | None:
        query: dict[str, Any] = {"_id": file_id, "owner": owner}
        if if_sha256 is not None:
            query["sha256"] = if_sha256
        with _mongo_errors("delete file metadata"):
            doc = self._files.find_one_and_delete(query)
        if doc:
            self._forget_access(file_id)
        return _from_doc(doc) if doc else None

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
        query: dict[str, Any] = {"owner": owner}
        if prefix:
            query["file_name"] = {"$regex": "^" + re.escape(prefix)}
        clauses: builtins.list[dict[str, Any]] = []
        field = order.field
        direction, beyond = (DESCENDING, "$lt") if order.descending else (ASCENDING, "$gt")
        if after is not None:
            clauses.append(
                {
                    "$or": [
                        {field: {beyond: after.key}},
                        {field: after.key, "_id": {beyond: after.file_id}},
                    ]
                }
            )
        in_folder = _folder_query(folder, recursive)
        if in_folder is not None:
            clauses.append(in_folder)
        if live_at is not None:
            clauses.append(_live_query(live_at))
        with _mongo_errors("list files"):
            docs = list(
                self._files.find(_all_of(query, clauses))
                .sort([(field, direction), ("_id", direction)])
                .limit(limit)
            )
            return self._with_access(docs)

    def iter_all(self) -> Iterator[FileRecord]:
        with _mongo_errors("scan file metadata"):
            for doc in self._files.find({}):
                yield _from_doc(doc)

    def remove(self, file_id: str) -> None:
        with _mongo_errors("delete file metadata"):
            self._files.delete_one({"_id": file_id})
        self._forget_access(file_id)

    def find_named(
        self, owner: str, folder: str, file_name: str, live_at: datetime
    ) -> builtins.list[FileRecord]:
        query: dict[str, Any] = {"owner": owner, "file_name": file_name}
        clauses = [_folder_query(folder, recursive=False) or {}, _live_query(live_at)]
        with _mongo_errors("look up a file name"):
            return [_from_doc(doc) for doc in self._files.find(_all_of(query, clauses))]

    def record_access(self, file_id: str, at: datetime) -> None:
        # Its own collection: FerretDB applies an update by rewriting the whole document
        # it read, so a count written into the file record could undo a racing replace.
        with _mongo_errors("count a download"):
            self._upsert(
                self._access,
                file_id,
                {"$set": {"last_accessed_at": at}, "$inc": {"download_count": 1}},
            )

    def purgeable(
        self, now: datetime, unaccessed_before: datetime | None, after: str, limit: int
    ) -> tuple[builtins.list[FileRecord], str | None]:
        candidates: builtins.list[dict[str, Any]] = [{"expires_at": {"$lte": now}}]
        if unaccessed_before is not None:
            # Changed before the cutoff; downloads since are checked below, from file_access.
            candidates.append({"updated_at": {"$lt": unaccessed_before}})
        query = {"_id": {"$gt": after}, "$or": candidates}
        with _mongo_errors("find files to purge"):
            docs = list(self._files.find(query).sort([("_id", ASCENDING)]).limit(limit))
            records = self._with_access(docs)
        found = [
            record
            for record in records
            if record.is_expired(now)
            or (
                unaccessed_before is not None
                and (record.last_accessed_at is None or record.last_accessed_at < unaccessed_before)
            )
        ]
        return found, (docs[-1]["_id"] if len(docs) == limit else None)
