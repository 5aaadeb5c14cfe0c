"""AWS Signature Version 4 as S3 uses it: the Authorization header, presigned query
strings, and the aws-chunked body with per-chunk signatures or trailing checksums.

Pure functions over what the request carried; nothing here knows Flask. Every
comparison of signatures is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote, unquote

import crc32c

from .errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CREDENTIAL = re.compile(r"^([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request$")
_SPACES = re.compile(r" +")
_MAX_CHUNK_HEADER = 4096
_MAX_TRAILER = 4096
MAX_SIGNED_CHUNK = 16 * 1024**2


@dataclass(frozen=True)
class Credential:
    """What a request claims: who signed it, when, for which scope, and the signature."""

    access_key_id: str
    date: str  # YYYYMMDD of the scope
    region: str
    service: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @property
    def moment(self) -> datetime:
        try:
            return datetime.strptime(self.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise S3Error("AccessDenied", "X-Amz-Date is not a valid date") from None


def parse_header(authorization: str, amz_date: str | None) -> Credential:
    """``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``."""
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error("InvalidRequest", f"Only {ALGORITHM} (Signature Version 4) is supported")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields) or not amz_date:
        raise S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed")
    return _credential(
        fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, False
    )


def parse_query(args: Mapping[str, str]) -> Credential:
    """The ``X-Amz-*`` parameters of a presigned URL."""
    if args.get("X-Amz-Algorithm") != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}")
    needed = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
    if any(not args.get(name) for name in needed):
        raise S3Error(
            "AuthorizationQueryParametersError",
            "A presigned URL needs X-Amz-Credential, -Date, -SignedHeaders, -Signature",
        )
    raw_expires = args.get("X-Amz-Expires", "")
    if not raw_expires.isdigit() or not 1 <= int(raw_expires) <= MAX_PRESIGNED_EXPIRES:
        raise S3Error(
            "AuthorizationQueryParametersError",
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}",
        )
    credential = _credential(
        args["X-Amz-Credential"],
        args["X-Amz-SignedHeaders"],
        args["X-Amz-Signature"],
        args["X-Amz-Date"],
        True,
    )
    return Credential(**{**credential.__dict__, "expires": int(raw_expires)})


def _credential(
    raw: str, signed_headers: str, signature: str, amz_date: str, presigned: bool
) -> Credential:
    match = _CREDENTIAL.match(raw.strip())
    if not match:
        raise S3Error("AuthorizationHeaderMalformed", "The credential scope is malformed")
    headers = tuple(h for h in signed_headers.strip().lower().split(";") if h)
    if "host" not in headers:
        raise S3Error("AccessDenied", "The host header must be signed")
    return Credential(
        access_key_id=match.group(1),
        date=match.group(2),
        region=match.group(3),
        service=match.group(4),
        amz_date=amz_date.strip(),
        signed_headers=headers,
        signature=signature.strip().lower(),
        presigned=presigned,
    )


def check_time(credential: Credential, now: datetime) -> None:
    """Refuse a stale or future header signature, an expired URL, a mismatched scope."""
    moment = credential.moment
    if credential.amz_date[:8] != credential.date or credential.service != "s3":
        raise S3Error("SignatureDoesNotMatch", "The credential scope does not match the request")
    if credential.presigned:
        assert credential.expires is not None
        if moment - MAX_SKEW > now:
            raise S3Error("AccessDenied", "The presigned URL is not valid yet")
        if now > moment + timedelta(seconds=credential.expires):
            raise S3Error("AccessDenied", "Request has expired")
    elif abs(now - moment) > MAX_SKEW:
        raise S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large",
        )


def signing_key(secret: str, credential: Credential) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (credential.date, credential.region, credential.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _uri_encode(text: str, safe: str) -> str:
    return quote(text, safe=safe, encoding="utf-8", errors="surrogateescape")


def canonical_query(raw_query: str, presigned: bool) -> str:
    """Every parameter (but the signature of a presigned URL), decoded and re-encoded
    the one SigV4 way, sorted."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name = unquote(name.replace("+", " "))
        if presigned and name == "X-Amz-Signature":
            continue
        value = unquote(value.replace("+", " "))
        pairs.append((_uri_encode(name, "-_.~"), _uri_encode(value, "-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_request(
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    credential: Credential,
    payload_hash: str,
) -> str:
    """``path`` is the decoded request path; S3 encodes it once, keeping ``/``."""
    lines = []
    for name in credential.signed_headers:
        value = headers.get(name)
        if value is None:
            raise S3Error("AccessDenied", f"The signed header {name} is missing")
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    return "\n".join(
        [
            method,
            _uri_encode(path, "/~"),
            canonical_query(raw_query, credential.presigned),
            "".join(lines),
            ";".join(credential.signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(credential: Credential, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{credential.amz_date}\n{credential.scope}\n{digest}"


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def verify(key: bytes, text: str, signature: str) -> None:
    if not hmac.compare_digest(sign(key, text).encode(), signature.encode()):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided",
        )


def payload_hash_of(header: str | None, presigned: bool) -> str:
    """What ``x-amz-content-sha256`` declares (a presigned URL may leave it out)."""
    if header is None:
        if presigned:
            return UNSIGNED
        raise S3Error("InvalidRequest", "Missing required header x-amz-content-sha256")
    value = header.strip()
    if value in (UNSIGNED, *STREAMING) or _HEX64.match(value):
        return value
    raise S3Error("InvalidArgument", "x-amz-content-sha256 must be a SHA-256 or a known mode")


# -- checksums ------------------------------------------------------------------------


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, step: Callable[[bytes, int], int]) -> None:
        self._step = step
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._step(data, self._value)

    def digest(self) -> bytes:
        return (self._value & 0xFFFFFFFF).to_bytes(4, "big")


def _crc32(data: bytes, value: int) -> int:
    return zlib.crc32(data, value)


def _crc32c(data: bytes, value: int) -> int:
    return int(crc32c.crc32c(data, value))


_CHECKSUMS: dict[str, Callable[[], _Digest]] = {
    "crc32": lambda: _Crc(_crc32),
    "crc32c": lambda: _Crc(_crc32c),
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
CHECKSUM_HEADERS = {f"x-amz-checksum-{name}": name for name in _CHECKSUMS}


def new_checksum(algorithm: str) -> _Digest:
    return _CHECKSUMS[algorithm]()


# -- the aws-chunked body -------------------------------------------------------------


class Reader(Protocol):
    def read(self, size: int) -> bytes: ...


class ChunkSigner:
    """The running signature chain of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body."""

    def __init__(self, key: bytes, credential: Credential, seed_signature: str) -> None:
        self._key = key
        self._credential = credential
        self.previous = seed_signature

    def check(self, chunk_hash: str, signature: str) -> None:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self._credential.amz_date,
                self._credential.scope,
                self.previous,
                EMPTY_SHA256,
                chunk_hash,
            ]
        )
        try:
            verify(self._key, text, signature)
        except S3Error:
            raise S3Error(
                "SignatureDoesNotMatch", "A chunk's signature does not match its content"
            ) from None
        self.previous = signature


class AwsChunkedDecoder:
    """Decodes ``hex-size[;chunk-signature=…]\\r\\n data \\r\\n … 0…\\r\\n trailers \\r\\n``
    as it streams, never holding more than a read's worth (and one chunk header).

    With a ``signer`` each chunk's signature is checked before its data is handed on;
    the trailing headers (``x-amz-checksum-*``) are collected in ``trailers``.
    """

    def __init__(self, stream: Reader, read_size: int, signer: ChunkSigner | None) -> None:
        self._stream = stream
        self._read_size = read_size
        self._signer = signer
        # What was read and not yet decoded is _buffer[_pos:]: taking from it moves _pos,
        # never copies the rest (chunks are 64 KiB for the AWS SDKs, reads 1 MiB).
        self._buffer = bytearray()
        self._pos = 0
        self.trailers: dict[str, str] = {}

    def _fill(self) -> bool:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        more = self._stream.read(self._read_size)
        self._buffer += more
        return bool(more)

    def _line(self, limit: int) -> bytes:
        while (end := self._buffer.find(b"\r\n", self._pos)) < 0:
            if len(self._buffer) - self._pos > limit or not self._fill():
                raise S3Error("IncompleteBody", "The aws-chunked body is malformed or cut short")
        line = bytes(self._buffer[self._pos : end])
        self._pos = end + 2
        return line

    def _take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of data (at least one), copied once."""
        if self._pos == len(self._buffer):
            if limit >= self._read_size:  # nothing buffered: read straight into the piece
                piece = self._stream.read(self._read_size)
                if not piece:
                    raise S3Error("IncompleteBody", "The aws-chunked body ended inside a chunk")
                return piece
            if not self._fill():
                raise S3Error("IncompleteBody", "The aws-chunked body ended inside a chunk")
        end = min(len(self._buffer), self._pos + limit)
        with memoryview(self._buffer) as view:
            piece = view[self._pos : end].tobytes()
        self._pos = end
        return piece

    def chunks(self) -> Iterator[bytes]:
        while True:
            header = self._line(_MAX_CHUNK_HEADER).decode("latin-1")
            size_text, _, extension = header.partition(";")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                raise S3Error("IncompleteBody", "An aws-chunked chunk size is not hex") from None
            if size < 0:
                raise S3Error("IncompleteBody", "An aws-chunked chunk size is negative")
            signature = None
            name, _, value = extension.partition("=")
            if name.strip() == "chunk-signature":
                signature = value.strip()
            if self._signer is not None and signature is None:
                raise S3Error("SignatureDoesNotMatch", "A chunk carries no chunk-signature")
            hasher = hashlib.sha256() if self._signer is not None else None
            pending: list[bytes] = []
            if hasher is not None and size > MAX_SIGNED_CHUNK:
                raise S3Error("InvalidArgument", "Signed chunks may hold at most 16 MiB")
            remaining = size
            # A signed chunk is handed on only once its signature checks out: hold it
            # (its size is the client's chunk size, 64 KiB for the AWS SDKs; capped below).
            while remaining:
                piece = self._take(remaining)
                remaining -= len(piece)
                if hasher is None:
                    yield piece
                else:
                    hasher.update(piece)
                    pending.append(piece)
            if self._signer is not None and hasher is not None:
                assert signature is not None
                self._signer.check(hasher.hexdigest(), signature)
                yield from pending
            if size == 0:
                self._read_trailers()
                return
            if self._line(2) != b"":
                raise S3Error("IncompleteBody", "An aws-chunked chunk does not end with CRLF")

    def _read_trailers(self) -> None:
        total = 0
        while True:
            line = self._line(_MAX_TRAILER)
            total += len(line)
            if not line or total > _MAX_TRAILER:
                return
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
