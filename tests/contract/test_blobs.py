"""The blob-store contract: every promise of filedrop/storage/blobs.py, checked against
every implementation (moto, local disk, SeaweedFS, MinIO)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filedrop.ids import new_blob_key, new_file_id
from filedrop.storage.blobs import BlobNotFound, BlobStore
from tests.fixtures import PART_SIZE
from tests.records import chunks, read_blob

pytestmark = pytest.mark.contract

DATA = bytes(range(256)) * 40  # 10 KiB, every byte value


def _key() -> str:
    return new_blob_key(new_file_id())


def _xfail_on_moto(request: pytest.FixtureRequest, reason: str) -> None:
    if request.node.callspec.params["blob_store"] == "moto":
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"moto 5.2: {reason}"))


def test_put_then_read_whole_and_ranges(blob_store: BlobStore) -> None:
    key = _key()
    blob_store.put_stream(key, chunks(DATA))
    assert read_blob(blob_store, key) == DATA
    assert read_blob(blob_store, key, 0, 0) == DATA[:1]
    assert read_blob(blob_store, key, 100, 1099) == DATA[100:1100]
    assert read_blob(blob_store, key, 10_000) == DATA[10_000:]  # to the end
    assert read_blob(blob_store, key, 10_000, 10**9) == DATA[10_000:]  # clamped to the end
    assert blob_store.exists(key)


def test_an_empty_body_is_an_empty_object(blob_store: BlobStore) -> None:
    key = _key()
    blob_store.put_stream(key, iter([]))
    assert blob_store.exists(key) and read_blob(blob_store, key) == b""


def test_a_body_of_several_parts_round_trips(blob_store: BlobStore) -> None:
    data = bytes(range(251)) * (PART_SIZE * 2 // 251 + 7)  # two parts and a bit
    key = _key()
    blob_store.put_stream(key, chunks(data, 1024**2))
    assert read_blob(blob_store, key) == data
    [info] = [b for b in blob_store.iter_blobs(key) if b.key == key]
    assert info.size == len(data)


def test_a_failing_before_commit_stores_nothing(blob_store: BlobStore) -> None:
    key = _key()

    def refuse() -> None:
        raise RuntimeError("checksum mismatch")

    with pytest.raises(RuntimeError):
        blob_store.put_stream(key, chunks(DATA), before_commit=refuse)
    assert not blob_store.exists(key)
    called: list[bool] = []
    blob_store.put_stream(key, chunks(DATA), before_commit=lambda: called.append(True))
    assert called == [True] and read_blob(blob_store, key) == DATA


def test_a_failing_body_stores_nothing(blob_store: BlobStore) -> None:
    key = _key()

    def broken() -> Iterator[bytes]:
        yield DATA
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        blob_store.put_stream(key, broken())
    assert not blob_store.exists(key)
    assert list(blob_store.abort_stale_uploads("", datetime.now(UTC), dry_run=True)) == []


def test_a_missing_object_is_not_found_and_delete_is_idempotent(blob_store: BlobStore) -> None:
    key = _key()
    with pytest.raises(BlobNotFound):
        read_blob(blob_store, key)
    assert not blob_store.exists(key)
    blob_store.delete(key)  # missing: not an error
    blob_store.put_stream(key, iter([b"x"]))
    blob_store.delete(key)
    assert not blob_store.exists(key)
    with pytest.raises(BlobNotFound):
        blob_store.copy(key, _key())


def test_copy_makes_an_independent_object(blob_store: BlobStore) -> None:
    source, dest = _key(), _key()
    blob_store.put_stream(source, chunks(DATA))
    blob_store.copy(source, dest)
    blob_store.delete(source)
    assert read_blob(blob_store, dest) == DATA


def test_iter_blobs_lists_by_prefix_with_sizes_and_utc_times(blob_store: BlobStore) -> None:
    file_id = new_file_id()
    keys = sorted(new_blob_key(file_id) for _ in range(3))
    before = datetime.now(UTC) - timedelta(minutes=5)
    for n, key in enumerate(keys):
        blob_store.put_stream(key, iter([b"x" * n]))
    other = _key()
    blob_store.put_stream(other, iter([b"y"]))
    found = sorted(blob_store.iter_blobs(f"blobs/{file_id}/"), key=lambda b: b.key)
    assert [(b.key, b.size) for b in found] == [(key, n) for n, key in enumerate(keys)]
    assert all(b.last_modified.tzinfo is not None and b.last_modified > before for b in found)
    assert other in {b.key for b in blob_store.iter_blobs("blobs/")}


def test_multipart_upload_is_invisible_until_complete(blob_store: BlobStore) -> None:
    key = _key()
    upload_id = blob_store.start_multipart(key)
    first = b"a" * PART_SIZE
    etag1 = blob_store.upload_part(key, upload_id, 1, b"z" * PART_SIZE)
    etag1 = blob_store.upload_part(key, upload_id, 1, first)  # again: replaces the part
    etag2 = blob_store.upload_part(key, upload_id, 2, b"tail")
    assert not blob_store.exists(key)
    blob_store.complete_multipart(key, upload_id, [(1, etag1), (2, etag2)])
    assert read_blob(blob_store, key, PART_SIZE - 2) == b"aatail"
    assert read_blob(blob_store, key, 0, 2) == b"aaa"


def test_a_part_streams_and_a_failing_stream_keeps_the_part_before(
    blob_store: BlobStore,
) -> None:
    key = _key()
    upload_id = blob_store.start_multipart(key)
    first = b"a" * PART_SIZE
    etag1 = blob_store.upload_part_stream(key, upload_id, 1, chunks(first, 64 * 1024), PART_SIZE)

    def failing_at_the_end() -> Iterator[bytes]:
        yield b"z" * PART_SIZE  # every byte, then the check after them fails
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError, match="checksum mismatch"):
        blob_store.upload_part_stream(key, upload_id, 1, failing_at_the_end(), PART_SIZE)
    with pytest.raises(ValueError):  # fewer bytes than declared: nothing is sent whole
        blob_store.upload_part_stream(key, upload_id, 2, iter([b"ta"]), 4)
    etag2 = blob_store.upload_part_stream(key, upload_id, 2, iter([b"ta", b"", b"il"]), 4)
    blob_store.complete_multipart(key, upload_id, [(1, etag1), (2, etag2)])
    assert read_blob(blob_store, key, PART_SIZE - 2) == b"aatail"
    # A streamed part's ETag is its MD5: the S3 API hands it to clients as it is.
    assert etag1.strip('"') == hashlib.md5(first).hexdigest()
    assert etag2.strip('"') == hashlib.md5(b"tail").hexdigest()


def test_a_part_streamed_again_with_the_same_bytes_keeps_one_copy(
    blob_store: BlobStore,
) -> None:
    key = _key()
    upload_id = blob_store.start_multipart(key)
    first = blob_store.upload_part_stream(key, upload_id, 1, iter([b"same"]), 4)
    again = blob_store.upload_part_stream(key, upload_id, 1, iter([b"same"]), 4)
    assert first == again
    blob_store.complete_multipart(key, upload_id, [(1, again)])
    assert read_blob(blob_store, key) == b"same"


def test_an_unknown_multipart_upload(blob_store: BlobStore, request: pytest.FixtureRequest) -> None:
    _xfail_on_moto(request, "upload_part to an aborted upload raises KeyError, not NoSuchUpload")
    key = _key()
    upload_id = blob_store.start_multipart(key)
    blob_store.abort_multipart(key, upload_id)
    blob_store.abort_multipart(key, upload_id)  # twice: not an error
    with pytest.raises(BlobNotFound):
        blob_store.upload_part(key, upload_id, 1, b"late")
    assert not blob_store.exists(key)


def test_abort_stale_uploads_spares_young_and_kept_uploads(
    blob_store: BlobStore, request: pytest.FixtureRequest
) -> None:
    _xfail_on_moto(request, "every multipart upload says it was initiated on 2010-11-10")
    prefix = f"blobs/{new_file_id()}/"
    stale, kept = prefix + "stale", prefix + "kept"
    stale_id = blob_store.start_multipart(stale)
    blob_store.start_multipart(kept)
    blob_store.upload_part(stale, stale_id, 1, b"x")
    assert (
        blob_store.abort_stale_uploads(prefix, datetime.now(UTC) - timedelta(hours=1), False) == []
    )
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert blob_store.abort_stale_uploads(prefix, later, dry_run=True, keep={kept}) == [stale]
    assert blob_store.abort_stale_uploads(prefix, later, dry_run=False, keep={kept}) == [stale]
    assert blob_store.abort_stale_uploads(prefix, later, dry_run=True, keep={kept}) == []
    with pytest.raises(BlobNotFound):
        blob_store.upload_part(stale, stale_id, 2, b"late")


def test_the_container_exists_once_and_answers(blob_store: BlobStore) -> None:
    assert blob_store.ensure_bucket() is False  # the fixture made it
    blob_store.check()


def test_disk_usage_is_known_only_where_the_bytes_are_local(
    blob_store: BlobStore, request: pytest.FixtureRequest
) -> None:
    disk = blob_store.disk_usage()
    if request.node.callspec.params["blob_store"] != "local":
        assert disk is None
        return
    assert disk is not None and 0 < disk.free_bytes <= disk.total_bytes
    assert Path(disk.path).is_dir()
