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
