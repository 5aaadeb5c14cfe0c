"""The metadata store on MongoDB (or anything speaking its protocol, e.g. FerretDB)."""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from ..errors import DatabaseUnavailable
from .metadata import (
    FILE_CHANGEABLE_FIELDS,
    NEWEST_FIRST,
    UPLOAD_PROGRESS_FIELDS,
    FileRecord,
    KeyRecord,
    LinkRecord,
    ListCursor,
    ListOrder,
    MultipartRecord,
    PartRecord,
    UploadRecord,
    UserRecord,
    field_names,
    name_key,
    refuse_unknown,
)

_T = TypeVar("_T")

log = logging.getLogger("filedrop.mongo")

# Kept as they are; file_id is the _id, and folder, expiry and download counts are
# read with defaults (older documents lack them, counts live in file_access).
_FIELDS = tuple(
    name
    for name in field_names(FileRecord)
    if name
    not in {"file_id", "folder", "expires_at", "last_accessed_at", "download_count", "md5_etag"}
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


def _racing_upsert(write: Callable[[bool], _T]) -> _T:
    """``write(upsert=True)``. When two first writes race to create the document,
    FerretDB fails one with a duplicate key: the document exists by then, and the
    same write without upsert applies ours."""
    try:
        return write(True)
    except DuplicateKeyError:
        return write(False)


def _utc(value: datetime) -> datetime:
    # pymongo returns naive datetimes unless the client is tz_aware; both are UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


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


_ROOT = "/"


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


def _live_query(live_at: datetime) -> dict[str, Any]:
    return {"$or": [{"expires_at": None}, {"expires_at": {"$gt": live_at}}]}


def _all_of(query: dict[str, Any], clauses: builtins.list[dict[str, Any]]) -> dict[str, Any]:
    if len(clauses) == 1 and not set(clauses[0]) & set(query):
        return {**query, **clauses[0]}
    return {**query, "$and": clauses} if clauses else query


# token_hash is the _id; the download count lives in link_counts.
_LINK_FIELDS = tuple(n for n in field_names(LinkRecord) if n not in {"token_hash", "downloads"})


def _link_from_doc(doc: dict[str, Any], downloads: int) -> LinkRecord:
    values: dict[str, Any] = {name: doc.get(name) for name in _LINK_FIELDS}
    for name in ("created_at", "expires_at", "revoked_at"):
        values[name] = _utc_or_none(values[name])
    return LinkRecord(token_hash=doc["_id"], downloads=downloads, **values)


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


def _multipart_from_doc(doc: dict[str, Any]) -> MultipartRecord:
    values = {k: v for k, v in doc.items() if k != "_id"}
    values["created_at"] = _utc(values["created_at"])
    return MultipartRecord(upload_id=doc["_id"], **values)


def _part_from_doc(doc: dict[str, Any]) -> PartRecord:
    values = {k: v for k, v in doc.items() if k != "_id"}
    values["uploaded_at"] = _utc(values["uploaded_at"])
    return PartRecord(**values)


_UPLOAD_FIELDS = field_names(UploadRecord)[1:]  # upload_id is the _id


def _upload_doc_value(name: str, value: Any) -> Any:
    # Subdocuments, not pairs: FerretDB v1 refuses nested arrays.
    if name == "parts":
        return [{"n": number, "etag": etag} for number, etag in value]
    if name == "staged":
        return [{"key": key, "size": size} for key, size in value]
    return value


def _upload_to_doc(upload: UploadRecord) -> dict[str, Any]:
    doc = {name: _upload_doc_value(name, getattr(upload, name)) for name in _UPLOAD_FIELDS}
    doc["_id"] = upload.upload_id
    return doc


def _upload_from_doc(doc: dict[str, Any]) -> UploadRecord:
    values: dict[str, Any] = {name: doc.get(name) for name in _UPLOAD_FIELDS}
    values["parts"] = tuple((int(p["n"]), str(p["etag"])) for p in values["parts"])
    values["staged"] = tuple((str(s["key"]), int(s["size"])) for s in values["staged"])
    for name in ("created_at", "expires_at", "completed_at", "lock_until"):
        if values[name] is not None:
            values[name] = _utc(values[name])
    return UploadRecord(upload_id=doc["_id"], **values)


class MongoMetadataStore:
    """Files, users and rate-limit counters, one collection each."""

    name = "mongo"
    _CLEANUP_EVERY = 500  # rate-limit hits between sweeps of expired windows

    def __init__(self, db: Database[Any]) -> None:
        self._files: Collection[Any] = db["files"]
        self._users: Collection[Any] = db["users"]
        self._keys: Collection[Any] = db["api_keys"]
        self._multiparts: Collection[Any] = db["s3_multiparts"]
        self._parts: Collection[Any] = db["s3_parts"]
        self._limits: Collection[Any] = db["rate_limits"]
        self._uploads: Collection[Any] = db["uploads"]
        # Download counts live apart from the file records (see record_access).
        self._access: Collection[Any] = db["file_access"]
        self._folders: Collection[Any] = db["folders"]
        self._links: Collection[Any] = db["links"]
        self._link_counts: Collection[Any] = db["link_counts"]
        self._link_claims: Collection[Any] = db["link_claims"]
        self._db = db
        self._quotas: dict[str, int] = {}  # user_id -> quota_bytes last read; see reserve()
        self._hits = 0

    def describe(self) -> str:
        return f"MongoDB database {self._db.name!r}"

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

    @staticmethod
    def _upsert(collection: Collection[Any], key: str, update: dict[str, Any]) -> None:
        _racing_upsert(lambda upsert: collection.update_one({"_id": key}, update, upsert=upsert))

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

    # -- keys ------------------------------------------------------------------

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

    def list_keys(self, owner: str) -> builtins.list[KeyRecord]:
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

    # -- S3 multipart uploads ----------------------------------------------------------

    def insert_multipart(self, upload: MultipartRecord) -> None:
        doc = asdict(upload)
        doc["_id"] = doc.pop("upload_id")
        with _mongo_errors("store a multipart upload"):
            self._multiparts.insert_one(doc)

    def get_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        with _mongo_errors("read a multipart upload"):
            doc = self._multiparts.find_one({"_id": upload_id})
        return _multipart_from_doc(doc) if doc and doc.get("owner") == owner else None

    def list_multiparts(self, owner: str | None) -> builtins.list[MultipartRecord]:
        query = {} if owner is None else {"owner": owner}
        with _mongo_errors("list multipart uploads"):
            docs = list(self._multiparts.find(query).sort([("created_at", 1), ("_id", 1)]))
        return [_multipart_from_doc(doc) for doc in docs]

    def put_part(self, part: PartRecord) -> None:
        doc = asdict(part)
        # One document per part, written whole: concurrent parts never touch each other.
        with _mongo_errors("store a part"):
            self._parts.replace_one({"_id": f"{part.upload_id}:{part.number}"}, doc, upsert=True)

    def list_parts(self, upload_id: str) -> builtins.list[PartRecord]:
        with _mongo_errors("list parts"):
            docs = list(self._parts.find({"upload_id": upload_id}).sort("number", 1))
        return [_part_from_doc(doc) for doc in docs]

    def delete_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        with _mongo_errors("delete a multipart upload"):
            doc = self._multiparts.find_one_and_delete({"_id": upload_id, "owner": owner})
            if doc is not None:
                self._parts.delete_many({"upload_id": upload_id})
        return _multipart_from_doc(doc) if doc else None

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

    # -- rate limits -----------------------------------------------------------

    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        window = {"_id": f"{bucket}@{window_start}"}
        update = {"$inc": {"n": n}, "$setOnInsert": {"window_end": window_start + window_s}}
        with _mongo_errors("count a request"):
            doc = _racing_upsert(
                lambda upsert: self._limits.find_one_and_update(
                    window, update, upsert=upsert, return_document=ReturnDocument.AFTER
                )
            )
            self._hits += 1
            if doc is None:  # upsert=True always returns a document; be explicit anyway
                return n
            if self._hits % self._CLEANUP_EVERY == 0:
                # No TTL index: FerretDB v1 has none, so expired windows are swept here.
                self._limits.delete_many({"window_end": {"$lt": window_start}})
        return int(doc["n"])

    # -- resumable uploads -------------------------------------------------------

    def insert_upload(self, upload: UploadRecord) -> None:
        with _mongo_errors("store an upload"):
            self._uploads.insert_one(_upload_to_doc(upload))

    def get_upload(self, owner: str, upload_id: str) -> UploadRecord | None:
        with _mongo_errors("read an upload"):
            doc = self._uploads.find_one({"_id": upload_id, "owner": owner})
        return _upload_from_doc(doc) if doc else None

    def lock_upload(
        self, owner: str, upload_id: str, lock: str, now: datetime, until: datetime
    ) -> UploadRecord | None:
        query = {
            "_id": upload_id,
            "owner": owner,
            "$or": [{"lock": None}, {"lock_until": {"$lt": now}}],
        }
        with _mongo_errors("lock an upload"):
            doc = self._uploads.find_one_and_update(
                query,
                {"$set": {"lock": lock, "lock_until": until}},
                return_document=ReturnDocument.AFTER,
            )
        return _upload_from_doc(doc) if doc else None

    def renew_upload_lock(self, upload_id: str, lock: str, until: datetime) -> bool:
        with _mongo_errors("renew an upload's lock"):
            result = self._uploads.update_one(
                {"_id": upload_id, "lock": lock}, {"$set": {"lock_until": until}}
            )
        return result.matched_count == 1

    def commit_upload(self, upload_id: str, lock: str, changes: dict[str, Any]) -> bool:
        refuse_unknown(changes, UPLOAD_PROGRESS_FIELDS, "upload progress")
        values = {name: _upload_doc_value(name, value) for name, value in changes.items()}
        values.update(lock=None, lock_until=None)
        with _mongo_errors("update an upload"):
            result = self._uploads.update_one({"_id": upload_id, "lock": lock}, {"$set": values})
        return result.matched_count == 1

    def delete_upload(self, upload_id: str, lock: str) -> UploadRecord | None:
        with _mongo_errors("delete an upload"):
            doc = self._uploads.find_one_and_delete({"_id": upload_id, "lock": lock})
        return _upload_from_doc(doc) if doc else None

    def iter_uploads(self, expired_before: datetime | None = None) -> Iterator[UploadRecord]:
        query: dict[str, Any] = {}
        if expired_before is not None:
            query["expires_at"] = {"$lt": expired_before}
        with _mongo_errors("scan uploads"):
            for doc in self._uploads.find(query):
                yield _upload_from_doc(doc)

    # -- folders and share links -----------------------------------------------

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

    def insert_link(self, link: LinkRecord) -> None:
        doc = {name: getattr(link, name) for name in _LINK_FIELDS}
        doc["_id"] = link.token_hash
        with _mongo_errors("store a link"):
            self._links.insert_one(doc)

    def get_link(self, token_hash: str) -> LinkRecord | None:
        with _mongo_errors("read a link"):
            doc = self._links.find_one({"_id": token_hash})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def find_link(self, owner: str, link_id: str) -> LinkRecord | None:
        with _mongo_errors("read a link"):
            doc = self._links.find_one({"owner": owner, "link_id": link_id})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def list_links(self, owner: str, file_id: str) -> builtins.list[LinkRecord]:
        with _mongo_errors("list links"):
            docs = list(
                self._links.find({"owner": owner, "file_id": file_id}).sort(
                    [("created_at", DESCENDING), ("_id", DESCENDING)]
                )
            )
            return self._with_counts(docs)

    def _with_counts(self, docs: builtins.list[dict[str, Any]]) -> builtins.list[LinkRecord]:
        if not docs:
            return []
        hashes = [doc["_id"] for doc in docs]
        counts = {
            c["_id"]: int(c.get("n", 0)) for c in self._link_counts.find({"_id": {"$in": hashes}})
        }
        return [_link_from_doc(doc, counts.get(doc["_id"], 0)) for doc in docs]

    def claim_download(self, link: LinkRecord, now: datetime) -> bool:
        with _mongo_errors("count a download"):
            slot = None
            if link.max_downloads is not None:
                slot = self._claim_slot(link, now)
                if slot is None:
                    return False
            # Checked after the slot is taken: a revocation that lands before this read
            # refuses the download; one after it came later than the download did.
            if not self._servable(link.token_hash, now):
                if slot is not None:
                    self._link_claims.delete_one({"_id": slot})
                return False
            try:
                self._upsert(self._link_counts, link.token_hash, {"$inc": {"n": 1}})
            except PyMongoError as exc:  # the claim stands; only the shown count lags
                log.warning("could not count a download of link %s: %s", link.link_id, exc)
        return True

    def _servable(self, token_hash: str, now: datetime) -> bool:
        """Whether the stored link is neither revoked nor expired by ``now``."""
        query = {"_id": token_hash, "revoked_at": None, **_live_query(now)}
        return self._links.find_one(query, {"_id": 1}) is not None

    def _claim_slot(self, link: LinkRecord, now: datetime) -> str | None:
        """Take download number k of a limited link by inserting ``<hash>#k``; its id.

        FerretDB runs a conditional update as a read and a separate write, so two
        requests could both pass a ``downloads < max`` guard (see tests/servers.py);
        an insert into a unique key is atomic there as on MongoDB: exactly one
        request inserts each k. The counter only says where to start looking.
        """
        assert link.max_downloads is not None
        for number in range(link.downloads + 1, link.max_downloads + 1):
            slot = f"{link.token_hash}#{number}"
            try:
                self._link_claims.insert_one({"_id": slot, "link": link.token_hash, "at": now})
            except DuplicateKeyError:
                continue
            return slot
        return None

    def revoke_link(self, owner: str, token_hash: str, at: datetime) -> LinkRecord | None:
        # Only revocation ever writes a link document (counts live apart), so on
        # FerretDB a download racing it cannot write the link back unrevoked.
        with _mongo_errors("revoke a link"):
            doc = self._links.find_one_and_update(
                {"_id": token_hash, "owner": owner, "revoked_at": None},
                {"$set": {"revoked_at": at}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                doc = self._links.find_one({"_id": token_hash, "owner": owner})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def scan_links(self, after: str, limit: int) -> builtins.list[LinkRecord]:
        with _mongo_errors("scan links"):
            docs = list(
                self._links.find({"_id": {"$gt": after}}).sort([("_id", ASCENDING)]).limit(limit)
            )
            return self._with_counts(docs)

    def delete_link(self, token_hash: str) -> None:
        with _mongo_errors("delete a link"):
            self._links.delete_one({"_id": token_hash})
            self._link_counts.delete_one({"_id": token_hash})
            self._link_claims.delete_many({"link": token_hash})

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
            # Records stored before name order get their sort key (one write each, once).
            for doc in self._files.find({"name_key": {"$exists": False}}, {"file_name": 1}):
                key = name_key(doc["file_name"])
                # Only if not renamed meanwhile (the rename set the key itself).
                same = {"_id": doc["_id"], "file_name": doc["file_name"]}
                self._files.update_one(same, {"$set": {"name_key": key}})

    def check(self) -> None:
        with _mongo_errors("answer a ping"):
            self._db.command("ping")
