"""Files and errors through the HTTP API, on every backend pair."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from tests.fixtures import PART_SIZE
from tests.helpers import error_code, pattern, sha256_b64, upload, upload_ok

pytestmark = pytest.mark.http

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_multipart_upload_returns_metadata_and_location(client: FlaskClient) -> None:
    response = upload(client, b"hello world", "report.txt")
    assert response.status_code == 201
    meta = response.get_json()
    assert response.headers["Location"] == f"/files/{meta['file_id']}"
    assert meta["file_name"] == "report.txt"
    assert meta["file_size"] == 11
    assert meta["file_type"] == "text/plain"
    assert meta["sha256"] == hashlib.sha256(b"hello world").hexdigest()
    assert meta["etag"] == f'"{meta["sha256"]}"'
    assert ISO_MS.match(meta["created_at"]) and ISO_MS.match(meta["updated_at"])
    assert len(meta["file_id"]) >= 16 and re.match(r"^[A-Za-z0-9_-]+$", meta["file_id"])


def test_raw_upload_takes_name_from_header_or_query(client: FlaskClient) -> None:
    by_header = client.post(
        "/files/upload", data=b"%PDF-1.7 body", headers={"X-File-Name": "caf%C3%A9.pdf"}
    )
    assert by_header.status_code == 201, by_header.get_json()
    assert by_header.get_json()["file_name"] == "café.pdf"
    assert by_header.get_json()["file_type"] == "application/pdf"
    by_query = client.post(
        "/files/upload?file_name=notes.md", data=b"# hi", content_type="text/markdown"
    )
    assert by_query.status_code == 201
    assert by_query.get_json()["file_type"] == "text/markdown"


def test_form_field_file_name_overrides_part_name_even_after_the_file(
    client: FlaskClient,
) -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="ignored.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "content\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file_name"\r\n\r\n'
        "chosen ✓.txt\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = client.post(
        "/files/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["file_name"] == "chosen ✓.txt"


def test_download_streams_exact_bytes_with_spec_headers(client: FlaskClient) -> None:
    content = pattern(PART_SIZE * 2 + 123)  # crosses into S3 multipart
    meta = upload_ok(client, content, "big.bin")
    response = client.get(f"/files/{meta['file_id']}")
    assert response.status_code == 200
    assert response.data == content
    h = response.headers
    assert h["Content-Length"] == str(len(content))
    assert h["ETag"] == meta["etag"]
    assert h["Accept-Ranges"] == "bytes"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Type"] == "application/octet-stream"
    assert h["Last-Modified"].endswith("GMT")
    assert h["Content-Disposition"] == (
        "attachment; filename=\"big.bin\"; filename*=UTF-8''big.bin"
    )
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()


def test_head_has_get_headers_and_no_body(client: FlaskClient) -> None:
    meta = upload_ok(client, b"abc", "a.txt")
    response = client.head(f"/files/{meta['file_id']}")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == "3"
    assert response.headers["ETag"] == meta["etag"]


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=-2", 206, b"89", "bytes 8-9/10"),
        ("bytes=5-100", 206, b"56789", "bytes 5-9/10"),
        ("bytes=0-1,4-5", 200, b"0123456789", None),
        ("bytes=abc", 200, b"0123456789", None),
    ],
)
def test_ranges(
    client: FlaskClient, header: str, status: int, body: bytes, content_range: str | None
) -> None:
    meta = upload_ok(client, b"0123456789", "digits.txt")
    response = client.get(f"/files/{meta['file_id']}", headers={"Range": header})
    assert response.status_code == status
    assert response.data == body
    assert response.headers.get("Content-Range") == content_range
    assert response.headers["Content-Length"] == str(len(body))


def test_unsatisfiable_range_is_416(client: FlaskClient) -> None:
    meta = upload_ok(client, b"0123456789", "digits.txt")
    response = client.get(f"/files/{meta['file_id']}", headers={"Range": "bytes=10-"})
    assert response.status_code == 416
    assert error_code(response) == "RANGE_NOT_SATISFIABLE"
    assert response.headers["Content-Range"] == "bytes */10"


def test_range_across_part_boundary(client: FlaskClient) -> None:
    content = pattern(PART_SIZE + 1000, seed=3)
    meta = upload_ok(client, content)
    start, end = PART_SIZE - 10, PART_SIZE + 10
    response = client.get(f"/files/{meta['file_id']}", headers={"Range": f"bytes={start}-{end}"})
    assert response.status_code == 206
    assert response.data == content[start : end + 1]


def test_if_range_mismatch_sends_whole_file(client: FlaskClient) -> None:
    meta = upload_ok(client, b"0123456789")
    url = f"/files/{meta['file_id']}"
    stale = client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.data == b"0123456789"
    fresh = client.get(url, headers={"Range": "bytes=0-1", "If-Range": meta["etag"]})
    assert fresh.status_code == 206 and fresh.data == b"01"


def test_if_none_match_gives_304(client: FlaskClient) -> None:
    meta = upload_ok(client, b"cache me")
    url = f"/files/{meta['file_id']}"
    assert client.get(url, headers={"If-None-Match": meta["etag"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304


def test_metadata_endpoint(client: FlaskClient) -> None:
    meta = upload_ok(client, b"x", "x.txt")
    response = client.get(f"/files/{meta['file_id']}/metadata")
    assert response.status_code == 200
    assert response.get_json() == meta


def test_replace_content_keeps_id_and_name_and_changes_etag(client: FlaskClient) -> None:
    meta = upload_ok(client, b"old content", "doc.txt")
    url = f"/files/{meta['file_id']}"
    response = client.put(url, data=b"new content!", content_type="text/plain")
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "File updated"
    new = body["file"]
    assert new["file_id"] == meta["file_id"]
    assert new["file_name"] == "doc.txt"
    assert new["file_size"] == 12
    assert new["etag"] != meta["etag"]
    assert new["created_at"] == meta["created_at"]
    assert new["updated_at"] >= meta["updated_at"]
    assert client.get(url).data == b"new content!"


def test_replace_multipart_part_name_does_not_rename(client: FlaskClient) -> None:
    meta = upload_ok(client, b"v1", "keep.txt")
    url = f"/files/{meta['file_id']}"
    response = upload_replace(client, url, b"v2", "other.txt")
    assert response.get_json()["file"]["file_name"] == "keep.txt"
    assert client.get(url).data == b"v2"


def upload_replace(client: FlaskClient, url: str, content: bytes, name: str, **fields: str):  # type: ignore[no-untyped-def]
    import io

    data = {"file": (io.BytesIO(content), name), **fields}
    response = client.put(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    return response


def test_replace_and_rename_together(client: FlaskClient) -> None:
    meta = upload_ok(client, b"v1", "a.txt")
    url = f"/files/{meta['file_id']}"
    response = upload_replace(client, url, b"v2", "x.txt", file_name="b.txt")
    assert response.get_json()["file"]["file_name"] == "b.txt"
    assert client.get(url).data == b"v2"


@pytest.mark.parametrize("how", ["json", "form", "header", "query"])
def test_rename_only(client: FlaskClient, how: str) -> None:
    meta = upload_ok(client, b"same", "before.txt")
    url = f"/files/{meta['file_id']}"
    if how == "json":
        response = client.put(url, json={"file_name": "after.txt"})
    elif how == "form":
        response = client.put(
            url, data={"file_name": "after.txt"}, content_type="multipart/form-data"
        )
    elif how == "header":
        response = client.put(url, headers={"X-File-Name": "after.txt"})
    else:
        response = client.put(url + "?file_name=after.txt")
    assert response.status_code == 200, response.get_json()
    new = response.get_json()["file"]
    assert new["file_name"] == "after.txt"
    assert new["etag"] == meta["etag"]
    assert client.get(url).data == b"same"


def test_if_match_guards_put_and_delete(client: FlaskClient) -> None:
    meta = upload_ok(client, b"guarded")
    url = f"/files/{meta['file_id']}"
    stale = {"If-Match": '"0000"'}
    assert client.put(url, data=b"x", headers=stale).status_code == 412
    assert error_code(client.put(url, json={"file_name": "n"}, headers=stale)) == (
        "PRECONDITION_FAILED"
    )
    assert client.delete(url, headers=stale).status_code == 412
    assert client.get(url).data == b"guarded"
    ok = client.put(url, data=b"updated", headers={"If-Match": meta["etag"]})
    assert ok.status_code == 200
    new_etag = ok.get_json()["file"]["etag"]
    assert client.delete(url, headers={"If-Match": meta["etag"]}).status_code == 412
    assert client.delete(url, headers={"If-Match": new_etag}).status_code == 200


def test_delete_then_everything_is_404(client: FlaskClient) -> None:
    meta = upload_ok(client, b"bye")
    url = f"/files/{meta['file_id']}"
    response = client.delete(url)
    assert response.status_code == 200
    assert response.get_json() == {"message": "File deleted", "file_id": meta["file_id"]}
    for method in ("get", "head", "put", "delete"):
        r = (
            getattr(client, method)(url, data=b"x")
            if method == "put"
            else getattr(client, method)(url)
        )
        assert r.status_code == 404
    assert error_code(client.get(url + "/metadata")) == "FILE_NOT_FOUND"


def test_listing_is_newest_first_and_pages_never_skip_or_repeat(client: FlaskClient) -> None:
    ids = [upload_ok(client, str(i).encode(), f"f{i}.txt")["file_id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        url = "/files?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()
        seen += [f["file_id"] for f in page["files"]]
        # A file added mid-listing lands at the top: never in a later page.
        upload_ok(client, b"late", "late.txt")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_listing_prefix_is_literal(client: FlaskClient) -> None:
    for name in ("a.b.txt", "a_b.txt", "axb.txt", "a%b.txt", "report.pdf"):
        upload_ok(client, b"x", name)
    names = lambda p: sorted(  # noqa: E731
        f["file_name"] for f in client.get("/files", query_string={"prefix": p}).get_json()["files"]
    )
    assert names("a.") == ["a.b.txt"]
    assert names("a_") == ["a_b.txt"]
    assert names("a%") == ["a%b.txt"]
    assert names("rep") == ["report.pdf"]


def _every_page(client: FlaskClient, query: str) -> list[str]:
    names: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/files?limit=2&{query}&cursor={cursor}").get_json()
        names += [f["file_name"] for f in page["files"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names


def test_listing_sorts_by_name_size_or_date_across_pages(client: FlaskClient) -> None:
    sizes = {"b.txt": 30, "Apple.txt": 5, "apple2.txt": 30, "Zoo.txt": 1, "éte.txt": 12}
    for name, size in sizes.items():
        upload_ok(client, b"x" * size, name)
    by_name = ["Apple.txt", "apple2.txt", "b.txt", "Zoo.txt", "éte.txt"]  # case-insensitive
    assert _every_page(client, "sort=name") == by_name
    assert _every_page(client, "sort=name&order=desc") == by_name[::-1]
    largest = _every_page(client, "sort=size")
    assert [sizes[n] for n in largest] == [30, 30, 12, 5, 1]
    assert _every_page(client, "sort=size&order=asc") == largest[::-1]
    assert _every_page(client, "sort=date&order=asc") == list(sizes)
    assert _every_page(client, "sort=date") == _every_page(client, "") == list(sizes)[::-1]


def test_a_cursor_is_refused_under_another_order(client: FlaskClient) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        upload_ok(client, b"x", name)
    cursor = client.get("/files?limit=1&sort=name").get_json()["next_cursor"]
    assert client.get(f"/files?limit=1&sort=name&order=asc&cursor={cursor}").status_code == 200
    for other in ("sort=name&order=desc", "sort=size", "sort=date", ""):
        response = client.get(f"/files?limit=1&{other}&cursor={cursor}")
        assert response.status_code == 400, other
        assert "sort=name&order=asc" in response.get_json()["error"]["message"]


def test_empty_sort_and_order_are_their_defaults(client: FlaskClient) -> None:
    for name in ("b.txt", "a.txt", "c.txt"):
        upload_ok(client, b"x", name)
    newest = _every_page(client, "")
    assert _every_page(client, "sort=&order=") == newest == ["c.txt", "a.txt", "b.txt"]
    assert _every_page(client, "sort=name&order=") == ["a.txt", "b.txt", "c.txt"]


@pytest.mark.parametrize("query", ["sort=colour", "order=up", "sort=name&order=DESC"])
def test_a_bad_sort_or_order_is_named_in_the_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/files?{query}")
    assert response.status_code == 400
    field = "order" if "order" in query else "sort"
    assert response.get_json()["error"]["message"].startswith(f"{field}: ")


def test_a_cursor_from_before_sorting_still_lists_newest_first(client: FlaskClient) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        upload_ok(client, b"x", name)
    first = client.get("/files?limit=1").get_json()
    sort, order, millis, file_id = json.loads(_unpadded_b64(first["next_cursor"]))
    assert (sort, order) == ("date", "desc")
    old = base64.urlsafe_b64encode(json.dumps([millis, file_id]).encode()).decode()
    rest = client.get(f"/files?cursor={old}").get_json()["files"]
    assert [f["file_name"] for f in rest] == ["b.txt", "a.txt"]
    assert client.get(f"/files?sort=name&cursor={old}").status_code == 400


def _unpadded_b64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "cursor=!!!",
        "cursor=bm90LWpzb24",
        "sort=colour",
        "sort=NAME",
        "order=up",
        # ["name", "asc", 5, "f"]: a name cursor must carry a name
        "sort=name&cursor=WyJuYW1lIiwiYXNjIiw1LCJmIl0",
    ],
)
def test_bad_list_parameters_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/files?{query}")
    assert response.status_code == 400
    assert error_code(response) == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "name", ["", "a/b", "tab\there", "nul\x00", "x" * 256, "line\nbreak", "del\x7f"]
)
def test_invalid_names_are_refused_and_nothing_stored(client: FlaskClient, name: str) -> None:
    response = upload(client, b"content", "ok.txt", fields={"file_name": name})
    assert response.status_code == 400
    assert error_code(response) == "INVALID_FILE_NAME"
    assert client.get("/files").get_json()["files"] == []


def test_unicode_names_round_trip_and_never_break_headers(client: FlaskClient) -> None:
    name = 'naïve "quoted" 報告書;\\ 100%.txt'
    encoded = quote(name, safe="")
    meta = client.post("/files/upload", data=b"x", headers={"X-File-Name": encoded}).get_json()
    assert meta["file_name"] == name
    disposition = client.get(f"/files/{meta['file_id']}").headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="naive _quoted_;_ 100_.txt"')
    assert f"filename*=UTF-8''{encoded}" in disposition
    assert "\r" not in disposition and "\n" not in disposition


@pytest.mark.parametrize(
    ("content", "name", "declared", "inline_expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "pic.png", None, True),
        (b"<html><script>alert(1)</script>", "x.html", "text/html", False),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "image/svg+xml", False),
        (b"plain", "p.txt", None, True),
    ],
)
def test_inline_only_for_safe_types(
    client: FlaskClient, content: bytes, name: str, declared: str | None, inline_expected: bool
) -> None:
    headers = {"X-File-Name": name}
    response = client.post(
        "/files/upload", data=content, headers=headers, content_type=declared or ""
    )
    meta = response.get_json()
    got = client.get(f"/files/{meta['file_id']}?disposition=inline")
    kind = got.headers["Content-Disposition"].split(";")[0]
    assert kind == ("inline" if inline_expected else "attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_type_detection_from_content_when_undeclared(client: FlaskClient) -> None:
    meta = upload_ok(client, b"%PDF-1.4 ...", "noext")
    assert meta["file_type"] == "application/pdf"
    raw = client.post(
        "/files/upload",
        data=b"\x89PNG\r\n\x1a\nrest",
        headers={"X-File-Name": "img"},
        content_type="application/octet-stream",
    ).get_json()
    assert raw["file_type"] == "image/png"


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (
            b"PK\x03\x04\x14\x00",
            "report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"\x00\x00\x00\x18ftypisom", "song.m4a", "audio/mp4"),
        (b"\x00\x00\x00\x18ftypheic", "IMG_0001", "image/heic"),
    ],
)
def test_a_container_format_is_named_by_its_extension(
    client: FlaskClient, head: bytes, name: str, expected: str
) -> None:
    raw = client.post(
        "/files/upload",
        data=head + bytes(64),
        headers={"X-File-Name": name},
        content_type="application/octet-stream",  # undeclared: detected
    )
    assert raw.status_code == 201 and raw.get_json()["file_type"] == expected


def test_malformed_declared_type_is_not_echoed(client: FlaskClient) -> None:
    response = client.post(
        "/files/upload",
        data=b"abc",
        headers={"X-File-Name": "t.txt", "Content-Type": 'text/html; x="a" bogus<>/'},
    )
    meta = response.get_json()
    assert response.status_code == 201
    assert meta["file_type"] == "text/html"


def test_digest_verified_and_mismatch_stores_nothing(client: FlaskClient) -> None:
    content = pattern(PART_SIZE + 10)
    good = client.post(
        "/files/upload?file_name=d.bin",
        data=content,
        headers={"Digest": f"sha-256={sha256_b64(content)}"},
    )
    assert good.status_code == 201
    bad = client.post(
        "/files/upload?file_name=d.bin",
        data=content,
        headers={"Digest": f"sha-256={sha256_b64(b'other')}"},
    )
    assert bad.status_code == 400
    assert error_code(bad) == "CHECKSUM_MISMATCH"
    md5_bad = client.post(
        "/files/upload?file_name=d.bin",
        data=b"abc",
        headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="},
    )
    assert error_code(md5_bad) == "CHECKSUM_MISMATCH"
    assert [f["file_id"] for f in client.get("/files").get_json()["files"]] == [
        good.get_json()["file_id"]
    ]


def test_checksum_mismatch_on_replace_keeps_old_content(client: FlaskClient) -> None:
    meta = upload_ok(client, b"original")
    url = f"/files/{meta['file_id']}"
    bad = client.put(url, data=b"new", headers={"Digest": f"sha-256={sha256_b64(b'nope')}"})
    assert error_code(bad) == "CHECKSUM_MISMATCH"
    assert client.get(url).data == b"original"


def test_no_file_errors(client: FlaskClient) -> None:
    assert error_code(client.post("/files/upload")) == "NO_FILE"
    form_without_file = client.post(
        "/files/upload", data={"file_name": "x"}, content_type="multipart/form-data"
    )
    assert error_code(form_without_file) == "NO_FILE"
    assert error_code(client.post("/files/upload", data=b"abc")) == "INVALID_FILE_NAME"


def test_empty_file_via_multipart_is_a_file(client: FlaskClient) -> None:
    meta = upload_ok(client, b"", "empty.txt")
    assert meta["file_size"] == 0
    response = client.get(f"/files/{meta['file_id']}")
    assert response.status_code == 200 and response.data == b""


def test_errors_are_json_for_unknown_routes_and_methods(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and error_code(missing) == "NOT_FOUND"
    wrong = client.patch("/files/abc")
    assert wrong.status_code == 405 and error_code(wrong) == "METHOD_NOT_ALLOWED"
    for method, path in [
        ("GET", "/files/upload"),
        ("PUT", "/files/upload"),
        ("GET", "/files/delete"),
    ]:
        action = client.open(path, method=method)
        assert action.status_code == 405, (method, path, action.get_json())
        assert error_code(action) == "METHOD_NOT_ALLOWED"
        assert action.headers["Allow"] == "OPTIONS, POST"
        assert (
            f"{method} is not allowed on {path}: use POST" == action.get_json()["error"]["message"]
        )
    body = missing.get_json()
    assert body["error"]["request_id"] == missing.headers["X-Request-Id"]


def test_request_id_is_echoed_when_sane(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    assert (
        client.get("/healthz", headers={"X-Request-Id": "bad id\x01"}).headers["X-Request-Id"]
        != "bad id\x01"
    )


def test_bad_json_on_rename(client: FlaskClient) -> None:
    meta = upload_ok(client, b"x")
    url = f"/files/{meta['file_id']}"
    for body in (b"{", b"[]", b'{"file_name": 5}', b'{"other": 1}'):
        response = client.put(url, data=body, content_type="application/json")
        assert response.status_code == 400, body
        assert error_code(response) == "INVALID_REQUEST"
    assert error_code(client.put(url, json={"file_name": ""})) == "INVALID_FILE_NAME"


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "storage": "ok"}


def test_options_lists_only_the_matched_routes_methods(client: FlaskClient) -> None:
    upload_options = client.options("/files/upload")
    assert upload_options.status_code == 204
    assert set(upload_options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert "Content-Type" not in upload_options.headers
    file_options = client.options("/files/abc")
    assert set(file_options.headers["Allow"].split(", ")) == {
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "OPTIONS",
    }
