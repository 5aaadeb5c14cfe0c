"""Share links — every state, passwords, the one-time race, isolation."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient

from filedrop import create_app
from filedrop.services.links import hash_token
from tests.fixtures import FAST, Backend
from tests.helpers import error_code, pattern, upload_ok
from tests.test_openapi import ADMIN_TOKEN, assert_documented, bearer, keyed_client
from tests.test_users import _admin, _app, _new_user

pytestmark = pytest.mark.http


def share(
    client: FlaskClient, file_id: str, headers: dict[str, str] | None = None, **body: Any
) -> Any:
    response = client.post(f"/files/{file_id}/links", json=body or None, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def states(client: FlaskClient, file_id: str) -> list[str]:
    return [link["state"] for link in client.get(f"/files/{file_id}/links").get_json()["links"]]


def test_a_link_downloads_exactly_like_the_file_without_a_key(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, key = _new_user(client)
    owner = _admin(key)
    content = pattern(70_000, seed=5)
    meta = client.post(
        "/files/upload?file_name=r%C3%A9sum%C3%A9.txt",
        data=content,
        headers=owner,
        content_type="text/plain",
    ).get_json()
    made = client.post(f"/files/{meta['file_id']}/links", headers=owner)
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    link = made.get_json()
    token = link["token"]
    assert len(token) >= 43 and made.headers["Location"] == f"/d/{token}"
    assert link["url"] == f"http://localhost/d/{token}"
    assert (link["state"], link["max_downloads"], link["expires_at"]) == ("active", None, None)

    direct = client.get(f"/files/{meta['file_id']}", headers=owner)
    shared = client.get(f"/d/{token}")  # no Authorization at all
    assert shared.status_code == 200 and shared.data == content
    for header in (
        "Content-Type",
        "Content-Length",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
        "X-Content-Type-Options",
        "Content-Disposition",
        "Content-Security-Policy",
    ):
        assert shared.headers[header] == direct.headers[header], header
    assert shared.headers["Referrer-Policy"] == "no-referrer"
    ranged = client.get(f"/d/{token}", headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.data == content[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(content)}"
    assert client.get(f"/d/{token}", headers={"Range": "bytes=-5"}).data == content[-5:]
    assert client.get(f"/d/{token}", headers={"If-None-Match": meta["etag"]}).status_code == 304
    head = client.head(f"/d/{token}")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(content))
    inline = client.get(f"/d/{token}?disposition=inline")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    # Downloads through links count as downloads of the file (GETs that sent content).
    counted = client.get(f"/files/{meta['file_id']}/metadata", headers=owner).get_json()
    assert counted["download_count"] == 1 + 4 and counted["last_accessed_at"]
    listed = client.get(f"/files/{meta['file_id']}/links", headers=owner).get_json()["links"]
    assert [(x["link_id"], x["downloads"]) for x in listed] == [(link["link_id"], 4)]
    assert "token" not in listed[0] and "url" not in listed[0]


def test_tokens_are_random_and_stored_only_as_hashes(backend: Backend) -> None:
    client = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta).test_client()
    meta = upload_ok(client, b"x")
    tokens = [share(client, meta["file_id"])["token"] for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        stored = backend.meta.get_link(hash_token(token))
        assert (
            stored is not None and stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        )
        assert token not in repr(stored)


def test_every_link_state(client: FlaskClient) -> None:
    meta = upload_ok(client, b"version one", "doc.txt")
    file_id = meta["file_id"]
    url = f"/files/{file_id}"

    active = share(client, file_id)["token"]
    once = share(client, file_id, max_downloads=1)["token"]
    twice = share(client, file_id, max_downloads=2)["token"]
    revoked = share(client, file_id)
    expiring = share(client, file_id, expires_in=1)
    assert expiring["expires_at"]

    assert client.get(f"/d/{once}").data == b"version one"
    used = client.get(f"/d/{once}")
    assert used.status_code == 410 and error_code(used) == "LINK_GONE"
    assert [client.get(f"/d/{twice}").status_code for _ in range(3)] == [200, 200, 410]

    gone = client.delete(f"/links/{revoked['token']}")
    assert gone.status_code == 200 and gone.get_json()["link"]["state"] == "revoked"
    assert client.delete(f"/links/{revoked['token']}").status_code == 200  # again is fine
    assert client.get(f"/d/{revoked['token']}").status_code == 410

    unknown = client.get("/d/" + "A" * 43)
    assert unknown.status_code == 404 and error_code(unknown) == "LINK_NOT_FOUND"
    assert client.get("/d/" + "A" * 500).status_code == 404
    assert client.delete("/links/nope").status_code == 404

    time.sleep(1.05)
    expired = client.get(f"/d/{expiring['token']}")
    assert expired.status_code == 410 and "expired" in expired.get_json()["error"]["message"]
    assert sorted(states(client, file_id)) == sorted(
        ["active", "used_up", "used_up", "revoked", "expired"]
    )

    # Renaming or moving keeps the content, so links keep working...
    client.put(url, json={"file_name": "renamed.txt", "folder": "/moved"})
    assert client.get(f"/d/{active}").status_code == 200
    # ...replacing it ends them, even for the same bytes: they shared that version.
    client.put(url, data=b"version one", content_type="text/plain")
    replaced = client.get(f"/d/{active}")
    assert replaced.status_code == 410 and error_code(replaced) == "LINK_GONE"
    assert client.head(f"/d/{active}").status_code == 410
    assert "replaced" in states(client, file_id)
    fresh = share(client, file_id)["token"]
    assert client.get(f"/d/{fresh}").data == b"version one"
    # Deleting the file ends every link.
    client.delete(url)
    assert client.get(f"/d/{fresh}").status_code == 410
    assert client.get(f"{url}/links").status_code == 404


def test_head_304_and_416_never_use_up_a_one_time_link(client: FlaskClient) -> None:
    meta = upload_ok(client, b"0123456789")
    token = share(client, meta["file_id"], max_downloads=1)["token"]
    assert client.head(f"/d/{token}").status_code == 200
    assert client.get(f"/d/{token}", headers={"If-None-Match": meta["etag"]}).status_code == 304
    assert client.get(f"/d/{token}", headers={"Range": "bytes=50-"}).status_code == 416
    assert client.get(f"/d/{token}").data == b"0123456789"
    assert client.get(f"/d/{token}").status_code == 410


def test_password_protected_links(client: FlaskClient, backend: Backend) -> None:
    meta = upload_ok(client, b"secret")
    link = share(client, meta["file_id"], password="correct horse ✓")
    token = link["token"]
    assert link["has_password"] is True
    stored = backend.meta.get_link(hash_token(token))
    assert stored.password_hash.startswith("scrypt$") and "horse" not in stored.password_hash
    for response in (
        client.get(f"/d/{token}"),
        client.get(f"/d/{token}?password=wrong"),
        client.get(
            f"/d/{token}", headers={"X-Link-Password": "Correct horse ✓".encode().decode("latin-1")}
        ),
        client.head(f"/d/{token}"),
    ):
        assert response.status_code == 403
        if response.data:
            assert error_code(response) == "LINK_PASSWORD_REQUIRED"
    assert client.get(f"/d/{token}", query_string={"password": "correct horse ✓"}).data == b"secret"
    # Header values travel as Latin-1 in WSGI; the client sends UTF-8 bytes.
    header = {"X-Link-Password": "correct horse ✓".encode().decode("latin-1")}
    assert client.get(f"/d/{token}", headers=header).data == b"secret"


@pytest.mark.parametrize(
    "body",
    [
        {"max_downloads": 0},
        {"max_downloads": -1},
        {"max_downloads": "3"},
        {"max_downloads": True},
        {"expires_in": 0},
        {"expires_in": "soon"},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "tomorrow"},
        {"expires_in": 5, "expires_at": "2999-01-01T00:00:00Z"},
        {"password": ""},
        {"password": 1234},
        {"token": "mine"},
    ],
)
def test_bad_link_requests_are_400(client: FlaskClient, body: dict[str, Any]) -> None:
    meta = upload_ok(client, b"x")
    response = client.post(f"/files/{meta['file_id']}/links", json=body)
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
    assert client.get(f"/files/{meta['file_id']}/links").get_json()["links"] == []


def test_revoke_by_link_id(client: FlaskClient) -> None:
    meta = upload_ok(client, b"x")
    link = share(client, meta["file_id"])
    revoked = client.delete(f"/links/{link['link_id']}")
    assert revoked.status_code == 200 and revoked.get_json()["link"]["revoked_at"]
    assert client.get(f"/d/{link['token']}").status_code == 410


def test_links_never_leak_between_users(backend: Backend) -> None:
    client = _app(backend).test_client()
    _, alice_key = _new_user(client, "alice")
    _, bob_key = _new_user(client, "bob")
    alice, bob = _admin(alice_key), _admin(bob_key)
    meta = upload_ok_as(client, alice, b"alice's")
    link = share(client, meta["file_id"], headers=alice)
    assert client.post(f"/files/{meta['file_id']}/links", headers=bob).status_code == 404
    assert client.get(f"/files/{meta['file_id']}/links", headers=bob).status_code == 404
    for handle in (link["token"], link["link_id"]):
        denied = client.delete(f"/links/{handle}", headers=bob)
        assert denied.status_code == 404 and error_code(denied) == "LINK_NOT_FOUND"
    # The link itself is the credential: anyone holding it downloads, nothing more.
    assert client.get(f"/d/{link['token']}", headers=bob).data == b"alice's"
    assert client.get(f"/files/{meta['file_id']}", headers=bob).status_code == 404
    assert client.get(f"/files/{meta['file_id']}/links", headers=alice).get_json()["links"]
    # Without a key the owner's side is closed.
    assert client.get(f"/files/{meta['file_id']}/links").status_code == 401


def upload_ok_as(client: FlaskClient, headers: dict[str, str], content: bytes) -> Any:
    response = client.post("/files/upload?file_name=f.txt", data=content, headers=headers)
    assert response.status_code == 201
    return response.get_json()


def test_link_tokens_never_reach_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    meta = upload_ok(client, b"x")
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="filedrop"):
        link = share(client, meta["file_id"], password="hunter2")
        client.get(f"/d/{link['token']}?password=hunter2").close()
        client.get(f"/d/{link['token']}x").close()
        client.delete(f"/links/{link['token']}").close()
    text = "\n".join(str(r.__dict__) for r in caplog.records)
    assert "/d/<token>" in text  # the access log did run
    assert link["token"] not in text and "hunter2" not in text


def test_one_time_link_race_has_exactly_one_winner(concurrent_backend: Backend) -> None:
    """Twelve concurrent downloads of a one-time link: one gets the file, the rest 410.

    Exact on every backend, FerretDB included: a limited link's downloads are
    claimed by inserting one unique key per download (see MongoMetadataStore),
    and an insert into a unique key is atomic even where FerretDB's conditional
    updates are not (Backend.atomic_metadata).
    """
    app = create_app(
        concurrent_backend.settings, blobs=concurrent_backend.blobs, meta=concurrent_backend.meta
    )
    content = pattern(300_000, seed=9)
    meta = upload_ok(app.test_client(), content)
    for limit, racers in ((1, 12), (3, 12)):
        token = share(app.test_client(), meta["file_id"], max_downloads=limit)["token"]
        barrier = threading.Barrier(racers)

        def download(_: int, token: str = token, barrier: threading.Barrier = barrier) -> Any:
            client = app.test_client()
            barrier.wait()
            response = client.get(f"/d/{token}")
            return response.status_code, response.data

        with ThreadPoolExecutor(racers) as pool:
            results = list(pool.map(download, range(racers)))
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] * limit + [410] * (racers - limit), statuses
        assert all(data == content for status, data in results if status == 200)
        assert app.test_client().get(f"/d/{token}").status_code == 410


@pytest.mark.parametrize("backend", [FAST], indirect=True)
def test_link_responses_match_the_document(backend: Backend) -> None:
    client = keyed_client(backend)
    spec = client.get("/openapi.json").get_json()
    user = client.post("/admin/users", json={"name": "s"}, headers=bearer(ADMIN_TOKEN)).get_json()
    auth = bearer(user["api_key"])
    meta = upload_ok_as(client, auth, b"documented")
    item = f"/files/{meta['file_id']}/links"
    made = client.post(item, json={"max_downloads": 1, "password": "pw"}, headers=auth)
    assert_documented(spec, "/files/{file_id}/links", made, "post")
    token = made.get_json()["token"]
    checks = [
        ("/files/{file_id}/links", "get", client.get(item, headers=auth)),
        ("/files/{file_id}/links", "get", client.get("/files/nope/links", headers=auth)),
        (
            "/files/{file_id}/links",
            "post",
            client.post(item, json={"max_downloads": 0}, headers=auth),
        ),
        ("/d/{token}", "get", client.get(f"/d/{token}")),
        ("/d/{token}", "head", client.head(f"/d/{token}")),
        (
            "/d/{token}",
            "get",
            client.get(f"/d/{token}?password=pw", headers={"Range": "bytes=0-1"}),
        ),
        ("/d/{token}", "get", client.get(f"/d/{token}?password=pw")),
        ("/d/{token}", "head", client.head(f"/d/{token}?password=pw")),
        ("/d/{token}", "get", client.get("/d/unknown")),
        ("/links/{token}", "delete", client.delete(f"/links/{token}", headers=auth)),
        ("/links/{token}", "delete", client.delete("/links/unknown", headers=auth)),
    ]
    for path, method, response in checks:
        assert_documented(spec, path, response, method)
    assert {r.status_code for _, _, r in checks} == {200, 206, 400, 403, 404, 410}
