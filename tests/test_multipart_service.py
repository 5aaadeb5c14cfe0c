"""The S3 API's multipart service on embedded stores: what a part costs besides its
bytes, and the quota check it makes before reading any."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from filedrop.errors import QuotaExceeded
from filedrop.services.files import FileService
from filedrop.services.multipart import MultipartService, Target
from filedrop.storage.blobs.local import LocalBlobStore
from filedrop.storage.metadata import UserRecord
from filedrop.storage.sqlite import SqliteMetadataStore
from tests.records import user_record

pytestmark = pytest.mark.unit

PART = b"p" * 1000


class CountingStore(SqliteMetadataStore):
    """Counts user-record reads (each one a database round trip on MongoDB)."""

    user_reads = 0

    def get_user(self, user_id: str) -> UserRecord | None:
        self.user_reads += 1
        return super().get_user(user_id)


@pytest.fixture
def meta(tmp_path: Path) -> Iterator[CountingStore]:
    store = CountingStore(tmp_path / "meta.sqlite3")
    store.ensure_indexes()
    store.create_user(user_record("u1", quota=10_000))
    yield store
    store.close()


@pytest.fixture
def multipart(tmp_path: Path, meta: CountingStore) -> MultipartService:
    blobs = LocalBlobStore(tmp_path / "blobs", chunk_size=4096)
    blobs.ensure_bucket()
    return MultipartService(FileService(blobs, meta, meta, 10**9), meta, 10**6)


def test_a_part_uses_the_callers_user_record_read_at_sign_in(
    multipart: MultipartService, meta: CountingStore
) -> None:
    """Authentication has just read the user: the quota check reuses that record."""
    user = meta.get_user("u1")
    upload = multipart.create("u1", Target("b", "k", "/b", "k"), None)
    meta.user_reads = 0

    multipart.upload_part(upload, 1, iter([PART]), len(PART), user)

    assert meta.user_reads == 0
    assert [p.number for p in multipart.parts(upload)] == [1]


def test_a_part_that_cannot_fit_is_refused_before_a_byte_is_read(
    multipart: MultipartService, meta: CountingStore
) -> None:
    upload = multipart.create("u1", Target("b", "k", "/b", "k"), None)
    read: list[bytes] = []

    def body() -> Iterator[bytes]:
        read.append(PART)
        yield PART

    with pytest.raises(QuotaExceeded):
        multipart.upload_part(upload, 1, body(), 20_000, meta.get_user("u1"))
    with pytest.raises(QuotaExceeded):
        multipart.upload_part(upload, 1, body(), 20_000)  # no record at hand: it reads one

    assert read == [] and multipart.parts(upload) == []
