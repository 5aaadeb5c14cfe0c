"""Nothing lost, nothing torn — under concurrency and with servers killed mid-request."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filedrop import create_app
from filedrop.ids import new_blob_key
from filedrop.services.fsck import fsck
from filedrop.storage.metadata import FileRecord, utcnow
from tests.fixtures import PART_SIZE, S3_BACKENDS, Backend
from tests.helpers import error_code, pattern, upload_ok

pytestmark = pytest.mark.http


class TrippingStream(io.RawIOBase):
    """A request body that calls ``trip`` once ``after`` bytes have been read."""

    def __init__(self, content: bytes, after: int, trip: Callable[[], None]) -> None:
        self._data = io.BytesIO(content)
        self._after = after
        self._trip: Callable[[], None] | None = trip

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def readinto(self, buffer: Any) -> int:
        if self._trip and self._data.tell() >= self._after:
            self._trip()
            self._trip = None
        return self._data.readinto(buffer)


def _post_raw(client: FlaskClient, content: bytes, after: int, trip: Callable[[], None]) -> Any:
    return client.post(
        "/files/upload?file_name=doomed.bin",
        input_stream=TrippingStream(content, after, trip),
        headers={"Content-Length": str(len(content))},
    )


def _ensure_up(server: Any) -> None:
    if not server.running:
        server.start()


def _threads_client(app: Flask) -> Callable[[], FlaskClient]:
    local = threading.local()

    def get() -> FlaskClient:
        if not hasattr(local, "client"):
            local.client = app.test_client()
        return local.client  # type: ignore[no-any-return]

    return get


# -- concurrency (real servers: mocks are not thread-safe enough to prove anything) --


def test_concurrent_replaces_all_succeed_and_one_content_wins(
    real_backend: Backend,
) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    client = app.test_client()
    meta = upload_ok(client, b"original")
    url = f"/files/{meta['file_id']}"
    contents = [pattern(1000 + i, seed=i) for i in range(8)]
    get_client = _threads_client(app)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda c: get_client().put(url, data=c).status_code, contents))
    assert statuses == [200] * 8
    final = client.get(url)
    assert final.data in contents
    stored = client.get(url + "/metadata").get_json()
    assert stored["sha256"] == hashlib.sha256(final.data).hexdigest()
    assert stored["file_size"] == len(final.data)
    # Every replaced blob was deleted exactly once: one object left for this file.
    # Where the store cannot swap atomically (FerretDB), fsck must clean up the rest.
    prefix = f"blobs/{meta['file_id']}/"
    if not real_backend.atomic_metadata:
        fsck(real_backend.blobs, real_backend.meta, repair=True, grace_s=0)
    assert len(list(real_backend.blobs.iter_blobs(prefix))) == 1
    assert client.get(url).data == final.data


def test_concurrent_conditional_replaces_one_wins_rest_412(real_backend: Backend) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    meta = upload_ok(app.test_client(), b"original")
    url = f"/files/{meta['file_id']}"
    contents = [pattern(500, seed=i) for i in range(6)]
    get_client = _threads_client(app)

    def put(content: bytes) -> int:
        return get_client().put(url, data=content, headers={"If-Match": meta["etag"]}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(put, contents))
    assert set(statuses) <= {200, 412} and 200 in statuses
    winners = [c for c, status in zip(contents, statuses, strict=True) if status == 200]
    if real_backend.atomic_metadata:
        assert len(winners) == 1
    assert app.test_client().get(url).data in winners


def test_readers_never_see_a_torn_file_or_404_during_replaces(real_backend: Backend) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    versions = [pattern(PART_SIZE + 4096, seed=s) for s in (1, 2)]
    meta = upload_ok(app.test_client(), versions[0])
    url = f"/files/{meta['file_id']}"
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        reader = app.test_client()
        while not stop.is_set():
            response = reader.get(url)
            if response.status_code != 200 or response.data not in versions:
                problems.append(f"{response.status_code} {len(response.data)} bytes")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    writer = app.test_client()
    try:
        for i in range(6):
            assert writer.put(url, data=versions[(i + 1) % 2]).status_code == 200
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
    assert problems == []


# -- faults: kill the real servers mid-request ------------------------------------


def test_s3_killed_during_upload_gives_503_and_no_half_made_file(real_backend: Backend) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    client = app.test_client()
    s3 = real_backend.s3_server
    try:
        response = _post_raw(client, pattern(PART_SIZE * 3), after=PART_SIZE + 1, trip=s3.kill)
        assert response.status_code == 503
        assert error_code(response) == "STORAGE_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) > 0
        assert client.get("/files").get_json()["files"] == []
        assert client.get("/readyz").status_code == 503
    finally:
        _ensure_up(s3)
    # The same app serves again, without being restarted itself.
    meta = upload_ok(client, b"after the storm")
    assert client.get(f"/files/{meta['file_id']}").data == b"after the storm"
    report = fsck(real_backend.blobs, real_backend.meta, repair=True, grace_s=0)
    assert report.missing_blobs == []
    assert fsck(real_backend.blobs, real_backend.meta, grace_s=0).clean


def test_s3_killed_during_replace_keeps_old_content(real_backend: Backend) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    client = app.test_client()
    meta = upload_ok(client, b"the original")
    url = f"/files/{meta['file_id']}"
    s3 = real_backend.s3_server
    content = pattern(PART_SIZE * 3)
    try:
        response = client.put(
            url,
            input_stream=TrippingStream(content, PART_SIZE + 1, s3.kill),
            headers={"Content-Length": str(len(content))},
        )
        assert response.status_code == 503
        assert error_code(response) == "STORAGE_UNAVAILABLE"
        download = client.get(url)
        assert download.status_code == 503
        assert error_code(download) == "STORAGE_UNAVAILABLE"
    finally:
        _ensure_up(s3)
    assert client.get(url + "/metadata").get_json() == meta
    assert client.get(url).data == b"the original"


def test_mongo_killed_after_blob_written_gives_503_and_blob_removed(
    real_backend: Backend,
) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    client = app.test_client()
    db = real_backend.db_server
    content = pattern(PART_SIZE + 100)
    try:
        # Trip on the last read (the last 100 bytes): the blob completes, then
        # the metadata write fails.
        response = _post_raw(client, content, after=PART_SIZE, trip=db.kill)
        assert response.status_code == 503
        assert error_code(response) == "DATABASE_UNAVAILABLE"
        assert "Retry-After" in response.headers
        listing = client.get("/files")
        assert listing.status_code == 503 and error_code(listing) == "DATABASE_UNAVAILABLE"
    finally:
        _ensure_up(db)
    assert client.get("/files").get_json()["files"] == []
    assert list(real_backend.blobs.iter_blobs("blobs/")) == []
    meta = upload_ok(client, b"recovered")
    assert client.get(f"/files/{meta['file_id']}").data == b"recovered"


def test_mongo_down_then_up_reads_recover(real_backend: Backend) -> None:
    app = create_app(real_backend.settings, blobs=real_backend.blobs, meta=real_backend.meta)
    client = app.test_client()
    meta = upload_ok(client, b"persisted")
    db = real_backend.db_server
    db.kill()
    try:
        response = client.get(f"/files/{meta['file_id']}")
        assert response.status_code == 503
        assert error_code(response) == "DATABASE_UNAVAILABLE"
        assert client.get("/readyz").get_json()["checks"]["database"] == "DATABASE_UNAVAILABLE"
    finally:
        _ensure_up(db)
    assert client.get(f"/files/{meta['file_id']}").data == b"persisted"


# -- fsck: finds and repairs what a crash leaves, on every backend ------------------


def test_fsck_reports_and_repairs_orphans_both_ways(backend: Backend) -> None:
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    kept = upload_ok(client, b"healthy")
    orphan_key = new_blob_key("orphanfile000000")
    backend.blobs.put_stream(orphan_key, iter([b"no metadata points here"]))
    now = utcnow()
    ghost = FileRecord(
        "ghostfile0000000",
        "local",
        "ghost.txt",
        5,
        "text/plain",
        now,
        now,
        "0" * 64,
        new_blob_key("ghostfile0000000"),
    )
    backend.meta.insert(ghost)

    report = fsck(backend.blobs, backend.meta, grace_s=0)
    assert report.orphan_blobs == [orphan_key]
    assert report.missing_blobs == [ghost.file_id]
    assert not report.clean
    # A young orphan may be an upload in flight: reported apart, never touched.
    assert fsck(backend.blobs, backend.meta, grace_s=3600).recent_unreferenced_blobs == [orphan_key]
    fsck(backend.blobs, backend.meta, repair=True, grace_s=0)
    assert fsck(backend.blobs, backend.meta, grace_s=0).clean
    assert not backend.blobs.exists(orphan_key)
    assert client.get(f"/files/{ghost.file_id}").status_code == 404
    assert client.get(f"/files/{kept['file_id']}").data == b"healthy"


@pytest.mark.parametrize("backend", ["moto+mongomock"], indirect=True)
def test_fsck_cli_exit_codes(backend: Backend) -> None:
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["fsck", "--grace", "0"]).exit_code == 0
    backend.blobs.put_stream(new_blob_key("orphanfile000000"), iter([b"x"]))
    found = runner.invoke(args=["fsck", "--grace", "0"])
    assert found.exit_code == 1 and '"orphan_blobs"' in found.output
    assert runner.invoke(args=["fsck", "--grace", "0", "--repair"]).exit_code == 0
    assert runner.invoke(args=["fsck", "--grace", "0"]).exit_code == 0


@pytest.mark.parametrize("backend", S3_BACKENDS, indirect=True)
def test_fsck_aborts_stale_multipart_uploads(backend: Backend) -> None:
    """An upload cut off mid-way leaves parts that only fsck can see and abort."""
    s3 = backend.blobs._s3  # reaching below the interface on purpose: to fake a crash
    key = new_blob_key("crashedupload000")
    s3.create_multipart_upload(Bucket=backend.settings.s3_bucket, Key=key)
    assert fsck(backend.blobs, backend.meta, grace_s=0).stale_uploads == [key]
    fsck(backend.blobs, backend.meta, repair=True, grace_s=0)
    assert fsck(backend.blobs, backend.meta, grace_s=0).stale_uploads == []
