"""Downloads that skip the app: ``DOWNLOAD_REDIRECT=presigned`` answers a GET of a
file (or a share link) with 307 to a short-lived storage URL, after every check the
streamed path makes. Storage then serves the same name, type and disposition, and
handles ranges itself. HEAD and ``?redirect=0`` still stream."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from filedrop import create_app
from filedrop.config import Settings
from filedrop.services.files import url_lifetime
from filedrop.storage.blobs.local import LocalBlobStore
from filedrop.storage.blobs.s3 import S3BlobStore
from filedrop.storage.metadata import utcnow
from tests import servers
from tests.fixtures import EMBEDDED, S3_BACKENDS, Backend, _make_backend
from tests.helpers import error_code, pattern
from tests.live import create_user, keyed_settings, start_gunicorn
from tests.test_openapi import assert_documented
from tests.test_users import _admin, _app, _new_user

pytestmark = pytest.mark.http

UTF8_NAME = "résumé € 2026.txt"  # Latin-1 and beyond: only filename* carries it whole


def _client(backend: Backend, **overrides: Any) -> FlaskClient:
    settings = backend.settings.with_overrides(download_redirect="presigned", **overrides)
    return create_app(settings, blobs=backend.blobs, meta=backend.meta).test_client()


def _put(client: FlaskClient, content: bytes, name: str, media_type: str, **kw: Any) -> str:
    response = client.post(
        "/files/upload",
        query_string={"file_name": name},
        data=content,
        content_type=media_type,
        **kw,
    )
    assert response.status_code == 201, response.get_json()
    file_id: str = response.get_json()["file_id"]
    return file_id


def _location(response: TestResponse) -> str:
    assert response.status_code == 307, (response.status, response.get_data()[:300])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data == b"" and "Content-Type" not in response.headers
    return response.headers["Location"]


def _fetch(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(params=S3_BACKENDS)
def s3_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _make_backend(request, request.param)  # embedded: see the tests at the end


def test_storage_serves_the_bytes_name_and_type_the_app_would(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    content = pattern(300_000, seed=7)
    file_id = _put(client, content, UTF8_NAME, "text/plain")
    streamed = client.get(f"/files/{file_id}", query_string={"redirect": "0"})
    assert streamed.status_code == 200 and streamed.data == content

    url = _location(client.get(f"/files/{file_id}"))
    query = _query(url)
    assert query["response-content-disposition"] == streamed.headers["Content-Disposition"]
    assert query["response-content-type"] == "text/plain"
    assert int(query["X-Amz-Expires"]) == 60  # the default lifetime
    if not s3_backend.real:
        return  # moto's URLs point at AWS itself
    fetched = _fetch(url)
    assert fetched.status_code == 200 and fetched.content == content
    for header in ("Content-Disposition", "Content-Type", "Cache-Control"):
        assert fetched.headers[header] == streamed.headers[header], header
    assert (
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC%202026.txt"
        in (fetched.headers["Content-Disposition"])
    )
    # Ranges and conditional requests are storage's business now.
    part = _fetch(url, Range="bytes=1000-1999")
    assert part.status_code == 206 and part.content == content[1000:2000]
    assert _fetch(url, **{"If-None-Match": fetched.headers["ETag"]}).status_code == 304


def test_the_redirects_are_documented(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    spec = client.get("/openapi.json").get_json()
    file_id = _put(client, b"doc", "d.txt", "text/plain")
    assert_documented(spec, "/files/{file_id}", client.get(f"/files/{file_id}"))
    token = client.post(f"/files/{file_id}/links").get_json()["token"]
    assert_documented(spec, "/d/{token}", client.get(f"/d/{token}"))
    for path in ("/files/{file_id}", "/d/{token}"):
        assert "307" not in spec["paths"][path]["head"]["responses"]


def test_html_and_svg_never_come_back_inline(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    for name, media_type in (("page.html", "text/html"), ("logo.svg", "image/svg+xml")):
        file_id = _put(client, b"<svg onload=alert(1)>", name, media_type)
        url = _location(client.get(f"/files/{file_id}?disposition=inline"))
        assert _query(url)["response-content-disposition"].startswith("attachment;")
        if s3_backend.real:
            fetched = _fetch(url)
            assert fetched.headers["Content-Disposition"].startswith("attachment;")
            assert fetched.headers["Content-Type"] == media_type
    image = _put(client, b"\x89PNG\r\n\x1a\n", "dot.png", "image/png")
    url = _location(client.get(f"/files/{image}?disposition=inline"))
    assert _query(url)["response-content-disposition"].startswith("inline;")


def test_head_and_redirect_0_stream_as_before(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    file_id = _put(client, b"streamed", "s.txt", "text/plain")
    head = client.head(f"/files/{file_id}")
    assert head.status_code == 200 and head.headers["Content-Length"] == "8"
    assert client.get(f"/files/{file_id}?redirect=0").data == b"streamed"
    off = create_app(s3_backend.settings, blobs=s3_backend.blobs, meta=s3_backend.meta)
    assert off.test_client().get(f"/files/{file_id}").data == b"streamed"  # off by default


def test_each_redirect_counts_as_a_download(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    file_id = _put(client, b"count me", "c.txt", "text/plain")
    for _ in range(2):
        _location(client.get(f"/files/{file_id}"))
    client.head(f"/files/{file_id}")  # a HEAD is not a download
    assert client.get(f"/files/{file_id}/metadata").get_json()["download_count"] == 2


def test_checks_come_before_the_redirect(s3_backend: Backend) -> None:
    app = _app(s3_backend, download_redirect="presigned")
    client = app.test_client()
    _, alice = _new_user(client, "alice")
    _, bob = _new_user(client, "bob")
    file_id = _put(client, b"alice's", "a.txt", "text/plain", headers=_admin(alice))
    assert client.get(f"/files/{file_id}").status_code == 401
    not_yours = client.get(f"/files/{file_id}", headers=_admin(bob))
    assert not_yours.status_code == 404 and error_code(not_yours) == "FILE_NOT_FOUND"
    assert client.get(f"/files/{file_id}", headers=_admin(alice)).status_code == 307

    brief = _put(client, b"brief", "b.txt", "text/plain", headers=_admin(alice))
    set_expiry = client.put(f"/files/{brief}", json={"expires_in": 2}, headers=_admin(alice))
    assert set_expiry.status_code == 200, set_expiry.get_json()
    url = _location(client.get(f"/files/{brief}", headers=_admin(alice)))
    assert int(_query(url)["X-Amz-Expires"]) <= 2  # never outlives the file
    time.sleep(2.1)
    assert client.get(f"/files/{brief}", headers=_admin(alice)).status_code == 404


def test_a_one_time_link_redirects_once(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    file_id = _put(client, b"once", "once.txt", "text/plain")
    link = client.post(f"/files/{file_id}/links", json={"max_downloads": 1}).get_json()
    first = client.get(f"/d/{link['token']}")
    url = _location(first)
    assert first.headers["Referrer-Policy"] == "no-referrer"
    again = client.get(f"/d/{link['token']}")
    assert again.status_code == 410 and error_code(again) == "LINK_GONE"
    if s3_backend.real:
        assert _fetch(url).content == b"once"
    assert client.get(f"/files/{file_id}/metadata").get_json()["download_count"] == 1

    brief = client.post(f"/files/{file_id}/links", json={"expires_in": 5}).get_json()
    url = _location(client.get(f"/d/{brief['token']}"))
    assert int(_query(url)["X-Amz-Expires"]) <= 5  # never outlives the link


def test_a_password_link_checks_the_password_before_the_redirect(s3_backend: Backend) -> None:
    client = _client(s3_backend)
    file_id = _put(client, b"secret", "s.txt", "text/plain")
    token = client.post(f"/files/{file_id}/links", json={"password": "pw"}).get_json()["token"]
    assert client.get(f"/d/{token}").status_code == 403
    assert client.get(f"/d/{token}", headers={"X-Link-Password": "pw"}).status_code == 307


def test_presigned_urls_are_signed_for_the_public_endpoint() -> None:
    store = S3BlobStore.connect(
        "http://minio:9000",
        "key",
        "secret",
        "us-east-1",
        "bucket",
        public_endpoint_url="https://files-s3.example.com",
    )
    url = store.presigned_get_url("blobs/x/y", 30, {"Content-Type": "text/plain"})
    assert url.startswith("https://files-s3.example.com/bucket/blobs/x/y?")
    assert _query(url)["X-Amz-Expires"] == "30"
    internal = S3BlobStore.connect("http://minio:9000", "key", "secret", "us-east-1", "bucket")
    assert internal.presigned_get_url("k", 30, {}).startswith("http://minio:9000/bucket/k?")


def test_url_lifetime_never_outlives_what_it_opens() -> None:
    now = utcnow()
    assert url_lifetime(60) == 60
    assert url_lifetime(60, None, now + timedelta(seconds=600)) == 60
    assert 29 <= url_lifetime(60, now + timedelta(seconds=30), None) <= 30
    assert url_lifetime(60, now - timedelta(seconds=5)) == 1


def test_embedded_mode_refuses_presigned_at_setup() -> None:
    with pytest.raises(
        ValueError,
        match=r"^setting DOWNLOAD_REDIRECT: presigned needs S3 storage, and MONGO_URI is unset",
    ):
        Settings.from_env({"DOWNLOAD_REDIRECT": "presigned"}, dotenv_path=None)
    with pytest.raises(ValueError, match=r"^setting DOWNLOAD_REDIRECT: use off or presigned"):
        Settings.from_env({"DOWNLOAD_REDIRECT": "yes"}, dotenv_path=None)
    with pytest.raises(ValueError, match=r"^setting DOWNLOAD_REDIRECT_EXPIRY_S"):
        Settings.from_env({"DOWNLOAD_REDIRECT_EXPIRY_S": "0"}, dotenv_path=None)
    with pytest.raises(ValueError, match=r"^setting S3_PUBLIC_ENDPOINT_URL"):
        Settings.from_env({"S3_PUBLIC_ENDPOINT_URL": "minio:9000"}, dotenv_path=None)
    on_s3 = {
        "MONGO_URI": "mongodb://db",
        "DOWNLOAD_REDIRECT": "presigned",
        "FILEDROP_SECRET_KEY": "redirect-tests-server-key-0123456789",
    }
    assert Settings.from_env(on_s3, dotenv_path=None).download_redirect == "presigned"


def test_a_store_that_cannot_sign_keeps_streaming(request: pytest.FixtureRequest) -> None:
    backend = next(_make_backend(request, EMBEDDED))
    assert isinstance(backend.blobs, LocalBlobStore)
    assert backend.blobs.presigned_get_url("blobs/a/b", 60, {}) is None
    client = _client(backend)
    file_id = _put(client, b"from disk", "d.txt", "text/plain")
    assert client.get(f"/files/{file_id}").data == b"from disk"


# -- a real gunicorn, and curl -L as a client ------------------------------------


def _curl_to(body: Path, *args: str) -> list[dict[str, Any]]:
    """``curl -L ARGS`` writing the final body to ``body``: each hop's status and headers."""
    dump = body.with_suffix(".headers")
    subprocess.run(
        ["curl", "-sS", "-L", "-D", str(dump), "-o", str(body), *args], check=True, timeout=60
    )
    hops: list[dict[str, Any]] = []
    for line in dump.read_text("latin-1").splitlines():
        if line.startswith("HTTP/"):
            hops.append({"status": int(line.split()[1])})
        elif ":" in line:
            name, _, value = line.partition(":")
            hops[-1][name.strip().lower()] = value.strip()
    return hops


@pytest.mark.live
@pytest.mark.parametrize("s3_name", ["seaweedfs", "minio"])
def test_curl_follows_gunicorn_to_storage_at_its_public_address(
    s3_name: str,
    request: pytest.FixtureRequest,
    ferretdb: servers.FerretDB,
    tmp_path: Path,
) -> None:
    s3: servers.S3Server = request.getfixturevalue(s3_name)
    settings, admin = keyed_settings(
        s3,
        ferretdb,
        "fd-redirect",
        DOWNLOAD_REDIRECT="presigned",
        # Another name for the same server: URLs must be signed for the public address.
        S3_PUBLIC_ENDPOINT_URL=s3.endpoint_url.replace("127.0.0.1", "localhost"),
    )
    app = start_gunicorn(settings, tmp_path / "gunicorn.log", ["-w", "1"])
    try:
        _, key = create_user(app.url, admin, "curl")
        auth = {"Authorization": f"Bearer {key}"}
        content = pattern(3 * 1024**2 + 17, seed=11)
        stored = requests.post(
            f"{app.url}/files/upload",
            params={"file_name": UTF8_NAME},
            data=content,
            headers={**auth, "Content-Type": "text/plain"},
            timeout=30,
        )
        assert stored.status_code == 201, stored.text
        url = f"{app.url}/files/{stored.json()['file_id']}"

        body = tmp_path / "body"
        hops = _curl_to(body, "-H", f"Authorization: {auth['Authorization']}", url)
        assert [hop["status"] for hop in hops] == [307, 200], hops
        assert body.read_bytes() == content
        assert hops[0]["location"].startswith(settings["S3_PUBLIC_ENDPOINT_URL"])
        assert (
            "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC%202026.txt"
            in (hops[1]["content-disposition"])
        )
        assert hops[1]["content-type"] == "text/plain"
        hops = _curl_to(body, "-r", "100-199", "-H", f"Authorization: {auth['Authorization']}", url)
        assert hops[-1]["status"] == 206 and body.read_bytes() == content[100:200]

        followed = requests.get(url, headers=auth, timeout=30)  # requests drops the key
        assert followed.status_code == 200 and followed.content == content
        assert [r.status_code for r in followed.history] == [307]

        link = requests.post(
            f"{url}/links", json={"max_downloads": 1}, headers=auth, timeout=10
        ).json()
        hops = _curl_to(body, link["url"])
        assert [hop["status"] for hop in hops] == [307, 200] and body.read_bytes() == content
        hops = _curl_to(body, link["url"])
        assert [hop["status"] for hop in hops] == [410]
        assert json.loads(body.read_bytes())["error"]["code"] == "LINK_GONE"
    finally:
        app.stop()
