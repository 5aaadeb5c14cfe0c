"""The web app's server side: ``/`` for browsers and for other clients, its assets and
their headers, and the page a browser gets for a share link (which counts nothing).
The app itself, in a browser: tests/test_web_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

import filedrop.http.web
from filedrop.http.docs import DOCS_CSP
from tests.fixtures import FAST
from tests.helpers import error_code, upload_ok
from tests.test_fuzz import check_contract

pytestmark = [pytest.mark.http, pytest.mark.parametrize("backend", [FAST], indirect=True)]

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Dest": "document",
}
WEB_DIR = Path(filedrop.http.web.__file__).parent


def link(client: FlaskClient, file_id: str, **body: object) -> str:
    made = client.post(f"/files/{file_id}/links", json=body or None)
    assert made.status_code == 201, made.get_json()
    token: str = made.get_json()["token"]
    return token


def assert_page_headers(headers: Headers) -> None:
    csp = headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_browser_gets_the_page_and_other_clients_json(client: FlaskClient) -> None:
    page = client.get("/", headers=BROWSER)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert_page_headers(page.headers)
    assert "Accept" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to allow
    for accept in (None, "*/*", "application/json"):
        answer = client.get("/", headers={"Accept": accept} if accept else {})
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        assert answer.get_json()["docs"] == "/docs"
        assert answer.get_json()["openapi"] == "/openapi.json"


def test_the_page_loads_only_its_own_small_assets(client: FlaskClient) -> None:
    html = client.get("/", headers=BROWSER).get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/web/[^"?]+)', html)
    assert {"/web/app.js", "/web/app.css"} <= set(assets)
    modules = {path.name for path in (WEB_DIR / "static").glob("*.js")}
    total = len(html.encode())
    for name in [*sorted(modules), "app.css"]:
        asset = client.get(f"/web/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        total += len(asset.data)
    assert total < 150 * 1024
    for source in (WEB_DIR / "static").glob("*.js"):
        assert ".innerHTML" not in source.read_text()  # names are always text


@pytest.mark.parametrize("path", ["/", "/d/not-a-token"])
def test_pages_link_a_favicon_that_is_served(client: FlaskClient, path: str) -> None:
    """Without one a browser asks for /favicon.ico and logs a 404 on every page."""
    html = client.get(path, headers=BROWSER).get_data(as_text=True)
    (icon,) = re.findall(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', html)
    served = client.get(icon)
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    assert served.data.startswith(b"<svg") and len(served.data) < 1024


def test_the_readme_quotes_the_pages_policy_as_sent(client: FlaskClient) -> None:
    readme = " ".join((WEB_DIR.parents[2] / "README.md").read_text().split())
    sent = client.get("/", headers=BROWSER).headers["Content-Security-Policy"]
    assert f"`Content-Security-Policy: {sent}`" in readme


def test_docs_keep_their_own_csp(client: FlaskClient) -> None:
    docs = client.get("/docs", headers=BROWSER)
    assert docs.status_code == 200
    assert docs.headers["Content-Security-Policy"] == DOCS_CSP


def test_a_browser_sees_a_page_for_a_link_and_it_counts_no_download(
    client: FlaskClient,
) -> None:
    name = "<img src=x onerror=alert(1)>.txt"
    meta = upload_ok(client, b"one-time content", name)
    token = link(client, meta["file_id"], max_downloads=1)
    for _ in range(3):
        page = client.get(f"/d/{token}", headers=BROWSER)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert_page_headers(page.headers)
        html = page.get_data(as_text=True)
        assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html and "<img" not in html
        assert "16 bytes" in html
        assert f'action="/d/{token}"' in html
    # The one-time link is still there for its one download, by curl or the button.
    assert client.get(f"/d/{token}", headers={"Accept": "*/*"}).data == b"one-time content"
    gone = client.get(f"/d/{token}", headers=BROWSER)
    assert gone.status_code == 410 and gone.mimetype == "text/html"
    assert "used up" in gone.get_data(as_text=True)
    missing = client.get("/d/no-such-token", headers=BROWSER)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    for response in (page, gone, missing):  # what the fuzz tests allow as HTML
        check_contract(response, "GET")


def test_the_page_button_downloads_and_a_script_still_gets_bytes(client: FlaskClient) -> None:
    meta = upload_ok(client, b"shared bytes", "notes.txt")
    token = link(client, meta["file_id"])
    pressed = client.post(f"/d/{token}", data={}, headers=BROWSER)
    assert pressed.status_code == 200 and pressed.data == b"shared bytes"
    assert pressed.headers["Content-Disposition"].startswith("attachment")
    # Subresources a page loads (an <img>, a <video>) are not navigations: bytes.
    image = client.get(f"/d/{token}", headers={**BROWSER, "Sec-Fetch-Dest": "image"})
    assert image.data == b"shared bytes"
    assert client.get(f"/d/{token}").data == b"shared bytes"


def test_a_password_link_page_asks_first_and_shows_the_reason(client: FlaskClient) -> None:
    meta = upload_ok(client, b"secret bytes", "plans.txt")
    token = link(client, meta["file_id"], password="open sesame")
    page = client.get(f"/d/{token}", headers=BROWSER)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="password"' in html
    assert "plans.txt" not in html  # nothing about the file before the password
    wrong = client.post(f"/d/{token}", data={"password": "nope"}, headers=BROWSER)
    assert wrong.status_code == 403 and wrong.mimetype == "text/html"
    assert "password is wrong" in wrong.get_data(as_text=True)
    right = client.post(f"/d/{token}", data={"password": "open sesame"}, headers=BROWSER)
    assert right.status_code == 200 and right.data == b"secret bytes"
    # A script posting the form gets the API's JSON errors.
    scripted = client.post(f"/d/{token}", data={"password": "nope"})
    assert scripted.status_code == 403 and error_code(scripted) == "LINK_PASSWORD_REQUIRED"


def test_the_download_form_refuses_a_big_body(client: FlaskClient) -> None:
    meta = upload_ok(client, b"x", "x.txt")
    token = link(client, meta["file_id"])
    big = client.post(f"/d/{token}", data={"password": "p" * 20_000})
    assert big.status_code == 400 and error_code(big) == "INVALID_REQUEST"
