"""File records and the metadata-store interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision every store keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z`` (SPEC §1)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


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

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def public(self) -> dict[str, Any]:
        """The metadata as the API shows it: no owner, no blob key."""
        return {
            "file_id": self.file_id,
            "file_name": self.file_name,
            "file_size": self.file_size,
            "file_type": self.file_type,
            "created_at": iso_ms(self.created_at),
            "updated_at": iso_ms(self.updated_at),
            "sha256": self.sha256,
            "etag": self.etag,
        }

    def fields(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListCursor:
    """Where a newest-first listing stopped: the last (created_at, file_id) shown."""

    created_at: datetime
    file_id: str


class MetadataStore(Protocol):
    """File records, always addressed by (owner, file_id) so users stay isolated."""

    name: str

    def insert(self, record: FileRecord) -> None: ...

    def get(self, owner: str, file_id: str) -> FileRecord | None: ...

    def update(
        self, owner: str, file_id: str, changes: dict[str, Any], if_sha256: str | None = None
    ) -> FileRecord | None:
        """Apply ``changes`` atomically if the file exists (and has ``if_sha256``).

        Returns the record as it was *before*, so the caller can delete a
        replaced blob exactly once; None if nothing matched.
        """

    def delete(self, owner: str, file_id: str, if_sha256: str | None = None) -> FileRecord | None:
        """Remove the record atomically; return it, or None if nothing matched."""

    def list(
        self, owner: str, limit: int, after: ListCursor | None, prefix: str | None
    ) -> list[FileRecord]:
        """Newest first by (created_at, file_id), strictly after ``after``."""

    def iter_all(self) -> Iterator[FileRecord]:
        """Every record of every owner (for fsck)."""

    def remove(self, file_id: str) -> None:
        """Drop a record whatever its owner (fsck repair)."""

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

    def public(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "created_at": iso_ms(self.created_at),
            "usage": {
                "file_count": self.file_count,
                "bytes_used": self.bytes_used,
                "quota_bytes": self.quota_bytes,
            },
        }


class UserStore(Protocol):
    """Users, their hashed keys and their exact usage counters."""

    def create_user(self, user: UserRecord) -> None: ...

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def find_by_key_hash(self, key_hash: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]:
        """All users, oldest first."""

    def delete_user(self, user_id: str) -> UserRecord | None: ...

    def set_key_hash(self, user_id: str, key_hash: str) -> bool:
        """Replace the user's key at once (the old one stops working); False if no user."""

    def reserve(self, user_id: str, size: int, files: int) -> bool:
        """Atomically add ``size`` bytes and ``files`` files to the user's usage,
        only if ``bytes_used + size <= quota_bytes`` afterwards. True if applied.

        A user absent from the store (auth disabled, the implicit user) has no quota:
        the call is a no-op that returns True.
        """

    def release(self, user_id: str, size: int, files: int) -> None:
        """Atomically subtract from the user's usage (never checked against quota)."""

    def set_usage(self, user_id: str, bytes_used: int, file_count: int) -> None:
        """Overwrite the counters (fsck repair)."""


class RateLimitStore(Protocol):
    """Fixed-window request counters shared by every worker and instance."""

    def hit(self, bucket: str, window_start: int, window_s: int) -> int:
        """Count one request for ``bucket`` in the window starting at ``window_start``
        (epoch seconds); return the count so far in that window."""


class CatalogStore(MetadataStore, UserStore, RateLimitStore, Protocol):
    """Everything the service keeps in its database: files, users, request counters."""

    def describe(self) -> str:
        """Where the data lives, for the startup log."""
