"""What each kind of request body means on the endpoints that take content: a
urlencoded form is fields, never content; JSON is instructions on PUT and a JSON
file on upload. Checked on every backend pair, content and hash read back."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import error_code, pattern, upload_ok

ORIGINAL = pattern(19 * 1024)  # the report a careless form must never overwrite
NEW = b"# version two\n"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Put:
    """One PUT and what the file must be afterwards (None: as before)."""

    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    status: int = 200
    code: str | None = None
    content: bytes | None = None
    name: str | None = None


PUTS: dict[str, Put] = {
    "raw octet-stream": Put(NEW, "application/octet-stream", content=NEW),
    "raw with X-File-Name": Put(
        NEW, "text/markdown", {"X-File-Name": "v2.md"}, content=NEW, name="v2.md"
    ),
    "raw without Content-Type": Put(NEW, "", content=NEW),
    "multipart with file": Put({"file": (NEW, "x.md")}, "multipart/form-data", content=NEW),
    "multipart with file and file_name": Put(
        {"file": (NEW, "x.md"), "file_name": "v2.md"},
        "multipart/form-data",
        content=NEW,
        name="v2.md",
    ),
    "multipart without file": Put(
        {"file_name": "renamed.md"}, "multipart/form-data", name="renamed.md"
    ),
    "urlencoded rename": Put("file_name=renamed.md", FORM, name="renamed.md"),
    "urlencoded UTF-8 rename": Put("file_name=caf%C3%A9.md", FORM, name="café.md"),
    "urlencoded move": Put("folder=%2Fdocs", FORM),
    "urlencoded invalid name": Put("file_name=a%2Fb", FORM, status=400, code="INVALID_FILE_NAME"),
    "urlencoded empty name": Put("file_name=", FORM, status=400, code="INVALID_FILE_NAME"),
    "urlencoded unknown field": Put("name=x.md", FORM, status=400, code="INVALID_REQUEST"),
    "urlencoded file field": Put("file=hello", FORM, status=400, code="INVALID_REQUEST"),
    "urlencoded twice": Put("file_name=a&file_name=b", FORM, status=400, code="INVALID_REQUEST"),
    # curl --data-binary @report.pdf without -H Content-Type: refused, never stored.
    "urlencoded binary": Put(b"%PDF-1.4\xff\xfe", FORM, status=400, code="INVALID_REQUEST"),
    "urlencoded empty": Put(b"", FORM, status=400, code="INVALID_REQUEST"),
    "urlencoded large": Put(ORIGINAL * 4, FORM, status=400, code="INVALID_REQUEST"),
    "json rename": Put(json.dumps({"file_name": "j.md"}), "application/json", name="j.md"),
    "json unknown field": Put('{"file": "x"}', "application/json", status=400),
    "empty with file_name query": Put(query="?file_name=q.md", name="q.md"),
    "empty": Put(status=400, code="INVALID_REQUEST"),
}


@pytest.mark.parametrize("case", list(PUTS))
def test_put_reads_each_body_kind_as_it_should(client: FlaskClient, case: str) -> None:
    put = PUTS[case]
    file_id = upload_ok(client, ORIGINAL, "report.md")["file_id"]
    kwargs: dict[str, Any] = {"headers": put.headers}
    if isinstance(put.body, dict):  # a multipart form: (bytes, filename) is a file part
        kwargs["data"] = {
            k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in put.body.items()
        }
    elif put.body is not None:
        kwargs["data"] = put.body
    if put.content_type is not None:
        kwargs["content_type"] = put.content_type
    response = client.put(f"/files/{file_id}{put.query}", **kwargs)
    assert response.status_code == put.status, response.get_json()
    if put.code is not None:
        assert error_code(response) == put.code
    content = put.content or ORIGINAL
    meta = client.get(f"/files/{file_id}/metadata").get_json()
    assert meta["file_name"] == (put.name or "report.md")
    assert meta["file_size"] == len(content)
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert client.get(f"/files/{file_id}").data == content


def test_urlencoded_form_moves_like_json(client: FlaskClient) -> None:
    file_id = upload_ok(client, ORIGINAL, "report.md")["file_id"]
    response = client.put(
        f"/files/{file_id}", data="file_name=r.md&folder=%2Fdocs&expires_in=3600", content_type=FORM
    )
    assert response.status_code == 200, response.get_json()
    meta = response.get_json()["file"]
    assert (meta["file_name"], meta["folder"]) == ("r.md", "/docs")
    assert meta["expires_at"] is not None
    assert meta["sha256"] == hashlib.sha256(ORIGINAL).hexdigest()


def test_upload_refuses_a_urlencoded_body(client: FlaskClient) -> None:
    response = client.post(
        "/files/upload", data=b"abc", headers={"X-File-Name": "a.txt"}, content_type=FORM
    )
    assert response.status_code == 415
    assert error_code(response) == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/octet-stream" in response.get_json()["error"]["message"]
    assert client.get("/files").get_json()["files"] == []


def test_upload_stores_a_json_body_as_a_json_file(client: FlaskClient) -> None:
    body = b'{"file_name": "not an instruction"}'
    response = client.post(
        "/files/upload",
        data=body,
        headers={"X-File-Name": "data.json"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.get_json()
    meta = response.get_json()
    assert (meta["file_name"], meta["file_type"]) == ("data.json", "application/json")
    assert client.get(f"/files/{meta['file_id']}").data == body
