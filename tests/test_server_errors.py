"""Requests the HTTP server refuses before the app sees them (a request line or a
header past its limits, a line that is not HTTP) still get the JSON error,
never the server's own HTML page. Checked on raw sockets against gunicorn as
configured (both worker classes) and against ``python app.py``."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator

import pytest
import requests

from tests import live
from tests.helpers import RawReply, exchange

pytestmark = pytest.mark.live


def send_raw(url: str, data: bytes, timeout: float = 10) -> RawReply:
    host, _, port = url.removeprefix("http://").partition(":")
    return exchange((host, int(port)), data, timeout)


def assert_json_error(answer: RawReply, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/json", answer
    assert answer.headers.get("x-content-type-options") == "nosniff", answer
    error = json.loads(answer.body)["error"]
    assert error["code"] == code, error
    assert error["message"] and error["request_id"], error


LONG_LINE = b"GET /files?prefix=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
NOT_HTTP = b"HELLO THERE FRIEND\r\n\r\n"
BIG_HEADER = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
MANY_HEADERS = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    + b"\r\n"
)


# Just past the 8190-byte limits both servers keep (Werkzeug's own are 64 KiB).
LINE_9027 = b"GET /files?prefix=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
HEADER_9000 = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8993 + b"\r\n\r\n"
assert len(LINE_9027.split(b"\r\n")[0]) == 9027 and len(HEADER_9000.split(b"\r\n")[2]) == 9000

# The request, then what gunicorn and ``python app.py`` answer it with (None: that
# server lets it through to the app).
REFUSED: dict[str, tuple[bytes, tuple[int, str] | None, tuple[int, str] | None]] = {
    "long-line": (LONG_LINE, (414, "URI_TOO_LONG"), (414, "URI_TOO_LONG")),
    "line-9027": (LINE_9027, (414, "URI_TOO_LONG"), (414, "URI_TOO_LONG")),
    "header-9000": (HEADER_9000, (431, "HEADERS_TOO_LARGE"), (431, "HEADERS_TOO_LARGE")),
    "line-8190": (b"GET /healthz?" + b"a" * 8168 + b" HTTP/1.1\r\nHost: x\r\n\r\n", None, None),
    "header-8190": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8181 + b"\r\n\r\n",
        None,
        None,
    ),
    "not-http": (NOT_HTTP, (400, "INVALID_REQUEST"), (400, "INVALID_REQUEST")),
    "big-header": (BIG_HEADER, (431, "HEADERS_TOO_LARGE"), (431, "HEADERS_TOO_LARGE")),
    "many-headers": (MANY_HEADERS, (431, "HEADERS_TOO_LARGE"), (431, "HEADERS_TOO_LARGE")),
    "bad-header-name": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        (400, "INVALID_REQUEST"),
        None,
    ),
    "expect-unknown": (
        b"POST /files/upload HTTP/1.1\r\nHost: x\r\nX-File-Name: e.txt\r\n"
        b"Content-Length: 5\r\nExpect: foo\r\nConnection: close\r\n\r\nhello",
        (417, "EXPECTATION_FAILED"),
        (417, "EXPECTATION_FAILED"),
    ),
    "bad-version": (
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        (400, "INVALID_REQUEST"),
        (505, "HTTP_VERSION_NOT_SUPPORTED"),
    ),
}


@pytest.fixture(scope="module", params=["gunicorn-gevent", "gunicorn-gthread", "python-app.py"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(kind, URL): gunicorn as configured with each worker class, or the README's
    ``python app.py``; all in embedded mode, so no servers are needed."""
    kind: str = request.param
    work = tmp_path_factory.mktemp(kind)
    settings = {"DATA_DIR": str(work / "data")}
    if kind.startswith("gunicorn"):
        settings["GUNICORN_WORKER_CLASS"] = kind.split("-")[1]
        app = live.start_gunicorn(settings, work / "server.log", ["-w", "1"])
    else:
        app = live.start_dev_server(settings, work / "server.log")
    try:
        yield kind, app.url
    finally:
        app.stop()


@pytest.mark.parametrize("case", REFUSED)
def test_refused_in_json(server: tuple[str, str], case: str) -> None:
    kind, url = server
    data, by_gunicorn, by_dev_server = REFUSED[case]
    expected = by_gunicorn if kind.startswith("gunicorn") else by_dev_server
    answer = send_raw(url, data)
    if expected is None:
        assert answer.status == 200, answer.summary()
    else:
        assert_json_error(answer, *expected)
        # Written in the app's own format, byte for byte like its errors.
        app_error = requests.get(f"{url}/files/nope", timeout=5).content
        assert (
            answer.body
            == json.dumps(json.loads(answer.body), separators=(",", ":")).encode() + b"\n"
        )
        assert (
            app_error == json.dumps(json.loads(app_error), separators=(",", ":")).encode() + b"\n"
        )
    # The server is fine afterwards.
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200


def test_expect_100_continue_gets_one_interim_answer(server: tuple[str, str]) -> None:
    """curl -T sends ``Expect: 100-continue``: one ``100 Continue``, then the answer."""
    _, url = server
    host, _, port = url.removeprefix("http://").partition(":")
    head = (
        b"POST /files/upload HTTP/1.1\r\nHost: x\r\nX-File-Name: e.txt\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        received = sock.recv(65536)  # the interim answer comes before the body is sent
        sock.sendall(b"hello")
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b" 100 Continue\r\n") == 1, received
    assert b" 201 " in received, received


def _malformed_requests(count: int, seed: int) -> Iterator[bytes]:
    """Requests broken the ways a fuzzer or a confused client breaks them."""
    rng = random.Random(seed)
    methods = [b"GET", b"POST", b"PUT", b"DELETE", b"G\x00T", b"get", b"", b"BREW", b"GET GET"]
    paths = [b"/files", b"/files/x", b"/healthz", b"", b"files", b"/%", b"/\xff\xfe", b"/a b"]
    versions = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b"", b"HTP/1.1", b"HTTP/1"]
    bad_headers = [
        b"Bad Name: v",
        b"NoColon",
        b": empty-name",
        b"X-Nul: a\x00b",
        b"\x7fDel: v",
        b"Content-Length: -1",
        b"Content-Length: abc",
        b"Content-Length: 1\r\nContent-Length: 2",
        b"Transfer-Encoding: gzip",
        b"Transfer-Encoding: chunked\r\nContent-Length: 3",
        b"Expect: 200-ok",
        b" Folded: v",
        b"X-Long: " + b"v" * 9000,
    ]
    for _ in range(count):
        line = b" ".join(
            [
                rng.choice(methods),
                rng.choice(paths) + b"?q=" + b"z" * rng.choice([0, 9000, 70_000]),
                rng.choice(versions),
            ]
        )
        headers = [b"Host: x", *rng.sample(bad_headers, rng.randint(0, 3))]
        yield line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


def test_every_malformed_request_is_answered_in_json(server: tuple[str, str]) -> None:
    """Seeded and bounded: whatever the server or the app answers with an error
    status is JSON; a connection may also just be closed."""
    _, url = server
    statuses: set[int] = set()
    for data in _malformed_requests(150, seed=6):
        answer = send_raw(url, data, timeout=5)
        if answer.status is None:  # closed without an answer, or an HTTP/0.9 one
            assert b"<html" not in answer.raw.lower(), (data[:200], answer.summary())
            continue
        statuses.add(answer.status)
        if answer.status >= 400:
            assert answer.headers.get("content-type") == "application/json", (data[:200], answer)
            assert json.loads(answer.body)["error"]["code"], (data[:200], answer)
    assert {400, 414} <= statuses, statuses  # the generator does reach the server's limits
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
