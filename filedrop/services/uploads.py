"""Resumable uploads (tus 1.0): their rules in one place, below HTTP.

An upload is one multipart upload to the blob key its file will have, plus a
record in the ``uploads`` store saying where every received byte is:

- parts ``1..n`` of the multipart upload hold bytes ``[0, n * part_size)``;
- the *staged* blobs (keys under ``uploads/``) hold the rest, in order, always
  less than one part. S3 refuses parts under 5 MiB (but the last), so bytes
  that do not fill a part wait in storage: never in memory between requests,
  never in the database, and at most one part in memory during one.

A PATCH takes the upload's lease (a lock with an expiry, renewed while bytes
flow), streams the staged bytes and then its body into whole parts, writes what
is left as one more staged blob, and commits offset, parts and staged list in
one conditional update that also releases the lease. Until that commit nothing
it wrote is referenced, so a PATCH that fails or is refused (a checksum
mismatch) leaves the upload exactly as it was: its stray parts are overwritten
by the next PATCH (part numbers follow from offsets, and completion lists the
ETags it recorded) and its staged blob is swept by ``purge``. The offset a HEAD
reports is therefore always bytes in storage. A body cut short (the client
hung up) commits what arrived, so a resume sends only the rest; unless an
``Upload-Checksum`` covered it: that body cannot be verified, so all of it goes.

The file's SHA-256: hashlib objects cannot be saved between requests, so each
process keeps the running hash of the uploads it serves (a few hundred bytes
each, LRU-bounded), tagged with the offset it covers. When an upload's next
PATCH lands on the same process (a single-PATCH upload, or a client talking to
one worker) the hash simply continues; otherwise the assembled object is read
back once at completion, streaming, to hash it. Either way the consistency rules hold: the
sha256 stored is that of the bytes stored.

Quota: ``Upload-Length`` bytes are reserved when the upload is created, before
any byte is accepted; completion adds the file to the count, termination and
expiry give the bytes back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..errors import (
    BodyInterrupted,
    DatabaseUnavailable,
    FileTooLarge,
    OffsetMismatch,
    QuotaExceeded,
    StorageUnavailable,
    UploadChecksumMismatch,
    UploadExpired,
    UploadLocked,
    UploadNotFound,
)
from ..ids import (
    STAGING_PREFIX,
    new_blob_key,
    new_file_id,
    new_staging_key,
    new_upload_id,
    upload_id_of_staging_key,
)
from ..storage.blobs import BlobNotFound
from ..storage.metadata import UploadRecord, UploadStore, iso_ms, utcnow
from .files import SNIFF_BYTES, FileService, Measured

log = logging.getLogger("filedrop.uploads")

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "termination",
    "expiration",
    "checksum",
)
CHECKSUM_ALGORITHMS = ("sha1", "md5", "sha256", "sha512")

MIN_PART_SIZE = 5 * 1024**2  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum number of parts
MAX_STAGED_BLOBS = 16  # past this, the next PATCH merges the staged blobs into one
LOCK_WAIT_S = 5.0  # how long a request waits for another one's lease before 423
_HASH_CACHE_SIZE = 256


@dataclass(frozen=True)
class NewUpload:
    """What a creation request declares: the length and the parsed Upload-Metadata."""

    length: int
    metadata: str
    file_name: str
    file_type: str | None
    folder: str | None


@dataclass(frozen=True)
class UploadChecksum:
    """An ``Upload-Checksum``: a hashlib algorithm name and the digest the client computed."""

    algorithm: str
    digest: bytes


@dataclass(frozen=True)
class Body:
    """The bytes of one PATCH (or creation-with-upload) as they arrive.

    ``chunks`` raises BodyInterrupted if the client stops before the end.
    """

    chunks: Iterable[bytes]
    length: int | None = None
    checksum: UploadChecksum | None = None


@dataclass
class PurgeReport:
    expired: list[str] = field(default_factory=list)  # unfinished: storage freed, quota released
    finished: list[str] = field(default_factory=list)  # records of completed uploads dropped
    busy: list[str] = field(default_factory=list)  # a request holds them; next time
    orphan_staged: list[str] = field(default_factory=list)  # staged blobs of no upload
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "expired": self.expired,
            "finished": self.finished,
            "busy": self.busy,
            "orphan_staged": self.orphan_staged,
            "dry_run": self.dry_run,
        }


def public_status(record: UploadRecord) -> dict[str, Any]:
    """The upload as ``GET /uploads/{id}`` shows it: no owner, keys or parts."""
    return {
        "upload_id": record.upload_id,
        "state": "complete" if record.complete else "active",
        "offset": record.offset,
        "length": record.length,
        "file_name": record.file_name,
        "file_type": record.file_type,
        "folder": record.folder,
        "file_id": record.file_id if record.complete else None,
        "created_at": iso_ms(record.created_at),
        "expires_at": None if record.complete else iso_ms(record.expires_at),
    }


class UploadService:
    """Resumable uploads of one owner at a time, becoming files through FileService."""

    def __init__(
        self,
        files: FileService,
        store: UploadStore,
        expiry_s: int,
        lock_s: int,
        part_size: int,
        concurrency: int = 4,
    ) -> None:
        self.files = files
        self.blobs = files.blobs
        self.store = store
        self.expiry = timedelta(seconds=max(1, expiry_s))
        self.lease = timedelta(seconds=max(1, lock_s))
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.concurrency = max(1, concurrency)
        self._hashes = _RunningHashes(_HASH_CACHE_SIZE)

    @property
    def max_size(self) -> int:
        return self.files.max_file_size

    # -- creation, status, termination ---------------------------------------------

    def create(self, owner: str, new: NewUpload, body: Body | None = None) -> UploadRecord:
        """Reserve the quota, start the multipart upload, record it; then take the body.

        A creation whose body fails is undone entirely: its client never learned the
        upload's URL, so nobody could resume it.
        """
        if new.length > self.max_size:
            raise FileTooLarge(f"Upload-Length is over the limit of {self.max_size} bytes")
        if not self.files.quotas.reserve(owner, new.length, 0):
            user = self.files.quotas.get_user(owner)
            quota = user.quota_bytes if user else 0
            raise QuotaExceeded(f"This would exceed your storage quota of {quota} bytes")
        file_id = new_file_id()
        key = new_blob_key(file_id)
        multipart_id = ""
        try:
            if new.length:
                multipart_id = self.blobs.start_multipart(key)
            now = utcnow()
            lock = secrets.token_hex(8)
            takes_body = body is not None or new.length == 0
            record = UploadRecord(
                upload_id=new_upload_id(),
                owner=owner,
                length=new.length,
                offset=0,
                metadata=new.metadata,
                file_name=new.file_name,
                file_type=new.file_type,
                folder=new.folder,
                file_id=file_id,
                blob_key=key,
                multipart_id=multipart_id,
                part_size=_part_size(self.part_size, new.length),
                parts=(),
                staged=(),
                created_at=now,
                expires_at=now + self.expiry,
                lock=lock if takes_body else None,
                lock_until=now + self.lease if takes_body else None,
            )
            self.store.insert_upload(record)
        except BaseException:
            if multipart_id:
                self._abort_multipart(key, multipart_id)
            self._release_quota(owner, new.length)
            raise
        if not takes_body:
            return record
        try:
            return self._append_locked(record, lock, body or Body(()))
        except BaseException:
            self._forget(record, lock)
            raise

    def status(self, owner: str, upload_id: str) -> UploadRecord:
        """The upload as stored, once no request is writing to it (waits a little)."""
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.02
        while True:
            record = self._get(owner, upload_id)
            busy = record.lock_until is not None and record.lock_until > utcnow()
            if not busy or time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        if not record.complete and self.files.meta.get(owner, record.file_id) is not None:
            # The file was made but the record not marked (see _finish): it is complete.
            return replace(record, offset=record.length, completed_at=utcnow())
        if not record.complete and record.expires_at <= utcnow():
            raise UploadExpired(f"Upload {upload_id} expired at {iso_ms(record.expires_at)}")
        return record

    def terminate(self, owner: str, upload_id: str) -> UploadRecord:
        """Delete the upload: its parts, staged bytes and reserved quota go with it.

        A completed upload's record goes; its file stays (delete that at /files).
        """
        _, lock = self._acquire(owner, upload_id)
        removed = self.store.delete_upload(upload_id, lock)
        if removed is None:
            raise UploadLocked("Another request took this upload over; try again")
        if not removed.complete:
            self._free(removed)
        self._hashes.drop(upload_id)
        return removed

    # -- appending ------------------------------------------------------------------

    def append(self, owner: str, upload_id: str, offset: int, body: Body) -> UploadRecord:
        """Add the body at ``offset``; on reaching Upload-Length the upload becomes a file."""
        record, lock = self._acquire(owner, upload_id)
        try:
            if not record.complete and record.expires_at <= utcnow():
                raise UploadExpired(f"Upload {upload_id} expired at {iso_ms(record.expires_at)}")
            if offset != record.offset:
                raise OffsetMismatch(
                    f"Upload-Offset is {offset} but the upload has {record.offset} bytes"
                )
            return self._append_locked(record, lock, body)
        except BaseException:
            self._unlock(record, lock)
            raise

    def _append_locked(self, record: UploadRecord, lock: str, body: Body) -> UploadRecord:
        remaining = record.length - record.offset
        if body.length is not None and body.length > remaining:
            raise FileTooLarge(
                f"{body.length} bytes at offset {record.offset} would pass Upload-Length"
                f" ({record.length})"
            )
        if record.complete:  # an empty PATCH at the end: nothing to do
            self._unlock(record, lock)
            return replace(record, lock=None, lock_until=None)
        checker = hashlib.new(body.checksum.algorithm) if body.checksum else None
        running = self._hashes.resume(record.upload_id, record.offset)
        writer = _PartWriter(self, record)
        lease = _Lease(self, record.upload_id, lock)
        received = 0
        interrupted: BodyInterrupted | None = None
        try:
            try:
                for chunk in body.chunks:
                    if not chunk:
                        continue
                    received += len(chunk)
                    if received > remaining:
                        raise FileTooLarge(
                            f"The body passes Upload-Length ({record.length}); nothing was kept"
                        )
                    if checker is not None:
                        checker.update(chunk)
                    if running is not None:
                        running.update(chunk)
                    writer.write(chunk)
                    lease.keep()
            except BodyInterrupted as exc:
                if checker is not None:
                    raise  # what the checksum covers never fully arrived: keep none of it
                interrupted = exc
            expected = body.checksum
            if expected is not None and checker is not None and checker.digest() != expected.digest:
                raise UploadChecksumMismatch(
                    f"The body does not match its {expected.algorithm} Upload-Checksum;"
                    " it was discarded"
                )
            final = received == remaining
            writer.finish(final)
        except BlobNotFound:
            writer.discard()
            self._lost(record, lock)
            raise UploadNotFound(record.upload_id) from None
        except BaseException:
            writer.discard()
            raise
        finally:
            writer.close()

        now = utcnow()
        changes: dict[str, Any] = {
            "offset": record.offset + received,
            "parts": tuple(writer.parts),
            "staged": tuple(writer.staged),
            "expires_at": now + self.expiry,
        }
        if final:
            lease.keep(now=True)  # completing may read the whole object back
            self._finish(record, lock, writer.parts, running)
            changes.update(staged=(), completed_at=now)
        if not self.store.commit_upload(record.upload_id, lock, changes):
            if final:
                # The file exists; status() and _acquire() see it and mark the upload done.
                log.warning(
                    "upload %s became file %s; its record lags", record.upload_id, record.file_id
                )
            else:
                writer.discard()
                raise UploadLocked("This request's hold on the upload lapsed; nothing was kept")
        writer.drop_consumed()
        if final:
            self._hashes.drop(record.upload_id)
        elif running is not None:
            self._hashes.save(record.upload_id, running)
        if interrupted is not None:
            raise interrupted
        return replace(record, **changes, lock=None, lock_until=None)

    def _finish(
        self,
        record: UploadRecord,
        lock: str,
        parts: list[tuple[int, str]],
        running: _RunningHash | None,
    ) -> None:
        """Assemble the object and make it a file (the same rules as any upload)."""
        try:
            if parts:
                self.blobs.complete_multipart(record.blob_key, record.multipart_id, parts)
            else:  # Upload-Length 0: there is no multipart upload
                self.blobs.put_stream(record.blob_key, [])
        except BlobNotFound:
            self._lost(record, lock)
            raise UploadNotFound(record.upload_id) from None
        measured = None
        if running is not None and running.size == record.length:
            measured = Measured(
                running.hexdigest(), running.size, running.head, running.md5.hexdigest()
            )
        try:
            self.files.adopt(
                record.owner,
                record.file_id,
                record.blob_key,
                record.file_name,
                record.file_type,
                record.folder,
                measured,
            )
        except BaseException:
            # The parts are spent and the blob is gone (adopt removes it): nothing to resume.
            self._lost(record, lock)
            raise

    # -- expiry -----------------------------------------------------------------------

    def purge(self, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
        """Remove expired uploads: abort their multipart uploads, delete their staged
        blobs, release their quota; drop records of completed uploads past their time;
        delete staged blobs whose upload no longer exists."""
        now = now or utcnow()
        report = PurgeReport(dry_run=dry_run)
        for record in list(self.store.iter_uploads(expired_before=now)):
            self._purge_one(record, now, report)
        # Staged blobs are listed before the uploads: a blob whose upload is missing
        # afterwards belonged to one that is gone for good (records are made first).
        staged_keys = [blob.key for blob in self.blobs.iter_blobs(STAGING_PREFIX)]
        live = {record.upload_id for record in self.store.iter_uploads()}
        for key in staged_keys:
            if upload_id_of_staging_key(key) not in live:
                report.orphan_staged.append(key)
                if not dry_run:
                    self._delete_blob(key)
        return report

    def _purge_one(self, record: UploadRecord, now: datetime, report: PurgeReport) -> None:
        finished = record.complete or self.files.meta.get(record.owner, record.file_id) is not None
        if report.dry_run:
            (report.finished if finished else report.expired).append(record.upload_id)
            return
        lock = secrets.token_hex(8)
        locked = self.store.lock_upload(record.owner, record.upload_id, lock, now, now + self.lease)
        if locked is None or locked.expires_at >= now:  # busy, or a PATCH just renewed it
            if locked is not None:
                self._unlock(locked, lock)
            report.busy.append(record.upload_id)
            return
        removed = self.store.delete_upload(record.upload_id, lock)
        if removed is None:
            report.busy.append(record.upload_id)
            return
        self._hashes.drop(record.upload_id)
        if finished:
            report.finished.append(record.upload_id)
            for key, _ in removed.staged:
                self._delete_blob(key)
        else:
            self._free(removed)
            report.expired.append(record.upload_id)

    # -- internals ----------------------------------------------------------------------

    def _get(self, owner: str, upload_id: str) -> UploadRecord:
        record = self.store.get_upload(owner, upload_id)
        if record is None:
            raise UploadNotFound(upload_id)
        return record

    def _acquire(self, owner: str, upload_id: str) -> tuple[UploadRecord, str]:
        """Take the upload's lease, waiting a little for a request that holds it."""
        lock = secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.02
        while True:
            now = utcnow()
            record = self.store.lock_upload(owner, upload_id, lock, now, now + self.lease)
            if record is not None:
                if not self._settle(record, lock):
                    return record, lock
                continue  # settling released the lease: take it again
            self._get(owner, upload_id)  # 404 rather than 423 for a missing upload
            if time.monotonic() >= deadline:
                raise UploadLocked("Another request is writing to this upload; try again")
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _settle(self, record: UploadRecord, lock: str) -> bool:
        """Mark an upload complete whose file exists though its record says otherwise
        (the commit after completion failed). True if it did, releasing the lease."""
        try:
            if record.complete or self.files.meta.get(record.owner, record.file_id) is None:
                return False
            now = utcnow()
            changes: dict[str, Any] = {
                "offset": record.length,
                "staged": (),
                "completed_at": now,
                "expires_at": now + self.expiry,
            }
            settled = self.store.commit_upload(record.upload_id, lock, changes)
        except BaseException:
            self._unlock(record, lock)
            raise
        if settled:
            for key, _ in record.staged:
                self._delete_blob(key)
        return True

    def _unlock(self, record: UploadRecord, lock: str) -> None:
        try:
            self.store.commit_upload(record.upload_id, lock, {})
        except DatabaseUnavailable:
            log.warning("could not unlock upload %s; its lease lapses", record.upload_id)

    def _lost(self, record: UploadRecord, lock: str) -> None:
        """The upload can never complete (its parts are gone): remove it entirely.

        Unless its file exists: then a request whose lease lapsed completed it, and
        the next one settles the record.
        """
        try:
            if self.files.meta.get(record.owner, record.file_id) is not None:
                return
            log.warning("upload %s lost its stored parts; removing it", record.upload_id)
            removed = self.store.delete_upload(record.upload_id, lock)
        except DatabaseUnavailable:
            return  # the record stays; the next request or purge finds the same
        if removed is not None:
            self._free(removed)

    def _forget(self, record: UploadRecord, lock: str) -> None:
        """Undo a creation: the upload, its storage and its quota go (best effort)."""
        try:
            removed = self.store.delete_upload(record.upload_id, lock)
        except DatabaseUnavailable:
            log.warning("could not remove upload %s; it expires", record.upload_id)
            return
        if removed is not None and not removed.complete:
            self._free(removed)

    def _free(self, removed: UploadRecord) -> None:
        """Storage and quota of an unfinished upload whose record is gone (best effort:
        fsck aborts multipart uploads no record keeps, purge sweeps staged blobs)."""
        if removed.multipart_id:
            self._abort_multipart(removed.blob_key, removed.multipart_id)
        for key, _ in removed.staged:
            self._delete_blob(key)
        self._release_quota(removed.owner, removed.length)

    def _abort_multipart(self, key: str, multipart_id: str) -> None:
        try:
            self.blobs.abort_multipart(key, multipart_id)
        except StorageUnavailable as exc:
            log.warning("could not abort multipart upload of %s (fsck will): %s", key, exc)

    def _delete_blob(self, key: str) -> None:
        try:
            self.blobs.delete(key)
        except (StorageUnavailable, BlobNotFound) as exc:
            log.warning("could not delete staged blob %s (purge will): %s", key, exc)

    def _release_quota(self, owner: str, size: int) -> None:
        try:
            self.files.quotas.release(owner, size, 0)
        except DatabaseUnavailable:
            log.warning("could not release %d bytes for %s (fsck will fix usage)", size, owner)


def _part_size(configured: int, length: int) -> int:
    """The configured part size, or larger (whole MiB) if the upload needs more than
    S3's 10,000 parts."""
    needed = math.ceil(length / MAX_PARTS)
    if needed <= configured:
        return configured
    return math.ceil(needed / 1024**2) * 1024**2


class _Lease:
    """Keeps the upload's lease alive while a long body streams in."""

    def __init__(self, uploads: UploadService, upload_id: str, lock: str) -> None:
        self._uploads = uploads
        self._upload_id = upload_id
        self._lock = lock
        self._every = uploads.lease.total_seconds() / 3
        self._renew_at = time.monotonic() + self._every

    def keep(self, now: bool = False) -> None:
        if not now and time.monotonic() < self._renew_at:
            return
        until = utcnow() + self._uploads.lease
        if not self._uploads.store.renew_upload_lock(self._upload_id, self._lock, until):
            raise UploadLocked("This request's hold on the upload lapsed; nothing was kept")
        self._renew_at = time.monotonic() + self._every


class _PartWriter:
    """Turns the staged bytes plus one body into whole parts, and the rest into a
    new staged blob. Holds at most one part being filled plus ``concurrency`` parts
    in flight to storage."""

    def __init__(self, uploads: UploadService, record: UploadRecord) -> None:
        self._blobs = uploads.blobs
        self._record = record
        self._part_size = record.part_size
        self._concurrency = uploads.concurrency
        self._staged = list(record.staged)
        self._staged_size = sum(size for _, size in record.staged)
        self._buffer = bytearray()
        self._next_number = len(record.parts) + 1
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[int, str]]] = deque()
        self.parts: list[tuple[int, str]] = list(record.parts)
        self.consumed: list[str] = []  # staged keys this request folded into parts or a merge
        self.created: list[str] = []  # staged keys this request wrote

    @property
    def staged(self) -> list[tuple[str, int]]:
        return self._staged

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._staged_size + len(self._buffer) >= self._part_size:
            self._wait_for_room()  # before cutting: at most `concurrency` parts in memory
            take = self._part_size - self._staged_size
            head = self._take_staged()
            with memoryview(self._buffer) as view:
                piece = bytes(view[:take])
            del self._buffer[:take]
            self._upload(head + piece if head else piece)

    def finish(self, final: bool) -> None:
        """Send the last part (final) or stage the rest; wait for every part."""
        if final:
            if self._staged_size or self._buffer:
                self._wait_for_room()
                self._upload(self._take_staged() + bytes(self._buffer))
        elif self._buffer:
            data = bytes(self._buffer)
            if len(self._staged) >= MAX_STAGED_BLOBS:
                data = self._take_staged() + data
            key = new_staging_key(self._record.upload_id)
            self.created.append(key)
            self._blobs.put_stream(key, [data])
            self._staged.append((key, len(data)))
            self._staged_size += len(data)
        self._buffer = bytearray()
        while self._pending:
            self.parts.append(self._pending.popleft().result())

    def discard(self) -> None:
        """After a failure: let parts in flight land (they are never listed), remove
        the staged blobs this request wrote."""
        for future in self._pending:
            future.exception()
        self._pending.clear()
        for key in self.created:
            try:
                self._blobs.delete(key)
            except (StorageUnavailable, BlobNotFound) as exc:
                log.warning("could not delete staged blob %s (purge will): %s", key, exc)

    def drop_consumed(self) -> None:
        """After the commit: the staged blobs now held in parts are garbage."""
        for key in self.consumed:
            try:
                self._blobs.delete(key)
            except (StorageUnavailable, BlobNotFound) as exc:
                log.warning("could not delete staged blob %s (purge will): %s", key, exc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _take_staged(self) -> bytes:
        """Read every staged blob, in order (less than one part in all)."""
        if not self._staged:
            return b""
        data = bytearray()
        for key, size in self._staged:
            before = len(data)
            reader = self._blobs.open(key)
            try:
                for chunk in reader:
                    data += chunk
            finally:
                reader.close()
            if len(data) - before != size:
                raise StorageUnavailable(f"Staged blob {key} does not hold its {size} bytes")
            self.consumed.append(key)
        self._staged = []
        self._staged_size = 0
        return bytes(data)

    def _upload(self, body: bytes) -> None:
        number = self._next_number
        self._next_number += 1
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="tus-part")
        self._pending.append(self._pool.submit(self._put_part, number, body))

    def _wait_for_room(self) -> None:
        while len(self._pending) >= self._concurrency:
            self.parts.append(self._pending.popleft().result())

    def _put_part(self, number: int, body: bytes) -> tuple[int, str]:
        record = self._record
        return number, self._blobs.upload_part(record.blob_key, record.multipart_id, number, body)


class _RunningHash:
    """SHA-256, MD5, size and first bytes of an upload's content so far."""

    def __init__(
        self, sha256: Any = None, size: int = 0, head: bytes = b"", md5: Any = None
    ) -> None:
        self._sha256 = sha256 or hashlib.sha256()
        self.md5 = md5 or hashlib.md5()
        self.size = size
        self.head = head

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]

    def hexdigest(self) -> str:
        return str(self._sha256.hexdigest())

    def copy(self) -> _RunningHash:
        return _RunningHash(self._sha256.copy(), self.size, self.head, self.md5.copy())


class _RunningHashes:
    """This process's running hashes, by upload id, for the next PATCH to continue."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, _RunningHash] = OrderedDict()
        self._lock = threading.Lock()

    def resume(self, upload_id: str, offset: int) -> _RunningHash | None:
        """A hash covering exactly ``[0, offset)``, or None if this process has none."""
        if offset == 0:
            return _RunningHash()
        with self._lock:
            entry = self._entries.get(upload_id)
            return entry.copy() if entry is not None and entry.size == offset else None

    def save(self, upload_id: str, running: _RunningHash) -> None:
        with self._lock:
            self._entries[upload_id] = running
            self._entries.move_to_end(upload_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        with self._lock:
            self._entries.pop(upload_id, None)
