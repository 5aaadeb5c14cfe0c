"""Who an S3 request is: its SigV4 signature checked against the key's secret, the
clock-skew and expiry limits, the rate limit; and what the key may reach."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request

from ...services.keys import Caller
from ...services.ratelimit import RateLimiter
from ...services.users import IMPLICIT_USER
from ...storage.metadata import utcnow
from ..context import get_settings, get_users
from . import sigv4
from .errors import S3Error

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Signing:
    """How the request was signed: what the body's chunk signatures must chain from."""

    credential: sigv4.Credential | None
    key: bytes
    payload: str  # x-amz-content-sha256 (UNSIGNED-PAYLOAD for presigned URLs)

    def chunk_signer(self) -> sigv4.ChunkSigner:
        if self.credential is None:  # keys off: signatures are not checked
            raise S3Error("NotImplemented", "Signed chunks need keys on")
        return sigv4.ChunkSigner(self.key, self.credential, self.credential.signature)


def authenticate() -> None:
    """Before every S3 request: set ``g.owner``, ``g.caller`` and ``g.signing``."""
    settings = get_settings()
    presigned = "X-Amz-Credential" in request.args or "X-Amz-Signature" in request.args
    header = request.headers.get("Authorization")
    if settings.auth_enabled and not presigned and not header:
        if "AWSAccessKeyId" in request.args:
            raise S3Error(
                "AccessDenied",
                "Signature Version 2 is not supported: presign with Signature Version 4 (s3v4)",
            )
        raise S3Error("AccessDenied", "Anonymous access is not allowed: sign the request")
    declared = request.headers.get("x-amz-content-sha256")
    # Keys off: an unsigned request (curl, a browser) is as good as any.
    payload = sigv4.payload_hash_of(declared, presigned or not settings.auth_enabled)
    if not settings.auth_enabled:
        # Keys off: whatever the credentials, the request acts as the one local user;
        # the signature's format is still read (a malformed one is a clear 400).
        if presigned:
            sigv4.parse_query(request.args)
        elif header:
            sigv4.parse_header(header, _amz_date())
        g.owner, g.caller, g.signing = IMPLICIT_USER, None, Signing(None, b"", payload)
        return
    if presigned:
        credential = sigv4.parse_query(request.args)
    else:
        credential = sigv4.parse_header(header or "", _amz_date())
    caller, secret = get_users().authenticate_s3(credential.access_key_id)
    key = sigv4.signing_key(secret, credential)
    canonical = sigv4.canonical_request(
        request.method,
        request.script_root + request.path,
        request.query_string.decode("latin-1"),
        {name.lower(): value for name, value in request.headers.items()},
        credential,
        payload,
    )
    sigv4.verify(key, sigv4.string_to_sign(credential, canonical), credential.signature)
    sigv4.check_time(credential, utcnow())
    limiter: RateLimiter = current_app.extensions["filedrop.ratelimit"]
    limiter.check(f"user:{caller.user.user_id}")
    g.owner, g.caller, g.signing = caller.user.user_id, caller, Signing(credential, key, payload)


def _amz_date() -> str | None:
    return request.headers.get("x-amz-date") or None


def current_signing() -> Signing:
    signing: Signing = g.signing
    return signing


def check_bucket_reach(bucket: str | None) -> None:
    """A bucket-scoped key sees no other bucket; a read-only key writes nothing."""
    caller: Caller | None = g.get("caller")
    if caller is None:
        return
    if caller.bucket is not None and bucket is not None and bucket != caller.bucket:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist")
    if caller.read_only and request.method not in _READS:
        raise S3Error("AccessDenied", "This key is read-only")
