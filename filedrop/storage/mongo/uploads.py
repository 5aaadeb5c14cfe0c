"""Unfinished uploads: resumable (tus) uploads and S3 multipart uploads with their parts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from ..metadata import (
    UPLOAD_PROGRESS_FIELDS,
    MultipartRecord,
    PartRecord,
    UploadRecord,
    field_names,
    refuse_unknown,
)
from .connection import MongoDatabase, _mongo_errors, _utc


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


class MongoUploads(MongoDatabase):
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

    def list_multiparts(self, owner: str | None) -> list[MultipartRecord]:
        query = {} if owner is None else {"owner": owner}
        with _mongo_errors("list multipart uploads"):
            docs = list(self._multiparts.find(query).sort([("created_at", 1), ("_id", 1)]))
        return [_multipart_from_doc(doc) for doc in docs]

    def put_part(self, part: PartRecord) -> None:
        doc = asdict(part)
        # One document per part, written whole: concurrent parts never touch each other.
        with _mongo_errors("store a part"):
            self._parts.replace_one({"_id": f"{part.upload_id}:{part.number}"}, doc, upsert=True)

    def list_parts(self, upload_id: str) -> list[PartRecord]:
        with _mongo_errors("list parts"):
            docs = list(self._parts.find({"upload_id": upload_id}).sort("number", 1))
        return [_part_from_doc(doc) for doc in docs]

    def delete_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        with _mongo_errors("delete a multipart upload"):
            doc = self._multiparts.find_one_and_delete({"_id": upload_id, "owner": owner})
            if doc is not None:
                self._parts.delete_many({"upload_id": upload_id})
        return _multipart_from_doc(doc) if doc else None

    # -- resumable (tus) uploads -------------------------------------------------------

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
