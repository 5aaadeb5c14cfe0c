"""Multipart uploads of the S3 API, on the blob store's own multipart uploads (as
resumable uploads are): parts go straight to the backend, each recorded on its own;
completing assembles them and makes the object a file by the usual rules.

Quota: each part is checked against the room left; the whole object is reserved when
it completes (QuotaExceeded then aborts the upload, and nothing is stored).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import (
    FileDropError,
    FileTooLarge,
    InvalidRequest,
    StorageUnavailable,
    UploadNotFound,
)
from ..ids import new_blob_key, new_file_id
from ..storage.blobs import BlobNotFound
from ..storage.metadata import (
    FileRecord,
    MultipartRecord,
    MultipartStore,
    PartRecord,
    UserRecord,
    utcnow,
)
from .files import FileService

log = logging.getLogger("filedrop.multipart")

MIN_PART = 5 * 1024**2  # S3's rule for every part but the last
MAX_PART_NUMBER = 10000
# S3's own limit; a part streams to the backend, never held in memory.
MAX_S3_API_PART = 5 * 1024**3


class NoSuchUpload(UploadNotFound):
    """An S3 API multipart upload that does not exist (or no longer)."""

    def __init__(self, message: str) -> None:
        FileDropError.__init__(self, message)


class InvalidPart(InvalidRequest):
    """A completion names a part that was not uploaded, or in the wrong order, or a
    part (not the last) under 5 MiB."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # InvalidPart, InvalidPartOrder or EntityTooSmall


@dataclass(frozen=True)
class Target:
    """Where the object goes: its bucket and key, and as a file, its folder and name."""

    bucket: str
    key: str
    folder: str
    file_name: str


def multipart_etag(md5s: Iterable[str]) -> str:
    """S3's ETag of an assembled object: the MD5 of the parts' MD5s, and their count."""
    digests = [bytes.fromhex(md5) for md5 in md5s]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


class MultipartService:
    def __init__(self, files: FileService, store: MultipartStore, max_part: int) -> None:
        self.files = files
        self.blobs = files.blobs
        self.meta = files.meta
        self.store = store
        self.max_part = max_part

    def create(self, owner: str, target: Target, file_type: str | None) -> MultipartRecord:
        file_id = new_file_id()
        blob_key = new_blob_key(file_id)
        upload = MultipartRecord(
            upload_id=secrets.token_urlsafe(24),
            owner=owner,
            bucket=target.bucket,
            key=target.key,
            folder=target.folder,
            file_name=target.file_name,
            file_type=file_type,
            file_id=file_id,
            blob_key=blob_key,
            multipart_id=self.blobs.start_multipart(blob_key),
            created_at=utcnow(),
        )
        try:
            self.store.insert_multipart(upload)
        except BaseException:
            self.blobs.abort_multipart(blob_key, upload.multipart_id)
            raise
        return upload

    def get(self, owner: str, upload_id: str, target: Target | None = None) -> MultipartRecord:
        upload = self.store.get_multipart(owner, upload_id)
        if upload is None or (
            target and (upload.bucket, upload.key) != (target.bucket, target.key)
        ):
            raise NoSuchUpload("The specified upload does not exist")
        return upload

    def upload_part(
        self,
        upload: MultipartRecord,
        number: int,
        chunks: Iterable[bytes],
        size: int,
        user: UserRecord | None = None,
    ) -> PartRecord:
        """Stream one part of ``size`` bytes (at most ``max_part``) to the backend. It is
        recorded only once the chunks ran out without error: a part whose body fails
        its checks is never recorded, so completion never uses it. ``user``: the
        owner's record, if the caller has it (authentication read it), for the quota
        check before any byte is read."""
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidRequest(f"Part numbers go from 1 to {MAX_PART_NUMBER}")
        if size > self.max_part:
            raise FileTooLarge(f"A part holds at most {self.max_part} bytes")
        self.files.check_room(upload.owner, size, user)
        try:
            blob_etag = self.blobs.upload_part_stream(
                upload.blob_key, upload.multipart_id, number, chunks, size
            )
        except BlobNotFound:
            raise NoSuchUpload("The specified upload does not exist") from None
        md5 = blob_etag.strip('"').lower()  # the store computed it as the part went by
        part = PartRecord(upload.upload_id, number, md5, blob_etag, size, utcnow())
        self.store.put_part(part)
        return part

    def parts(self, upload: MultipartRecord) -> list[PartRecord]:
        return self.store.list_parts(upload.upload_id)

    def complete(self, upload: MultipartRecord, chosen: Sequence[tuple[int, str]]) -> FileRecord:
        """Assemble the parts ``(number, etag)`` the client lists, in order, into the file."""
        if not chosen:
            raise InvalidPart("Name at least one part", "InvalidPart")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise InvalidPart("The parts must be listed in ascending order", "InvalidPartOrder")
        stored = {part.number: part for part in self.parts(upload)}
        used: list[PartRecord] = []
        for number, etag in chosen:
            part = stored.get(number)
            if part is None or etag.strip().strip('"') != part.md5:
                raise InvalidPart(f"Part {number} was not uploaded with that ETag", "InvalidPart")
            used.append(part)
        if any(part.size < MIN_PART for part in used[:-1]):
            raise InvalidPart("Every part but the last must hold at least 5 MiB", "EntityTooSmall")
        size = sum(part.size for part in used)
        if size > self.files.max_file_size:
            raise FileTooLarge(
                f"The file is larger than the limit of {self.files.max_file_size} bytes"
            )
        if self.store.delete_multipart(upload.owner, upload.upload_id) is None:
            raise NoSuchUpload("The specified upload does not exist")  # completed or aborted
        try:
            self.files.reserve(upload.owner, size, files=0)
        except BaseException:
            self._abort_blob(upload)
            raise
        try:
            self.blobs.complete_multipart(
                upload.blob_key, upload.multipart_id, [(p.number, p.blob_etag) for p in used]
            )
        except BaseException:
            self.files.release(upload.owner, size, 0)
            self._abort_blob(upload)
            raise
        victims = self.meta.find_named(upload.owner, upload.folder, upload.file_name, utcnow())
        try:
            # Read back once for the file's SHA-256; its ETag comes from the parts' MD5s.
            record = self.files.adopt(
                upload.owner,
                upload.file_id,
                upload.blob_key,
                upload.file_name,
                upload.file_type,
                upload.folder,
                md5_etag=multipart_etag(p.md5 for p in used),
            )
        except BaseException:
            self.files.release(upload.owner, size, 0)
            raise
        self.files.remove_replaced(victims)
        return record

    def abort(self, upload: MultipartRecord) -> None:
        if self.store.delete_multipart(upload.owner, upload.upload_id) is not None:
            self._abort_blob(upload)

    def in_bucket(self, owner: str, bucket: str) -> list[MultipartRecord]:
        return [u for u in self.store.list_multiparts(owner) if u.bucket == bucket]

    def purge(self, started_before: datetime, dry_run: bool) -> list[str]:
        """Abort the uploads (of every owner) begun before ``started_before``: their ids."""
        stale = [u for u in self.store.list_multiparts(None) if u.created_at < started_before]
        if not dry_run:
            for upload in stale:
                self.abort(upload)
        return [upload.upload_id for upload in stale]

    def _abort_blob(self, upload: MultipartRecord) -> None:
        try:
            self.blobs.abort_multipart(upload.blob_key, upload.multipart_id)
        except StorageUnavailable as exc:
            log.warning("could not abort upload %s (fsck will): %s", upload.upload_id, exc)
