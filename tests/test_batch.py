"""Batch uploads (several `file` parts: 201 or 207) and batch deletes, per user."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from flask.testing import FlaskClient

from filedrop import create_app
from filedrop.services.fsck import fsck
from tests.fixtures import Backend
from tests.helpers import error_code, upload_ok
from tests.test_users import _admin, _app, _new_user

pytestmark = pytest.mark.http

BOUNDARY = "fd-b0undary"


def form(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body with parts in exactly this order: (name, filename or None, data)."""
    out = bytearray()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def post_form(client: FlaskClient, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/files/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers or {},
    )


def test_several_file_parts_are_all_stored(client: FlaskClient) -> None:
    body = form(
        ("folder", None, b"/batch"),
        ("file", "one.txt", b"1"),
        ("file", "two.txt", b"22"),
        ("file", "three.txt", b"333"),
    )
    response = post_form(client, body)
    assert response.status_code == 201 and "Location" not in response.headers
    files = response.get_json()["files"]
    assert [(f["file_name"], f["file_size"], f["folder"]) for f in files] == [
        ("one.txt", 1, "/batch"),
        ("two.txt", 2, "/batch"),
        ("three.txt", 3, "/batch"),
    ]
    for f, content in zip(files, (b"1", b"22", b"333"), strict=True):
        assert client.get(f"/files/{f['file_id']}").data == content
    # One part is still a plain single upload.
    single = post_form(client, form(("file", "solo.txt", b"s")))
    assert single.status_code == 201 and single.get_json()["file_name"] == "solo.txt"
    assert single.headers["Location"] == f"/files/{single.get_json()['file_id']}"


def test_each_file_gets_the_fields_sent_up_to_the_next_file(client: FlaskClient) -> None:
    body = form(
        ("folder", None, b"/a"),
        ("file", "one.txt", b"1"),
        ("file", "two.txt", b"2"),
        ("folder", None, b"/b"),  # read with two.txt, before it is stored
        ("file", "three.txt", b"3"),
    )
    files = post_form(client, body).get_json()["files"]
    assert [(f["file_name"], f["folder"]) for f in files] == [
        ("one.txt", "/a"),
        ("two.txt", "/b"),
        ("three.txt", "/b"),
    ]


def test_some_parts_failing_is_207_with_a_result_per_file(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, key = _new_user(client, quota_bytes=100)
    auth = _admin(key)
    upload_ok_as(client, auth, "taken.txt")
    body = form(
        ("on_conflict", None, b"fail"),
        ("file", "fits.txt", b"a" * 40),
        ("file", "too-big.txt", b"b" * 80),  # over the quota
        ("file", "", b"c"),  # no name at all
        ("file", "taken.txt", b"d"),  # on_conflict=fail
        ("file", "also-fits.txt", b"e" * 30),
    )
    response = post_form(client, body, auth)
    assert response.status_code == 207
    results = response.get_json()["files"]
    assert [r["status"] for r in results] == [201, 507, 400, 409, 201]
    assert [r["error"]["code"] for r in results if "error" in r] == [
        "QUOTA_EXCEEDED",
        "INVALID_FILE_NAME",
        "FILE_EXISTS",
    ]
    assert [r.get("file_name") for r in results if "error" in r] == [
        "too-big.txt",
        None,
        "taken.txt",
    ]
    assert all(r["error"]["request_id"] == response.headers["X-Request-Id"] for r in results[1:4])
    stored = sorted(f["file_name"] for f in client.get("/files", headers=auth).get_json()["files"])
    assert stored == ["also-fits.txt", "fits.txt", "taken.txt"]
    assert client.get("/me", headers=auth).get_json()["usage"]["bytes_used"] == 71
    assert fsck(backend.blobs, backend.meta, grace_s=0).clean  # nothing half made


def upload_ok_as(client: FlaskClient, headers: dict[str, str], name: str) -> Any:
    response = client.post(f"/files/upload?file_name={name}", data=b"x", headers=headers)
    assert response.status_code == 201
    return response.get_json()


def test_a_part_that_cannot_be_read_stops_the_batch(backend: Backend) -> None:
    app = create_app(
        backend.settings.with_overrides(max_file_size=100), blobs=backend.blobs, meta=backend.meta
    )
    client = app.test_client()
    body = form(
        ("file", "ok.txt", b"ok"),
        ("file", "huge.bin", b"h" * 200),
        ("file", "never.txt", b"n"),
    )
    response = post_form(client, body)
    assert response.status_code == 207
    results = response.get_json()["files"]
    assert [r["status"] for r in results] == [201, 413]
    assert [f["file_name"] for f in client.get("/files").get_json()["files"]] == ["ok.txt"]
    # A single file too large is still a plain 413.
    alone = post_form(client, form(("file", "huge.bin", b"h" * 200)))
    assert alone.status_code == 413 and error_code(alone) == "FILE_TOO_LARGE"


def test_single_file_options_are_refused_in_a_batch(client: FlaskClient) -> None:
    named = post_form(
        client, form(("file_name", None, b"x.txt"), ("file", "a", b"1"), ("file", "b", b"2"))
    )
    assert named.status_code == 207
    assert {r["error"]["code"] for r in named.get_json()["files"]} == {"INVALID_REQUEST"}
    digest = base64.b64encode(hashlib.sha256(b"1").digest()).decode()
    checked = client.post(
        "/files/upload",
        data=form(("file", "a", b"1"), ("file", "b", b"2")),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"Digest": f"sha-256={digest}"},
    )
    assert checked.status_code == 207
    assert all(r["status"] == 400 for r in checked.get_json()["files"])
    assert client.get("/files").get_json()["files"] == []
    # A replace takes one file.
    meta = upload_ok(client, b"old")
    two = client.put(
        f"/files/{meta['file_id']}",
        data=form(("file", "a", b"new"), ("file", "b", b"newer")),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert two.status_code == 400
    assert client.get(f"/files/{meta['file_id']}").data == b"old"


def test_batch_delete_reports_each_id_and_never_touches_others_files(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, alice_key = _new_user(client, "alice")
    _, bob_key = _new_user(client, "bob")
    alice, bob = _admin(alice_key), _admin(bob_key)
    mine = [upload_ok_as(client, alice, f"{i}.txt")["file_id"] for i in range(3)]
    bobs = upload_ok_as(client, bob, "bob.txt")["file_id"]

    mixed = client.post(
        "/files/delete", json={"file_ids": [mine[0], "nope", bobs, mine[0]]}, headers=alice
    )
    assert mixed.status_code == 207
    assert [(r["file_id"], r["status"]) for r in mixed.get_json()["files"]] == [
        (mine[0], 200),
        ("nope", 404),
        (bobs, 404),
        (mine[0], 404),
    ]
    assert mixed.get_json()["files"][2]["error"]["code"] == "FILE_NOT_FOUND"
    assert client.get(f"/files/{bobs}", headers=bob).data == b"x"
    everything = client.post("/files/delete", json={"file_ids": mine[1:]}, headers=alice)
    assert everything.status_code == 200
    assert everything.get_json() == {
        "files": [{"file_id": mine[1], "status": 200}, {"file_id": mine[2], "status": 200}]
    }
    assert client.get("/me", headers=alice).get_json()["usage"] == {
        "file_count": 0,
        "bytes_used": 0,
        "quota_bytes": backend.settings.default_quota_bytes,
    }
    for bad in (
        {},
        {"file_ids": []},
        {"file_ids": "abc"},
        {"file_ids": [1]},
        {"file_ids": ["a"] * 1001},
    ):
        response = client.post("/files/delete", json=bad, headers=alice)
        assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
