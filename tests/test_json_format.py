"""Responses are the same JSON text in every mode: compact separators, keys in the
order the API defines them. The app is built here from settings alone, as ``app.py``
does, so each mode's stores are set up as they are deployed."""

from __future__ import annotations

import io
import json

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from filedrop import create_app
from tests.conftest import Backend


def _compact(response: TestResponse) -> str:
    """The body as Flask's own provider writes it: compact, unsorted, ASCII, one newline."""
    return json.dumps(response.get_json(), separators=(",", ":")) + "\n"


def test_json_is_formatted_alike_in_every_mode(concurrent_backend: Backend) -> None:
    client: FlaskClient = create_app(concurrent_backend.settings).test_client()
    made = client.post(
        "/files/upload",
        data={"file": (io.BytesIO(b"x"), "café.txt")},
        content_type="multipart/form-data",
    )
    assert made.status_code == 201, made.data
    responses = [
        made,
        client.get("/files"),
        client.get("/files/nope0000nope0000"),
        client.get("/healthz"),
    ]
    for response in responses:
        assert response.get_data(as_text=True) == _compact(response), response.request.path
    assert made.get_data(as_text=True).startswith('{"file_id":"')
