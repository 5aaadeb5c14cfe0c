"""Small helpers shared by the tests."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def upload(
    client: FlaskClient, content: bytes, name: str = "file.bin", **kwargs: Any
) -> TestResponse:
    """Multipart upload of ``content`` as ``name``."""
    data = {"file": (io.BytesIO(content), name), **kwargs.pop("fields", {})}
    return client.post("/files/upload", data=data, content_type="multipart/form-data", **kwargs)


def upload_ok(client: FlaskClient, content: bytes, name: str = "file.bin") -> dict[str, Any]:
    response = upload(client, content, name)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def sha256_b64(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def error_code(response: TestResponse) -> str:
    body = response.get_json()
    assert body is not None, f"not JSON: {response.status} {response.data[:200]!r}"
    code: str = body["error"]["code"]
    return code


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset (catches torn or shifted reads)."""
    block = hashlib.sha256(str(seed).encode()).digest()
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])
