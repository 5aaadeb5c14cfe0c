"""Expiring files, download bookkeeping, and `flask purge` — on every backend."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from filedrop.services.expiry import purge
from filedrop.services.fsck import fsck
from filedrop.storage.metadata import utcnow
from tests.fixtures import Backend
from tests.helpers import error_code, upload, upload_ok
from tests.test_users import _admin, _app, _new_user

pytestmark = pytest.mark.http


def test_an_expired_file_is_gone_for_every_endpoint_at_once(client: FlaskClient) -> None:
    doomed = upload(
        client, b"short-lived", "doomed.txt", fields={"expires_in": "1", "folder": "/tmp"}
    )
    assert doomed.status_code == 201
    meta = doomed.get_json()
    kept = upload_ok(client, b"kept", "kept.txt")
    url = f"/files/{meta['file_id']}"
    assert meta["expires_at"] and client.get(url).data == b"short-lived"
    link = client.post(f"{url}/links").get_json()["token"]
    time.sleep(1.05)
    for response in (
        client.get(url),
        client.head(url),
        client.get(f"{url}/metadata"),
        client.put(url, data=b"revive", content_type="text/plain"),
        client.put(url, json={"expires_at": None}),
        client.post(f"{url}/copy"),
        client.post(f"{url}/links"),
        client.get(f"{url}/links"),
        client.delete(url, headers={"If-Match": meta["etag"]}),
    ):
        assert response.status_code == 404, response.get_json()
    assert client.get(f"/d/{link}").status_code == 410
    assert [f["file_id"] for f in client.get("/files").get_json()["files"]] == [kept["file_id"]]
    assert client.get("/files?folder=/").get_json()["folders"] == []
    assert client.get("/files?folder=/tmp").get_json()["files"] == []
    assert client.delete("/folders?path=/tmp").status_code == 404
    # DELETE answers 404 too, and reclaims it while at it.
    assert client.delete(url).status_code == 404
    assert client.delete(url).status_code == 404


def test_expiry_is_set_moved_and_cleared(client: FlaskClient) -> None:
    at = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    meta = upload_ok(client, b"x")
    url = f"/files/{meta['file_id']}"
    assert meta["expires_at"] is None
    set_at = client.put(url, json={"expires_at": at}).get_json()["file"]
    assert set_at["expires_at"] == at and set_at["etag"] == meta["etag"]
    in_an_hour = client.put(f"{url}?expires_in=3600").get_json()["file"]["expires_at"]
    assert in_an_hour < at
    cleared = client.put(url, json={"expires_at": None}).get_json()["file"]
    assert cleared["expires_at"] is None
    raw = client.post(
        "/files/upload?file_name=r.txt&expires_at=2100-01-01T00:00:00%2B02:00", data=b"r"
    )
    assert raw.get_json()["expires_at"] == "2099-12-31T22:00:00.000Z"
    for bad in (
        {"expires_in": 0},
        {"expires_in": -5},
        {"expires_in": 1.5},
        {"expires_in": "ten"},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "not a date"},
        {"expires_at": 12},
        {"expires_in": 10, "expires_at": at},
        {"expires_in": 10**12},
    ):
        response = client.put(url, json=bad)
        assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST", bad
    assert upload(client, b"y", "y.txt", fields={"expires_in": "0"}).status_code == 400
    assert len(client.get("/files").get_json()["files"]) == 2  # the refused upload stored nothing


def test_downloads_are_counted_once_each_and_change_nothing_else(client: FlaskClient) -> None:
    meta = upload_ok(client, b"0123456789")
    url = f"/files/{meta['file_id']}"
    assert (meta["download_count"], meta["last_accessed_at"]) == (0, None)
    client.head(url)
    client.get(url, headers={"If-None-Match": meta["etag"]})
    client.get(url, headers={"Range": "bytes=99-"})  # 416: nothing sent
    assert client.get(f"{url}/metadata").get_json() == meta
    client.get(url)
    client.get(url, headers={"Range": "bytes=0-1"})
    after = client.get(f"{url}/metadata").get_json()
    assert after["download_count"] == 2 and after["last_accessed_at"] >= meta["created_at"]
    assert {k: v for k, v in after.items() if k not in ("download_count", "last_accessed_at")} == {
        k: v for k, v in meta.items() if k not in ("download_count", "last_accessed_at")
    }
    # The count survives renames and replaces (it is the file's, not the content's).
    renamed = client.put(url, json={"file_name": "n.txt"}).get_json()["file"]
    assert renamed["download_count"] == 2


def test_purge_deletes_expired_files_their_blobs_and_quota(backend: Backend) -> None:
    app = _app(backend)
    client = app.test_client()
    _, alice_key = _new_user(client, "alice")
    _, bob_key = _new_user(client, "bob")
    alice, bob = _admin(alice_key), _admin(bob_key)

    def put(headers: dict[str, str], name: str, **fields: str) -> dict[str, Any]:
        response = upload(client, b"z" * 10, name, fields=fields, headers=headers)
        assert response.status_code == 201
        body: dict[str, Any] = response.get_json()
        return body

    doomed = put(alice, "doomed.txt", expires_in="1")
    put(alice, "kept.txt")
    bobs = put(bob, "bob.txt", expires_in="3600")
    token = client.post(f"/files/{doomed['file_id']}/links", headers=alice).get_json()["token"]
    kept_link = client.post(f"/files/{bobs['file_id']}/links", headers=bob).get_json()
    time.sleep(1.05)

    runner = app.test_cli_runner()
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["expired_files"] == [doomed["file_id"]] and report["dry_run"] is True
    assert len(list(backend.blobs.iter_blobs("blobs/"))) == 3  # a dry run changes nothing

    done = json.loads(runner.invoke(args=["purge"]).output)
    assert done["expired_files"] == [doomed["file_id"]] and done["bytes_freed"] == 10
    assert done["unaccessed_files"] == []
    assert len(done["ended_links"]) == 1
    assert len(list(backend.blobs.iter_blobs("blobs/"))) == 2
    assert client.get("/me", headers=alice).get_json()["usage"]["bytes_used"] == 10
    assert client.get("/me", headers=bob).get_json()["usage"]["file_count"] == 1
    # After purge an ended link is forgotten: 404 rather than 410, as the contract allows.
    assert client.get(f"/d/{token}").status_code == 404
    assert client.get(f"/d/{kept_link['token']}").status_code == 200
    assert json.loads(runner.invoke(args=["purge"]).output)["expired_files"] == []
    assert fsck(backend.blobs, backend.meta, grace_s=0).clean


def test_purge_of_files_nobody_downloaded(client: FlaskClient, backend: Backend) -> None:
    """PURGE_UNACCESSED_DAYS: the later of last download and last change decides."""
    idle = upload_ok(client, b"idle", "idle.txt")
    read = upload_ok(client, b"read", "read.txt")
    time.sleep(0.05)
    moment = utcnow()
    time.sleep(0.05)
    assert client.get(f"/files/{read['file_id']}").data == b"read"
    fresh = upload_ok(client, b"fresh", "fresh.txt")

    service = client.application.extensions["filedrop"]
    links = client.application.extensions["filedrop.links"]
    # 30 days after `moment`: idle was last touched before it, read and fresh after.
    later = moment + timedelta(days=30)
    assert purge(service, links, later, unaccessed_days=0).unaccessed_files == []
    report = purge(service, links, later, unaccessed_days=30)
    assert report.unaccessed_files == [idle["file_id"]]
    left = sorted(f["file_name"] for f in client.get("/files").get_json()["files"])
    assert left == ["fresh.txt", "read.txt"]
    assert fresh["file_id"] in {f["file_id"] for f in client.get("/files").get_json()["files"]}
    assert list(backend.blobs.iter_blobs(f"blobs/{idle['file_id']}/")) == []


@pytest.mark.parametrize("days", ["-1", "x"])
def test_bad_purge_settings_refuse_to_start(days: str) -> None:
    from filedrop.config import Settings

    with pytest.raises(ValueError):
        Settings.from_env({"PURGE_UNACCESSED_DAYS": days}, dotenv_path=None)
    with pytest.raises(ValueError):
        Settings.from_env({"PUBLIC_BASE_URL": "files.example.com"}, dotenv_path=None)
