"""Small helpers shared by the tests."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests import servers


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


class Generated(io.RawIOBase):
    """``size`` deterministic bytes, produced as read (a 1 GiB upload holds none of them).

    A block of a size that is no power of two repeats, so parts and chunks never line
    up with it and a shifted or repeated byte range changes the hash.
    """

    BLOCK = 1024**2 + 13

    def __init__(self, size: int, seed: int = 0) -> None:
        self._size = size
        self._block = pattern(self.BLOCK, seed)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        out = bytearray()
        while self._pos < end:
            start = self._pos % self.BLOCK
            take = min(self.BLOCK - start, end - self._pos)
            out += self._block[start : start + take]
            self._pos += take
        return bytes(out)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        self.seek(0)
        while chunk := self.read(8 * 1024**2):
            digest.update(chunk)
        self.seek(0)
        return digest.hexdigest()

    def bytes(self) -> bytes:
        self.seek(0)
        data = self.read()
        self.seek(0)
        return data


def require_binaries(*classes: type[servers.ServerProcess]) -> None:
    """Skip unless every server is built; conftest turns the skip into a failure
    under FILEDROP_REQUIRE_SERVERS=1, as CI runs."""
    for cls in classes:
        if cls.find_binary() is None:
            pytest.skip(f"{cls.name} is not available (run scripts/build-servers.sh)")


# -- raw sockets: what a real HTTP server answers to bytes sent as they are ---------


@dataclass
class RawReply:
    """An answer as it came off the socket (no status line: an HTTP/0.9 answer, or none)."""

    raw: bytes
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def parse(cls, raw: bytes) -> RawReply:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        match = re.match(r"^HTTP/\d\.\d (\d{3})", lines[0])
        if not match:
            return cls(raw)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(raw, int(match.group(1)), headers, body)

    def summary(self) -> str:
        if self.status is None:
            return f"no status line: {self.raw[:60]!r}"
        kind = self.headers.get("content-type", "-")
        return f"{self.status} {kind} {self.body[:70]!r}"


def exchange(address: tuple[str, int], payload: bytes, timeout: float = 10.0) -> RawReply:
    """Send ``payload`` as it is, close our side, read until the server closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may hang up before taking it all
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        received = b""
        with contextlib.suppress(OSError):  # reset by peer, or the timeout
            while chunk := sock.recv(65536):
                received += chunk
    return RawReply.parse(received)
