"""An S3 request body as the file's content: decoded (aws-chunked), and checked as it
streams against what the request declared (x-amz-content-sha256, per-chunk
signatures, x-amz-checksum-* headers or trailers). A mismatch raises before the
blob commits, so nothing is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Request

from ...validation import declared_media_type
from ..bodies import RequestBody
from . import sigv4
from .auth import Signing
from .errors import S3Error


def declared_size(req: Request) -> int | None:
    """The content's size: x-amz-decoded-content-length for aws-chunked bodies."""
    if req.headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
        raw = req.headers.get("x-amz-decoded-content-length")
        if raw is None or not raw.isdigit():
            raise S3Error("MissingContentLength", "x-amz-decoded-content-length is required")
        return int(raw)
    return req.content_length


def payload_mismatch() -> S3Error:
    return S3Error(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed",
    )


class S3Body:
    """:class:`filedrop.services.files.Incoming` for PutObject and UploadPart."""

    def __init__(
        self,
        req: Request,
        signing: Signing,
        file_name: str | None,
        chunk_size: int,
        check_payload: bool = True,
    ) -> None:
        """``check_payload`` False: the caller checks :attr:`signed_sha256` against the
        content itself (the file service hashes every upload anyway)."""
        self._req = req
        self._check_payload = check_payload
        self._signing = signing
        self._chunk_size = chunk_size
        self.file_name = file_name
        self.fallback_name: str | None = None
        self.declared_type = declared_media_type(req.headers.get("Content-Type"))
        self._size = declared_size(req)
        self._checksums = self._declared_checksums()
        self.checksums: dict[str, str] = {}  # computed, base64, for the response headers

    @property
    def signed_sha256(self) -> bytes | None:
        """The content's SHA-256 that the signature covers, if the payload is signed so."""
        payload = self._signing.payload
        return bytes.fromhex(payload) if len(payload) == 64 else None

    def _declared_checksums(self) -> dict[str, str | None]:
        """Algorithm -> the base64 value sent (None: it comes as a trailer)."""
        wanted: dict[str, str | None] = {}
        for header, algorithm in sigv4.CHECKSUM_HEADERS.items():
            value = self._req.headers.get(header)
            if value is not None:
                wanted[algorithm] = value.strip()
        for name in self._req.headers.get("x-amz-trailer", "").split(","):
            trailed = sigv4.CHECKSUM_HEADERS.get(name.strip().lower())
            if trailed is not None:
                wanted.setdefault(trailed, None)
            elif name.strip():
                raise S3Error("InvalidRequest", f"Unsupported trailer {name.strip()}")
        return wanted

    def chunks(self) -> Iterator[bytes]:
        payload = self._signing.payload
        raw = RequestBody.of(self._req)
        decoder = None
        if payload == sigv4.STREAMING_SIGNED_TRAILER:
            raise S3Error("NotImplemented", "Signed trailers are not supported; sign chunks only")
        if payload in sigv4.STREAMING:
            if self._signing.credential is None:
                signer = None  # keys off: nothing to check the chunks against
            else:
                signer = self._signing.chunk_signer() if payload == sigv4.STREAMING_SIGNED else None
            decoder = sigv4.AwsChunkedDecoder(raw, self._chunk_size, signer)
            source: Iterator[bytes] = decoder.chunks()
        else:
            source = iter(lambda: raw.read(self._chunk_size), b"")
        content_sha = hashlib.sha256() if self._check_payload and len(payload) == 64 else None
        digests = {name: sigv4.new_checksum(name) for name in self._checksums}
        size = 0
        for chunk in source:
            size += len(chunk)
            if self._size is not None and size > self._size:
                raise S3Error("IncompleteBody", f"The body holds more than {self._size} bytes")
            if content_sha is not None:
                content_sha.update(chunk)
            for digest in digests.values():
                digest.update(chunk)
            yield chunk
        if self._size is not None and size != self._size:
            raise S3Error("IncompleteBody", f"The body held {size} of {self._size} bytes")
        if content_sha is not None and content_sha.hexdigest() != payload:
            raise payload_mismatch()
        trailers = decoder.trailers if decoder else {}
        for name, digest in digests.items():
            expected = self._checksums[name] or trailers.get(f"x-amz-checksum-{name}")
            computed = sigv4.b64(digest.digest())
            if expected is None:
                raise S3Error("InvalidRequest", f"The x-amz-checksum-{name} trailer is missing")
            if expected != computed:
                raise S3Error(
                    "BadDigest",
                    f"The {name.upper()} you specified did not match the calculated checksum",
                )
            self.checksums[name] = computed
