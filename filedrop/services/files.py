"""The consistency rules in one place: how files are created, replaced, read and deleted.

Write orders: upload = blob, then metadata (blob removed if metadata fails);
replace = new blob, then one atomic metadata swap, then the old blob;
delete = metadata, then blob. Blob keys are never reused, so a reader sees the
old content or the new, never a mix. A copy is a new file: quota reserved,
then a server-side copy to a fresh key, then metadata.

Where a file lives (folder), how a name clash is settled and when a file
expires are :class:`Placement`; an expired file is not found, whatever asks.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from ..errors import (
    DatabaseUnavailable,
    FileDropError,
    FileExists,
    FileNotFound,
    FileTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    StorageUnavailable,
)
from ..ids import new_blob_key, new_file_id
from ..storage.blobs import BlobNotFound, BlobReader, BlobStore
from ..storage.metadata import (
    NEWEST_FIRST,
    FileRecord,
    FileStore,
    ListCursor,
    ListOrder,
    QuotaStore,
    UserRecord,
    utcnow,
)
from ..validation import validate_file_name
from . import mediatypes
from .checksums import ExpectedDigests, Hasher
from .folders import ROOT, numbered_name

log = logging.getLogger("filedrop.service")

SNIFF_BYTES = 512
_READ_RETRIES = 3
OnConflict = Literal["allow", "rename", "replace", "fail"]
_RENAME_TRIES = 100


@dataclass(frozen=True)
class Placement:
    """Where a file goes and how long it stays, for an upload, move or copy.

    ``folder`` None keeps the file's folder (the root for a new file).
    ``on_conflict`` settles a live file of the same name in the target folder:
    ``allow`` keeps both (the default, as before folders), ``rename`` picks
    ``name (1).ext``, ``(2)``…, ``replace`` deletes the other file once this one
    is stored, ``fail`` refuses with 409 and stores nothing. The check is not a
    lock: two requests racing for one new name may both get it.
    ``expires_at`` applies when ``sets_expiry`` (None then clears an expiry).
    """

    folder: str | None = None
    on_conflict: OnConflict = "allow"
    expires_at: datetime | None = None
    sets_expiry: bool = False

    @property
    def changes_anything(self) -> bool:
        """Whether a PUT with only this placement (no content, no name) has work to do."""
        return self.folder is not None or self.sets_expiry


@dataclass
class _Settled:
    """A placement resolved against the store: the folder and the files a replace removes."""

    placement: Placement
    folder: str
    victims: list[FileRecord] = field(default_factory=list)


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
    md5: str


class _Meter:
    """Counts, hashes and sniffs the content as it streams; enforces the size limit."""

    def __init__(self, chunks: Iterable[bytes], limit: int, digests: ExpectedDigests) -> None:
        self._chunks = chunks
        self._limit = limit
        # MD5 always: it is the ETag S3 clients check an upload against.
        self.hasher = Hasher((set(digests.values) - {"sha256"}) | {"md5"})
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
class Measured:
    """What hashing a file's content found: its SHA-256, size and first bytes (for sniffing)."""

    sha256: str
    size: int
    head: bytes
    md5_etag: str | None = None


# The response headers a direct download from storage carries, from the record it serves.
HeadersFor = Callable[[FileRecord], Mapping[str, str]]


@dataclass(frozen=True)
class Download:
    record: FileRecord
    body: BlobReader
    span: tuple[int, int] | None  # inclusive byte range served, None for the whole file


class FileService:
    """Files of one owner at a time. Usage counters move with every write, so
    ``bytes_used`` always equals the sum of the owner's file sizes."""

    def __init__(
        self, blobs: BlobStore, meta: FileStore, quotas: QuotaStore, max_file_size: int
    ) -> None:
        self.blobs = blobs
        self.meta = meta
        self.quotas = quotas
        self.max_file_size = max_file_size

    def check_room(self, owner: str, incoming_bytes: int, user: UserRecord | None = None) -> None:
        """Refuse early, before reading a byte, when the declared size cannot fit.

        ``user`` is the owner's record if the caller has just read it (authentication
        does); the exact check is the reservation after the content is stored."""
        user = user or self.quotas.get_user(owner)
        if user is not None and user.bytes_used + incoming_bytes > user.quota_bytes:
            raise _quota_error(user.quota_bytes)

    # -- writes ---------------------------------------------------------------

    def upload(
        self,
        owner: str,
        incoming: Incoming,
        digests: ExpectedDigests,
        placement: Callable[[], Placement] | None = None,
    ) -> FileRecord:
        """``placement`` is asked once the content is read (a form may send its fields
        after the file), before the blob commits: a bad folder or a clash stores nothing."""
        file_id = new_file_id()
        settled: list[_Settled] = []

        def settle(name: str) -> str:
            where = placement() if placement else Placement()
            folder = where.folder or ROOT
            final, victims = self._settle_name(owner, folder, name, where.on_conflict, None)
            settled.append(_Settled(where, folder, victims))
            return final

        stored = self._store_content(
            file_id, incoming, digests, lambda: incoming.fallback_name, settle
        )
        where = settled[0]
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
            folder=where.folder,
            expires_at=where.placement.expires_at,
            md5_etag=stored.md5,
        )
        reserved = False
        try:  # from here on the blob exists: any failure must take it away again
            self.reserve(owner, stored.size, files=1)
            reserved = True
            self.meta.insert(record)
        except BaseException:
            if reserved:
                self.release(owner, stored.size, 1)
            self._discard_blob(stored.blob_key)
            raise
        self.remove_replaced(where.victims)
        return record

    def copy(
        self, owner: str, file_id: str, new_name: str | None, placement: Placement | None = None
    ) -> FileRecord:
        """A new file with the same content: quota first, then a server-side copy of the
        blob to a fresh key, then metadata. The copy shares nothing with the original
        (not its links, not its expiry unless given)."""
        where = placement or Placement()
        source = self._get(owner, file_id)
        folder = where.folder or source.folder
        name = source.file_name if new_name is None else validate_file_name(new_name)
        name, victims = self._settle_name(owner, folder, name, where.on_conflict, None)
        new_id = new_file_id()
        key = new_blob_key(new_id)
        self.reserve(owner, source.file_size, files=1)
        try:
            source = self._copy_blob(owner, source, key)
            now = utcnow()
            record = FileRecord(
                file_id=new_id,
                owner=owner,
                file_name=name,
                file_size=source.file_size,
                file_type=source.file_type,
                created_at=now,
                updated_at=now,
                sha256=source.sha256,
                blob_key=key,
                folder=folder,
                expires_at=where.expires_at,
                md5_etag=source.md5_etag,
            )
            self.meta.insert(record)
        except BaseException:
            self.release(owner, source.file_size, 1)
            self._discard_blob(key)
            raise
        self.remove_replaced(victims)
        return record

    def _copy_blob(self, owner: str, source: FileRecord, dest_key: str) -> FileRecord:
        """Copy the source's current blob; a replace racing us moves it, so follow it once
        or twice. Returns the record whose content was copied."""
        for _ in range(_READ_RETRIES):
            try:
                self.blobs.copy(source.blob_key, dest_key)
                return source
            except BlobNotFound:
                latest = self._get(owner, source.file_id)
                if latest.blob_key == source.blob_key:
                    log.error("file %s has metadata but no blob", source.file_id)
                    raise FileNotFound(source.file_id) from None
                if latest.file_size != source.file_size:  # the reservation was for the old size
                    raise StorageUnavailable(
                        "The file changed while being copied; try again"
                    ) from None
                source = latest
        raise StorageUnavailable("The file kept changing while being copied; try again")

    def replace(
        self,
        owner: str,
        file_id: str,
        incoming: Incoming | None,
        new_name: str | None,
        if_match: ETagCondition | None,
        digests: ExpectedDigests,
        placement: Callable[[], Placement] | None = None,
    ) -> FileRecord:
        """New content, a new name, folder (a move) or expiry, swapped in by one
        conditional update. A name clash is settled only when the name or folder
        changes; ``placement`` is asked as in :meth:`upload`."""
        current = self._get(owner, file_id)
        if if_match is not None and not if_match.contains(current.sha256):
            raise PreconditionFailed("The file's ETag does not match If-Match")
        settled: list[_Settled] = []

        def settle(name: str) -> str:
            where = placement() if placement else Placement()
            folder = where.folder or current.folder
            moved = folder != current.folder or name != current.file_name
            policy: OnConflict = where.on_conflict if moved else "allow"
            final, victims = self._settle_name(owner, folder, name, policy, file_id)
            settled.append(_Settled(where, folder, victims))
            return final

        changes: dict[str, Any] = {}
        stored: _Stored | None = None
        if incoming is not None:
            fallback = new_name or current.file_name
            stored = self._store_content(file_id, incoming, digests, lambda: fallback, settle)
            changes.update(
                file_name=stored.file_name,
                blob_key=stored.blob_key,
                sha256=stored.sha256,
                file_size=stored.size,
                file_type=stored.media_type,
                md5_etag=stored.md5,
            )
        else:
            asked = current.file_name if new_name is None else validate_file_name(new_name)
            name = settle(asked)
            if new_name is not None or name != current.file_name:
                changes["file_name"] = name
        where = settled[0]
        if where.placement.folder is not None:
            changes["folder"] = where.folder
        if where.placement.sets_expiry:
            changes["expires_at"] = where.placement.expires_at
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
        self.remove_replaced(where.victims)
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
            self.reserve(owner, stored.size, files=0)
            reserved = True
            before = self.meta.update(
                owner, file_id, changes, if_sha256=_expected(current, if_match)
            )
        except BaseException:
            if reserved:
                self.release(owner, stored.size, 0)
            self._discard_blob(stored.blob_key)
            raise
        if before is None:
            self.release(owner, stored.size, 0)
            self._discard_blob(stored.blob_key)
            return None
        self.release(owner, before.file_size, 0)
        self._discard_blob(before.blob_key)
        return before

    def adopt(
        self,
        owner: str,
        file_id: str,
        blob_key: str,
        file_name: str,
        declared_type: str | None,
        folder: str | None = None,
        measured: Measured | None = None,
        md5_etag: str | None = None,
    ) -> FileRecord:
        """Make a blob stored by other means (an assembled resumable upload) the new file
        ``file_id`` in ``folder`` (the root if None; names may clash, as with
        ``on_conflict=allow``): metadata after the blob, the blob removed if that fails.

        The caller has already reserved the bytes against the owner's quota; the file
        is counted here. Without ``measured`` the blob is read back once to hash it
        (and to compute its MD5 unless ``md5_etag``, an assembled object's ETag, is given).
        """
        try:
            measured = measured or self.measure(blob_key, md5_etag)
            name = validate_file_name(file_name)
            now = utcnow()
            record = FileRecord(
                file_id=file_id,
                owner=owner,
                file_name=name,
                file_size=measured.size,
                file_type=declared_type or mediatypes.detect(measured.head, name),
                created_at=now,
                updated_at=now,
                sha256=measured.sha256,
                blob_key=blob_key,
                folder=folder or ROOT,
                md5_etag=measured.md5_etag,
            )
            self.meta.insert(record)
        except BaseException:
            self._discard_blob(blob_key)
            raise
        try:
            # The bytes were reserved up front; only the file count moves, unconditionally.
            self.quotas.release(owner, 0, -1)
        except DatabaseUnavailable:
            log.warning("could not count file %s for %s (fsck will fix usage)", file_id, owner)
        return record

    def measure(self, blob_key: str, md5_etag: str | None = None) -> Measured:
        """Hash a stored blob, streaming it once from storage a chunk at a time: its
        SHA-256 always, its MD5 only when no ``md5_etag`` is given."""
        hasher = Hasher(None if md5_etag else {"md5"})
        head = b""
        reader = self.blobs.open(blob_key)
        try:
            for chunk in reader:
                hasher.update(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
        finally:
            reader.close()
        return Measured(
            hasher.sha256_hex, hasher.size, head, md5_etag or hasher.digest("md5").hex()
        )

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
        self.release(owner, removed.file_size, 1)
        self._discard_blob(removed.blob_key)
        if removed.is_expired(utcnow()):  # it was gone already; now it is reclaimed too
            raise FileNotFound(file_id)
        return removed

    def delete_many(self, owner: str, file_ids: list[str]) -> list[FileRecord | FileDropError]:
        """Delete each file in turn; each result is the deleted record or why not."""
        results: list[FileRecord | FileDropError] = []
        for file_id in file_ids:
            try:
                results.append(self.delete(owner, file_id, None))
            except FileDropError as exc:
                results.append(exc)
        return results

    def discard_file(self, record: FileRecord, if_unchanged: bool = False) -> bool:
        """Delete a file a scan found (folder delete, purge, replace on conflict):
        metadata first, then the blob. With ``if_unchanged`` only if its content is
        still what the scan saw. False if it was gone (or changed) already."""
        expected = record.sha256 if if_unchanged else None
        removed = self.meta.delete(record.owner, record.file_id, if_sha256=expected)
        if removed is None:
            return False
        self.release(record.owner, removed.file_size, 1)
        self._discard_blob(removed.blob_key)
        return True

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

    def get(self, owner: str, file_id: str, counts: bool = True) -> FileRecord:
        """``counts=False`` when download counts are not shown (a download needs none)."""
        return self._get(owner, file_id, counts)

    def open(
        self,
        owner: str,
        file_id: str,
        byte_range: Callable[[FileRecord], tuple[int, int] | None],
        record: FileRecord | None = None,
        pinned: bool = False,
    ) -> Download:
        """Open the current content. ``byte_range`` picks (start, end) from the record.

        A replace may delete the blob we just looked up; then the record has
        moved on, and we follow it instead of answering 404 — unless ``pinned``
        (a share link serves only the content it was made for): then 404.
        """
        for _ in range(_READ_RETRIES):
            record = record or self._get(owner, file_id, counts=False)
            span = byte_range(record)
            try:
                body = self.blobs.open(record.blob_key, *(span or (None, None)))
                return Download(record, body, span)
            except BlobNotFound:
                latest = self._get(owner, file_id, counts=False)
                if latest.blob_key != record.blob_key:
                    if pinned:
                        raise FileNotFound(file_id) from None
                    record = latest
                    continue
                log.error("file %s has metadata but no blob %s", file_id, record.blob_key)
                raise FileNotFound(file_id) from None
        raise StorageUnavailable("The file kept changing while being read; try again")

    def download(
        self,
        owner: str,
        file_id: str,
        byte_range: Callable[[FileRecord], tuple[int, int] | None],
        record: FileRecord | None = None,
    ) -> Download:
        """:meth:`open`, counted as a download of the file."""
        opened = self.open(owner, file_id, byte_range, record)
        self.record_download(opened.record)
        return opened

    def download_url(
        self, owner: str, file_id: str, expires_s: int, headers: HeadersFor
    ) -> str | None:
        """A short-lived URL that downloads the current content straight from storage,
        counted as a download; None when the blob store can't make one (serve it then)."""
        record = self._get(owner, file_id, counts=False)
        url = self.presign(record, url_lifetime(expires_s, record.expires_at), headers)
        if url is not None:
            self.record_download(record)
        return url

    def presign(self, record: FileRecord, expires_s: int, headers: HeadersFor) -> str | None:
        """The storage URL of ``record``'s content, without counting anything."""
        return self.blobs.presigned_get_url(record.blob_key, expires_s, headers(record))

    def record_download(self, record: FileRecord) -> None:
        """One write per download, best effort: a download never fails for its bookkeeping."""
        try:
            self.meta.record_access(record.file_id, utcnow())
        except DatabaseUnavailable as exc:
            log.warning("could not count a download of %s: %s", record.file_id, exc.message)

    def list(
        self,
        owner: str,
        limit: int,
        after: ListCursor | None,
        prefix: str | None,
        folder: str | None = None,
        recursive: bool = False,
        order: ListOrder = NEWEST_FIRST,
    ) -> tuple[list[FileRecord], ListCursor | None]:
        """A page of live files in ``order`` (newest first unless told): all of them,
        or those in ``folder`` (and beneath it, if ``recursive``)."""
        records = self.meta.list(
            owner,
            limit + 1,
            after,
            prefix,
            folder=folder,
            recursive=recursive,
            live_at=utcnow(),
            order=order,
        )
        page, more = records[:limit], len(records) > limit
        cursor = ListCursor(order.key(page[-1]), page[-1].file_id) if more else None
        return page, cursor

    # -- internals ------------------------------------------------------------

    def _get(self, owner: str, file_id: str, counts: bool = True) -> FileRecord:
        record = self.meta.get(owner, file_id, counts)
        if record is None or record.is_expired(utcnow()):
            raise FileNotFound(file_id)
        return record

    def _settle_name(
        self, owner: str, folder: str, name: str, policy: OnConflict, moving: str | None
    ) -> tuple[str, builtins.list[FileRecord]]:
        """Apply ``on_conflict``: the name to use, and the files ``replace`` will remove.

        ``moving`` is the file being renamed or moved: it never clashes with itself.
        """
        if policy == "allow":
            return name, []

        def clashes(candidate: str) -> builtins.list[FileRecord]:
            found = self.meta.find_named(owner, folder, candidate, utcnow())
            return [record for record in found if record.file_id != moving]

        existing = clashes(name)
        if not existing:
            return name, []
        if policy == "fail":
            raise FileExists(f"A file named {name!r} already exists in {folder}")
        if policy == "replace":
            return name, existing
        for number in range(1, _RENAME_TRIES + 1):
            candidate = numbered_name(name, number)
            if not clashes(candidate):
                return candidate, []
        return numbered_name(name, secrets.token_hex(4)), []

    def remove_replaced(self, victims: builtins.list[FileRecord]) -> None:
        """After ``on_conflict=replace`` stored the new file: the old ones go, unless they
        changed meanwhile. Best effort: the new file stands either way."""
        for victim in victims:
            try:
                self.discard_file(victim, if_unchanged=True)
            except DatabaseUnavailable as exc:
                log.warning("could not remove replaced file %s: %s", victim.file_id, exc.message)

    def _store_content(
        self,
        file_id: str,
        incoming: Incoming,
        digests: ExpectedDigests,
        fallback_name: Callable[[], str | None],
        settle: Callable[[str], str] | None = None,
    ) -> _Stored:
        """Stream the content to a fresh blob; verify name and digests before it commits.

        ``settle`` then gets the validated name and returns the one to store (or raises,
        and nothing is stored).
        """
        meter = _Meter(incoming.chunks(), self.max_file_size, digests)
        key = new_blob_key(file_id)
        names: list[str] = []

        def before_commit() -> None:
            explicit = incoming.file_name
            name = validate_file_name(fallback_name() if explicit is None else explicit)
            digests.verify(meter.hasher)
            names.append(settle(name) if settle else name)

        self.blobs.put_stream(key, meter, before_commit)
        name = names[0]
        media_type = incoming.declared_type or mediatypes.detect(meter.head, name)
        md5 = meter.hasher.digest("md5").hex()
        return _Stored(key, meter.hasher.sha256_hex, meter.hasher.size, media_type, name, md5)

    def reserve(self, owner: str, size: int, files: int) -> None:
        if not self.quotas.reserve(owner, size, files):
            user = self.quotas.get_user(owner)
            raise _quota_error(user.quota_bytes if user else 0)

    def release(self, owner: str, size: int, files: int) -> None:
        try:
            self.quotas.release(owner, size, files)
        except DatabaseUnavailable:
            # The file change stands; fsck recomputes usage from the files themselves.
            log.warning("could not release %d bytes for %s (fsck will fix usage)", size, owner)

    def _discard_blob(self, key: str) -> None:
        """Best effort: a blob left behind is an orphan that fsck reports and removes."""
        try:
            self.blobs.delete(key)
        except (StorageUnavailable, BlobNotFound) as exc:
            log.warning("could not delete blob %s (fsck will find it): %s", key, exc)


def url_lifetime(expires_s: int, *ends: datetime | None) -> int:
    """``expires_s``, cut short so a URL never outlives what it gives access to."""
    now = utcnow()
    left = [int((end - now).total_seconds()) for end in ends if end is not None]
    return max(1, min([expires_s, *left]))


def _quota_error(quota: int) -> QuotaExceeded:
    return QuotaExceeded(f"This would exceed your storage quota of {quota} bytes")


def _expected(current: FileRecord, if_match: ETagCondition | None) -> str | None:
    """The sha256 a conditional write must still find (None: unconditional)."""
    return current.sha256 if if_match is not None else None
