"""Resumable uploads (tus 1.0.0 at /uploads/) with the real ``tuspy`` client,
against the app served by Werkzeug's server on 127.0.0.1, on every backend pair.

The cut-connection tests put a small TCP proxy between client and server that
forwards a set number of request bytes and then closes both sides, the way a
dropped network does; the client then resumes with a new uploader from the
offset the server reports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader
from werkzeug.serving import make_server

from filedrop import create_app
from filedrop.ids import STAGING_PREFIX, new_blob_key, new_file_id
from filedrop.openapi import build_spec
from filedrop.services import uploads
from filedrop.services.fsck import fsck
from filedrop.storage.blobs import BlobNotFound
from filedrop.storage.blobs.s3 import S3BlobStore
from tests.fixtures import FAST, PART_SIZE, Backend
from tests.helpers import Generated
from tests.live import CuttingProxy
from tests.test_openapi import assert_documented

pytestmark = pytest.mark.http

ADMIN = "admin-token-for-tus-tests-0123456789"
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = {**TUS, "Content-Type": "application/offset+octet-stream"}
MiB = 1024**2
GiB = 1024**3


# -- content that is never held whole: a seekable file-like made on the fly ------------


# -- a live server, users, and a cutting proxy -----------------------------------------


@contextmanager
def serve(app: Flask, threaded: bool) -> Iterator[str]:
    """The app under Werkzeug's server on 127.0.0.1:<free port>, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


@dataclass
class Live:
    base: str
    app: Flask
    backend: Backend

    def user(self, name: str = "alice", quota: int | None = None) -> dict[str, str]:
        """A new user's auth header."""
        body: dict[str, Any] = {"name": name}
        if quota is not None:
            body["quota_bytes"] = quota
        response = self.app.test_client().post(
            "/admin/users", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['api_key']}"}

    def client(self, auth: dict[str, str], base: str | None = None) -> TusClient:
        return TusClient(f"{base or self.base}/uploads/", headers=dict(auth))

    def url(self, path: str) -> str:
        return self.base + path

    def usage(self, auth: dict[str, str]) -> dict[str, int]:
        usage: dict[str, int] = requests.get(self.url("/me"), headers=auth).json()["usage"]
        return usage


def _app(backend: Backend, **overrides: Any) -> Flask:
    settings = backend.settings.with_overrides(
        **{"auth": "enabled", "admin_token": ADMIN, "log_level": "WARNING", **overrides}
    )
    return create_app(settings, blobs=backend.blobs, meta=backend.meta)


@contextmanager
def live_server(backend: Backend, **overrides: Any) -> Iterator[Live]:
    app = _app(backend, **overrides)
    # moto and mongomock are not thread-safe: there, one request at a time.
    with serve(app, threaded=backend.name != FAST) as base:
        yield Live(base, app, backend)


@pytest.fixture
def live(backend: Backend) -> Iterator[Live]:
    with live_server(backend) as server:
        yield server


# -- storage probes -----------------------------------------------------------------


def multipart_keys(backend: Backend) -> set[str]:
    """Target keys of every unfinished multipart upload in the store."""
    blobs = backend.blobs
    if isinstance(blobs, S3BlobStore):
        # No Prefix=: MinIO matches it against whole keys only (tests/servers.py).
        listing = blobs._s3.list_multipart_uploads(Bucket=backend.settings.s3_bucket)
        return {upload["Key"] for upload in listing.get("Uploads", [])}
    future = datetime.now(UTC) + timedelta(days=1)
    return set(blobs.abort_stale_uploads("", future, dry_run=True))


def staged_keys(backend: Backend) -> list[str]:
    return [blob.key for blob in backend.blobs.iter_blobs(STAGING_PREFIX)]


def upload_path(uploader: Uploader) -> str:
    return "/uploads/" + str(uploader.url).rsplit("/uploads/", 1)[1]


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def download_sha256(live: Live, auth: dict[str, str], file_id: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with requests.get(live.url(f"/files/{file_id}"), headers=auth, stream=True) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(4 * MiB):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# -- the blob stores' multipart verbs -----------------------------------------------


def test_multipart_verbs_behave_alike_on_every_blob_store(backend: Backend) -> None:
    blobs = backend.blobs
    key = new_blob_key(new_file_id())
    upload_id = blobs.start_multipart(key)
    stale = blobs.upload_part(key, upload_id, 1, b"a" * PART_SIZE)
    first = blobs.upload_part(key, upload_id, 1, b"b" * PART_SIZE)  # the same number again
    last = blobs.upload_part(key, upload_id, 2, b"tail")
    assert key in multipart_keys(backend) and not blobs.exists(key)
    blobs.complete_multipart(key, upload_id, [(1, first), (2, last)])
    assert b"".join(blobs.open(key)) == b"b" * PART_SIZE + b"tail"
    assert key not in multipart_keys(backend)
    assert stale != first

    other = new_blob_key(new_file_id())
    aborted = blobs.start_multipart(other)
    blobs.upload_part(other, aborted, 1, b"x")
    blobs.abort_multipart(other, aborted)
    blobs.abort_multipart(other, aborted)  # again: not an error
    assert other not in multipart_keys(backend) and not blobs.exists(other)
    if backend.name != FAST:  # moto raises a bare KeyError where S3 says NoSuchUpload
        with pytest.raises(BlobNotFound):
            blobs.upload_part(other, aborted, 1, b"x")


# -- the protocol ------------------------------------------------------------------


def test_options_tells_version_extensions_limits_and_checksums(live: Live) -> None:
    auth = live.user()
    response = requests.options(live.url("/uploads/"), headers=auth)
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = set(response.headers["Tus-Extension"].split(","))
    assert extensions == {
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    }
    assert int(response.headers["Tus-Max-Size"]) == live.backend.settings.max_file_size
    assert {"sha1", "md5", "sha256"} <= set(response.headers["Tus-Checksum-Algorithm"].split(","))
    assert requests.options(live.url("/uploads/")).status_code == 401  # keys, like every route


def test_other_tus_versions_are_412_with_the_version_we_speak(live: Live) -> None:
    auth = live.user()
    for version, status, code in (
        ({}, 400, "INVALID_REQUEST"),  # no version at all: a malformed request
        ({"Tus-Resumable": "0.2.2"}, 412, "PRECONDITION_FAILED"),
    ):
        response = requests.post(
            live.url("/uploads/"),
            headers={
                **auth,
                **version,
                "Upload-Length": "5",
                "Upload-Metadata": metadata(filename="a"),
            },
        )
        assert response.status_code == status
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Resumable"] == "1.0.0"
        assert response.json()["error"]["code"] == code
    assert live.usage(auth)["bytes_used"] == 0


def test_tuspy_upload_in_chunks_becomes_a_normal_file(live: Live) -> None:
    auth = live.user()
    content = Generated(2 * PART_SIZE + 3 * MiB + 17, seed=1)
    uploader = live.client(auth).uploader(
        file_stream=content,
        chunk_size=3 * MiB + 5,  # PATCHes cross part boundaries and leave staged bytes
        metadata={"filename": "räport.pdf", "filetype": "application/pdf", "folder": "/docs/2026"},
        upload_checksum=True,
    )
    uploader.upload()
    file_id = uploader.request.response_headers["x-file-id"]

    status = requests.get(live.url(upload_path(uploader)), headers=auth).json()
    assert status["state"] == "complete" and status["file_id"] == file_id
    assert status["offset"] == status["length"] == 2 * PART_SIZE + 3 * MiB + 17
    assert status["folder"] == "/docs/2026"
    meta = requests.get(live.url(f"/files/{file_id}/metadata"), headers=auth).json()
    assert meta["file_name"] == "räport.pdf"
    assert meta["file_type"] == "application/pdf"
    assert meta["folder"] == "/docs/2026"
    assert meta["file_size"] == 2 * PART_SIZE + 3 * MiB + 17
    assert meta["sha256"] == content.sha256()
    assert download_sha256(live, auth, file_id) == (content.sha256(), meta["file_size"])
    listed = requests.get(live.url("/files"), headers=auth).json()["files"]
    assert [f["file_id"] for f in listed] == [file_id]
    assert live.usage(auth) == {
        "file_count": 1,
        "bytes_used": meta["file_size"],
        "quota_bytes": live.backend.settings.default_quota_bytes,
    }
    assert multipart_keys(live.backend) == set()
    assert staged_keys(live.backend) == []
    report = fsck(live.backend.blobs, live.backend.meta, grace_s=0)
    assert report.clean, report.as_dict()


def test_creation_with_upload_and_empty_uploads(live: Live) -> None:
    auth = live.user()
    whole = requests.post(
        live.url("/uploads/"),
        data=b"all at once",
        headers={
            **auth,
            **OFFSET_STREAM,
            "Upload-Length": "11",
            "Upload-Metadata": metadata(filename="once.txt"),
        },
    )
    assert whole.status_code == 201, whole.text
    assert whole.headers["Upload-Offset"] == "11"
    file_id = whole.headers["X-File-Id"]
    assert requests.get(live.url(f"/files/{file_id}"), headers=auth).content == b"all at once"
    assert whole.json()["file_id"] == file_id and whole.json()["state"] == "complete"

    empty = requests.post(
        live.url("/uploads/"),
        headers={**auth, **TUS, "Upload-Length": "0", "Upload-Metadata": metadata(filename="e")},
    )
    assert empty.status_code == 201
    empty_file = requests.get(
        live.url(f"/files/{empty.headers['X-File-Id']}/metadata"), headers=auth
    )
    assert empty_file.json()["file_size"] == 0
    assert empty_file.json()["sha256"] == hashlib.sha256(b"").hexdigest()

    content = Generated(PART_SIZE + MiB, seed=2)
    first = content.read(MiB + 3)
    started = requests.post(
        live.url("/uploads/"),
        data=first,
        headers={
            **auth,
            **OFFSET_STREAM,
            "Upload-Length": str(PART_SIZE + MiB),
            "Upload-Metadata": metadata(filename="started.bin"),
            "Upload-Checksum": f"sha1 {sha1_b64(first)}",
        },
    )
    assert started.status_code == 201 and started.headers["Upload-Offset"] == str(MiB + 3)
    uploader = live.client(auth).uploader(
        file_stream=content, url=live.url(started.headers["Location"]), chunk_size=4 * MiB
    )
    assert uploader.offset == MiB + 3
    uploader.upload()
    file_id = uploader.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), PART_SIZE + MiB)
    assert live.usage(auth)["file_count"] == 3


def test_requests_that_break_the_protocol_change_nothing(live: Live) -> None:
    auth = live.user()
    created = requests.post(
        live.url("/uploads/"),
        headers={**auth, **TUS, "Upload-Length": "10", "Upload-Metadata": metadata(filename="p")},
    )
    url = live.url(created.headers["Location"])
    patch = {**auth, **OFFSET_STREAM}
    cases = [
        (requests.patch(url, data=b"abc", headers={**patch, "Upload-Offset": "3"}), 409),
        (requests.patch(url, data=b"x" * 11, headers={**patch, "Upload-Offset": "0"}), 413),
        (requests.patch(url, data=b"abc", headers={**patch, "Upload-Offset": "-1"}), 400),
        (requests.patch(url, data=b"abc", headers={**auth, **TUS, "Upload-Offset": "0"}), 415),
        (requests.patch(url, data=b"abc", headers=patch), 400),
        (
            requests.patch(
                url,
                data=b"abc",
                headers={**patch, "Upload-Offset": "0", "Upload-Checksum": "crc9 AA=="},
            ),
            400,
        ),
        (requests.post(live.url("/uploads/"), headers={**auth, **TUS}), 400),
        (
            requests.post(
                live.url("/uploads/"),
                headers={**auth, **TUS, "Upload-Length": "5", "Upload-Metadata": "filename !!"},
            ),
            400,
        ),
        (
            requests.post(
                live.url("/uploads/"),
                headers={**auth, **TUS, "Upload-Length": "5", "Upload-Metadata": metadata(x="y")},
            ),
            400,
        ),
        (
            requests.post(
                live.url("/uploads/"),
                headers={
                    **auth,
                    **TUS,
                    "Upload-Length": "5",
                    "Upload-Metadata": metadata(filename="f", folder="no/slash"),
                },
            ),
            400,
        ),
        (requests.head(live.url("/uploads/nope"), headers={**auth, **TUS}), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.method, response.text)
        assert response.headers["Tus-Resumable"] == "1.0.0"
        if response.request.method != "HEAD":
            assert response.json()["error"]["code"]
    head = requests.head(url, headers={**auth, **TUS})
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == "10"
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Metadata"] == metadata(filename="p")
    assert "Upload-Expires" in head.headers


@pytest.mark.parametrize("backend", [FAST], indirect=True)
def test_tus_responses_match_the_document(backend: Backend) -> None:
    app = _app(backend)
    client = app.test_client()
    spec = build_spec()
    made = client.post(
        "/admin/users",
        json={"name": "doc", "quota_bytes": 100},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    auth = {"Authorization": f"Bearer {made.get_json()['api_key']}"}
    create = {**auth, **TUS, "Upload-Metadata": metadata(filename="d.txt", folder="/a/b")}
    created = client.post(
        "/uploads/",
        data=b"abc",
        headers={**create, "Upload-Length": "10", "Content-Type": OFFSET_STREAM["Content-Type"]},
    )
    assert created.status_code == 201
    assert_documented(spec, "/uploads/", created, "post")
    item = created.headers["Location"]
    path = "/uploads/{upload_id}"
    patch = {**auth, **OFFSET_STREAM}
    checks = [
        (
            "/uploads/",
            "post",
            client.post("/uploads/", headers={**create, "Upload-Length": "91"}),
            507,
        ),
        (
            "/uploads/",
            "post",
            client.post("/uploads/", headers={**auth, "Upload-Length": "1"}),
            400,
        ),
        ("/uploads/", "post", client.post("/uploads/", headers={**create}), 400),
        ("/uploads/", "post", client.post("/uploads/", headers={**TUS, "Upload-Length": "1"}), 401),
        (path, "head", client.head(item, headers={**auth, **TUS}), 200),
        (path, "get", client.get(item, headers=auth), 200),
        (
            path,
            "patch",
            client.patch(item, data=b"x", headers={**patch, "Upload-Offset": "0"}),
            409,
        ),
        (
            path,
            "patch",
            client.patch(item, data=b"x", headers={**auth, **TUS, "Upload-Offset": "3"}),
            415,
        ),
        (
            path,
            "patch",
            client.patch(item, data=b"x" * 8, headers={**patch, "Upload-Offset": "3"}),
            413,
        ),
        (
            path,
            "patch",
            client.patch(
                item,
                data=b"def",
                headers={
                    **patch,
                    "Upload-Offset": "3",
                    "Upload-Checksum": f"sha1 {sha1_b64(b'x')}",
                },
            ),
            460,
        ),
        (
            path,
            "patch",
            client.patch(item, data=b"def", headers={**patch, "Upload-Offset": "3"}),
            204,
        ),
        (
            path,
            "patch",
            client.patch(item, data=b"ghij", headers={**patch, "Upload-Offset": "6"}),
            204,
        ),
        (path, "get", client.get(item, headers=auth), 200),
        (path, "head", client.head(item, headers={**auth, **TUS}), 200),
        (path, "delete", client.delete(item, headers={**auth, **TUS}), 204),
        (path, "head", client.head(item, headers={**auth, **TUS}), 404),
        (path, "get", client.get(item, headers=auth), 404),
        (path, "delete", client.delete(item, headers=auth), 400),
    ]
    for operation_path, method, response, status in checks:
        assert response.status_code == status, (method, status, response.get_json())
        assert_documented(spec, operation_path, response, method)
    done = checks[11][2]
    assert done.headers["X-File-Id"] == checks[12][2].get_json()["file_id"]
    assert checks[12][2].get_json()["folder"] == "/a/b"


def test_many_small_patches_keep_the_staged_bytes_bounded(live: Live) -> None:
    auth = live.user()
    content = Generated(PART_SIZE + 3 * MiB, seed=11)
    uploader = live.client(auth).uploader(
        file_stream=content, metadata={"filename": "drip.bin"}, chunk_size=96 * 1024 + 1
    )
    uploader.upload(stop_at=3 * MiB)  # 33 PATCHes, none filling a part
    assert 1 <= len(staged_keys(live.backend)) <= uploads.MAX_STAGED_BLOBS + 1
    uploader.chunk_size = 4 * MiB
    uploader.upload()
    file_id = uploader.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), PART_SIZE + 3 * MiB)
    assert staged_keys(live.backend) == []


def test_one_writer_at_a_time_and_head_tells_what_is_stored(
    concurrent_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "LOCK_WAIT_S", 0.5)
    with live_server(concurrent_backend) as live:
        auth = live.user()
        created = requests.post(
            live.url("/uploads/"),
            headers={
                **auth,
                **TUS,
                "Upload-Length": str(2 * MiB),
                "Upload-Metadata": metadata(filename="w"),
            },
        )
        path = created.headers["Location"]
        upload_id = path.rsplit("/", 1)[1]
        port = int(live.base.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: {auth['Authorization']}\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {2 * MiB}\r\n\r\n"
        )
        slow.sendall(head.encode() + b"s" * MiB)  # half the body, then nothing
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            record = next(
                (u for u in live.backend.meta.iter_uploads() if u.upload_id == upload_id), None
            )
            if record is not None and record.lock is not None:
                break
            time.sleep(0.05)
        assert record is not None and record.lock is not None
        second = requests.patch(
            live.url(path), data=b"t" * 10, headers={**auth, **OFFSET_STREAM, "Upload-Offset": "0"}
        )
        assert second.status_code == 423
        assert second.json()["error"]["code"] == "UPLOAD_LOCKED" and second.headers["Retry-After"]
        # While the first PATCH holds it, HEAD reports what is committed: nothing yet.
        assert (
            requests.head(live.url(path), headers={**auth, **TUS}).headers["Upload-Offset"] == "0"
        )
        slow.close()  # the client goes away mid-body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            offset = requests.head(live.url(path), headers={**auth, **TUS}).headers["Upload-Offset"]
            if offset != "0":
                break
            time.sleep(0.05)
        assert offset == str(MiB)
        finish = requests.patch(
            live.url(path),
            data=b"e" * MiB,
            headers={**auth, **OFFSET_STREAM, "Upload-Offset": str(MiB)},
        )
        assert finish.status_code == 204
        file_id = finish.headers["X-File-Id"]
        content = requests.get(live.url(f"/files/{file_id}"), headers=auth).content
        assert content == b"s" * MiB + b"e" * MiB


# -- resuming after a dropped connection -----------------------------------------------


def test_resume_after_the_connection_is_cut_mid_patch(live: Live) -> None:
    auth = live.user()
    size = 2 * PART_SIZE + 3 * MiB + 1
    content = Generated(size, seed=3)
    first = live.client(auth).uploader(file_stream=content, metadata={"filename": "cut.bin"})
    first.set_url(first.create_url())
    cut_at = PART_SIZE + 2 * MiB + 12345  # past one whole part, into the staged bytes
    proxy = CuttingProxy(int(live.base.rsplit(":", 1)[1]), cut_at)
    try:
        through_proxy = live.client(auth).uploader(
            file_stream=content, url=proxy.base + upload_path(first)
        )
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            through_proxy.upload()  # one PATCH of the whole file, cut after cut_at bytes
        assert proxy.cut.is_set() and proxy.body_forwarded == cut_at
    finally:
        proxy.close()

    resumed = live.client(auth).uploader(file_stream=content, url=live.url(upload_path(first)))
    assert resumed.offset == cut_at  # every byte that reached the server was kept
    resumed.upload()
    file_id = resumed.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), size)
    assert staged_keys(live.backend) == []
    assert live.usage(auth)["bytes_used"] == size


def test_an_interrupted_patch_with_a_checksum_keeps_nothing_of_it(live: Live) -> None:
    auth = live.user()
    content = Generated(PART_SIZE + 2 * MiB, seed=4)
    uploader = live.client(auth).uploader(
        file_stream=content, metadata={"filename": "sum.bin"}, chunk_size=MiB, upload_checksum=True
    )
    uploader.upload(stop_at=MiB)  # one whole, checked PATCH
    proxy = CuttingProxy(int(live.base.rsplit(":", 1)[1]), MiB // 2)
    try:
        cut = live.client(auth).uploader(
            file_stream=content,
            url=proxy.base + upload_path(uploader),
            chunk_size=4 * MiB,
            upload_checksum=True,
        )
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            cut.upload()
    finally:
        proxy.close()
    resumed = live.client(auth).uploader(
        file_stream=content, url=live.url(upload_path(uploader)), upload_checksum=True
    )
    assert resumed.offset == MiB  # the half PATCH could not be verified: all of it went
    resumed.upload()
    file_id = resumed.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), PART_SIZE + 2 * MiB)


# -- checksums -------------------------------------------------------------------


def test_checksum_mismatch_is_460_and_the_chunk_is_discarded(live: Live) -> None:
    auth = live.user()
    content = Generated(PART_SIZE + MiB, seed=5)
    data = content.bytes()
    uploader = live.client(auth).uploader(
        file_stream=content, metadata={"filename": "c.bin"}, chunk_size=2 * MiB
    )
    uploader.upload(stop_at=2 * MiB)
    url = live.url(upload_path(uploader))
    chunk = data[2 * MiB : 2 * MiB + PART_SIZE - MiB]  # would complete the first part
    wrong = requests.patch(
        url,
        data=chunk,
        headers={
            **auth,
            **OFFSET_STREAM,
            "Upload-Offset": str(2 * MiB),
            "Upload-Checksum": f"sha1 {sha1_b64(chunk + b'!')}",
        },
    )
    assert wrong.status_code == 460
    assert wrong.reason == "Checksum Mismatch"
    assert wrong.json()["error"]["code"] == "CHECKSUM_MISMATCH"
    assert requests.head(url, headers={**auth, **TUS}).headers["Upload-Offset"] == str(2 * MiB)

    offset = 2 * MiB
    for algorithm in ("md5", "sha256", "sha1"):
        piece = data[offset : offset + MiB]
        digest = base64.b64encode(hashlib.new(algorithm, piece).digest()).decode()
        right = requests.patch(
            url,
            data=piece,
            headers={
                **auth,
                **OFFSET_STREAM,
                "Upload-Offset": str(offset),
                "Upload-Checksum": f"{algorithm} {digest}",
            },
        )
        assert right.status_code == 204, right.text
        offset += len(piece)
        assert right.headers["Upload-Offset"] == str(offset)
    resumed = live.client(auth).uploader(file_stream=content, url=url, upload_checksum=True)
    resumed.upload()
    file_id = resumed.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), PART_SIZE + MiB)


# -- termination, expiry, purge ---------------------------------------------------------


def test_termination_frees_parts_staged_bytes_and_quota(live: Live) -> None:
    auth = live.user(quota=64 * MiB)
    content = Generated(3 * PART_SIZE, seed=6)
    uploader = live.client(auth).uploader(
        file_stream=content, metadata={"filename": "t.bin"}, chunk_size=PART_SIZE + MiB
    )
    uploader.upload(stop_at=PART_SIZE + MiB)
    url = live.url(upload_path(uploader))
    assert live.usage(auth)["bytes_used"] == 3 * PART_SIZE  # reserved at creation
    assert len(multipart_keys(live.backend)) == 1 and len(staged_keys(live.backend)) == 1

    deleted = requests.delete(url, headers={**auth, **TUS})
    assert deleted.status_code == 204
    assert requests.head(url, headers={**auth, **TUS}).status_code == 404
    assert requests.delete(url, headers={**auth, **TUS}).status_code == 404
    assert multipart_keys(live.backend) == set()
    assert staged_keys(live.backend) == []
    assert live.usage(auth) == {"file_count": 0, "bytes_used": 0, "quota_bytes": 64 * MiB}

    small = requests.post(
        live.url("/uploads/"),
        data=b"kept",
        headers={
            **auth,
            **OFFSET_STREAM,
            "Upload-Length": "4",
            "Upload-Metadata": metadata(filename="k"),
        },
    )
    finished = live.url(small.headers["Location"])
    assert requests.delete(finished, headers={**auth, **TUS}).status_code == 204
    # The upload is gone; the file it became is a file like any other and stays.
    file_id = small.headers["X-File-Id"]
    assert requests.get(live.url(f"/files/{file_id}"), headers=auth).content == b"kept"


def test_expired_uploads_are_refused_then_purged_with_their_multipart_upload(
    backend: Backend,
) -> None:
    with live_server(backend, tus_expiry_s=1) as live:
        auth = live.user()
        content = Generated(3 * PART_SIZE, seed=7)
        uploader = live.client(auth).uploader(
            file_stream=content, metadata={"filename": "old.bin"}, chunk_size=PART_SIZE + MiB
        )
        uploader.upload(stop_at=PART_SIZE + MiB)  # one part and staged bytes, then abandoned
        url = live.url(upload_path(uploader))
        key = next(iter(multipart_keys(backend)))
        assert live.usage(auth)["bytes_used"] == 3 * PART_SIZE
        time.sleep(1.2)

        head = requests.head(url, headers={**auth, **TUS})
        assert head.status_code == 410
        patch = requests.patch(
            url,
            data=b"late",
            headers={**auth, **OFFSET_STREAM, "Upload-Offset": str(PART_SIZE + MiB)},
        )
        assert patch.status_code == 410 and patch.json()["error"]["code"] == "UPLOAD_EXPIRED"

        dry = live.app.test_cli_runner().invoke(args=["purge-uploads", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert key in multipart_keys(backend)
        result = live.app.test_cli_runner().invoke(args=["purge-uploads"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["expired"] == [upload_path(uploader).rsplit("/", 1)[1]]
        assert key not in multipart_keys(backend)  # the S3 multipart upload was aborted
        assert staged_keys(backend) == []
        assert requests.head(url, headers={**auth, **TUS}).status_code == 404
        assert live.usage(auth)["bytes_used"] == 0


def test_fsck_leaves_live_resumable_uploads_alone(live: Live) -> None:
    auth = live.user()
    content = Generated(2 * PART_SIZE, seed=8)
    uploader = live.client(auth).uploader(
        file_stream=content, metadata={"filename": "f.bin"}, chunk_size=PART_SIZE + 7
    )
    uploader.upload(stop_at=PART_SIZE + 7)
    report = fsck(live.backend.blobs, live.backend.meta, repair=True, grace_s=0)
    assert report.stale_uploads == [] and report.usage_mismatches == [], report.as_dict()
    uploader.upload()
    file_id = uploader.request.response_headers["x-file-id"]
    assert download_sha256(live, auth, file_id) == (content.sha256(), 2 * PART_SIZE)


# -- limits and users -------------------------------------------------------------


def test_quota_and_size_limit_refuse_before_any_byte(backend: Backend) -> None:
    with live_server(backend, max_file_size=PART_SIZE + MiB) as live:
        auth = live.user(quota=2 * PART_SIZE)
        too_big = live.client(auth).uploader(
            file_stream=Generated(PART_SIZE + MiB + 1), metadata={"filename": "big.bin"}
        )
        with pytest.raises(TusCommunicationError) as refused:
            too_big.upload()
        assert refused.value.status_code == 413

        fits = live.client(auth).uploader(
            file_stream=Generated(PART_SIZE + MiB), metadata={"filename": "a.bin"}, chunk_size=MiB
        )
        fits.upload(stop_at=MiB)  # in progress: its whole length is reserved
        over = live.client(auth).uploader(
            file_stream=Generated(PART_SIZE), metadata={"filename": "b.bin"}
        )
        with pytest.raises(TusCommunicationError) as refused:
            over.upload()
        assert refused.value.status_code == 507
        with_body = requests.post(
            live.url("/uploads/"),
            data=b"x" * 1000,
            headers={
                **auth,
                **OFFSET_STREAM,
                "Upload-Length": str(PART_SIZE),
                "Upload-Metadata": metadata(filename="c.bin"),
            },
        )
        assert with_body.status_code == 507
        assert with_body.json()["error"]["code"] == "QUOTA_EXCEEDED"
        assert len(multipart_keys(backend)) == 1  # only the upload that fits
        assert live.usage(auth)["bytes_used"] == PART_SIZE + MiB
        fits.upload()
        assert live.usage(auth) == {
            "file_count": 1,
            "bytes_used": PART_SIZE + MiB,
            "quota_bytes": 2 * PART_SIZE,
        }


def test_users_never_see_or_touch_each_others_uploads(live: Live) -> None:
    alice, bob = live.user("alice"), live.user("bob")
    content = Generated(PART_SIZE + 10, seed=9)
    uploader = live.client(alice).uploader(
        file_stream=content, metadata={"filename": "mine.bin"}, chunk_size=MiB
    )
    uploader.upload(stop_at=MiB)
    path = upload_path(uploader)
    url = live.url(path)
    attempts = [
        requests.head(url, headers={**bob, **TUS}),
        requests.get(url, headers=bob),
        requests.patch(url, data=b"x", headers={**bob, **OFFSET_STREAM, "Upload-Offset": str(MiB)}),
        requests.delete(url, headers={**bob, **TUS}),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.method
        if response.request.method != "HEAD":
            assert response.json()["error"]["code"] == "UPLOAD_NOT_FOUND"
    with pytest.raises(TusCommunicationError):
        live.client(bob).uploader(file_stream=content, url=url)
    assert requests.head(url, headers={**alice, **TUS}).headers["Upload-Offset"] == str(MiB)
    assert requests.head(url).status_code == 401
    uploader.upload()
    file_id = uploader.request.response_headers["x-file-id"]
    assert requests.get(live.url(f"/files/{file_id}"), headers=bob).status_code == 404
    assert live.usage(bob)["bytes_used"] == 0


# -- a big one ----------------------------------------------------------------------


@pytest.mark.big
@pytest.mark.parametrize("backend", ["seaweedfs+ferretdb"], indirect=True)
def test_one_gib_through_tuspy(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    size = GiB
    with live_server(backend, s3_part_size=16 * MiB) as live:
        auth = live.user(quota=2 * GiB)
        content = Generated(size, seed=10)
        started = time.perf_counter()
        expected = content.sha256()
        hashed = time.perf_counter()
        uploader = live.client(auth).uploader(
            file_stream=content, metadata={"filename": "big.bin"}, chunk_size=64 * MiB
        )
        uploader.upload()
        uploaded = time.perf_counter()
        file_id = uploader.request.response_headers["x-file-id"]
        meta = requests.get(live.url(f"/files/{file_id}/metadata"), headers=auth).json()
        assert meta["file_size"] == size and meta["sha256"] == expected
        assert download_sha256(live, auth, file_id) == (expected, size)
        done = time.perf_counter()
    upload_s = uploaded - hashed
    with capsys.disabled():
        print(
            f"\n1 GiB tus upload: {upload_s:.1f} s ({size / MiB / upload_s:.0f} MiB/s);"
            f" client hash {hashed - started:.1f} s; download + hash {done - uploaded:.1f} s"
        )
