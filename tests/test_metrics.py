"""GET /metrics: Prometheus text with request, backend and upload series."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from filedrop import create_app
from tests.fixtures import Backend

pytestmark = pytest.mark.http

ADMIN = "metrics-admin-token-0123456789"


def _app(backend: Backend, **overrides: Any) -> Flask:
    settings = backend.settings.with_overrides(**{"admin_token": ADMIN, **overrides})
    return create_app(settings, blobs=backend.blobs, meta=backend.meta)


@pytest.mark.parametrize("backend", ["moto+mongomock", "seaweedfs+ferretdb"], indirect=True)
def test_metrics_count_requests_bytes_and_backend_calls(backend: Backend) -> None:
    client = _app(backend).test_client()
    # Each response is read and closed, as a WSGI server does: metrics are taken at close.
    with client.post("/files/upload", data={"file": (io.BytesIO(b"x" * 1000), "m.bin")}) as r:
        file_id = r.get_json()["file_id"]
    with client.get(f"/files/{file_id}") as r:
        assert len(r.get_data()) == 1000
    with client.get("/files/nope") as r:
        assert r.status_code == 404
        not_found_bytes = len(r.get_data())
    text = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).get_data(True)
    assert (
        'filedrop_http_requests_total{method="GET",route="/files/<file_id>",status="200"} 1.0'
        in text
    )
    assert (
        'filedrop_http_requests_total{method="GET",route="/files/<file_id>",status="404"} 1.0'
        in text
    )
    out = f"{1000 + not_found_bytes:.1f}"
    assert f'filedrop_http_bytes_out_total{{route="/files/<file_id>"}} {out}' in text
    assert "filedrop_http_request_duration_seconds_bucket" in text
    assert (
        'filedrop_backend_call_duration_seconds_count{backend="s3",operation="put_stream"} 1.0'
        in text
    )
    assert "filedrop_active_uploads 0.0" in text


def test_metrics_access(backend: Backend) -> None:
    guarded = _app(backend).test_client()
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
    assert _app(backend, metrics="public").test_client().get("/metrics").status_code == 200
    assert _app(backend, metrics="off").test_client().get("/metrics").status_code == 404


@pytest.mark.parametrize("backend", ["local+sqlite"], indirect=True)
def test_refused_metrics_say_how_to_open_them(backend: Backend) -> None:
    """The quick start's local instance has no admin token: its 403 names the way out."""
    no_token = _app(backend, admin_token="").test_client().get("/metrics")
    assert no_token.status_code == 403
    assert "METRICS=public" in no_token.get_json()["error"]["message"]
    no_key = _app(backend).test_client().get("/metrics")
    assert no_key.status_code == 401
    assert "METRICS=public" in no_key.get_json()["error"]["message"]


@pytest.mark.parametrize("backend", ["local+sqlite"], indirect=True)
def test_a_users_key_on_metrics_is_told_what_it_may_not_do(backend: Backend) -> None:
    client = _app(backend, auth="enabled").test_client()
    made = client.post(
        "/admin/users", json={"name": "ann"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    key = made.get_json()["api_key"]
    refused = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403
    message = refused.get_json()["error"]["message"]
    assert "/metrics" in message and "METRICS=public" in message, message
    assert "users" not in message, message
