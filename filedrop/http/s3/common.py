"""What the S3 routes share: the caller, the services, reaching a bucket."""

from __future__ import annotations

import hashlib

from flask import request

from ...services.buckets import BucketService
from ...storage.metadata import FileRecord
from ..context import current_owner, get_buckets
from .auth import check_bucket_reach
from .errors import S3Error

REGION = "us-east-1"
OBJECT_METHODS = ("GET", "HEAD", "PUT", "DELETE", "POST")
# Every route takes every method, so a wrong one gets S3's XML error, not the REST one.
ALL_METHODS = [*OBJECT_METHODS, "PATCH", "TRACE", "CONNECT"]
_SUBRESOURCES_IGNORED = frozenset({"encoding-type", "x-id"})
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def owner() -> str:
    return current_owner()


def buckets() -> BucketService:
    return get_buckets()


def reach_bucket(bucket: str) -> None:
    """The bucket must be the caller's to see and exist (NoSuchBucket otherwise)."""
    check_bucket_reach(bucket)
    if not buckets().exists(owner(), bucket):
        raise S3Error("NoSuchBucket", "The specified bucket does not exist")


def refuse_methods(*allowed: str) -> None:
    if request.method not in allowed:
        raise S3Error("MethodNotAllowed", "The method is not allowed against this resource")


def refuse_subresources(*supported: str) -> None:
    """An operation this API does not implement (``?acl``, ``?tagging``…): NotImplemented."""
    for name in request.args:
        if name.startswith(("X-Amz-", "response-")) or name in _SUBRESOURCES_IGNORED:
            continue
        if name not in supported:
            raise S3Error("NotImplemented", f"The {name!r} sub-resource is not implemented")


def object_etag(record: FileRecord | None) -> str:
    """S3's ETag: the MD5 (or multipart form) kept with the file; for files stored
    before it was kept, a stable stand-in from the SHA-256."""
    if record is None:
        return f'"{EMPTY_MD5}"'
    return f'"{record.md5_etag or record.sha256[:32]}"'
