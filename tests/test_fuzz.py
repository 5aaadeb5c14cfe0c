"""The error contract under fuzzing: no request, however malformed, gets a 500 or an HTML page.

Hypothesis drives the Flask test client with random methods, paths, query
strings, headers and bodies. Requests are built as the raw WSGI environ a
server hands over (``PATH_INFO`` percent-decoded to Latin-1, ``QUERY_STRING``
and header values raw, ``CONTENT_LENGTH`` whatever the client claimed), so the
app sees what a hostile client can really send. Each example first uploads a
fresh file with a fuzzed name, type and content (and starts a tus upload), so
downloads, ranges, conditional requests and tus verbs hit something real.
Every response must keep the contract:

- status below 500 (503 neither: these backends never fail);
- every status >= 400 is ``application/json`` with ``error.code``,
  ``error.message`` and the ``request_id`` that ``X-Request-Id`` also carries;
- no HTML anywhere (but the /docs page and a user's own downloaded bytes), and
  no redirect (a 3xx other than 304);
- a download's ``Content-Disposition`` is exactly the RFC 6266 form: no raw
  quote, CR or LF outside the quoted ASCII fallback.

The raw-socket tests go one level lower: the app runs under a real server
(Werkzeug's in a thread, and gunicorn as production runs it) and gets bytes
that are not HTTP at all. Some of those the server answers itself, before the
app runs (gunicorn with a small HTML page, Werkzeug with http.server's); the
tests record those and hold the app to the contract for everything it answers.

The regression tests below the fuzzers pin down what the fuzzers found.
By default the examples are derandomized so CI is repeatable;
``FILEDROP_FUZZ_SCALE=20`` runs twenty times as many, from a random seed.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, TestResponse

from filedrop import create_app
from filedrop.http.docs import DOCS_CSP, PAGE_ASSETS
from filedrop.http.server_errors import JsonErrorRequestHandler
from filedrop.http.web import PAGE_CSP
from filedrop.services import mediatypes
from filedrop.validation import BIDI_CONTROLS
from tests.fixtures import Backend
from tests.helpers import RawReply, error_code, exchange, upload_ok

pytestmark = pytest.mark.fuzz

FAST = "moto+mongomock"
SCALE = int(os.environ.get("FILEDROP_FUZZ_SCALE") or "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024**2

fast_only = pytest.mark.parametrize("backend", [FAST], indirect=True)


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- what every response must look like ----------------------------------------

# RFC 6266: an ASCII fallback with no quote or backslash, then the exact name, percent-encoded.
DISPOSITION = re.compile(
    r"^(?P<kind>attachment|inline); "
    r'filename="(?P<fallback>[\x20\x21\x23-\x5b\x5d-\x7e]+)"; '
    r"filename\*=UTF-8''(?P<encoded>[A-Za-z0-9!#$&+\-.^_`|~%]+)$"
)
ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
HTML_MARKERS = (b"<html", b"<!doctype", b"<head", b"<body", b"<title", b"<h1")


@dataclass
class LiveFile:
    """The file each example uploads first; requests aimed at it hit real content."""

    file_id: str
    name: str
    content: bytes
    meta: dict[str, Any]
    upload_id: str = "none"


def check_contract(response: TestResponse, method: str, live: LiveFile | None = None) -> None:
    """The error contract for any response; the download headers for a served file."""
    status = response.status_code
    headers = response.headers
    body = response.get_data()
    content_type = headers.get("Content-Type", "")
    where = f"{method} -> {status} {content_type} {body[:300]!r}"
    assert status < 500, where
    assert not 300 <= status < 400 or status == 304, f"redirect: {where} {headers}"
    request_id = headers.get("X-Request-Id")
    assert request_id, where
    for name, value in headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
    # The web app's pages answer a browser's navigation (even a dead link) in HTML, by design.
    web_page = headers.get("Content-Security-Policy") == PAGE_CSP and content_type.startswith(
        "text/html"
    )
    if status >= 400 and not web_page:
        assert content_type == "application/json", where
        if method != "HEAD":
            document = json.loads(body)
            error = document["error"]
            assert ERROR_CODE.match(error["code"]), where
            assert isinstance(error["message"], str) and error["message"], where
            assert error["request_id"] == request_id, where
        if status == 405:
            assert headers.get("Allow"), where
        if status in (429, 503):
            assert headers.get("Retry-After"), where
        if status == 401:
            assert headers.get("WWW-Authenticate"), where
    # Only downloads name a file; the user's own bytes there may be anything, HTML included.
    served_content = status in (200, 206) and "Content-Disposition" in headers
    # The automatic OPTIONS answer is empty but labelled text/html: nothing to render.
    automatic_options = method == "OPTIONS" and status in (200, 204) and not body
    docs_page = status == 200 and headers.get("Content-Security-Policy") == DOCS_CSP
    if not served_content and not automatic_options and not docs_page and not web_page:
        assert "html" not in content_type.lower(), where
        lowered = body[:4096].lower()
        assert not any(marker in lowered for marker in HTML_MARKERS), where
    disposition = headers.get("Content-Disposition")
    live_served = live if live and headers.get("ETag") == live.meta["etag"] else None
    if disposition is not None:
        check_disposition(disposition, response, live_served)
    if served_content and live_served is not None:
        check_download(response, method, live_served)


def check_disposition(disposition: str, response: TestResponse, live: LiveFile | None) -> None:
    match = DISPOSITION.match(disposition)
    assert match, f"Content-Disposition out of form: {disposition!r}"
    # A 304 may leave Content-Type out; the disposition still follows the stored type.
    media_type = response.headers.get("Content-Type") or (live.meta["file_type"] if live else "")
    if match["kind"] == "inline" and media_type:
        assert mediatypes.inline_safe(media_type), disposition
        assert "html" not in media_type and "svg" not in media_type, disposition
    if live is not None:
        assert unquote(match["encoded"], errors="strict") == live.name, disposition


def check_download(response: TestResponse, method: str, live: LiveFile) -> None:
    headers = response.headers
    body = response.get_data()
    size = len(live.content)
    assert headers["ETag"] == live.meta["etag"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Accept-Ranges"] == "bytes"
    length = int(headers["Content-Length"])
    if response.status_code == 206:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers["Content-Range"])
        assert match, headers["Content-Range"]
        start, end, total = (int(g) for g in match.groups())
        assert total == size and 0 <= start <= end < size
        assert length == end - start + 1
        if method != "HEAD":
            assert body == live.content[start : end + 1]
    else:
        assert "Content-Range" not in headers
        assert length == size
        if method != "HEAD":
            assert body == live.content
    if method == "HEAD":
        assert body == b""


# -- building raw requests -----------------------------------------------------


def wsgi_str(text: str) -> str:
    """How a WSGI server passes text it got as UTF-8 bytes: one char per byte (Latin-1)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


class RawRequest(EnvironBuilder):
    """An EnvironBuilder whose environ keys are set (or removed) verbatim at the end."""

    def __init__(self, raw: dict[str, Any], drop: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw = raw
        self.drop = drop

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ.update(self.raw)
        for key in self.drop:
            environ.pop(key, None)
        return environ


@dataclass
class Fuzzed:
    """One fuzzed request, before the live file's id and ETag are put into it."""

    method: str
    target: str  # path as the client wrote it, percent-escapes and all
    query: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None
    content_length: str | None = None  # None: not sent
    terminated: bool = False  # the server delimits the body itself (chunked, gunicorn)

    def resolve(self, live: LiveFile) -> Fuzzed:
        def fill(text: str) -> str:
            text = text.replace(LIVE_ID, live.file_id).replace(LIVE_ETAG, live.meta["etag"])
            return text.replace(LIVE_UPLOAD, live.upload_id)

        return Fuzzed(
            self.method,
            fill(self.target),
            fill(self.query),
            {name: fill(value) for name, value in self.headers.items()},
            self.body.replace(LIVE_ID.encode(), live.file_id.encode()),
            self.content_type,
            self.content_length,
            self.terminated,
        )

    def send(self, client: FlaskClient) -> TestResponse:
        raw_path = self.target.encode("utf-8", "surrogatepass")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
            "QUERY_STRING": wsgi_str(self.query),
            "RAW_URI": wsgi_str(self.target + ("?" + self.query if self.query else "")),
        }
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        drop = {"CONTENT_TYPE", "CONTENT_LENGTH"}
        if self.content_type is not None:
            environ["CONTENT_TYPE"] = self.content_type
            drop.discard("CONTENT_TYPE")
        if self.content_length is not None:
            environ["CONTENT_LENGTH"] = self.content_length
            drop.discard("CONTENT_LENGTH")
        if self.terminated:
            environ["wsgi.input_terminated"] = True
        builder = RawRequest(environ, frozenset(drop), path="/", input_stream=io.BytesIO(self.body))
        return client.open(builder)


# Placeholders the live file's id and ETag replace; no generated text contains them.
LIVE_ID = "\ufdd0live-id\ufdd0"
LIVE_ETAG = "\ufdd0live-etag\ufdd0"
LIVE_UPLOAD = "\ufdd0live-upload\ufdd0"  # a tus upload in progress

JUNK_PIECES = [
    "", " ", "%", "%2", "%zz", "%ff", "%00", "%C3%28", "%ED%A0%80", "%F4%90%80%80", "%25",
    "..", "/", "\\", "\x00", "\x7f", "\t", "é", "𝄞", "\u202e", "\ufeff", "<script>", '"', "'",
    ";", ",", "=", "*", "&", "?", "#", "-1", "0", "1e9", str(2**64), "9" * 40, "\r\n", "\n",
]  # fmt: skip
LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
junk = st.one_of(
    st.sampled_from(JUNK_PIECES),
    st.text(max_size=24),
    st.text(LATIN1, max_size=24),
    st.lists(st.sampled_from(JUNK_PIECES), min_size=1, max_size=6).map("".join),
)
big_ints = st.one_of(st.integers(-3, 40), st.integers(-(2**70), 2**70))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- paths and query strings ---------------------------------------------------

file_ids = st.one_of(
    st.just(LIVE_ID),
    st.just(LIVE_ID),
    junk,
    st.integers(1, 12_000).map(lambda n: "a" * n),
    st.sampled_from(
        ["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%2F", "a%2Fb", "%00", "%ff", "%20", "~"]
    ),
    st.sampled_from([LIVE_ID + "%00", LIVE_ID + "/..", LIVE_ID.upper(), " " + LIVE_ID]),
)
TEMPLATES = [
    "/files/{id}", "/files/{id}", "/files/{id}/metadata", "/files/{id}/links", "/files/upload",
    "/files", "/files/", "/links/{id}", "/d/{id}", "/me", "/admin/users", "/admin/users/{id}",
    "/admin/users/{id}/keys", "/admin/status", "/healthz", "/readyz", "/openapi.json", "/",
    "{id}", "/files/{id}/{id}", "/FILES/{id}", "/files/./{id}", "/files/../files/{id}",
    "//files/{id}", "/files//{id}", "/files/{id}/", "/files/{id}/metadata/",
    "/folders", "/uploads", "/uploads/", "/uploads/{upload}", "/uploads/{upload}",
    "/uploads/{id}", "/uploads/{upload}/", "/metrics", "/docs", "/docs/assets/{id}",
]  # fmt: skip


@st.composite
def paths(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(TEMPLATES))
    path = template.replace("{id}", draw(file_ids)).replace("{upload}", LIVE_UPLOAD)
    if draw(st.integers(0, 9)) == 0:
        path = path.replace("/", draw(st.sampled_from(["//", "/./", "%2F", "\\"])), 1)
    return path


QUERY_KEYS = [
    "limit", "cursor", "prefix", "file_name", "disposition", "folder", "path", "recursive",
    "password", "x", "", "limit[]",
]  # fmt: skip
cursor_values = st.one_of(
    junk,
    st.sampled_from(
        [
            b64(b"[" * 5000),  # nesting that json's recursion limit cannot follow
            b64(b'{"a": 1, "b": 2}'),
            b64(b'[1e999, "x"]'),
            b64(b'[true, "x"]'),
            b64(b"[-99999999999999999999, 1]"),
            b64(json.dumps([10**30, "x"]).encode()),
            b64(b'[0, "\\u0000"]'),
            b64(b"\xff\xfe"),
            b64(b'[1700000000000, "' + b"a" * 2000 + b'"]'),
            "=" * 7,
        ]
    ),
    st.builds(
        lambda m, f: b64(json.dumps([m, f]).encode()),
        big_ints,
        st.text(max_size=20),
    ),
)
query_values = st.one_of(
    junk,
    big_ints.map(str),
    cursor_values,
    st.sampled_from(
        ["inline", "attachment", "INLINE", "1000", "1001", "0", " 5 ", "1_0", "\u0665"]
    ),
)


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(QUERY_KEYS), query_values, st.booleans()), max_size=5)
    )
    parts = []
    for key, value, escape in pairs:
        parts.append(f"{key}={quote(value, safe='') if escape else value}")
    return draw(st.sampled_from(["&", "&&", ";"])).join(parts)


# -- headers -------------------------------------------------------------------

etags = st.one_of(
    st.just(LIVE_ETAG),
    st.just("W/" + LIVE_ETAG),
    st.sampled_from(['"x"', "*", 'W/"x"', '"', "W/", '"a", "b"', "Wed, 21 Oct 2015 07:28:00 GMT"]),
    st.lists(st.one_of(st.just(LIVE_ETAG), junk), min_size=1, max_size=4).map(", ".join),
    junk,
)
range_specs = st.one_of(
    st.builds(lambda a, b: f"{a}-{b}", big_ints, big_ints),
    big_ints.map(lambda a: f"{a}-"),
    big_ints.map(lambda n: f"-{n}"),
    junk,
)
ranges = st.one_of(
    st.builds(
        lambda unit, specs, sep: unit + "=" + sep.join(specs),
        st.sampled_from(["bytes", "bytes", "BYTES", "items", "bytes ", ""]),
        st.lists(range_specs, min_size=1, max_size=4),
        st.sampled_from([",", ", ", ",,"]),
    ),
    st.sampled_from(["bytes=", "bytes=-", "bytes=--1", "bytes=0-0", "bytes=-0", "=0-1"]),
    junk,
)
digests = st.one_of(
    st.builds(
        lambda algo, value: f"{algo}={value}",
        st.sampled_from(["sha-256", "SHA-256", "md5", "sha-512", "sha", ""]),
        st.one_of(junk, st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())),
    ),
    st.sampled_from(["sha-256=:AAAA:", "sha-256", ",,,", "sha-256==", "sha-256=é"]),
    junk,
)
file_name_headers = st.one_of(
    st.text(LATIN1, min_size=0, max_size=40),  # raw Latin-1 bytes as a server passes them
    st.text(max_size=40).map(wsgi_str),  # raw UTF-8
    st.text(max_size=40).map(lambda t: quote(t, safe="")),  # percent-encoded UTF-8
    st.sampled_from(["%FF", "%ff.txt", "%C3%28", "%ED%A0%80", "%", "%%", "%00", "a%2Fb", "%0A"]),
    st.integers(250, 600).map(lambda n: "n" * n),
    junk,
)
content_types = st.one_of(
    st.sampled_from(
        [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            'multipart/form-data; boundary="',
            "multipart/form-data; boundary=é",
            "multipart/form-data; boundary=" + "b" * 300,
            "multipart/mixed; boundary=x",
            "application/json",
            "application/json; charset=utf-16",
            "text/plain; charset=\xff",
            "text/html",
            "image/svg+xml",
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "application/offset+octet-stream",
            ";",
            "/",
            "a/b/c",
            'text/plain; x="a" bogus<>/',
        ]
    ),
    st.builds(
        lambda essence, params: essence + "".join(f"; {k}={v}" for k, v in params),
        st.sampled_from(["multipart/form-data", "text/plain", "application/json", "x/y"]),
        st.lists(st.tuples(st.sampled_from(["boundary", "charset", "name", ""]), junk), max_size=3),
    ),
    junk,
)
HEADER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Range": ranges,
    "If-Range": etags,
    "If-Match": etags,
    "If-None-Match": etags,
    "If-Modified-Since": junk,
    "Digest": digests,
    "Repr-Digest": digests,
    "Content-MD5": junk,
    "X-File-Name": file_name_headers,
    "X-Request-Id": st.one_of(junk, st.integers(100, 300).map(lambda n: "r" * n)),
    "Authorization": st.one_of(
        junk, st.text(LATIN1, max_size=30).map(lambda t: "Bearer " + t), st.just("Basic Og==")
    ),
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip, chunked", "identity", "bogus", ""]),
    "Accept": st.sampled_from(["text/html", "*/*", "application/json", "image/*", "\x00"]),
    "Expect": st.sampled_from(["100-continue", "junk"]),
    "Tus-Resumable": st.one_of(st.just("1.0.0"), junk),
    "Upload-Length": st.one_of(big_ints.map(str), junk),
    "Upload-Offset": st.one_of(st.just("0"), big_ints.map(str), junk),
    "Upload-Metadata": st.one_of(
        st.builds(
            lambda k, v: f"{k} {base64.b64encode(v).decode()}",
            st.sampled_from(["filename", "filetype", "folder", "x", ""]),
            st.binary(max_size=30),
        ),
        junk,
    ),
    "Upload-Checksum": st.one_of(
        st.builds(lambda a, d: f"{a} {d}", st.sampled_from(["sha256", "sha1", "md5", "x"]), junk),
        junk,
    ),
    "Upload-Defer-Length": st.just("1"),
    "X-Link-Password": st.one_of(junk, st.text(LATIN1, max_size=20)),
    "Host": junk,
    "Origin": junk,
    "Cookie": junk,
    "X-Forwarded-For": junk,
}
header_sets = st.dictionaries(
    st.sampled_from(sorted(HEADER_VALUES)), st.just(""), max_size=6
).flatmap(lambda names: st.fixed_dictionaries({n: HEADER_VALUES[n] for n in names}))


# -- bodies --------------------------------------------------------------------

valid_names = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="/\u2028\u2029" + "".join(BIDI_CONTROLS),
    ),
    min_size=1,
    max_size=60,
).filter(lambda name: name not in (".", ".."))
field_names = st.one_of(
    st.sampled_from([b"file", b"file", b"file_name", b"file_name", b"other", b""]),
    st.binary(max_size=12),  # non-UTF-8 names too
    st.text(max_size=12).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
dispositions = st.one_of(
    st.builds(
        lambda name, filename: b'form-data; name="' + name + b'"' + filename,
        field_names,
        st.one_of(
            st.just(b""),
            st.binary(max_size=20).map(lambda f: b'; filename="' + f + b'"'),
            valid_names.map(lambda f: b'; filename="' + f.encode() + b'"'),
            st.just(b"; filename*=UTF-8''%ff%fe"),
            st.just(b'; filename=""'),
        ),
    ),
    st.sampled_from([b"form-data", b"attachment; name=file", b"form-data; name=file", b"", b";;"]),
    st.binary(max_size=40),
)
field_values = st.one_of(
    st.binary(max_size=200),
    valid_names.map(str.encode),
    st.just(b"x" * 70_000),  # over the 64 KiB field limit
    st.just(b"\xed\xa0\x80.txt"),  # a surrogate, UTF-8-encoded: not UTF-8
)


@st.composite
def multipart_bodies(draw: st.DrawFn, depth: int = 0) -> tuple[bytes, str]:
    boundary = draw(
        st.one_of(
            st.just("fuzzboundary"),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=70),
        )
    )
    delimiter = b"--" + boundary.encode()
    many = draw(st.integers(0, 30)) == 0
    count = 1005 if many else draw(st.integers(0, 5))
    chunks: list[bytes] = []
    for index in range(count):
        headers: list[bytes] = []
        if many:
            headers.append(b'Content-Disposition: form-data; name="f%d"' % index)
            data = b"v"
        else:
            if draw(st.integers(0, 5)):
                headers.append(b"Content-Disposition: " + draw(dispositions))
            if draw(st.booleans()):
                headers.append(b"Content-Type: " + draw(content_types).encode("latin-1", "replace"))
            if draw(st.integers(0, 8)) == 0:
                headers.append(draw(st.sampled_from([b"NoColonHere", b": empty name", b" fold"])))
            if depth == 0 and draw(st.integers(0, 6)) == 0:
                data, _ = draw(multipart_bodies(depth=1))  # a nested form as the part's data
            else:
                data = draw(field_values)
        chunks.append(delimiter + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + data + b"\r\n")
    ending = draw(
        st.sampled_from([delimiter + b"--\r\n", delimiter + b"--", b"", delimiter, b"--"])
    )
    body = draw(st.binary(max_size=20)) + b"".join(chunks) + ending
    if draw(st.integers(0, 4)) == 0:
        body = body[: draw(st.integers(0, len(body)))]  # cut anywhere
    header_boundary = draw(
        st.one_of(
            st.just(boundary),
            st.just(boundary),
            st.just(f'"{boundary}"'),
            st.just(boundary + "x"),
            junk,
        )
    )
    return body, f"multipart/form-data; boundary={header_boundary}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
json_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda v: json.dumps({"file_name": v}).encode(), json_values),
    st.builds(lambda n: json.dumps({"file_name": n}).encode(), valid_names),
    st.builds(
        lambda key, value: json.dumps({key: value}).encode(),
        st.sampled_from(
            ["path", "expires_in", "max_downloads", "password", "name", "quota_bytes", "folder"]
        ),
        st.one_of(json_values, big_ints, junk),
    ),
    st.sampled_from(
        [
            b"[" * 60_000,  # deep nesting inside the 64 KiB limit
            b"{" * 3000,
            b'{"file_name": "\\ud800"}',
            b'{"file_name": "a", "file_name": 1}',
            b"\xff\xfe{}",
            b"NaN",
            b"1e99999",
            b"9" * 5000,
            b'{"file_name": "x"}' + b" " * 70_000,
            b"",
        ]
    ),
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["none", "raw", "raw", "multipart", "multipart", "json", "big"]))
    if kind == "none":
        return b"", None
    if kind == "raw":
        return draw(st.binary(max_size=2048)), None
    if kind == "multipart":
        return draw(multipart_bodies())
    if kind == "json":
        return draw(json_bodies), "application/json"
    return b"z" * 300_000, None


@st.composite
def content_lengths(draw: st.DrawFn, actual: int) -> str | None:
    return draw(
        st.sampled_from(
            [
                str(actual),
                str(actual),
                str(actual),
                None,
                str(actual + 10),
                str(max(actual - 3, 0)),
                "-1",
                "abc",
                "",
                " 3",
                "9" * 25,
                str(2**63),
            ]
        )
    )


METHODS = ["GET", "GET", "HEAD", "POST", "PUT", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
methods = st.one_of(st.sampled_from(METHODS), st.sampled_from(["get", "PROPFIND", "M-SEARCH", ""]))


@st.composite
def requests(draw: st.DrawFn) -> Fuzzed:
    body, body_type = draw(bodies())
    headers = draw(header_sets)
    content_type = body_type
    if draw(st.integers(0, 3)) == 0:
        content_type = draw(st.one_of(st.none(), content_types))
    return Fuzzed(
        method=draw(methods),
        target=draw(paths()),
        query=draw(query_strings()),
        headers=headers,
        body=body,
        content_type=content_type,
        content_length=draw(content_lengths(len(body))),
        terminated=draw(st.integers(0, 3)) == 0,
    )


@st.composite
def live_files(draw: st.DrawFn) -> tuple[str, bytes, str | None]:
    name = draw(st.one_of(valid_names, st.sampled_from(['a "quoted";\\name%.txt', "報告書.pdf"])))
    content = draw(st.one_of(st.binary(min_size=1, max_size=300), st.just(b"<html>x</html>")))
    declared = draw(
        st.sampled_from([None, "text/html", "image/svg+xml", "image/png", "text/plain"])
    )
    return name, content, declared


def upload_live(client: FlaskClient, name: str, content: bytes, declared: str | None) -> LiveFile:
    response = client.post(
        "/files/upload",
        data=content,
        headers={"X-File-Name": quote(name, safe="")},
        content_type=declared or "application/octet-stream",
    )
    assert response.status_code == 201, response.get_json()
    meta = response.get_json()
    return LiveFile(meta["file_id"], name, content, meta)


def run_one(client: FlaskClient, spec: Fuzzed, live: LiveFile) -> TestResponse:
    request = spec.resolve(live)
    response = request.send(client)
    check_contract(response, request.method, live)
    return response


@contextlib.contextmanager
def live_file(
    client: FlaskClient, file: tuple[str, bytes, str | None], tus: bool = False
) -> Iterator[LiveFile]:
    """Upload the example's file (and start a tus upload); afterwards delete what the example
    made, so thousands of examples (``FILEDROP_FUZZ_SCALE``) do not pile up in the mocks."""
    live = upload_live(client, *file)
    if not tus:
        try:
            yield live
        finally:
            _delete_all_files(client)
        return
    tus_headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(len(live.content)),
        "Upload-Metadata": "filename " + base64.b64encode(live.name.encode()).decode(),
    }
    tus = client.post("/uploads/", headers=tus_headers)
    assert tus.status_code == 201, tus.get_json()
    live.upload_id = tus.headers["Location"].rsplit("/", 1)[-1]
    try:
        yield live
    finally:
        client.delete(f"/uploads/{live.upload_id}", headers={"Tus-Resumable": "1.0.0"})
        _delete_all_files(client)


def _delete_all_files(client: FlaskClient) -> None:
    for listed in client.get("/files?limit=1000").get_json()["files"]:
        client.delete(f"/files/{listed['file_id']}")


# -- the fuzz tests ------------------------------------------------------------


@fast_only
def test_no_request_gets_a_500_or_html(client: FlaskClient) -> None:
    @budget(300)
    @given(file=live_files(), spec=requests())
    def run(file: tuple[str, bytes, str | None], spec: Fuzzed) -> None:
        with live_file(client, file, tus=True) as live:
            run_one(client, spec, live)

    run()


@fast_only
def test_downloads_keep_spec_headers_under_junk_conditions(client: FlaskClient) -> None:
    download_headers = st.fixed_dictionaries(
        {},
        optional={
            "Range": ranges,
            "If-Range": etags,
            "If-None-Match": etags,
            "If-Match": etags,
            "Accept": st.just("text/html"),
        },
    )

    @budget(150)
    @given(
        file=live_files(),
        method=st.sampled_from(["GET", "HEAD"]),
        headers=download_headers,
        query=st.one_of(
            st.just(""),
            st.sampled_from(["disposition=inline", "disposition=attachment", "disposition="]),
            query_strings(),
        ),
    )
    def run(
        file: tuple[str, bytes, str | None], method: str, headers: dict[str, str], query: str
    ) -> None:
        with live_file(client, file) as live:
            spec = Fuzzed(method, f"/files/{LIVE_ID}", query, headers)
            response = run_one(client, spec, live)
        assert response.status_code in (200, 206, 304, 400, 416), response.status_code
        if response.status_code in (200, 206):
            assert response.headers.get("Content-Disposition"), "downloads always name the file"

    run()


@fast_only
def test_uploads_store_exactly_what_they_report(client: FlaskClient) -> None:
    """Whatever a junk upload or replace is answered, a success stores the bytes it reports."""
    checked: list[str] = []  # the successes whose bytes were compared

    @budget(200)
    @given(
        file=live_files(),
        method=st.sampled_from(["POST", "PUT"]),
        body=bodies(),
        headers=st.fixed_dictionaries(
            {},
            optional={
                "X-File-Name": file_name_headers,
                "Digest": digests,
                "Content-MD5": junk,
                "If-Match": etags,
                "Transfer-Encoding": st.just("chunked"),
            },
        ),
        query=st.one_of(st.just(""), query_strings()),
        length_and_termination=st.tuples(st.integers(0, 6), st.booleans()),
    )
    def run(
        file: tuple[str, bytes, str | None],
        method: str,
        body: tuple[bytes, str | None],
        headers: dict[str, str],
        query: str,
        length_and_termination: tuple[int, bool],
    ) -> None:
        content, content_type = body
        lie, terminated = length_and_termination
        length = str(len(content)) if lie else str(len(content) + 7)
        target = "/files/upload" if method == "POST" else f"/files/{LIVE_ID}"
        spec = Fuzzed(method, target, query, headers, content, content_type, length, terminated)
        with live_file(client, file) as live:
            response = run_one(client, spec, live)
            if response.status_code in (200, 201):
                meta = response.get_json()
                meta = meta.get("file", meta)
                stored = client.get(f"/files/{meta['file_id']}")
                assert stored.status_code == 200
                assert len(stored.data) == meta["file_size"]
                assert hashlib.sha256(stored.data).hexdigest() == meta["sha256"]
                checked.append(meta["file_id"])

    run()
    # A run in which every upload failed would have compared nothing.
    assert checked, "no upload succeeded, so no stored bytes were checked"


@pytest.mark.parametrize("backend", ["seaweedfs+ferretdb"], indirect=True)
def test_no_request_gets_a_500_on_real_servers(client: FlaskClient) -> None:
    """A smaller run where FerretDB and SeaweedFS, not mocks, see the junk ids and names."""

    @budget(50)
    @given(file=live_files(), spec=requests())
    def run(file: tuple[str, bytes, str | None], spec: Fuzzed) -> None:
        with live_file(client, file, tus=True) as live:
            run_one(client, spec, live)

    run()


# -- regressions found by the fuzzer -------------------------------------------


@fast_only
@pytest.mark.parametrize("name", ["%FF", "%ff.txt", "%C3%28", "%ED%A0%80"])
def test_x_file_name_with_percent_escapes_that_are_not_utf8_is_400(
    client: FlaskClient, name: str
) -> None:
    response = client.post("/files/upload", data=b"x", headers={"X-File-Name": name})
    assert response.status_code == 400
    assert error_code(response) == "INVALID_FILE_NAME"
    meta = upload_ok(client, b"x")
    renamed = client.put(f"/files/{meta['file_id']}", headers={"X-File-Name": name})
    assert error_code(renamed) == "INVALID_FILE_NAME"


@fast_only
@pytest.mark.parametrize("body", [b"[" * 60_000, b'{"file_name": ' * 5000])
def test_deeply_nested_json_is_400_not_a_crash(client: FlaskClient, body: bytes) -> None:
    meta = upload_ok(client, b"x", "keep.txt")
    response = client.put(f"/files/{meta['file_id']}", data=body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "INVALID_REQUEST"
    assert client.get(f"/files/{meta['file_id']}/metadata").get_json()["file_name"] == "keep.txt"


@fast_only
def test_deeply_nested_cursor_is_400_not_a_crash(client: FlaskClient) -> None:
    response = client.get("/files", query_string={"cursor": b64(b"[" * 5000)})
    assert response.status_code == 400
    assert error_code(response) == "INVALID_REQUEST"


@fast_only
@pytest.mark.parametrize("template", ["/files//{id}", "//files/{id}", "/files//{id}//metadata"])
def test_doubled_slashes_are_a_json_404_not_an_html_redirect(
    client: FlaskClient, template: str
) -> None:
    meta = upload_ok(client, b"x")
    response = client.get(template.format(id=meta["file_id"]))
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert error_code(response) == "NOT_FOUND"


@fast_only
def test_body_the_server_cannot_read_is_400_and_stores_nothing(client: FlaskClient) -> None:
    """Under gunicorn a bad chunk raises the server's own exception from ``read``."""

    class InvalidChunkSize(Exception):
        """Like gunicorn's: a ParseException, which is neither OSError nor ValueError."""

    class BrokenChunks(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise InvalidChunkSize("Invalid chunk size: b'zz'")

    for target, content_type in [
        ("/files/upload?file_name=a", None),
        ("/files/upload", "multipart/form-data; boundary=b"),
    ]:
        broken = {
            "wsgi.input": io.BufferedReader(BrokenChunks()),
            "wsgi.input_terminated": True,
            "HTTP_TRANSFER_ENCODING": "chunked",
        }
        builder = RawRequest(
            broken,
            frozenset({"CONTENT_LENGTH"}),
            path=target.split("?")[0],
            query_string=target.partition("?")[2],
            method="POST",
            content_type=content_type,
        )
        response = client.open(builder)
        assert response.status_code == 400, response.get_data()
        assert error_code(response) == "INVALID_REQUEST"
    assert client.get("/files").get_json()["files"] == []


@fast_only
def test_body_shorter_than_its_content_length_is_400_and_stores_nothing(
    client: FlaskClient,
) -> None:
    """gunicorn hands over the raw stream; a client that hangs up early must not store a stub."""
    for target, body, content_type in [
        ("/files/upload?file_name=a", b"abc", None),
        (
            "/files/upload",
            _form("a"),
            "multipart/form-data; boundary=b",
        ),
    ]:
        builder = RawRequest(
            {"wsgi.input_terminated": True, "CONTENT_LENGTH": str(len(body) + 100)},
            frozenset(),
            path=target.split("?")[0],
            query_string=target.partition("?")[2],
            method="POST",
            input_stream=io.BytesIO(body),
            content_type=content_type,
        )
        response = client.open(builder)
        assert response.status_code == 400, response.get_data()
        assert error_code(response) == "INVALID_REQUEST"
    assert client.get("/files").get_json()["files"] == []


@fast_only
@pytest.mark.timeout(30)  # the bug was an endless loop that grows memory
@pytest.mark.parametrize(
    ("method", "header"),
    [
        ("GET", "IF_NONE_MATCH"),
        ("HEAD", "IF_NONE_MATCH"),
        ("PUT", "IF_MATCH"),
        ("DELETE", "IF_MATCH"),
    ],
)
def test_etag_header_ending_in_a_newline_does_not_hang(
    client: FlaskClient, method: str, header: str
) -> None:
    """Werkzeug 3.1's parse_etags never returns on a value ending in "\\n"."""
    meta = upload_ok(client, b"x")
    builder = RawRequest(
        {"HTTP_" + header: f'"{meta["sha256"]}"\n'},
        frozenset(),
        path=f"/files/{meta['file_id']}",
        method=method,
        input_stream=io.BytesIO(b"new" if method == "PUT" else b""),
    )
    response = client.open(builder)
    expected = {"GET": 304, "HEAD": 304, "PUT": 200, "DELETE": 200}[method]
    assert response.status_code == expected, response.get_data()


@fast_only
def test_docs_serve_only_the_assets_the_page_loads(client: FlaskClient) -> None:
    """Swagger UI's folder also has oauth2-redirect.html: an HTML page on our origin, no CSP."""
    for name in ("oauth2-redirect.html", "oauth2-redirect.js", "LICENSE", "swagger-ui.js"):
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert error_code(response) == "NOT_FOUND"
    for name in PAGE_ASSETS:
        assert client.get(f"/docs/assets/{name}").status_code == 200, name


@fast_only
def test_transfer_coding_other_than_chunked_is_refused(client: FlaskClient) -> None:
    """Servers undo only the chunking; a gzip-coded body must not be stored compressed."""
    builder = RawRequest(
        {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "gzip, chunked"},
        frozenset({"CONTENT_LENGTH"}),
        path="/files/upload",
        query_string="file_name=g.txt",
        method="POST",
        input_stream=io.BytesIO(gzip.compress(b"hello world")),
    )
    response = client.open(builder)
    assert response.status_code == 400
    assert error_code(response) == "INVALID_REQUEST"
    assert client.get("/files").get_json()["files"] == []


@fast_only
@pytest.mark.parametrize(
    "body",
    [
        b"x" * 20 * MiB,  # a preamble with no boundary in it
        b'--b\r\nContent-Disposition: form-data; name="file"\r\nX-Pad: ' + b"y" * 20 * MiB,
        b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--b--\r\n' + b"z" * 20 * MiB,
    ],
    ids=["preamble", "part headers", "epilogue"],
)
def test_multipart_framing_that_never_ends_is_refused_in_bounded_memory(
    client: FlaskClient, body: bytes
) -> None:
    tracemalloc.start()
    try:
        response = client.post(
            "/files/upload",
            input_stream=io.BytesIO(body),
            content_type="multipart/form-data; boundary=b",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert error_code(response) == "INVALID_REQUEST"
    assert peak < 4 * MiB, f"the decoder buffered {peak / MiB:.1f} MiB"


# -- raw sockets: a real server in front of the app ----------------------------


def _request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


def _upload(case: str, headers: str, body: bytes, form: bool = False) -> bytes:
    """A POST /files/upload that names the file after its case, so a stored one is traced back."""
    head = f"POST /files/upload?file_name={quote(case)} HTTP/1.1\nHost: x\nConnection: close\n"
    if form:
        head += "Content-Type: multipart/form-data; boundary=b\n"
    return _request(head + headers, body)


def _form(name: str) -> bytes:
    disposition = f'Content-Disposition: form-data; name="file"; filename="{name}"'
    return b"--b\r\n" + disposition.encode() + b"\r\n\r\nabc\r\n--b--\r\n"


MALFORMED: dict[str, bytes] = {
    "not http": b"GARBAGE\r\n\r\n",
    "empty request line": b"\r\n\r\n",
    "method only": b"GET\r\n\r\n",
    "unknown version": _request("GET /files HTTP/9.9\nHost: x\n"),
    "http/0.9": b"GET /files\r\n",
    "nul in target": _request("GET /files/\x00 HTTP/1.1\nHost: x\nConnection: close\n"),
    "space in target": _request("GET /files/a b HTTP/1.1\nHost: x\nConnection: close\n"),
    "raw utf-8 target": b"GET /files/\xc3\xa9\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "absolute-form target": _request("GET http://evil.example/files HTTP/1.1\nHost: x\n"),
    "100 KB target": _request(f"GET /files/{'a' * 100_000} HTTP/1.1\nHost: x\n"),
    "lowercase method": _request("get /files HTTP/1.1\nHost: x\nConnection: close\n"),
    "header without colon": _request("GET /files HTTP/1.1\nHost: x\nNoColonHere\n"),
    "obs-fold header": _request("GET /files HTTP/1.1\nHost: x\nX-A: a\n  folded\n"),
    "space before colon": _request("GET /files HTTP/1.1\nHost: x\nX-A : a\n"),
    "nul in header value": _request("GET /files HTTP/1.1\nHost: x\nX-A: a\x00b\n"),
    "non-ascii header name": _request("GET /files HTTP/1.1\nHost: x\nX-\xe9: 1\n"),
    "10 MB header": _request("GET /files HTTP/1.1\nHost: x\nX-Big: " + "a" * 10_000_000 + "\n"),
    "500 headers": _request(
        "GET /files HTTP/1.1\nHost: x\n" + "".join(f"X-{i}: {i}\n" for i in range(500))
    ),
    "Content-Length -1": _upload("cl-negative", "Content-Length: -1\n", b"abc"),
    "Content-Length junk": _upload("cl-junk", "Content-Length: abc\n", b"abc"),
    "two Content-Lengths": _upload("cl-twice", "Content-Length: 3\nContent-Length: 5\n", b"abcde"),
    "Content-Length + chunked": _upload(
        "cl-and-chunked",
        "Content-Length: 3\nTransfer-Encoding: chunked\n",
        b"3\r\nabc\r\n0\r\n\r\n",
    ),
    "bogus Transfer-Encoding": _upload("te-bogus", "Transfer-Encoding: bogus\n", b"abc"),
}
_gzip = gzip.compress(b"hello world")
GZIPPED = b"%x\r\n%b\r\n0\r\n\r\n" % (len(_gzip), _gzip)
# Bodies that are broken, end before they said they would, or are still transfer-coded:
# never stored, whoever answers.
BROKEN_BODIES: dict[str, bytes] = {
    "chunk size not hex": _upload(
        "chunk-not-hex", "Transfer-Encoding: chunked\n", b"zz\r\nabc\r\n0\r\n\r\n"
    ),
    "huge chunk size": _upload(
        "chunk-huge", "Transfer-Encoding: chunked\n", b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"
    ),
    "negative chunk size": _upload(
        "chunk-negative", "Transfer-Encoding: chunked\n", b"-3\r\nabc\r\n0\r\n\r\n"
    ),
    "chunk without terminator": _upload(
        "chunk-unterminated", "Transfer-Encoding: chunked\n", b"3\r\nabcXY"
    ),
    "chunked body cut short": _upload("chunk-cut", "Transfer-Encoding: chunked\n", b"10\r\nabc"),
    "multipart, bad chunk": _upload(
        "form-bad-chunk", "Transfer-Encoding: chunked\n", b"5\r\n--b\r\n\r\nqq\r\n", form=True
    ),
    "gzip, chunked": _upload("te-gzip", "Transfer-Encoding: gzip, chunked\n", GZIPPED),
    "raw body cut short": _upload("raw-cut", "Content-Length: 100\n", b"abc"),
    "multipart body cut short": _upload(
        "form-cut", "Content-Length: 500\n", _form("form-cut"), form=True
    ),
}
BROKEN_NAMES = {
    "chunk-not-hex", "chunk-huge", "chunk-negative", "chunk-unterminated", "chunk-cut",
    "form-bad-chunk", "raw-cut", "form-cut", "te-gzip",
}  # fmt: skip


# RFC 9112: a transfer coding the server does not know is a 501 (gunicorn's answer; RFC 9112 §6.1),
# an HTTP version it does not speak a 505 (the Werkzeug server's).
SERVER_5XX = (501, 505)


def check_raw_reply(case: str, reply: RawReply) -> None:
    """Whoever answers, the app or the HTTP server before it (filedrop/http/server_errors.py),
    an error is JSON, never HTML. A server may also hang up without a word, or
    answer an HTTP/0.9 request the 0.9 way: the body alone, no status line."""
    if reply.status is None:
        assert not any(marker in reply.raw[:4096].lower() for marker in HTML_MARKERS), case
        return
    assert reply.status < 500 or reply.status in SERVER_5XX, (case, reply.summary())
    kind = reply.headers.get("content-type", "")
    assert "html" not in kind, (case, reply.summary())
    assert not any(marker in reply.body[:4096].lower() for marker in HTML_MARKERS), case
    if reply.status is not None and reply.status >= 400:
        assert kind == "application/json", (case, reply.summary())
        document = json.loads(reply.body)
        assert document["error"]["request_id"] == reply.headers["x-request-id"], case


def run_malformed(address: tuple[str, int], record: Any, server: str) -> dict[str, RawReply]:
    cases = {**MALFORMED, **BROKEN_BODIES}
    replies = {case: exchange(address, payload) for case, payload in cases.items()}
    lines = []
    for case, reply in replies.items():
        lines.append(f"  {case:28} {reply.summary()}")
        check_raw_reply(case, reply)
    record(f"{server}_malformed_http", "\n".join(lines))
    print(f"\n{server}:\n" + "\n".join(lines))
    for case in BROKEN_BODIES:
        reply = replies[case]
        assert reply.status is None or reply.status >= 400, (case, reply.summary())
    listing = exchange(address, _request("GET /files?limit=1000 HTTP/1.0\n"))
    stored = {f["file_name"] for f in json.loads(listing.body)["files"]}
    assert not stored & BROKEN_NAMES, f"broken uploads were stored: {stored & BROKEN_NAMES}"
    return replies


@pytest.fixture
def werkzeug_server(backend: Backend) -> Iterator[tuple[str, int]]:
    # Werkzeug's dechunker makes up data past the end of a lying chunk size; the
    # file size limit is what ends such a body, so keep it small here.
    settings = backend.settings.with_overrides(max_file_size=MiB)
    app = create_app(settings, blobs=backend.blobs, meta=backend.meta)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=JsonErrorRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ("127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@fast_only
def test_malformed_http_under_werkzeug_server(
    werkzeug_server: tuple[str, int], record_property: Any
) -> None:
    replies = run_malformed(werkzeug_server, record_property, "werkzeug")
    # The server passes these bodies on as they are; the app answers with a JSON 400.
    for case in ("chunk size not hex", "chunked body cut short", "raw body cut short"):
        assert replies[case].status == 400, replies[case].summary()


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``gunicorn app:app`` as production runs it, in embedded mode (no servers to start)."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "FILEDROP_AUTH": "disabled",
        "MONGO_URI": "",
        "S3_ENDPOINT_URL": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:0", "-w", "1", "app:app"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(process, log_path)
        yield ("127.0.0.1", port)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # gunicorn's quick shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if match:
            port = int(match.group(1))
            if exchange(("127.0.0.1", port), _request("GET /healthz HTTP/1.0\n")).status == 200:
                return port
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


def test_malformed_http_under_gunicorn(
    gunicorn_server: tuple[str, int], record_property: Any
) -> None:
    replies = run_malformed(gunicorn_server, record_property, "gunicorn")
    # gunicorn parses chunks lazily, inside the app's read: the app answers these.
    for case in ("chunk size not hex", "chunk without terminator", "raw body cut short"):
        assert replies[case].status == 400, replies[case].summary()
    # gunicorn only undoes the chunking: a gzip-coded body would be stored still compressed.
    for case in ("gzip, chunked",):
        assert replies[case].status == 400, replies[case].summary()
