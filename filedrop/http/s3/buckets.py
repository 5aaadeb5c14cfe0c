"""Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
GetBucketLocation, ListObjects (v1 and v2) and DeleteObjects."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Response, request

from ...errors import FileDropError, FolderNotFound
from ...services.buckets import Entry, ObjectPath
from ...services.keys import is_bucket_name
from ..context import current_caller
from . import bp
from .auth import check_bucket_reach
from .common import (
    ALL_METHODS,
    OBJECT_METHODS,
    REGION,
    buckets,
    object_etag,
    owner,
    reach_bucket,
    refuse_methods,
    refuse_subresources,
)
from .errors import S3Error, s3_error
from .multipart import list_uploads
from .objects import delete_key
from .xml import E, read_document, timestamp, xml_response

Encoder = Callable[[str], str]
MAX_KEYS = 1000
MAX_DELETE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # bucket creation times are not kept


@bp.route("/", strict_slashes=False, methods=ALL_METHODS)
def list_buckets() -> Response:
    refuse_methods("GET", "HEAD")
    refuse_subresources()
    caller = current_caller()
    names = buckets().names(owner(), caller.bucket if caller else None)
    root = E(
        "ListAllMyBucketsResult",
        _owner(),
        E(
            "Buckets",
            (E("Bucket", E("Name", n), E("CreationDate", timestamp(_EPOCH))) for n in names),
        ),
    )
    return xml_response(root)


@bp.route("/<bucket>", methods=ALL_METHODS)
@bp.route("/<bucket>/", methods=ALL_METHODS)
def bucket_operation(bucket: str) -> Response:
    refuse_methods(*OBJECT_METHODS)
    method = request.method
    if method == "PUT":
        return _create(bucket)
    check_bucket_reach(bucket)
    if method == "POST":
        refuse_subresources("delete")
        if "delete" not in request.args:
            raise S3Error("NotImplemented", "POST to a bucket is DeleteObjects (?delete) only")
        return _delete_objects(bucket)
    if method == "DELETE":
        refuse_subresources()
        try:
            buckets().delete(owner(), bucket)
        except FolderNotFound:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist") from None
        except FileDropError as exc:
            if exc.code == "INVALID_REQUEST":
                raise S3Error("NoSuchBucket", "The specified bucket does not exist") from None
            raise
        return Response(status=204)
    reach_bucket(bucket)
    if method == "HEAD":
        refuse_subresources()
        return Response(status=200, headers={"x-amz-bucket-region": REGION})
    if "location" in request.args:
        refuse_subresources("location")
        return xml_response(E("LocationConstraint"))
    if "versioning" in request.args:
        refuse_subresources("versioning")
        return xml_response(E("VersioningConfiguration"))
    if "uploads" in request.args:
        return list_uploads(bucket)
    refuse_subresources(
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "continuation-token",
        "start-after",
        "fetch-owner",
    )
    if request.args.get("list-type") == "2":
        return _list_v2(bucket)
    return _list_v1(bucket)


def _create(bucket: str) -> Response:
    refuse_subresources()
    check_bucket_reach(bucket)
    if not is_bucket_name(bucket):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid")
    # A CreateBucketConfiguration (the region) may come along: read it, keep nothing.
    if request.content_length:
        read_document(request)
    if not buckets().create(owner(), bucket):
        raise S3Error(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it",
        )
    return Response(status=200, headers={"Location": f"/{bucket}"})


# -- listing ---------------------------------------------------------------------------


class _Page:
    """One page of a listing: its contents and common prefixes, and where it stopped."""

    def __init__(self, bucket: str, prefix: str, delimiter: str, after: str, limit: int) -> None:
        self.contents: list[Entry] = []
        self.prefixes: list[str] = []
        self.truncated = False
        self.last = ""
        entries = buckets().entries(owner(), bucket, prefix)
        for entry in entries:
            if entry.key <= after:
                continue
            common = None
            if delimiter:
                cut = entry.key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = entry.key[: cut + len(delimiter)]
                    if common <= after or after.startswith(common):
                        continue
                    if self.prefixes and self.prefixes[-1] == common:
                        continue
            if len(self.contents) + len(self.prefixes) >= limit:
                self.truncated = True
                return
            if common is not None:
                self.prefixes.append(common)
                self.last = common
            else:
                self.contents.append(entry)
                self.last = entry.key


def _listing_args() -> tuple[str, str, int, bool]:
    prefix = request.args.get("prefix", "")
    delimiter = request.args.get("delimiter", "")
    raw = request.args.get("max-keys", str(MAX_KEYS))
    if not raw.isdigit():
        raise S3Error("InvalidArgument", "max-keys must be a number from 0")
    encoding = request.args.get("encoding-type")
    if encoding not in (None, "url"):
        raise S3Error("InvalidArgument", "encoding-type must be url")
    return prefix, delimiter, min(int(raw), MAX_KEYS), encoding == "url"


def _list_v2(bucket: str) -> Response:
    prefix, delimiter, limit, url = _listing_args()
    token = request.args.get("continuation-token")
    start_after = request.args.get("start-after", "")
    after = max(_decode_token(token), start_after) if token else start_after
    page = _Page(bucket, prefix, delimiter, after, limit)
    fetch_owner = request.args.get("fetch-owner") == "true"
    enc = _encoder(url)
    root = E(
        "ListBucketResult",
        E("Name", bucket),
        E("Prefix", enc(prefix)),
        E("Delimiter", enc(delimiter)) if delimiter else None,
        E("MaxKeys", limit),
        E("KeyCount", len(page.contents) + len(page.prefixes)),
        E("IsTruncated", page.truncated),
        E("EncodingType", "url") if url else None,
        E("ContinuationToken", token) if token else None,
        E("NextContinuationToken", _encode_token(page.last)) if page.truncated else None,
        E("StartAfter", enc(start_after)) if start_after else None,
        (_content(entry, enc, fetch_owner) for entry in page.contents),
        (E("CommonPrefixes", E("Prefix", enc(p))) for p in page.prefixes),
    )
    return xml_response(root)


def _list_v1(bucket: str) -> Response:
    prefix, delimiter, limit, url = _listing_args()
    marker = request.args.get("marker", "")
    page = _Page(bucket, prefix, delimiter, marker, limit)
    enc = _encoder(url)
    root = E(
        "ListBucketResult",
        E("Name", bucket),
        E("Prefix", enc(prefix)),
        E("Marker", enc(marker)),
        E("NextMarker", enc(page.last)) if page.truncated and delimiter else None,
        E("MaxKeys", limit),
        E("Delimiter", enc(delimiter)) if delimiter else None,
        E("IsTruncated", page.truncated),
        E("EncodingType", "url") if url else None,
        (_content(entry, enc, True) for entry in page.contents),
        (E("CommonPrefixes", E("Prefix", enc(p))) for p in page.prefixes),
    )
    return xml_response(root)


def _content(entry: Entry, enc: Encoder, with_owner: bool) -> ET.Element:
    record = entry.record
    return E(
        "Contents",
        E("Key", enc(entry.key)),
        E("LastModified", timestamp(record.updated_at if record else _EPOCH)),
        E("ETag", object_etag(record)),
        E("Size", record.file_size if record else 0),
        E("StorageClass", "STANDARD"),
        _owner() if with_owner else None,
    )


def _owner() -> ET.Element:
    return E("Owner", E("ID", owner()), E("DisplayName", owner()))


def _encoder(url: bool) -> Encoder:
    return (lambda text: quote(text, safe="/")) if url else (lambda text: text)


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogateescape")).decode()


def _decode_token(token: str) -> str:
    try:
        key = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        if not key:
            raise ValueError(token)
        return key.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from None


# -- DeleteObjects ---------------------------------------------------------------------


def _delete_objects(bucket: str) -> Response:
    reach_bucket(bucket)
    root = read_document(request)
    if root.tag != "Delete":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed")
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    keys = [node.findtext("Key") for node in root.findall("Object")]
    if not keys or len(keys) > MAX_DELETE or any(k is None for k in keys):
        raise S3Error("MalformedXML", f"Name 1 to {MAX_DELETE} objects, each with a Key")
    results = []
    for key in keys:
        assert key is not None
        try:
            delete_key(ObjectPath.of(bucket, key))
            if not quiet:
                results.append(E("Deleted", E("Key", key)))
        except FileDropError as exc:
            error = s3_error(exc)
            results.append(
                E("Error", E("Key", key), E("Code", error.s3_code), E("Message", error.message))
            )
    return xml_response(E("DeleteResult", results))
