"""API keys with an S3 pair: made, listed without secrets, ended in both forms at once;
scoped to a bucket and read-only over REST; the S3 secret encrypted at rest."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filedrop import create_app
from tests.fixtures import Backend
from tests.helpers import error_code

pytestmark = pytest.mark.http

ADMIN = "admin-token-for-tests-0123456789"


@pytest.fixture
def auth_app(backend: Backend) -> Flask:
    settings = backend.settings.with_overrides(auth="enabled", admin_token=ADMIN)
    return create_app(settings, blobs=backend.blobs, meta=backend.meta)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_user(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/admin/users", json={"name": "alice"}, headers=_bearer(ADMIN))
    assert response.status_code == 201
    body: dict[str, Any] = response.get_json()
    return body


def _upload(client: FlaskClient, key: str, folder: str, name: str = "f.txt") -> Any:
    return client.post(
        f"/files/upload?folder={folder}",
        data={"file": (io.BytesIO(b"hello"), name)},
        content_type="multipart/form-data",
        headers=_bearer(key),
    )


def test_a_new_user_gets_an_s3_pair_and_the_secret_is_not_in_the_database(
    auth_app: Flask, backend: Backend
) -> None:
    body = _new_user(auth_app.test_client())
    assert body["access_key_id"].startswith("FD") and len(body["access_key_id"]) == 20
    assert len(body["secret_access_key"]) == 40
    stored = backend.meta.find_key_by_access_key(body["access_key_id"])
    assert stored is not None and stored.owner == body["user"]["user_id"]
    assert body["secret_access_key"] not in stored.secret_sealed
    assert body["api_key"] not in stored.key_hash


def test_keys_are_made_listed_without_secrets_and_ended(auth_app: Flask) -> None:
    client = auth_app.test_client()
    first = _new_user(client)["api_key"]
    made = client.post("/me/keys", json={"name": "ci", "bucket": None}, headers=_bearer(first))
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    key = made.get_json()
    assert {"key_id", "api_key", "access_key_id", "secret_access_key"} <= set(key)
    assert client.get("/files", headers=_bearer(key["api_key"])).status_code == 200
    listed = client.get("/me/keys", headers=_bearer(first)).get_json()["keys"]
    assert [k["name"] for k in listed] == ["default", "ci"]
    assert all("secret_access_key" not in k and "api_key" not in k for k in listed)
    gone = client.delete(f"/me/keys/{key['key_id']}", headers=_bearer(first))
    assert gone.status_code == 200
    assert client.get("/files", headers=_bearer(key["api_key"])).status_code == 401
    again = client.delete(f"/me/keys/{key['key_id']}", headers=_bearer(first))
    assert again.status_code == 404 and error_code(again) == "KEY_NOT_FOUND"


def test_deleting_the_first_key_ends_it(auth_app: Flask) -> None:
    client = auth_app.test_client()
    first = _new_user(client)
    other = client.post("/me/keys", json={"name": "x"}, headers=_bearer(first["api_key"]))
    response = client.delete(f"/me/keys/{first['key_id']}", headers=_bearer(first["api_key"]))
    assert response.status_code == 200
    assert client.get("/files", headers=_bearer(first["api_key"])).status_code == 401
    assert client.get("/files", headers=_bearer(other.get_json()["api_key"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x", "bucket": "Not_A_Bucket"}, {"name": "x", "read_only": "y"}],
)
def test_bad_key_requests_are_400(auth_app: Flask, body: dict[str, Any]) -> None:
    client = auth_app.test_client()
    key = _new_user(client)["api_key"]
    response = client.post("/me/keys", json=body, headers=_bearer(key))
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"


def test_a_read_only_key_reads_but_never_writes(auth_app: Flask) -> None:
    client = auth_app.test_client()
    full = _new_user(client)["api_key"]
    file_id = _upload(client, full, "/photos").get_json()["file_id"]
    made = client.post("/me/keys", json={"name": "ro", "read_only": True}, headers=_bearer(full))
    read_only = made.get_json()["api_key"]
    assert client.get(f"/files/{file_id}", headers=_bearer(read_only)).data == b"hello"
    for response in (
        _upload(client, read_only, "/photos"),
        client.delete(f"/files/{file_id}", headers=_bearer(read_only)),
        client.post("/folders", json={"path": "/x"}, headers=_bearer(read_only)),
        client.post("/me/keys", json={"name": "more"}, headers=_bearer(read_only)),
    ):
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert client.get(f"/files/{file_id}", headers=_bearer(full)).status_code == 200


def test_a_bucket_scoped_key_sees_only_its_bucket(auth_app: Flask) -> None:
    client = auth_app.test_client()
    full = _new_user(client)["api_key"]
    inside = _upload(client, full, "/photos/2024").get_json()["file_id"]
    outside = _upload(client, full, "/docs").get_json()["file_id"]
    at_root = _upload(client, full, "/").get_json()["file_id"]
    made = client.post("/me/keys", json={"name": "p", "bucket": "photos"}, headers=_bearer(full))
    scoped = _bearer(made.get_json()["api_key"])
    listed = client.get("/files", headers=scoped).get_json()
    assert [f["file_id"] for f in listed["files"]] == [inside]
    assert client.get(f"/files/{inside}", headers=scoped).status_code == 200
    for file_id in (outside, at_root):
        for response in (
            client.get(f"/files/{file_id}", headers=scoped),
            client.get(f"/files/{file_id}/metadata", headers=scoped),
            client.delete(f"/files/{file_id}", headers=scoped),
        ):
            assert response.status_code == 404 and error_code(response) == "FILE_NOT_FOUND"
    response = client.get("/files?folder=/docs", headers=scoped)
    assert response.status_code == 404
    buckets = client.get("/buckets", headers=scoped).get_json()["buckets"]
    assert [b["name"] for b in buckets] == ["photos"]
    all_buckets = client.get("/buckets", headers=_bearer(full)).get_json()["buckets"]
    assert [(b["name"], b["usage"]["file_count"]) for b in all_buckets] == [
        ("docs", 1),
        ("photos", 1),
    ]
    assert client.delete("/folders?path=/docs", headers=scoped).status_code == 404
    assert client.get(f"/files/{outside}", headers=_bearer(full)).status_code == 200


def test_a_bucket_scoped_key_writes_over_rest_only_inside_its_bucket(auth_app: Flask) -> None:
    client = auth_app.test_client()
    full = _new_user(client)["api_key"]
    made = client.post("/me/keys", json={"name": "p", "bucket": "photos"}, headers=_bearer(full))
    key = made.get_json()["api_key"]
    scoped = _bearer(key)
    inside = _upload(client, key, "/photos/2024")
    assert inside.status_code == 201
    file_id = inside.get_json()["file_id"]
    for folder in ("/", "/docs", "/photosx"):
        response = _upload(client, key, folder)
        assert response.status_code == 404 and error_code(response) == "FOLDER_NOT_FOUND"
    form = client.post(
        "/files/upload",
        data={"file": (io.BytesIO(b"x"), "f.txt"), "folder": "/docs"},
        content_type="multipart/form-data",
        headers=scoped,
    )
    assert form.status_code == 404
    moved_out = client.put(f"/files/{file_id}", json={"folder": "/docs"}, headers=scoped)
    assert moved_out.status_code == 404
    moved = client.put(f"/files/{file_id}", json={"folder": "/photos/2025"}, headers=scoped)
    assert moved.status_code == 200
    copied_out = client.post(f"/files/{file_id}/copy", json={"folder": "/docs"}, headers=scoped)
    assert copied_out.status_code == 404
    assert client.post(f"/files/{file_id}/copy", json={}, headers=scoped).status_code == 201
    batch = client.post("/files/delete", json={"file_ids": [file_id]}, headers=scoped)
    assert batch.status_code == 403
    everything = client.get("/files", headers=_bearer(full)).get_json()["files"]
    assert sorted(f["folder"] for f in everything) == ["/photos/2025", "/photos/2025"]
