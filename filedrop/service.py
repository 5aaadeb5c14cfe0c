"""The rules of SPEC §3 in one place: how files are created, replaced, read and deleted.

Write orders: upload = blob, then metadata (blob removed if metadata fails);
replace = new blob, then one atomic metadata swap, then the old blob;
delete = metadata, then blob. Blob keys are never reused, so a reader sees the
old content or the new, never a mix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import mediatypes
from .checksums import ExpectedDigests, Hasher
from .errors import (
    DatabaseUnavailable,
    FileNotFound,
    FileTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    StorageUnavailable,
)
from .ids import new_blob_key, new_file_id
from .storage.blobs import BlobNotFound, BlobReader, BlobStore
from .storage.metadata import CatalogStore, FileRecord, ListCursor, utcnow
from .validation import validate_file_name

log = logging.getLogger("filedrop.service")

SNIFF_BYTES = 512
_READ_RETRIES = 3


class Incoming(Protocol):
    """New content as it arrives. Its names and type are final once ``chunks()``
    is exhausted (a multipart form may send ``file_name`` after the file).

    ``file_name`` is a name the client set explicitly (a form field, header or
    query); ``fallback_name`` one that came along (a multipart part's filename),
    used for new files only.
    """

    def chunks(self) -> Iterator[bytes]: ...

    @property
    def file_name(self) -> str | None: ...

    @property
    def fallback_name(self) -> str | None: ...

    @property
    def declared_type(self) -> str | None: ...


class ETagCondition(Protocol):
    """What an ``If-Match`` header asks for (Werkzeug's ``ETags`` fits)."""

    def contains(self, etag: str) -> bool: ...


@dataclass
class _Stored:
    blob_key: str
    sha256: str
    size: int
    media_type: str
    file_name: str


class _Meter:
    """Counts, hashes and sniffs the content as it streams; enforces the size limit."""

    def __init__(self, chunks: Iterable[bytes], limit: int, digests: ExpectedDigests) -> None:
        self._chunks = chunks
        self._limit = limit
        self.hasher = Hasher(set(digests.values) - {"sha256"})
        self.head = b""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not chunk:
                continue
            self.hasher.update(chunk)
            if self.hasher.size > self._limit:
                raise FileTooLarge(f"The file is larger than the limit of {self._limit} bytes")
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
            yield chunk


@dataclass(frozen=True)
class Download:
    record: FileRecord
    body: BlobReader
    span: tuple[int, int] | None  # inclusive byte range served, None for the whole file


class FileService:
    """Files of one owner at a time. Usage counters move with every write, so
    ``bytes_used`` always equals the sum of the owner's file sizes."""

    def __init__(self, blobs: BlobStore, meta: CatalogStore, max_file_size: int) -> None:
        self.blobs = blobs
        self.meta = meta
        self.max_file_size = max_file_size

    def check_room(self, owner: str, incoming_bytes: int) -> None:
        """Refuse early, before reading a byte, when the declared size cannot fit."""
        user = self.meta.get_user(owner)
        if user is not None and user.bytes_used + incoming_bytes > user.quota_bytes:
            raise _quota_error(user.quota_bytes)

    # -- writes ---------------------------------------------------------------

    def upload(self, owner: str, incoming: Incoming, digests: ExpectedDigests) -> FileRecord:
        file_id = new_file_id()
        stored = self._store_content(file_id, incoming, digests, lambda: incoming.fallback_name)
        now = utcnow()
        record = FileRecord(
            file_id=file_id,
            owner=owner,
            file_name=stored.file_name,
            file_size=stored.size,
            file_type=stored.media_type,
            created_at=now,
            updated_at=now,
            sha256=stored.sha256,
            blob_key=stored.blob_key,
        )
        reserved = False
        try:  # from here on the blob exists: any failure must take it away again
            self._reserve(owner, stored.size, files=1)
            reserved = True
            self.meta.insert(record)
        except BaseException:
            if reserved:
                self._release(owner, stored.size, 1)
            self._discard_blob(stored.blob_key)
            raise
        return record

    def replace(
        self,
        owner: str,
        file_id: str,
        incoming: Incoming | None,
        new_name: str | None,
        if_match: ETagCondition | None,
        digests: ExpectedDigests,
    ) -> FileRecord:
        """New content and/or a new name, swapped in by one conditional update."""
        current = self._get(owner, file_id)
        if if_match is not None and not if_match.contains(current.sha256):
            raise PreconditionFailed("The file's ETag does not match If-Match")
        changes: dict[str, Any] = {}
        stored: _Stored | None = None
        if incoming is not None:
            fallback = new_name or current.file_name
            stored = self._store_content(file_id, incoming, digests, lambda: fallback)
            changes.update(
                file_name=stored.file_name,
                blob_key=stored.blob_key,
                sha256=stored.sha256,
                file_size=stored.size,
                file_type=stored.media_type,
            )
        elif new_name is not None:
            changes["file_name"] = validate_file_name(new_name)
        changes["updated_at"] = utcnow()
        if stored is None:
            before = self.meta.update(
                owner, file_id, changes, if_sha256=_expected(current, if_match)
            )
        else:
            before = self._swap_content(owner, file_id, stored, changes, current, if_match)
        if before is None:
            if self.meta.get(owner, file_id) is None:
                raise FileNotFound(file_id)
            raise PreconditionFailed("The file changed while it was being updated")
        return replace(before, **changes)

    def _swap_content(
        self,
        owner: str,
        file_id: str,
        stored: _Stored,
        changes: dict[str, Any],
        current: FileRecord,
        if_match: ETagCondition | None,
    ) -> FileRecord | None:
        """Point the record at the new blob; then the old blob goes (or, on failure, the new)."""
        reserved = False
        try:
            # Counted twice until the swap: concurrent writes can never overshoot the quota.
            self._reserve(owner, stored.size, files=0)
            reserved = True
            before = self.meta.update(
                owner, file_id, changes, if_sha256=_expected(current, if_match)
            )
        except BaseException:
            if reserved:
                self._release(owner, stored.size, 0)
            self._discard_blob(stored.blob_key)
            raise
        if before is None:
            self._release(owner, stored.size, 0)
            self._discard_blob(stored.blob_key)
            return None
        self._release(owner, before.file_size, 0)
        self._discard_blob(before.blob_key)
        return before

    def delete(self, owner: str, file_id: str, if_match: ETagCondition | None) -> FileRecord:
        if if_match is not None:
            current = self._get(owner, file_id)
            if not if_match.contains(current.sha256):
                raise PreconditionFailed("The file's ETag does not match If-Match")
            removed = self.meta.delete(owner, file_id, if_sha256=current.sha256)
            if removed is None:
                raise PreconditionFailed("The file changed while it was being deleted")
        else:
            removed = self.meta.delete(owner, file_id)
            if removed is None:
                raise FileNotFound(file_id)
        self._release(owner, removed.file_size, 1)
        self._discard_blob(removed.blob_key)
        return removed

    def delete_all(self, owner: str) -> int:
        """Delete every file of ``owner`` (user removal); returns how many."""
        count = 0
        while page := self.meta.list(owner, 500, None, None):
            for record in page:
                if self.meta.delete(owner, record.file_id) is not None:
                    self._discard_blob(record.blob_key)
                    count += 1
        return count

    # -- reads ----------------------------------------------------------------

    def get(self, owner: str, file_id: str) -> FileRecord:
        return self._get(owner, file_id)

    def open(
        self,
        owner: str,
        file_id: str,
        byte_range: Callable[[FileRecord], tuple[int, int] | None],
        record: FileRecord | None = None,
    ) -> Download:
        """Open the current content. ``byte_range`` picks (start, end) from the record.

        A replace may delete the blob we just looked up; then the record has
        moved on, and we follow it instead of answering 404.
        """
        for _ in range(_READ_RETRIES):
            record = record or self._get(owner, file_id)
            span = byte_range(record)
            try:
                body = self.blobs.open(record.blob_key, *(span or (None, None)))
                return Download(record, body, span)
            except BlobNotFound:
                latest = self._get(owner, file_id)
                if latest.blob_key != record.blob_key:
                    record = latest
                    continue
                log.error("file %s has metadata but no blob %s", file_id, record.blob_key)
                raise FileNotFound(file_id) from None
        raise StorageUnavailable("The file kept changing while being read; try again")

    def list(
        self, owner: str, limit: int, after: ListCursor | None, prefix: str | None
    ) -> tuple[list[FileRecord], ListCursor | None]:
        records = self.meta.list(owner, limit + 1, after, prefix)
        page, more = records[:limit], len(records) > limit
        cursor = ListCursor(page[-1].created_at, page[-1].file_id) if more else None
        return page, cursor

    # -- internals ------------------------------------------------------------

    def _get(self, owner: str, file_id: str) -> FileRecord:
        record = self.meta.get(owner, file_id)
        if record is None:
            raise FileNotFound(file_id)
        return record

    def _store_content(
        self,
        file_id: str,
        incoming: Incoming,
        digests: ExpectedDigests,
        fallback_name: Callable[[], str | None],
    ) -> _Stored:
        """Stream the content to a fresh blob; verify name and digests before it commits."""
        meter = _Meter(incoming.chunks(), self.max_file_size, digests)
        key = new_blob_key(file_id)
        names: list[str] = []

        def before_commit() -> None:
            explicit = incoming.file_name
            names.append(validate_file_name(fallback_name() if explicit is None else explicit))
            digests.verify(meter.hasher)

        self.blobs.put_stream(key, meter, before_commit)
        name = names[0]
        media_type = incoming.declared_type or mediatypes.detect(meter.head, name)
        return _Stored(key, meter.hasher.sha256_hex, meter.hasher.size, media_type, name)

    def _reserve(self, owner: str, size: int, files: int) -> None:
        if not self.meta.reserve(owner, size, files):
            user = self.meta.get_user(owner)
            raise _quota_error(user.quota_bytes if user else 0)

    def _release(self, owner: str, size: int, files: int) -> None:
        try:
            self.meta.release(owner, size, files)
        except DatabaseUnavailable:
            # The file change stands; fsck recomputes usage from the files themselves.
            log.warning("could not release %d bytes for %s (fsck will fix usage)", size, owner)

    def _discard_blob(self, key: str) -> None:
        """Best effort: a blob left behind is an orphan that fsck reports and removes."""
        try:
            self.blobs.delete(key)
        except (StorageUnavailable, BlobNotFound) as exc:
            log.warning("could not delete blob %s (fsck will find it): %s", key, exc)


def _quota_error(quota: int) -> QuotaExceeded:
    return QuotaExceeded(f"This would exceed your storage quota of {quota} bytes")


def _expected(current: FileRecord, if_match: ETagCondition | None) -> str | None:
    """The sha256 a conditional write must still find (None: unconditional)."""
    return current.sha256 if if_match is not None else None
