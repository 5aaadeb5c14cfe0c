"""Names that would spoof or break clients are refused wherever a name or folder
comes in; downloads name files readably for clients that only read ``filename=``."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from tests.helpers import error_code, upload_ok

SPOOFING = [
    ".",
    "..",
    "invoice\u202efdp.exe",  # displays as invoiceexe.pdf
    "a\u202ab.txt",
    "a\u2066b\u2069.txt",
    "\u200ereport.pdf",
    "\u200freport.pdf",
    "\u061creport.pdf",
]


@pytest.mark.parametrize("name", SPOOFING, ids=ascii)
def test_spoofing_names_are_refused_everywhere(client: FlaskClient, name: str) -> None:
    answers = {
        "raw upload": client.post(
            "/files/upload",
            data=b"x",
            headers={"X-File-Name": quote(name)},
            content_type="application/octet-stream",
        ),
        "form upload": client.post(
            "/files/upload",
            data={"file": (io.BytesIO(b"x"), "ok.txt"), "file_name": name},
            content_type="multipart/form-data",
        ),
        "tus upload": client.post(
            "/uploads/",
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": "1",
                "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode(),
            },
        ),
    }
    file_id = upload_ok(client, b"keep", "keep.txt")["file_id"]
    answers["json rename"] = client.put(
        f"/files/{file_id}", data=json.dumps({"file_name": name}), content_type="application/json"
    )
    answers["form rename"] = client.put(
        f"/files/{file_id}",
        data=f"file_name={quote(name)}",
        content_type="application/x-www-form-urlencoded",
    )
    answers["copy"] = client.post(f"/files/{file_id}/copy", json={"file_name": name})
    for how, response in answers.items():
        assert response.status_code == 400, (how, response.get_json())
        assert error_code(response) == "INVALID_FILE_NAME", how
    names = [f["file_name"] for f in client.get("/files").get_json()["files"]]
    assert names == ["keep.txt"]


@pytest.mark.parametrize("path", ["/a\u202eb", "/docs/\u2067x", "/\u200f"], ids=ascii)
def test_spoofing_folder_segments_are_refused(client: FlaskClient, path: str) -> None:
    made = client.post("/folders", json={"path": path})
    assert made.status_code == 400 and error_code(made) == "INVALID_FOLDER"
    moved = client.post(
        f"/files/upload?file_name=a.txt&folder={quote(path)}",
        data=b"x",
        content_type="application/octet-stream",
    )
    assert moved.status_code == 400 and error_code(moved) == "INVALID_FOLDER"


def test_download_names_a_unicode_file_readably(client: FlaskClient) -> None:
    file_id = upload_ok(client, b"x", "café ☕ 日本語.txt")["file_id"]
    disposition = client.get(f"/files/{file_id}").headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"cafe _.txt\"; filename*=UTF-8''caf%C3%A9%20%E2%98%95%20"
        "%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"
    )
