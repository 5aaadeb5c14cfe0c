"""Requests signed the SigV4 way by botocore's own signer (and, for streaming bodies,
chunk signatures and aws-chunked bodies built as the AWS SDKs build them)."""

from __future__ import annotations

import hashlib
import hmac
import io
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum


class Signer(S3SigV4Auth):
    """botocore's S3 signer, with the x-amz-content-sha256 mode chosen by the test."""

    def __init__(self, credentials: Credentials, payload: str | None) -> None:
        super().__init__(credentials, "s3", "us-east-1")
        self._payload = payload

    def payload(self, request: Any) -> str:
        return self._payload or str(super().payload(request))


def signed_headers(
    credentials: Credentials,
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    payload: str | None = None,
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    Signer(credentials, payload).add_auth(request)
    return dict(request.headers.items())


def chunk_signature(keys: Credentials, amz_date: str, previous: str, data: bytes) -> str:
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            amz_date,
            scope,
            previous,
            hashlib.sha256(b"").hexdigest(),
            hashlib.sha256(data).hexdigest(),
        ]
    )
    key = ("AWS4" + keys.secret_key).encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed_chunks(
    keys: Credentials, url: str, chunks: list[bytes], tamper: int | None = None
) -> tuple[dict[str, str], bytes]:
    size = sum(map(len, chunks))
    headers = signed_headers(
        keys,
        "PUT",
        url,
        headers={
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(size),
        },
        payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    )
    amz_date = headers["X-Amz-Date"]
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for index, chunk in enumerate([*chunks, b""]):
        signature = chunk_signature(keys, amz_date, previous, chunk)
        previous = signature
        sent = chunk.upper() if index == tamper else chunk
        body += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
    return headers, body


def trailer_body(content: bytes, checksum: Any = Crc32Checksum, name: str = "crc32") -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(content), checksum_cls=checksum, checksum_name=f"x-amz-checksum-{name}"
    )
    return bytes(wrapper.read())


def trailer_headers(keys: Credentials, url: str, size: int, name: str = "crc32") -> dict[str, str]:
    """A PUT of ``size`` bytes as STREAMING-UNSIGNED-PAYLOAD-TRAILER with a checksum trailer."""
    return signed_headers(
        keys,
        "PUT",
        url,
        headers={
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(size),
            "x-amz-trailer": f"x-amz-checksum-{name}",
        },
        payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
