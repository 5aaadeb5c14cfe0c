"""Records and byte streams for tests that talk to a store directly (below HTTP)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

from filedrop.ids import new_blob_key, new_file_id
from filedrop.storage.blobs import BlobStore
from filedrop.storage.metadata import FileRecord, UserRecord, utcnow


def file_record(
    owner: str = "alice",
    name: str = "file.txt",
    created_at: datetime | None = None,
    folder: str = "/",
    expires_at: datetime | None = None,
) -> FileRecord:
    """A new file's record, with a fresh id and blob key."""
    moment = created_at or utcnow()
    file_id = new_file_id()
    return FileRecord(
        file_id=file_id,
        owner=owner,
        file_name=name,
        file_size=3,
        file_type="text/plain",
        created_at=moment,
        updated_at=moment,
        sha256=hashlib.sha256(file_id.encode()).hexdigest(),
        blob_key=new_blob_key(file_id),
        folder=folder,
        expires_at=expires_at,
    )


def user_record(user_id: str = "u1", quota: int = 1000) -> UserRecord:
    return UserRecord(user_id, "Ada", f"hash-{user_id}", quota, 0, 0, utcnow())


def read_blob(
    store: BlobStore, key: str, start: int | None = None, end: int | None = None
) -> bytes:
    reader = store.open(key, start, end)
    try:
        return b"".join(reader)
    finally:
        reader.close()


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
