"""Byte ranges as RFC 9110 defines them, on /files/{id} and share links, through
the test client on every backend pair and through real servers (``python app.py``
and gunicorn, embedded and S3 + MongoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from tests import live, servers
from tests.helpers import error_code, upload_ok

DIGITS = b"0123456789"
WHOLE = (200, None)
UNSATISFIABLE = (416, None)

# Range header -> (status, (first, last) served) for the ten bytes of DIGITS.
CASES: dict[str, tuple[int, tuple[int, int] | None]] = {
    "bytes=0-3": (206, (0, 3)),
    "bytes=7-": (206, (7, 9)),
    "bytes=9-9": (206, (9, 9)),
    "bytes=-2": (206, (8, 9)),
    "bytes=-10": (206, (0, 9)),
    "bytes=-11": (206, (0, 9)),  # a suffix longer than the file is the whole file
    "bytes=-99999999999999999999": (206, (0, 9)),
    "bytes=5-100": (206, (5, 9)),  # last-byte-pos past the end stops at the end
    "bytes = 2-3": (206, (2, 3)),
    "bytes=-0": UNSATISFIABLE,
    "bytes=10-": UNSATISFIABLE,  # first-byte-pos at or past the end
    "bytes=10-20": UNSATISFIABLE,
    "bytes=0-1,4-5": WHOLE,  # several ranges: served whole
    "bytes=abc": WHOLE,  # invalid syntax is ignored
    "bytes=5-2": WHOLE,
    "bytes=-": WHOLE,
    "bytes=1-2-3": WHOLE,
    "bytes=+1-2": WHOLE,
    "items=0-1": WHOLE,
    "bytes": WHOLE,
}
# An empty file: only a non-zero suffix is satisfiable, and it has no byte to send.
EMPTY_CASES: dict[str, tuple[int, tuple[int, int] | None]] = {
    "bytes=-5": WHOLE,
    "bytes=0-": UNSATISFIABLE,
    "bytes=0-0": UNSATISFIABLE,
    "bytes=-0": UNSATISFIABLE,
    "bytes=abc": WHOLE,
}


def _check(content: bytes, header: str, got: tuple[int, dict[str, str], bytes]) -> None:
    """``got`` (status, headers, body) is what ``header`` must answer for ``content``."""
    size = len(content)
    expected_status, span = _cases(content)[header]
    got_status, headers, body = got
    assert got_status == expected_status, (header, got_status, body[:200])
    if expected_status == 416:
        assert headers["Content-Range"] == f"bytes */{size}", header
    elif span is None:
        assert body == content and "Content-Range" not in headers, header
    else:
        first, last = span
        assert body == content[first : last + 1], header
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}", header
        assert headers["Content-Length"] == str(last - first + 1), header


def _cases(content: bytes) -> dict[str, tuple[int, tuple[int, int] | None]]:
    return CASES if content else EMPTY_CASES


@pytest.mark.parametrize("content", [DIGITS, b""], ids=["ten-bytes", "empty"])
def test_ranges_on_files_and_links(client: FlaskClient, content: bytes) -> None:
    file_id = upload_ok(client, content, "digits.txt")["file_id"]
    token = client.post(f"/files/{file_id}/links").get_json()["token"]
    for url in (f"/files/{file_id}", f"/d/{token}"):
        for header, (status, _) in _cases(content).items():
            response = client.get(url, headers={"Range": header})
            got = (response.status_code, dict(response.headers), response.data)
            _check(content, header, got)
            if status == 416:
                assert error_code(response) == "RANGE_NOT_SATISFIABLE"


@pytest.fixture(
    scope="module",
    params=["python-app.py-embedded", "gunicorn-embedded", "python-app.py-s3", "gunicorn-s3"],
)
def server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    kind: str = request.param
    work: Path = tmp_path_factory.mktemp(kind)
    settings = {"DATA_DIR": str(work / "data"), "FILEDROP_AUTH": "disabled"}
    if kind.endswith("-s3"):
        s3: servers.S3Server = request.getfixturevalue("minio")
        db: servers.FerretDB = request.getfixturevalue("ferretdb")
        settings = {**live.real_server_settings(s3, db, "fd-ranges"), "FILEDROP_AUTH": "disabled"}
    if kind.startswith("gunicorn"):
        app = live.start_gunicorn(settings, work / "server.log", ["-w", "1"])
    else:
        app = live.start_dev_server(settings, work / "server.log")
    try:
        yield app.url
    finally:
        app.stop()


@pytest.mark.parametrize("content", [DIGITS, b""], ids=["ten-bytes", "empty"])
def test_ranges_on_a_live_server(server_url: str, content: bytes) -> None:
    made = requests.post(
        f"{server_url}/files/upload", files={"file": ("digits.txt", content)}, timeout=10
    )
    assert made.status_code == 201, made.text
    file_id = made.json()["file_id"]
    link = requests.post(f"{server_url}/files/{file_id}/links", timeout=10)
    assert link.status_code == 201, link.text
    for path in (f"/files/{file_id}", f"/d/{link.json()['token']}"):
        for header in _cases(content):
            response = requests.get(f"{server_url}{path}", headers={"Range": header}, timeout=10)
            _check(
                content, header, (response.status_code, dict(response.headers), response.content)
            )
