"""SigV4 on the S3 API, signed by botocore's own signers: header and presigned forms,
signed and streaming payloads, trailing checksums, and the attacks each must stop
(wrong secret, changed body, expired URL, tampered chunk, stale clock)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zlib
from datetime import timedelta
from typing import Any

import boto3
import crc32c
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from flask import Flask
from flask.testing import FlaskClient

from filedrop import create_app
from filedrop.http.s3 import auth as s3_auth
from filedrop.storage.metadata import utcnow
from tests.fixtures import EMBEDDED, Backend
from tests.sigv4_helpers import signed_chunks, signed_headers, trailer_body, trailer_headers

ADMIN = "admin-token-for-s3-signature-tests"
HOST = "http://localhost"
pytestmark = [pytest.mark.http, pytest.mark.parametrize("backend", [EMBEDDED], indirect=True)]


@pytest.fixture
def app(backend: Backend) -> Flask:
    settings = backend.settings.with_overrides(auth="enabled", admin_token=ADMIN)
    return create_app(settings, blobs=backend.blobs, meta=backend.meta)


@pytest.fixture
def keys(client: FlaskClient) -> Credentials:
    body = client.post(
        "/admin/users", json={"name": "a"}, headers={"Authorization": f"Bearer {ADMIN}"}
    ).get_json()
    credentials = Credentials(body["access_key_id"], body["secret_access_key"])
    response = _send(client, credentials, "PUT", "/s3/bkt")
    assert response.status_code == 200, response.data
    return credentials


def _signed_headers(
    credentials: Credentials, method: str, path: str, *args: Any, **kwargs: Any
) -> dict[str, str]:
    return signed_headers(credentials, method, HOST + path, *args, **kwargs)


def _signed_chunks(
    keys: Credentials, path: str, *args: Any, **kwargs: Any
) -> tuple[dict[str, str], bytes]:
    return signed_chunks(keys, HOST + path, *args, **kwargs)


def _send(
    client: FlaskClient,
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    **kwargs: Any,
) -> Any:
    headers = _signed_headers(credentials, method, path, body, **kwargs)
    return client.open(path, method=method, headers=headers, data=body)


def _code(response: Any) -> str:
    return response.data.split(b"<Code>")[1].split(b"</Code>")[0].decode()


def _stored(client: FlaskClient, credentials: Credentials, key: str) -> Any:
    return _send(client, credentials, "GET", f"/s3/bkt/{key}")


def test_a_signed_payload_is_checked_against_the_body(
    client: FlaskClient, keys: Credentials
) -> None:
    ok = _send(client, keys, "PUT", "/s3/bkt/k", b"hello")
    assert ok.status_code == 200
    assert ok.headers["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    # Signed for one body, sent with another: the signature covers the declared hash,
    # and the body does not match it.
    headers = _signed_headers(keys, "PUT", "/s3/bkt/changed", b"hello")
    response = client.put("/s3/bkt/changed", headers=headers, data=b"HELLO")
    assert response.status_code == 400 and _code(response) == "XAmzContentSHA256Mismatch"
    assert _stored(client, keys, "changed").status_code == 404


def test_a_wrong_secret_or_a_changed_header_does_not_match(
    client: FlaskClient, keys: Credentials
) -> None:
    wrong = Credentials(keys.access_key, "x" * 40)
    response = _send(client, wrong, "PUT", "/s3/bkt/k", b"x")
    assert response.status_code == 403 and _code(response) == "SignatureDoesNotMatch"
    headers = _signed_headers(keys, "PUT", "/s3/bkt/k", b"x", headers={"Content-Type": "a/b"})
    headers["Content-Type"] = "text/html"
    response = client.put("/s3/bkt/k", headers=headers, data=b"x")
    assert response.status_code == 403 and _code(response) == "SignatureDoesNotMatch"
    # Another path than the one signed.
    headers = _signed_headers(keys, "GET", "/s3/bkt/k")
    assert _code(client.get("/s3/bkt/other", headers=headers)) == "SignatureDoesNotMatch"
    assert _stored(client, keys, "k").status_code == 404


def test_requests_from_a_skewed_clock_are_refused(
    client: FlaskClient, keys: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(s3_auth, "utcnow", lambda: later)
    response = _send(client, keys, "GET", "/s3/")
    assert response.status_code == 403 and _code(response) == "RequestTimeTooSkewed"


def test_anonymous_requests_are_refused(client: FlaskClient, keys: Credentials) -> None:
    response = client.get("/s3/bkt")
    assert response.status_code == 403 and _code(response) == "AccessDenied"
    assert response.content_type == "application/xml"


def _presigner(keys: Credentials) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"{HOST}/s3",
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


def test_presigned_get_and_put_work_until_they_expire(
    client: FlaskClient, keys: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    presigner = _presigner(keys)
    put_url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "p.txt"}, ExpiresIn=60
    )
    assert client.put(put_url.removeprefix(HOST), data=b"presigned").status_code == 200
    get_url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "p.txt"}, ExpiresIn=60
    )
    assert client.get(get_url.removeprefix(HOST)).data == b"presigned"
    tampered = get_url.replace("p.txt", "q.txt")
    assert _code(client.get(tampered.removeprefix(HOST))) == "SignatureDoesNotMatch"
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(s3_auth, "utcnow", lambda: later)
    expired = client.get(get_url.removeprefix(HOST))
    assert expired.status_code == 403 and _code(expired) == "AccessDenied"
    assert b"expired" in expired.data


# -- streaming payloads -----------------------------------------------------------------


def test_signed_chunks_are_checked_as_they_stream(client: FlaskClient, keys: Credentials) -> None:
    chunks = [b"a" * 65536, b"b" * 65536, b"tail"]
    headers, body = _signed_chunks(keys, "/s3/bkt/streamed", chunks)
    response = client.put("/s3/bkt/streamed", headers=headers, data=body)
    assert response.status_code == 200, response.data
    assert _stored(client, keys, "streamed").data == b"".join(chunks)
    headers, body = _signed_chunks(keys, "/s3/bkt/tampered", chunks, tamper=1)
    response = client.put("/s3/bkt/tampered", headers=headers, data=body)
    assert response.status_code == 403 and _code(response) == "SignatureDoesNotMatch"
    assert _stored(client, keys, "tampered").status_code == 404


def test_a_cut_or_malformed_chunked_body_stores_nothing(
    client: FlaskClient, keys: Credentials
) -> None:
    headers, body = _signed_chunks(keys, "/s3/bkt/cut", [b"x" * 1000])
    response = client.put("/s3/bkt/cut", headers=headers, data=body[:200])
    assert response.status_code == 400 and _code(response) == "IncompleteBody"
    headers, _ = _signed_chunks(keys, "/s3/bkt/cut", [b"x"])
    response = client.put("/s3/bkt/cut", headers=headers, data=b"zz;chunk-signature=0\r\n")
    assert response.status_code == 400
    assert _stored(client, keys, "cut").status_code == 404


def _trailer_put(
    client: FlaskClient, keys: Credentials, key: str, content: bytes, body: bytes, name: str
) -> Any:
    headers = trailer_headers(keys, f"{HOST}/s3/bkt/{key}", len(content), name)
    return client.put(f"/s3/bkt/{key}", headers=headers, data=body)


def test_unsigned_payload_with_a_checksum_trailer(client: FlaskClient, keys: Credentials) -> None:
    content = b"trailing checksum " * 5000
    response = _trailer_put(client, keys, "t", content, trailer_body(content), "crc32")
    assert response.status_code == 200, response.data
    expected = base64.b64encode(zlib.crc32(content).to_bytes(4, "big")).decode()
    assert response.headers["x-amz-checksum-crc32"] == expected
    assert _stored(client, keys, "t").data == content
    # The same trailer for other bytes: nothing stored.
    bad = trailer_body(b"other bytes").replace(b"other bytes", b"OTHER BYTES")
    response = _trailer_put(client, keys, "bad", b"other bytes", bad, "crc32")
    assert response.status_code == 400 and _code(response) == "BadDigest"
    assert _stored(client, keys, "bad").status_code == 404


def test_checksum_headers_crc32c_and_sha256(client: FlaskClient, keys: Credentials) -> None:
    content = b"checksummed"
    good = base64.b64encode(crc32c.crc32c(content).to_bytes(4, "big")).decode()
    response = _send(
        client, keys, "PUT", "/s3/bkt/c", content, headers={"x-amz-checksum-crc32c": good}
    )
    assert response.status_code == 200 and response.headers["x-amz-checksum-crc32c"] == good
    wrong_sha = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    response = _send(
        client, keys, "PUT", "/s3/bkt/s", content, headers={"x-amz-checksum-sha256": wrong_sha}
    )
    assert response.status_code == 400 and _code(response) == "BadDigest"
    assert _stored(client, keys, "s").status_code == 404
    bad_md5 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    response = _send(client, keys, "PUT", "/s3/bkt/m", content, headers={"Content-MD5": bad_md5})
    assert response.status_code == 400 and _code(response) == "BadDigest"


def test_with_keys_off_any_credentials_act_as_the_local_user(backend: Backend) -> None:
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    anyone = Credentials("ANYKEY", "any secret")
    assert _send(client, anyone, "PUT", "/s3/local-bucket").status_code == 200
    assert _send(client, anyone, "PUT", "/s3/local-bucket/f.txt", b"hi").status_code == 200
    assert client.get("/s3/local-bucket/f.txt").data == b"hi"  # unsigned: fine too
    files = client.get("/files?folder=/local-bucket").get_json()["files"]
    assert [f["file_name"] for f in files] == ["f.txt"]
    malformed = client.get("/s3/", headers={"Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert malformed.status_code == 400 and _code(malformed) == "AuthorizationHeaderMalformed"


def test_purge_aborts_abandoned_multipart_uploads(backend: Backend) -> None:
    settings = backend.settings.with_overrides(tus_expiry_s=0)
    app = create_app(settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    anyone = Credentials("ANYKEY", "any secret")
    _send(client, anyone, "PUT", "/s3/mpu-bucket")
    started = _send(client, anyone, "POST", "/s3/mpu-bucket/k?uploads")
    upload_id = started.data.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    part = _send(client, anyone, "PUT", f"/s3/mpu-bucket/k?partNumber=1&uploadId={upload_id}", b"x")
    assert part.status_code == 200
    report = json.loads(app.test_cli_runner().invoke(args=["purge"]).output)
    assert report["s3_multipart_uploads"] == [upload_id]
    gone = _send(client, anyone, "GET", f"/s3/mpu-bucket/k?uploadId={upload_id}")
    assert gone.status_code == 404 and _code(gone) == "NoSuchUpload"


def test_past_the_rate_limit_is_slow_down(backend: Backend) -> None:
    settings = backend.settings.with_overrides(
        auth="enabled", admin_token=ADMIN, rate_limit_per_window=3, rate_limit_window_s=3600
    )
    app = create_app(settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    body = client.post(
        "/admin/users", json={"name": "a"}, headers={"Authorization": f"Bearer {ADMIN}"}
    ).get_json()
    keys = Credentials(body["access_key_id"], body["secret_access_key"])
    answers = [_send(client, keys, "GET", "/s3/") for _ in range(5)]
    assert answers[0].status_code == 200
    assert answers[-1].status_code == 503 and _code(answers[-1]) == "SlowDown"
    assert int(answers[-1].headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/s3/junk?delete", b"<Delete><Object>", "MalformedXML"),
        ("POST", "/s3/junk?delete", b"<Nope/>", "MalformedXML"),
        ("POST", "/s3/junk?delete", b"<!DOCTYPE x [<!ENTITY a 'b'>]><Delete>&a;</Delete>", None),
        ("GET", "/s3/junk?list-type=2&continuation-token=%%%", b"", "InvalidArgument"),
        ("GET", "/s3/junk?list-type=2&max-keys=-1", b"", "InvalidArgument"),
        ("GET", "/s3/junk?encoding-type=base64", b"", "InvalidArgument"),
        ("GET", "/s3/junk?acl", b"", "NotImplemented"),
        ("GET", "/s3/junk/k?tagging", b"", "NotImplemented"),
        ("PUT", "/s3/junk/k?partNumber=x&uploadId=nope", b"x", "NoSuchUpload"),
        ("POST", "/s3/junk/k?uploadId=nope", b"<CompleteMultipartUpload/>", "NoSuchUpload"),
        ("PUT", "/s3/junk/a//b", b"x", "InvalidArgument"),
        ("PUT", "/s3/junk/a/./b", b"x", "InvalidArgument"),
        ("GET", "/s3/junk/a/../b", b"", "NoSuchKey"),
        ("PUT", "/s3/NOT_VALID", b"", "InvalidBucketName"),
        ("GET", "/s3/junk?list-type=2&prefix=a//b/./c", b"", None),
        ("GET", "/s3/missing-bucket/k", b"", "NoSuchBucket"),
        ("PATCH", "/s3/junk/k", b"", "MethodNotAllowed"),
        ("PATCH", "/s3/", b"", "MethodNotAllowed"),
    ],
)
def test_bad_requests_get_s3_xml_errors_never_a_500(
    backend: Backend, method: str, path: str, body: bytes, expected: str | None
) -> None:
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    assert client.put("/s3/junk").status_code == 200
    response = client.open(path, method=method, data=body)
    assert response.status_code != 500, response.data
    assert response.content_type == "application/xml", response.data
    if expected is not None:
        assert _code(response) == expected


def test_fsck_leaves_a_live_multipart_upload_alone_and_finds_s3_writes_clean(
    backend: Backend,
) -> None:
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    anyone = Credentials("ANYKEY", "any secret")
    _send(client, anyone, "PUT", "/s3/fsck-bucket")
    started = _send(client, anyone, "POST", "/s3/fsck-bucket/big?uploads")
    upload_id = started.data.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    parts = [b"a" * (5 * 1024**2), b"tail"]
    etags = []
    for number, content in enumerate(parts, start=1):
        path = f"/s3/fsck-bucket/big?partNumber={number}&uploadId={upload_id}"
        etags.append(_send(client, anyone, "PUT", path, content).headers["ETag"])
    runner = app.test_cli_runner()
    output = runner.invoke(args=["fsck", "--repair", "--grace", "0"]).output
    repaired = json.loads(output[output.index("{") :])  # after the line naming the stores
    assert repaired["stale_uploads"] == []
    document = (
        "<CompleteMultipartUpload>"
        + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            for n, e in enumerate(etags, start=1)
        )
        + "</CompleteMultipartUpload>"
    )
    done = _send(
        client, anyone, "POST", f"/s3/fsck-bucket/big?uploadId={upload_id}", document.encode()
    )
    assert done.status_code == 200, done.data
    assert client.get("/s3/fsck-bucket/big").data == b"".join(parts)
    _send(client, anyone, "PUT", "/s3/fsck-bucket/small", b"small")
    report = runner.invoke(args=["fsck", "--grace", "0"])
    assert report.exit_code == 0, report.output


def test_an_object_over_the_size_limit_is_entity_too_large(backend: Backend) -> None:
    settings = backend.settings.with_overrides(max_file_size=10)
    app = create_app(settings, blobs=backend.blobs, meta=backend.meta)
    client = app.test_client()
    assert client.put("/s3/limits").status_code == 200
    declared = client.put("/s3/limits/k", data=b"x" * 11)
    assert declared.status_code == 400 and _code(declared) == "EntityTooLarge"
    streamed = client.put(
        "/s3/limits/k",
        input_stream=io.BytesIO(b"x" * 12),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as servers say of chunked bodies
    )
    assert streamed.status_code == 400 and _code(streamed) == "EntityTooLarge"
    assert client.get("/s3/limits/k").status_code == 404
