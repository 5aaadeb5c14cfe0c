"""File records and the metadata-store interface."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision every store keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z``, as the API shows times."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def field_names(record: type[Any]) -> tuple[str, ...]:
    """A record dataclass's fields, in order: each store's columns or document keys."""
    return tuple(f.name for f in fields(record))


@dataclass(frozen=True)
class FileRecord:
    """One file's metadata, including where its current content lives."""

    file_id: str
    owner: str
    file_name: str
    file_size: int
    file_type: str
    created_at: datetime
    updated_at: datetime
    sha256: str
    blob_key: str
    folder: str = "/"
    expires_at: datetime | None = None  # gone for every endpoint from then on
    # Download bookkeeping (PURGE_UNACCESSED_DAYS), kept apart from the record's own
    # writes: a download never rewrites the record itself.
    last_accessed_at: datetime | None = None
    download_count: int = 0
    # The ETag the S3 API shows: the hex MD5 of the content, or for an object assembled
    # from S3 multipart parts, the MD5 of the parts' MD5s and "-N". None for files stored
    # before it was kept (the S3 API then derives one from the SHA-256).
    md5_etag: str | None = None

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def fields(self) -> dict[str, Any]:
        return asdict(self)


# What FileStore.update may change: the record's own fields. Its identity (file_id,
# owner) never changes, and the download bookkeeping is record_access's alone.
FILE_CHANGEABLE_FIELDS = frozenset(field_names(FileRecord)) - {
    "file_id",
    "owner",
    "last_accessed_at",
    "download_count",
}


def refuse_unknown(changes: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    """Raise ValueError unless every key of ``changes`` is in ``allowed``: a store never
    writes a field it was not told about (a typo would otherwise be stored silently)."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not {what} fields: {sorted(unknown)}")


# What a listing can be sorted by: the file's name (case-insensitively, by
# ``name_key``), its size in bytes, or when it was created.
SORTS = ("name", "size", "date")


def name_key(file_name: str) -> str:
    """What a name sorts by: its casefold, so "apple" < "Banana" < "cherry" in every store
    (each store keeps it beside the name; ties are broken by file_id)."""
    return file_name.casefold()


@dataclass(frozen=True)
class ListOrder:
    """A listing's order: ``sort`` (one of SORTS), then file_id, the same direction."""

    sort: str = "date"
    descending: bool = True

    @property
    def field(self) -> str:
        """The column (SQLite) or document field (MongoDB) holding the sort key."""
        return {"name": "name_key", "size": "file_size", "date": "created_at"}[self.sort]

    def key(self, record: FileRecord) -> datetime | int | str:
        """The value ``record`` sorts by under this order (what a cursor carries)."""
        if self.sort == "name":
            return name_key(record.file_name)
        return record.file_size if self.sort == "size" else record.created_at


NEWEST_FIRST = ListOrder()


@dataclass(frozen=True)
class ListCursor:
    """Where a listing stopped: the last file shown, by its sort key and file_id.

    ``key`` is what ListOrder.key gave for it: a datetime (date), an int (size) or a
    casefolded name (name)."""

    key: datetime | int | str
    file_id: str


class FileStore(Protocol):
    """File records, always addressed by (owner, file_id) so users stay isolated.

    Every store keeps datetimes to the millisecond, in UTC, and gives back exactly
    the record it was given (tests/contract/test_metadata.py holds every store to
    the promises written here).
    """

    name: str

    def insert(self, record: FileRecord) -> None: ...

    def get(self, owner: str, file_id: str, counts: bool = True) -> FileRecord | None:
        """``counts=False``: the caller does not need ``download_count`` and
        ``last_accessed_at``, and a store that keeps them apart may skip reading them."""

    def update(
        self, owner: str, file_id: str, changes: dict[str, Any], if_sha256: str | None = None
    ) -> FileRecord | None:
        """Apply ``changes`` atomically if the file exists (and has ``if_sha256``).

        Returns the record as it was *before*, so the caller can delete a
        replaced blob exactly once; None if nothing matched. A key outside
        FILE_CHANGEABLE_FIELDS raises ValueError and changes nothing. The download
        count and last access (record_access's) survive every update.
        """

    def delete(self, owner: str, file_id: str, if_sha256: str | None = None) -> FileRecord | None:
        """Remove the record atomically; return it, or None if nothing matched."""

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
    ) -> list[FileRecord]:
        """Files by ``order``: its sort key, then file_id, both ascending or both
        descending; strictly after ``after`` (a cursor made under the same order).
        The default is newest first, by (created_at, file_id). Name order compares
        name_key (casefolded names) by code point, the same in every store.

        ``prefix``: only names starting with it, matched literally (no wildcards).
        ``folder``: only files in it (and beneath it, if ``recursive``); None: all.
        ``live_at``: leave out files expired by then; None: expired files too.
        """

    def iter_all(self) -> Iterator[FileRecord]:
        """Every record of every owner (for fsck)."""

    def remove(self, file_id: str) -> None:
        """Drop a record whatever its owner (fsck repair)."""

    def find_named(
        self, owner: str, folder: str, file_name: str, live_at: datetime
    ) -> builtins.list[FileRecord]:
        """The owner's live files called ``file_name`` in exactly ``folder``."""

    def record_access(self, file_id: str, at: datetime) -> None:
        """Note one download: ``last_accessed_at = at``, ``download_count + 1``.

        One write, and never to the file record itself: on a store whose updates
        rewrite whole documents (FerretDB), a download racing a replace must not
        put the old blob key back.
        """

    def purgeable(
        self, now: datetime, unaccessed_before: datetime | None, after: str, limit: int
    ) -> tuple[builtins.list[FileRecord], str | None]:
        """Files of every owner, by file_id after ``after``, that expired by ``now`` or
        (with ``unaccessed_before``) were last downloaded or changed before it.

        Returns up to ``limit`` of them, and the file_id to continue after (None: done).
        """

    def ensure_indexes(self) -> None: ...

    def check(self) -> None:
        """Raise DatabaseUnavailable unless the database answers."""


@dataclass(frozen=True)
class UserRecord:
    """A user. ``key_hash`` is the SHA-256 hex of their API key; the key itself is never kept."""

    user_id: str
    name: str
    key_hash: str
    quota_bytes: int
    bytes_used: int
    file_count: int
    created_at: datetime


class QuotaStore(Protocol):
    """Users' usage counters, as every write that adds or removes bytes keeps them."""

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def reserve(self, user_id: str, size: int, files: int) -> bool:
        """Atomically add ``size`` bytes and ``files`` files to the user's usage,
        only if ``bytes_used + size <= quota_bytes`` afterwards. True if applied.

        Of racing reservations, never more are admitted than the quota holds.
        A user absent from the store (auth disabled, the implicit user) has no quota:
        the call is a no-op that returns True.
        """

    def release(self, user_id: str, size: int, files: int) -> None:
        """Atomically subtract from the user's usage (never checked against quota)."""


@dataclass(frozen=True)
class KeyRecord:
    """One of a user's API keys. ``key_hash`` is the SHA-256 hex of its bearer form;
    ``secret_sealed`` is its S3 secret access key, encrypted under the server's key
    (SigV4 needs the secret itself, so a hash would not do). ``bucket``: the one
    top-level folder the key may reach (None: all); ``read_only``: no writes."""

    key_id: str
    owner: str
    name: str
    key_hash: str
    access_key_id: str
    secret_sealed: str
    bucket: str | None
    read_only: bool
    created_at: datetime


class KeyStore(Protocol):
    """Users' extra API keys (each with a bearer form and an S3 pair)."""

    def insert_key(self, key: KeyRecord) -> None: ...

    def find_key_by_hash(self, key_hash: str) -> KeyRecord | None: ...

    def find_key_by_access_key(self, access_key_id: str) -> KeyRecord | None: ...

    def list_keys(self, owner: str) -> builtins.list[KeyRecord]:
        """The owner's keys, oldest first."""

    def delete_key(self, owner: str, key_id: str) -> KeyRecord | None:
        """Remove one key of ``owner`` (both its forms at once); the record, or None."""

    def delete_keys(self, owner: str) -> int:
        """Remove every key of ``owner``; how many."""


class UserStore(QuotaStore, KeyStore, Protocol):
    """Users, their hashed keys and their exact usage counters."""

    def create_user(self, user: UserRecord) -> None: ...

    def find_by_key_hash(self, key_hash: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]:
        """All users, oldest first."""

    def delete_user(self, user_id: str) -> UserRecord | None: ...

    def set_key_hash(self, user_id: str, key_hash: str) -> bool:
        """Replace the user's key at once (the old one stops working); False if no user."""

    def set_usage(self, user_id: str, bytes_used: int, file_count: int) -> None:
        """Overwrite the counters (fsck repair)."""


class RateLimitStore(Protocol):
    """Fixed-window request counters shared by every worker and instance."""

    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        """Count ``n`` requests for ``bucket`` in the window starting at ``window_start``
        (epoch seconds), in one atomic step; return the count so far in that window.

        Racing hits are all counted. Windows that ended may be swept at any time."""


@dataclass(frozen=True)
class UploadRecord:
    """A resumable (tus) upload: in progress, or finished and kept until it expires.

    Bytes ``[0, offset)`` are stored: parts ``1..len(parts)`` of the multipart upload
    ``multipart_id`` (to ``blob_key``) hold the first ``len(parts) * part_size``, and
    the ``staged`` blobs ``(key, size)`` hold the rest, in order, always less than a
    part. ``file_id`` is the file the upload becomes. ``lock`` is the lease of the
    one request that may change the upload, until ``lock_until``.
    """

    upload_id: str
    owner: str
    length: int
    offset: int
    metadata: str  # Upload-Metadata as the client sent it
    file_name: str
    file_type: str | None
    folder: str | None
    file_id: str
    blob_key: str
    multipart_id: str
    part_size: int
    parts: tuple[tuple[int, str], ...]
    staged: tuple[tuple[str, int], ...]
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None = None
    lock: str | None = None
    lock_until: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


# What UploadStore.commit_upload may change.
UPLOAD_PROGRESS_FIELDS = frozenset({"offset", "parts", "staged", "expires_at", "completed_at"})


class UploadStore(Protocol):
    """Resumable uploads, always addressed with their owner or the lease that guards them."""

    def insert_upload(self, upload: UploadRecord) -> None: ...

    def get_upload(self, owner: str, upload_id: str) -> UploadRecord | None: ...

    def lock_upload(
        self, owner: str, upload_id: str, lock: str, now: datetime, until: datetime
    ) -> UploadRecord | None:
        """Take the upload's lease if it is free or lapsed (``lock_until < now``), atomically.

        Returns the record as locked, or None if it is missing or someone holds it.
        """

    def renew_upload_lock(self, upload_id: str, lock: str, until: datetime) -> bool:
        """Extend the lease ``lock`` holds; False if it is no longer held."""

    def commit_upload(self, upload_id: str, lock: str, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` (of UPLOAD_PROGRESS_FIELDS) and release the lease, atomically,
        if ``lock`` still holds it; False (and nothing changed) otherwise. Any other
        key raises ValueError."""

    def delete_upload(self, upload_id: str, lock: str) -> UploadRecord | None:
        """Remove the upload if ``lock`` holds its lease; the record as it was, or None."""

    def iter_uploads(self, expired_before: datetime | None = None) -> Iterator[UploadRecord]:
        """Every upload (of every owner), or those with ``expires_at < expired_before``."""


class FolderStore(Protocol):
    """Explicit folder records (``POST /folders``): empty folders that exist anyway."""

    def create_folder(self, owner: str, path: str, at: datetime) -> bool:
        """Record the folder; False if it was recorded already."""

    def folder_recorded(self, owner: str, path: str) -> bool: ...

    def delete_folders(self, owner: str, path: str, recursive: bool) -> int:
        """Drop the record of ``path`` (and, if ``recursive``, of every folder beneath)."""

    def folders_beneath(self, owner: str, folder: str, live_at: datetime) -> set[str]:
        """Every folder path strictly beneath ``folder`` that holds a live file or is
        recorded (all of them, not only direct children)."""


@dataclass(frozen=True)
class LinkRecord:
    """A share link. ``token_hash`` is the SHA-256 hex of its token; the token itself is
    never kept. ``blob_key`` is the content it shares: once the file moves on, it ends."""

    token_hash: str
    link_id: str
    owner: str
    file_id: str
    blob_key: str
    created_at: datetime
    expires_at: datetime | None
    max_downloads: int | None
    downloads: int
    password_hash: str | None
    revoked_at: datetime | None


class LinkStore(Protocol):
    """Share links, found by token hash (public downloads) or by owner (management)."""

    def insert_link(self, link: LinkRecord) -> None: ...

    def get_link(self, token_hash: str) -> LinkRecord | None: ...

    def find_link(self, owner: str, link_id: str) -> LinkRecord | None: ...

    def list_links(self, owner: str, file_id: str) -> builtins.list[LinkRecord]:
        """The file's links, newest first."""

    def claim_download(self, link: LinkRecord, now: datetime) -> bool:
        """Count one download through ``link`` if it may have one more; True if counted.

        The store decides from what it holds, not from the caller's copy of the link
        (which may be stale): a link revoked, or expired by ``now``, is never counted,
        even if that happened while this call ran. For a link with ``max_downloads``
        this is atomic on every store: of concurrent claims, at most ``max_downloads``
        in all ever succeed (exactly one for a one-time link). Unlimited links are
        counted best effort.
        """

    def revoke_link(self, owner: str, token_hash: str, at: datetime) -> LinkRecord | None:
        """Mark the link revoked (once; later calls keep the first time); None if no such
        link of ``owner``."""

    def scan_links(self, after: str, limit: int) -> builtins.list[LinkRecord]:
        """Links of every owner by token hash after ``after`` (for purge)."""

    def delete_link(self, token_hash: str) -> None:
        """Forget the link and its download count."""


@dataclass(frozen=True)
class MultipartRecord:
    """An S3 API multipart upload in progress: the object it becomes (``folder``,
    ``file_name``, ``file_id``) and the backend's multipart upload to ``blob_key``."""

    upload_id: str
    owner: str
    bucket: str
    key: str
    folder: str
    file_name: str
    file_type: str | None
    file_id: str
    blob_key: str
    multipart_id: str
    created_at: datetime


@dataclass(frozen=True)
class PartRecord:
    """One uploaded part: its MD5 (the ETag S3 clients see) and the backend's ETag."""

    upload_id: str
    number: int
    md5: str
    blob_etag: str
    size: int
    uploaded_at: datetime


class MultipartStore(Protocol):
    """S3 API multipart uploads; each part is its own record, so parts that arrive at
    once never overwrite each other (not even on a store that rewrites whole documents)."""

    def insert_multipart(self, upload: MultipartRecord) -> None: ...

    def get_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None: ...

    def list_multiparts(self, owner: str | None) -> builtins.list[MultipartRecord]:
        """The owner's uploads (None: everyone's), oldest first."""

    def put_part(self, part: PartRecord) -> None:
        """Record a part, replacing an earlier upload of the same number."""

    def list_parts(self, upload_id: str) -> builtins.list[PartRecord]:
        """The upload's parts by number."""

    def delete_multipart(self, owner: str, upload_id: str) -> MultipartRecord | None:
        """Forget the upload and its parts; the record, or None if it was gone."""


class CatalogStore(
    FileStore,
    UserStore,
    KeyStore,
    MultipartStore,
    RateLimitStore,
    UploadStore,
    FolderStore,
    LinkStore,
    Protocol,
):
    """Everything kept in the database, as one store implements it. Only the code that
    builds the app sees this whole; each service gets the narrow protocol it uses."""

    def describe(self) -> str:
        """Where the data lives, for the startup log."""
