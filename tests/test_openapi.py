"""The OpenAPI document tells the truth: same routes as served, valid 3.1, real
responses match it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate as validate_openapi
from werkzeug.test import TestResponse

from filedrop import create_app
from filedrop.http import docs
from filedrop.http.models.responses import FileMetadata
from filedrop.openapi import AUTH_PATHS, build_spec
from tests.fixtures import FAST, Backend

pytestmark = pytest.mark.http

# The routes are the same on every backend: the fast one is enough.
fast_backend = pytest.mark.parametrize("backend", [FAST], indirect=True)

CONTRACT_ERROR_CODES = {
    "NO_FILE",
    "INVALID_FILE_NAME",
    "INVALID_REQUEST",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "FILE_NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "PRECONDITION_FAILED",
    "FILE_TOO_LARGE",
    "RANGE_NOT_SATISFIABLE",
    "RATE_LIMITED",
    "STORAGE_UNAVAILABLE",
    "DATABASE_UNAVAILABLE",
    "QUOTA_EXCEEDED",
    "INTERNAL_ERROR",
    "CHECKSUM_MISMATCH",
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def app(backend: Backend) -> Flask:
    """The real app, with the docs blueprint registered if create_app does not yet."""
    app = create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)
    if "docs" not in app.blueprints:
        app.register_blueprint(docs.bp)
    return app


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


# -- helpers -----------------------------------------------------------------------


def openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", flask_rule)


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(path, method) for every route; HEAD and OPTIONS come with GET from Flask."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if rule.endpoint.startswith("s3."):
            continue  # the S3 API speaks S3's protocol (XML, SigV4): README documents it
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operations.add((openapi_path(rule.rule), method.lower()))
    return operations


def documented_operations(spec: dict[str, Any], *, head: bool = False) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS and (method == "head") == head
    }


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_value(spec: dict[str, Any], instance: Any, schema: dict[str, Any]) -> None:
    """Validate against a schema of the document; its $refs resolve within it."""
    root = {**schema, "components": spec["components"]}
    OAS31Validator(root, format_checker=oas31_format_checker).validate(instance)


def assert_documented(
    spec: dict[str, Any], path: str, response: TestResponse, method: str = "get"
) -> None:
    """The status is documented for the operation, and headers and body match."""
    operation = spec["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {path} answered {status}, which the document does not list"
    )
    documented = resolve(spec, operation["responses"][status])
    for name, header in documented.get("headers", {}).items():
        header = resolve(spec, header)
        value = response.headers.get(name)
        if header.get("required"):
            assert value is not None, f"{method.upper()} {path} {status}: no {name} header"
        if value is not None:
            schema = header["schema"]
            typed: Any = int(value) if schema.get("type") == "integer" else value
            check_value(spec, typed, schema)
    content = documented.get("content")
    if not content:
        assert response.data == b"", f"{method.upper()} {path} {status} has a body"
    elif "application/json" in content and response.mimetype != "text/html":
        assert response.mimetype == "application/json"
        check_value(spec, response.get_json(), content["application/json"]["schema"])
    else:
        assert "*/*" in content or response.mimetype in content


def multipart_upload(
    client: FlaskClient, content: bytes, name: str, headers: dict[str, str] | None = None
) -> TestResponse:
    return client.post(
        "/files/upload",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        headers=headers or {},
    )


# -- (a) the same routes -----------------------------------------------------------


@fast_backend
def test_every_served_route_is_documented_and_nothing_else(
    app: Flask, spec: dict[str, Any]
) -> None:
    served = served_operations(app)
    documented = documented_operations(spec)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"
    heads = documented_operations(spec, head=True)
    served_heads = {(openapi_path(r.rule), "head") for r in app.url_map.iter_rules()}
    assert heads <= served_heads
    assert ("/files/{file_id}", "head") in heads


def test_the_document_requires_keys_and_describes_users() -> None:
    spec = build_spec()
    assert set(spec["paths"]) >= AUTH_PATHS
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    file_get = spec["paths"]["/files/{file_id}"]["get"]["responses"]
    assert {"401", "403", "429"} <= set(file_get)
    assert "507" in spec["paths"]["/files/upload"]["post"]["responses"]


# -- (b) valid OpenAPI 3.1 ---------------------------------------------------------


@fast_backend
def test_served_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate_openapi(spec)


def test_document_with_auth_is_valid_openapi_3_1() -> None:
    validate_openapi(build_spec())


@fast_backend
def test_error_schema_lists_every_spec_code(spec: dict[str, Any]) -> None:
    codes = set(spec["components"]["schemas"]["ErrorCode"]["enum"])
    assert codes >= CONTRACT_ERROR_CODES


# -- (c) real responses match --------------------------------------------------------


@fast_backend
def test_file_lifecycle_responses_match_the_document(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    content = b"hello, documented world\n"
    created = multipart_upload(client, content, "hello.txt")
    assert created.status_code == 201
    assert_documented(spec, "/files/upload", created, "post")
    file_id = created.get_json()["file_id"]
    etag = created.get_json()["etag"]
    item = f"/files/{file_id}"

    raw = client.post(
        "/files/upload",
        data=b"raw bytes",
        headers={"X-File-Name": "r%C3%A9sum%C3%A9.txt", "Content-Type": "text/plain"},
    )
    assert raw.status_code == 201
    assert_documented(spec, "/files/upload", raw, "post")

    checks = [
        ("/files/{file_id}/metadata", "get", client.get(f"{item}/metadata"), 200),
        ("/files/{file_id}", "get", client.get(item), 200),
        ("/files/{file_id}", "get", client.get(item, headers={"Range": "bytes=0-4"}), 206),
        ("/files/{file_id}", "head", client.head(item), 200),
        ("/files/{file_id}", "get", client.get(item, headers={"If-None-Match": etag}), 304),
        ("/files/{file_id}", "get", client.get(item, headers={"Range": "bytes=999-"}), 416),
        ("/files/{file_id}", "head", client.head(item, headers={"Range": "bytes=999-"}), 416),
        ("/files", "get", client.get("/files?limit=1"), 200),
        ("/files", "get", client.get("/files?cursor=not-a-cursor"), 400),
        ("/files", "get", client.get("/files?limit=0"), 400),
    ]
    for path, method, response, status in checks:
        assert response.status_code == status, (path, method, response.status_code)
        assert_documented(spec, path, response, method)
    first_page = client.get("/files?limit=1").get_json()
    assert first_page["next_cursor"]
    second = client.get(f"/files?limit=1&cursor={first_page['next_cursor']}")
    assert_documented(spec, "/files", second)

    renamed = client.put(item, json={"file_name": "renamed.txt"})
    assert renamed.status_code == 200
    assert_documented(spec, "/files/{file_id}", renamed, "put")
    replaced = client.put(
        item, data=b"new content", content_type="text/plain", headers={"If-Match": etag}
    )
    assert replaced.status_code == 200
    assert_documented(spec, "/files/{file_id}", replaced, "put")
    stale = client.put(item, data=b"lost", content_type="text/plain", headers={"If-Match": etag})
    assert stale.status_code == 412
    assert_documented(spec, "/files/{file_id}", stale, "put")
    bad_json = client.put(item, data=b"{", content_type="application/json")
    assert bad_json.status_code == 400
    assert_documented(spec, "/files/{file_id}", bad_json, "put")

    deleted = client.delete(item)
    assert deleted.status_code == 200
    assert_documented(spec, "/files/{file_id}", deleted, "delete")
    for method in ("get", "head", "delete", "put"):
        gone = client.open(item, method=method.upper(), json={"file_name": "x"})
        assert gone.status_code == 404
        assert_documented(spec, "/files/{file_id}", gone, method)
    assert_documented(spec, "/files/{file_id}/metadata", client.get(f"{item}/metadata"))


@fast_backend
def test_upload_errors_match_the_document(client: FlaskClient, spec: dict[str, Any]) -> None:
    no_file = client.post(
        "/files/upload", data={"file_name": "a.txt"}, content_type="multipart/form-data"
    )
    bad_name = client.post("/files/upload?file_name=a/b", data=b"x")
    wrong_digest = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    mismatch = client.post(
        "/files/upload?file_name=a.txt", data=b"x", headers={"Digest": f"sha-256={wrong_digest}"}
    )
    for response, code in [
        (no_file, "NO_FILE"),
        (bad_name, "INVALID_FILE_NAME"),
        (mismatch, "CHECKSUM_MISMATCH"),
    ]:
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == code
        assert_documented(spec, "/files/upload", response, "post")


@fast_backend
def test_health_and_docs_responses_match_the_document(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_documented(spec, path, response)


@fast_backend
def test_a_links_pages_for_browsers_match_the_document(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    """A browser gets HTML where a script gets the JSON error: both are documented."""
    browser = {"Accept": "text/html,*/*;q=0.8", "Sec-Fetch-Dest": "document"}
    file_id = client.post("/files/upload", data=b"x", headers={"X-File-Name": "a.txt"}).get_json()[
        "file_id"
    ]
    made = client.post(f"/files/{file_id}/links", json={"password": "open sesame"})
    token = made.get_json()["token"]
    answers = [
        ("get", "/d/not-a-token", {}, 404),
        ("post", "/d/not-a-token", {}, 404),
        ("post", f"/d/{token}", {"password": "wrong"}, 403),
    ]
    for method, path, form, status in answers:
        for headers in (browser, {}):
            response = getattr(client, method)(path, data=form, headers=headers)
            assert response.status_code == status, (method, path)
            assert response.mimetype == ("text/html" if headers else "application/json")
            assert_documented(spec, "/d/{token}", response, method)
    client.delete(f"/links/{token}")
    gone = client.get(f"/d/{token}", headers=browser)
    assert gone.status_code == 410 and gone.mimetype == "text/html"
    assert_documented(spec, "/d/{token}", gone)


@fast_backend
def test_unknown_routes_and_methods_use_documented_codes(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
    for response in (client.get("/nope"), client.delete("/files")):
        check_value(spec, response.get_json(), {"$ref": "#/components/schemas/Error"})
        assert response.get_json()["error"]["code"] in codes


ADMIN_TOKEN = "test-admin-token-0123456789"


def keyed_client(backend: Backend, **overrides: Any) -> FlaskClient:
    """An app that requires keys, with an admin token."""
    settings = backend.settings.with_overrides(auth="enabled", admin_token=ADMIN_TOKEN, **overrides)
    app = create_app(settings, blobs=backend.blobs, meta=backend.meta)
    if "docs" not in app.blueprints:
        app.register_blueprint(docs.bp)
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@fast_backend
def test_user_and_admin_responses_match_the_document(backend: Backend) -> None:
    client = keyed_client(backend)
    spec = client.get("/openapi.json").get_json()
    admin = bearer(ADMIN_TOKEN)

    created = client.post("/admin/users", json={"name": "alice", "quota_bytes": 64}, headers=admin)
    assert created.status_code == 201
    assert_documented(spec, "/admin/users", created, "post")
    user_id, key = created.get_json()["user"]["user_id"], created.get_json()["api_key"]
    user = bearer(key)

    checks = [
        ("/admin/users", "get", client.get("/admin/users", headers=admin), 200),
        (
            "/admin/users/{user_id}",
            "get",
            client.get(f"/admin/users/{user_id}", headers=admin),
            200,
        ),
        ("/admin/users/{user_id}", "get", client.get("/admin/users/u_nobody", headers=admin), 404),
        ("/admin/status", "get", client.get("/admin/status", headers=admin), 200),
        ("/admin/users", "get", client.get("/admin/users", headers=user), 403),
        ("/admin/users", "get", client.get("/admin/users"), 401),
        ("/me", "get", client.get("/me", headers=user), 200),
        ("/me", "get", client.get("/me"), 401),
        ("/files", "get", client.get("/files", headers=admin), 403),
        ("/files", "get", client.get("/files", headers=bearer("fd_wrong")), 401),
    ]
    for path, method, response, status in checks:
        assert response.status_code == status, (path, method, response.get_json())
        assert_documented(spec, path, response, method)

    too_big = client.post("/files/upload?file_name=big.bin", data=b"x" * 100, headers=user)
    assert too_big.status_code == 507
    assert_documented(spec, "/files/upload", too_big, "post")
    assert multipart_upload(client, b"fits", "small.txt", user).status_code == 201

    rotated = client.post(f"/admin/users/{user_id}/keys", headers=admin)
    assert rotated.status_code == 201
    assert_documented(spec, "/admin/users/{user_id}/keys", rotated, "post")
    assert client.get("/me", headers=user).status_code == 401
    deleted = client.delete(f"/admin/users/{user_id}", headers=admin)
    assert deleted.status_code == 200 and deleted.get_json()["files_deleted"] == 1
    assert_documented(spec, "/admin/users/{user_id}", deleted, "delete")
    again = client.delete(f"/admin/users/{user_id}", headers=admin)
    assert again.status_code == 404
    assert_documented(spec, "/admin/users/{user_id}", again, "delete")


@fast_backend
def test_rate_limited_responses_match_the_document(backend: Backend) -> None:
    client = keyed_client(backend, rate_limit_per_window=1, rate_limit_window_s=3600)
    spec = build_spec()
    # Probes are never metered: they must answer even when the database is down.
    assert [client.get("/healthz").status_code for _ in range(3)] == [200] * 3
    key = client.post("/admin/users", json={"name": "bob"}, headers=bearer(ADMIN_TOKEN))
    user = bearer(key.get_json()["api_key"])
    assert client.get("/files", headers=user).status_code == 200
    limited = client.get("/files", headers=user)
    assert limited.status_code == 429
    assert_documented(spec, "/files", limited)


# -- the docs page -----------------------------------------------------------------


@fast_backend
def test_docs_page_uses_only_local_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        asset.close()
    inline = re.search(r"<script>(.*?)</script>", html, re.S)
    assert inline is not None
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"]
    assert 'data-spec-url="/openapi.json"' in html


@fast_backend
def test_the_documented_file_metadata_is_exactly_what_is_sent(client: FlaskClient) -> None:
    sent = client.post("/files/upload?file_name=a.txt", data=b"a").get_json()
    documented = build_spec()["components"]["schemas"]["FileMetadata"]
    assert set(documented["properties"]) == set(sent) == set(documented["required"])
    assert set(FileMetadata.model_fields) == set(sent)
