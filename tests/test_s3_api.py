"""The S3 API with boto3 against a live server: embedded mode under the dev server, and
gunicorn on SeaweedFS+FerretDB and MinIO+FerretDB (one server per module and backend)."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from filedrop.config import Settings
from tests.s3client import EMBEDDED, GUNICORN_REAL, LiveS3, User, serve

pytestmark = pytest.mark.live


@pytest.fixture(scope="module", params=[EMBEDDED, *GUNICORN_REAL])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveS3]:
    yield from serve(request, tmp_path_factory.mktemp("s3api"))


@pytest.fixture
def user(live: LiveS3) -> User:
    return live.new_user()


@pytest.fixture
def s3(live: LiveS3, user: User) -> Any:
    return live.client(user)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_buckets_are_top_level_folders(live: LiveS3, user: User, s3: Any) -> None:
    assert s3.list_buckets()["Buckets"] == []
    s3.create_bucket(Bucket="photos")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="photos")
    assert code(exc) == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="Bad_Name")
    assert code(exc) in ("InvalidBucketName",)
    s3.head_bucket(Bucket="photos")
    assert s3.get_bucket_location(Bucket="photos")["LocationConstraint"] is None
    # A top-level folder made over REST is a bucket too; one with an invalid name is not.
    assert live.rest(user, "POST", "/folders", json={"path": "/docs"}).status_code == 201
    assert live.rest(user, "POST", "/folders", json={"path": "/Not A Bucket"}).status_code == 201
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["docs", "photos"]
    rest = live.rest(user, "GET", "/buckets").json()["buckets"]
    assert [b["name"] for b in rest] == ["docs", "photos"]
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket="nope")
    assert status(exc) == 404
    s3.put_object(Bucket="docs", Key="empty/", Body=b"")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket="docs")
    assert code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket="docs", Key="empty/")
    s3.delete_bucket(Bucket="docs")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["photos"]


def test_put_get_head_delete_and_rest_see_the_same_file(live: LiveS3, user: User, s3: Any) -> None:
    s3.create_bucket(Bucket="photos")
    content = b"jpeg bytes" * 1000
    put = s3.put_object(Bucket="photos", Key="2024/a.jpg", Body=content, ContentType="image/jpeg")
    assert put["ETag"] == f'"{hashlib.md5(content).hexdigest()}"'
    got = s3.get_object(Bucket="photos", Key="2024/a.jpg")
    assert got["Body"].read() == content and got["ETag"] == put["ETag"]
    assert got["ContentType"] == "image/jpeg" and got["ContentLength"] == len(content)
    head = s3.head_object(Bucket="photos", Key="2024/a.jpg")
    assert head["ContentLength"] == len(content)
    files = live.rest(user, "GET", "/files?folder=/photos/2024").json()["files"]
    assert [(f["file_name"], f["sha256"]) for f in files] == [
        ("a.jpg", hashlib.sha256(content).hexdigest())
    ]
    # Uploaded over REST, read over S3, with an MD5 ETag all the same.
    rest = live.rest(
        user,
        "POST",
        "/files/upload?folder=/photos/2024",
        files={"file": ("b.txt", io.BytesIO(b"from rest"))},
    )
    assert rest.status_code == 201
    got = s3.get_object(Bucket="photos", Key="2024/b.txt")
    assert got["Body"].read() == b"from rest"
    assert got["ETag"] == f'"{hashlib.md5(b"from rest").hexdigest()}"'
    # Overwrite keeps the file id.
    s3.put_object(Bucket="photos", Key="2024/a.jpg", Body=b"new")
    again = live.rest(user, "GET", "/files?folder=/photos/2024").json()["files"]
    assert {f["file_id"] for f in again} == {f["file_id"] for f in [files[0], rest.json()]}
    s3.delete_object(Bucket="photos", Key="2024/a.jpg")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="photos", Key="2024/a.jpg")
    assert code(exc) == "NoSuchKey"
    s3.delete_object(Bucket="photos", Key="2024/a.jpg")  # missing: still 204
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="nobucket", Key="x")
    assert code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket="photos")
    assert code(exc) == "BucketNotEmpty"


def test_ranges_and_conditions(s3: Any) -> None:
    s3.create_bucket(Bucket="rng")
    etag = s3.put_object(Bucket="rng", Key="k", Body=b"0123456789")["ETag"]
    part = s3.get_object(Bucket="rng", Key="k", Range="bytes=2-4")
    assert part["Body"].read() == b"234" and part["ContentRange"] == "bytes 2-4/10"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="rng", Key="k", Range="bytes=20-30")
    assert code(exc) == "InvalidRange"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="rng", Key="k", IfMatch='"nope"')
    assert code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="rng", Key="k", IfNoneMatch=etag)
    assert status(exc) == 304
    got = s3.get_object(
        Bucket="rng",
        Key="k",
        ResponseContentType="text/x-custom",
        ResponseContentDisposition="attachment; filename=x",
    )
    assert got["ContentType"] == "text/x-custom"
    assert got["ContentDisposition"] == "attachment; filename=x"


def test_list_objects_v2_prefix_delimiter_pages(s3: Any) -> None:
    s3.create_bucket(Bucket="lst")
    keys = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "d e+f.txt", "z/"]
    for key in keys:
        s3.put_object(Bucket="lst", Key=key, Body=b"" if key.endswith("/") else key.encode())
    listed = s3.list_objects_v2(Bucket="lst")
    assert [o["Key"] for o in listed["Contents"]] == keys
    top = s3.list_objects_v2(Bucket="lst", Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "d e+f.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "z/"]
    inner = s3.list_objects_v2(Bucket="lst", Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in inner["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["b/c/"]
    seen = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="lst", PaginationConfig={"PageSize": 2}
    )
    for page in pages:
        assert page["KeyCount"] <= 2
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys
    after = s3.list_objects_v2(Bucket="lst", StartAfter="b/2.txt")
    assert [o["Key"] for o in after["Contents"]] == keys[3:]
    v1 = s3.list_objects(Bucket="lst", Prefix="b/", MaxKeys=2)
    assert [o["Key"] for o in v1["Contents"]] == ["b/1.txt", "b/2.txt"] and v1["IsTruncated"]
    rest = s3.list_objects(Bucket="lst", Prefix="b/", Marker="b/2.txt")
    assert [o["Key"] for o in rest["Contents"]] == ["b/c/3.txt"]


def test_wrong_secret_and_unknown_key_are_refused(live: LiveS3, user: User) -> None:
    wrong = live.client(User(user.user_id, "", user.access_key_id, "x" * 40))
    with pytest.raises(ClientError) as exc:
        wrong.list_buckets()
    assert code(exc) == "SignatureDoesNotMatch" and status(exc) == 403
    unknown = live.client(User(user.user_id, "", "FDUNKNOWNUNKNOWN0000", "x" * 40))
    with pytest.raises(ClientError) as exc:
        unknown.list_buckets()
    assert code(exc) == "InvalidAccessKeyId"


def test_a_deleted_key_ends_its_s3_pair_too(live: LiveS3, user: User) -> None:
    extra = live.new_key(user)
    client = live.client(extra)
    client.list_buckets()
    keys = live.rest(user, "GET", "/me/keys").json()["keys"]
    key_id = next(k["key_id"] for k in keys if k["access_key_id"] == extra.access_key_id)
    assert live.rest(user, "DELETE", f"/me/keys/{key_id}").status_code == 200
    # The worker that deleted it refuses it at once; another gunicorn worker may still
    # hold it in its key cache, for AUTH_CACHE_S at most (the documented bound).
    deadline = time.monotonic() + Settings().auth_cache_s + 2
    while True:
        try:
            client.list_buckets()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidAccessKeyId"
            break
        assert time.monotonic() < deadline, "a deleted key still works past AUTH_CACHE_S"
        time.sleep(0.2)


def test_scoped_and_read_only_keys(live: LiveS3, user: User, s3: Any) -> None:
    s3.create_bucket(Bucket="mine")
    s3.create_bucket(Bucket="other")
    s3.put_object(Bucket="other", Key="secret.txt", Body=b"s")
    scoped = live.client(live.new_key(user, bucket="mine"))
    assert [b["Name"] for b in scoped.list_buckets()["Buckets"]] == ["mine"]
    scoped.put_object(Bucket="mine", Key="ok.txt", Body=b"ok")
    for call in (
        lambda: scoped.get_object(Bucket="other", Key="secret.txt"),
        lambda: scoped.list_objects_v2(Bucket="other"),
        lambda: scoped.put_object(Bucket="other", Key="x", Body=b"x"),
        lambda: scoped.copy_object(
            Bucket="mine", Key="stolen", CopySource={"Bucket": "other", "Key": "secret.txt"}
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "NoSuchBucket"
    read_only = live.client(live.new_key(user, read_only=True))
    assert read_only.get_object(Bucket="mine", Key="ok.txt")["Body"].read() == b"ok"
    for call in (
        lambda: read_only.put_object(Bucket="mine", Key="x", Body=b"x"),
        lambda: read_only.delete_object(Bucket="mine", Key="ok.txt"),
        lambda: read_only.create_bucket(Bucket="newone"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "AccessDenied"
    assert s3.get_object(Bucket="mine", Key="ok.txt")["Body"].read() == b"ok"


def test_users_are_isolated(live: LiveS3, s3: Any) -> None:
    s3.create_bucket(Bucket="shared-name")
    s3.put_object(Bucket="shared-name", Key="k", Body=b"alice")
    bob = live.client(live.new_user("bob"))
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket="shared-name", Key="k")
    assert code(exc) == "NoSuchBucket"
    bob.create_bucket(Bucket="shared-name")  # bucket names are per user
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket="shared-name", Key="k")
    assert code(exc) == "NoSuchKey"


def test_unsupported_subresources_are_not_implemented(s3: Any) -> None:
    s3.create_bucket(Bucket="sub")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_acl(Bucket="sub")
    assert code(exc) == "NotImplemented" and status(exc) == 501


MiB = 1024**2


def test_multipart_upload_makes_one_file_with_the_multipart_etag(
    live: LiveS3, user: User, s3: Any
) -> None:
    from boto3.s3.transfer import TransferConfig

    s3.create_bucket(Bucket="big")
    content = bytes(range(256)) * (12 * MiB // 256) + b"tail"
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    extra = {"ContentType": "video/mp4; codecs=avc1"}
    s3.upload_fileobj(io.BytesIO(content), "big", "dir/blob.bin", Config=config, ExtraArgs=extra)
    parts = [content[i : i + 5 * MiB] for i in range(0, len(content), 5 * MiB)]
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    head = s3.head_object(Bucket="big", Key="dir/blob.bin")
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert head["ContentLength"] == len(content) and head["ContentType"] == "video/mp4"
    out = io.BytesIO()
    s3.download_fileobj("big", "dir/blob.bin", out)
    assert out.getvalue() == content
    files = live.rest(user, "GET", "/files?folder=/big/dir").json()["files"]
    assert [f["sha256"] for f in files] == [hashlib.sha256(content).hexdigest()]
    assert live.rest(user, "GET", "/me").json()["usage"]["bytes_used"] == len(content)
    assert s3.list_multipart_uploads(Bucket="big").get("Uploads", []) == []


def test_a_part_that_fails_its_checksum_is_not_recorded(s3: Any) -> None:
    s3.create_bucket(Bucket="chk")
    upload_id = s3.create_multipart_upload(Bucket="chk", Key="x")["UploadId"]
    good = b"g" * (5 * MiB)
    part = {"Bucket": "chk", "Key": "x", "UploadId": upload_id, "PartNumber": 1}
    etag = s3.upload_part(**part, Body=good)["ETag"]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:  # every byte goes up before the check fails
        s3.upload_part(**part, Body=b"b" * (5 * MiB), ChecksumSHA256=wrong)
    assert code(exc) == "BadDigest"
    listed = s3.list_parts(Bucket="chk", Key="x", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, etag)]
    done = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    s3.complete_multipart_upload(Bucket="chk", Key="x", UploadId=upload_id, MultipartUpload=done)
    assert s3.get_object(Bucket="chk", Key="x")["Body"].read() == good


def test_multipart_parts_listing_errors_and_abort(s3: Any) -> None:
    s3.create_bucket(Bucket="mpu")
    upload_id = s3.create_multipart_upload(Bucket="mpu", Key="x")["UploadId"]
    first = s3.upload_part(Bucket="mpu", Key="x", UploadId=upload_id, PartNumber=1, Body=b"a")
    s3.upload_part(Bucket="mpu", Key="x", UploadId=upload_id, PartNumber=2, Body=b"b")
    listed = s3.list_parts(Bucket="mpu", Key="x", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 1), (2, 1)]
    uploads = s3.list_multipart_uploads(Bucket="mpu")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("x", upload_id)]
    with pytest.raises(ClientError) as exc:  # a small part that is not the last
        s3.complete_multipart_upload(
            Bucket="mpu",
            Key="x",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": first["ETag"]},
                    {"PartNumber": 2, "ETag": listed[1]["ETag"]},
                ]
            },
        )
    assert code(exc) == "EntityTooSmall"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket="mpu",
            Key="x",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]},
        )
    assert code(exc) == "InvalidPart"
    s3.abort_multipart_upload(Bucket="mpu", Key="x", UploadId=upload_id)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket="mpu", Key="x", UploadId=upload_id)
    assert code(exc) == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="mpu", Key="x")
    assert status(exc) == 404


def test_copy_and_delete_objects(live: LiveS3, user: User, s3: Any) -> None:
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    put = s3.put_object(Bucket="src", Key="a/one.txt", Body=b"one")
    copied = s3.copy_object(
        Bucket="dst", Key="b/two.txt", CopySource={"Bucket": "src", "Key": "a/one.txt"}
    )
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    assert s3.get_object(Bucket="dst", Key="b/two.txt")["Body"].read() == b"one"
    assert live.rest(user, "GET", "/me").json()["usage"]["bytes_used"] == 6
    s3.put_object(Bucket="src", Key="c", Body=b"c")
    result = s3.delete_objects(
        Bucket="src", Delete={"Objects": [{"Key": "a/one.txt"}, {"Key": "c"}, {"Key": "none"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a/one.txt", "c", "none"]
    quiet = s3.delete_objects(
        Bucket="dst", Delete={"Objects": [{"Key": "b/two.txt"}], "Quiet": True}
    )
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket="src").get("Contents", []) == []
    assert live.rest(user, "GET", "/me").json()["usage"]["bytes_used"] == 0


def test_quota_is_s3s_403_with_a_quota_code(live: LiveS3) -> None:
    import requests

    from tests.s3client import ADMIN

    response = requests.post(
        f"{live.server.url}/admin/users",
        json={"name": "small", "quota_bytes": 10},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    body = response.json()
    small = User(
        body["user"]["user_id"], body["api_key"], body["access_key_id"], body["secret_access_key"]
    )
    client = live.client(small)
    client.create_bucket(Bucket="tiny")
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket="tiny", Key="k", Body=b"x" * 11)
    assert code(exc) == "QuotaExceeded" and status(exc) == 403
    assert client.list_objects_v2(Bucket="tiny").get("Contents", []) == []


def test_streaming_bodies_over_real_sockets(live: LiveS3, user: User, s3: Any) -> None:
    """aws-chunked bodies as the SDKs send them (signed chunks; a CRC32 trailer) through
    the real server, and a tampered chunk that stores nothing."""
    import requests
    from botocore.credentials import Credentials

    from tests.sigv4_helpers import signed_chunks, trailer_body, trailer_headers

    s3.create_bucket(Bucket="stream")
    keys = Credentials(user.access_key_id, user.secret_access_key)
    chunks = [b"x" * 65536, b"y" * 65536, b"z" * 100]
    url = f"{live.endpoint}/stream/signed"
    headers, body = signed_chunks(keys, url, chunks)
    assert requests.put(url, headers=headers, data=body, timeout=30).status_code == 200
    assert s3.get_object(Bucket="stream", Key="signed")["Body"].read() == b"".join(chunks)
    url = f"{live.endpoint}/stream/tampered"
    headers, body = signed_chunks(keys, url, chunks, tamper=2)
    response = requests.put(url, headers=headers, data=body, timeout=30)
    assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
    content = b"trailing" * 20000
    url = f"{live.endpoint}/stream/trailer"
    headers = trailer_headers(keys, url, len(content))
    response = requests.put(url, headers=headers, data=trailer_body(content), timeout=30)
    assert response.status_code == 200, response.text
    assert s3.get_object(Bucket="stream", Key="trailer")["Body"].read() == content
    listed = s3.list_objects_v2(Bucket="stream")["Contents"]
    assert [o["Key"] for o in listed] == ["signed", "trailer"]


@pytest.mark.parametrize(
    "key", ["фото/ä b.txt", "odd/a+b=c&d;e,f@g$h.txt", "pct/x%20y%.txt", "~t/(1)!'*.txt"]
)
def test_keys_that_need_encoding_round_trip(live: LiveS3, user: User, s3: Any, key: str) -> None:
    if "enc" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="enc")
    s3.put_object(Bucket="enc", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="enc", Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket="enc", Prefix=key.split("/")[0] + "/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    import requests

    params = {"Bucket": "enc", "Key": key}
    presigned = live.client(user, signature_version="s3v4").generate_presigned_url(
        "get_object", Params=params
    )
    assert requests.get(presigned, timeout=10).content == key.encode()
    # botocore presigns with Signature Version 2 unless told: refused, and says so.
    v2 = s3.generate_presigned_url("get_object", Params=params)
    assert b"Signature Version 2 is not supported" in requests.get(v2, timeout=10).content
    folder, _, name = key.rpartition("/")
    files = live.rest(user, "GET", "/files", params={"folder": f"/enc/{folder}"}).json()["files"]
    assert [f["file_name"] for f in files] == [name]
