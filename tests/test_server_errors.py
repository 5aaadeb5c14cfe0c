"""Requests the HTTP server refuses before the app sees them (a request line or a
header past its limits, a line that is not HTTP) still get SPEC §2's JSON error,
never the server's own HTML page. Checked on raw sockets against gunicorn as
configured (both worker classes) and against ``python app.py``."""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests import live, servers


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes


def send_raw(url: str, data: bytes, timeout: float = 10) -> Raw:
    """Send ``data`` as it is and read the answer until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # It may answer and close before reading everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = _content_length(head)
            if length is not None and len(body) >= length:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split()[1]), headers, body)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


def assert_json_error(answer: Raw, status: int, code: str) -> None:
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


@pytest.fixture(scope="module", params=["gevent", "gthread"])
def gunicorn_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """gunicorn as configured, in embedded mode (no servers needed)."""
    work = tmp_path_factory.mktemp(f"gunicorn-{request.param}")
    settings = {"DATA_DIR": str(work / "data"), "GUNICORN_WORKER_CLASS": request.param}
    app = live.start_gunicorn(settings, work / "gunicorn.log", ["-w", "1"])
    try:
        yield app.url
    finally:
        app.stop()


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (LONG_LINE, 414, "URI_TOO_LONG"),
        (NOT_HTTP, 400, "INVALID_REQUEST"),
        (BIG_HEADER, 431, "HEADERS_TOO_LARGE"),
        (MANY_HEADERS, 431, "HEADERS_TOO_LARGE"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, "INVALID_REQUEST"),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "INVALID_REQUEST"),
    ],
    ids=["long-line", "not-http", "big-header", "many-headers", "bad-header-name", "bad-version"],
)
def test_gunicorn_refuses_in_json(gunicorn_url: str, data: bytes, status: int, code: str) -> None:
    assert_json_error(send_raw(gunicorn_url, data), status, code)
    # The worker is fine afterwards.
    assert requests.get(f"{gunicorn_url}/healthz", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def dev_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py``, the README's local command, in embedded mode."""
    work = tmp_path_factory.mktemp("dev-server")
    port = servers.free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(DATA_DIR=str(work / "data"), PORT=str(port))
    with open(work / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=live.REPO_ROOT, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (work / "server.log").read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "python app.py did not answer within 30 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (LONG_LINE, 414, "URI_TOO_LONG"),
        (NOT_HTTP, 400, "INVALID_REQUEST"),
        (BIG_HEADER, 431, "HEADERS_TOO_LARGE"),
        (MANY_HEADERS, 431, "HEADERS_TOO_LARGE"),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED"),
    ],
    ids=["long-line", "not-http", "big-header", "many-headers", "bad-version"],
)
def test_dev_server_refuses_in_json(
    dev_server_url: str, data: bytes, status: int, code: str
) -> None:
    assert_json_error(send_raw(dev_server_url, data), status, code)
    assert requests.get(f"{dev_server_url}/healthz", timeout=5).status_code == 200


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
                rng.choice(paths) + b"?q=" + b"z" * rng.choice([0, 9000]),
                rng.choice(versions),
            ]
        )
        headers = [b"Host: x", *rng.sample(bad_headers, rng.randint(0, 3))]
        yield line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


def test_gunicorn_answers_every_malformed_request_in_json(gunicorn_url: str) -> None:
    """Seeded and bounded: whatever gunicorn or the app answers with an error
    status is JSON; a connection may also just be closed."""
    statuses: set[int] = set()
    for data in _malformed_requests(150, seed=6):
        try:
            answer = send_raw(gunicorn_url, data, timeout=5)
        except (ValueError, IndexError):
            continue  # closed without an answer: nothing to check
        statuses.add(answer.status)
        if answer.status >= 400:
            assert answer.headers.get("content-type") == "application/json", (data[:200], answer)
            assert json.loads(answer.body)["error"]["code"], (data[:200], answer)
    assert {400, 414} <= statuses, statuses  # the generator does reach the server's limits
    assert requests.get(f"{gunicorn_url}/healthz", timeout=5).status_code == 200
