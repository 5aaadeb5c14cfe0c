"""Object operations: PutObject, CopyObject, GetObject, HeadObject, DeleteObject (and,
by sub-resource, the multipart upload operations)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import unquote

from flask import Response, request
from werkzeug.http import parse_date, parse_etags

from ...errors import ChecksumMismatch, FileNotFound, InvalidRequest
from ...services.buckets import ObjectPath
from ...services.checksums import ExpectedDigests
from ...services.files import Placement
from ...storage.blobs import BlobReader
from ...storage.metadata import FileRecord
from ..context import current_user, get_folders, get_service, get_settings
from . import bp
from .auth import check_bucket_reach, current_signing
from .body import S3Body, declared_size, payload_mismatch
from .common import (
    ALL_METHODS,
    OBJECT_METHODS,
    buckets,
    object_etag,
    owner,
    reach_bucket,
    refuse_methods,
    refuse_subresources,
)
from .errors import S3Error
from .multipart import multipart_operation
from .xml import E, http_date, timestamp, xml_response

_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
_MULTIPART_ARGS = ("uploads", "uploadId", "partNumber")


@bp.route("/<bucket>/<path:key>", methods=ALL_METHODS)
def object_operation(bucket: str, key: str) -> Response:
    refuse_methods(*OBJECT_METHODS)
    check_bucket_reach(bucket)
    if any(name in request.args for name in _MULTIPART_ARGS) or request.method == "POST":
        return multipart_operation(bucket, key)
    refuse_subresources(*_OVERRIDES)
    reach_bucket(bucket)
    where = _path(bucket, key)
    if request.method == "PUT":
        if "x-amz-copy-source" in request.headers:
            return _copy(where)
        return _put(where)
    if request.method == "DELETE":
        delete_key(where)
        return Response(status=204)
    return _get(where)


def _path(bucket: str, key: str) -> ObjectPath:
    try:
        return ObjectPath.of(bucket, key)
    except InvalidRequest as exc:
        if request.method in ("GET", "HEAD", "DELETE"):
            raise S3Error("NoSuchKey", "The specified key does not exist") from None
        raise S3Error("InvalidArgument", exc.message) from None


# -- PutObject ---------------------------------------------------------------------------


def _put(where: ObjectPath) -> Response:
    signing = current_signing()
    if where.name is None:  # "folder/": a folder, no file
        body = S3Body(request, signing, None, get_settings().chunk_size)
        if any(body.chunks()):
            raise S3Error("InvalidRequest", "A key ending in '/' is a folder: send no content")
        get_folders().create(owner(), where.folder)
        return Response(status=200, headers={"ETag": object_etag(None)})
    size = declared_size(request)
    service = get_service()
    if size is not None:
        if size > service.max_file_size:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        service.check_room(owner(), size, current_user())
    existing = buckets().find(owner(), where)
    if request.headers.get("If-None-Match", "").strip() == "*" and existing is not None:
        raise S3Error("PreconditionFailed", "At least one of the preconditions did not hold")
    # The file service hashes the content with SHA-256 anyway: it checks the signed
    # payload's digest with the others, before the file is stored.
    incoming = S3Body(request, signing, where.name, get_settings().chunk_size, check_payload=False)
    digests = ExpectedDigests.from_headers(None, None, request.headers.get("Content-MD5"))
    digests = digests.adding("sha256", incoming.signed_sha256)
    record = None
    try:
        if existing is not None:
            try:
                record = service.replace(owner(), existing.file_id, incoming, None, None, digests)
            except FileNotFound:
                record = None  # deleted meanwhile (before a byte was read): a new file
        if record is None:
            placement = Placement(folder=where.folder, on_conflict="replace")
            record = service.upload(owner(), incoming, digests, lambda: placement)
    except ChecksumMismatch as exc:
        if exc.algorithm == "sha256":
            raise payload_mismatch() from None
        raise
    headers = {"ETag": object_etag(record)}
    for name, value in incoming.checksums.items():
        headers[f"x-amz-checksum-{name}"] = value
    return Response(status=200, headers=headers)


# -- CopyObject --------------------------------------------------------------------------


def _copy(where: ObjectPath) -> Response:
    if where.name is None:
        raise S3Error("InvalidRequest", "Copy to a key ending in '/' (a folder) is not possible")
    source_text = unquote(request.headers["x-amz-copy-source"]).split("?versionId=")[0]
    source_bucket, _, source_key = source_text.lstrip("/").partition("/")
    check_bucket_reach(source_bucket)
    reach_bucket(source_bucket)
    try:
        source_path = ObjectPath.of(source_bucket, source_key)
    except InvalidRequest:
        raise S3Error("NoSuchKey", "The specified key does not exist") from None
    source = buckets().find(owner(), source_path)
    if source is None:
        raise S3Error("NoSuchKey", "The specified key does not exist")
    _check_conditions(source, "x-amz-copy-source-if-")
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if source_path == where and directive != "REPLACE":
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself",
        )
    placement = Placement(folder=where.folder, on_conflict="replace")
    record = get_service().copy(owner(), source.file_id, where.name, placement)
    root = E(
        "CopyObjectResult",
        E("LastModified", timestamp(record.updated_at)),
        E("ETag", object_etag(record)),
    )
    return xml_response(root)


# -- GetObject, HeadObject -----------------------------------------------------------------


def _get(where: ObjectPath) -> Response:
    record = buckets().find(owner(), where)
    if record is None:
        if where.name is None and get_folders().exists(owner(), where.folder):
            return _folder_marker()
        raise S3Error("NoSuchKey", "The specified key does not exist")
    not_modified = _check_conditions(record, "if-")
    headers = _headers(record)
    if not_modified:
        return Response(
            status=304, headers={k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}
        )
    span = _span(record)
    status, length = 200, record.file_size
    body: BlobReader | None = None
    if request.method == "GET":
        download = get_service().download(owner(), record.file_id, lambda r: _span(r), record)
        record, body, span = download.record, download.body, download.span
        headers = _headers(record)
        length = record.file_size
    if span is not None:
        status, length = 206, span[1] - span[0] + 1
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.file_size}"
    for arg, header in _OVERRIDES.items():
        if arg in request.args:
            headers[header] = request.args[arg]
    response = Response(_stream(body) if body else None, status=status, headers=headers)
    response.headers["Content-Type"] = headers["Content-Type"]
    response.headers["Content-Length"] = str(length)
    return response


def _folder_marker() -> Response:
    headers = {
        "ETag": object_etag(None),
        "Content-Type": "application/x-directory",
        "Content-Length": "0",
    }
    response = Response(b"" if request.method == "GET" else None, status=200, headers=headers)
    response.headers["Content-Length"] = "0"
    return response


def _headers(record: FileRecord) -> dict[str, str]:
    return {
        "ETag": object_etag(record),
        "Last-Modified": http_date(record.updated_at),
        "Content-Type": record.file_type,
        "Accept-Ranges": "bytes",
        # The API shares an origin with REST: nothing served here may run as a page.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "x-amz-storage-class": "STANDARD",
    }


def _check_conditions(record: FileRecord, prefix: str) -> bool:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since
    (True: not modified; for a copy source, 412) in S3's order of precedence."""
    etag = object_etag(record).strip('"')
    modified = record.updated_at.replace(microsecond=0)
    if_match = request.headers.get(prefix + "match")
    if_none_match = request.headers.get(prefix + "none-match")
    since = _date(request.headers.get(prefix + "modified-since"))
    unmodified = _date(request.headers.get(prefix + "unmodified-since"))
    failed = S3Error("PreconditionFailed", "At least one of the preconditions did not hold")
    if if_match is not None:
        if not parse_etags(if_match).contains(etag) and if_match.strip() != "*":
            raise failed
    elif unmodified is not None and modified > unmodified:
        raise failed
    stale = False
    if if_none_match is not None:
        stale = parse_etags(if_none_match).contains(etag) or if_none_match.strip() == "*"
    elif since is not None:
        stale = modified <= since
    if stale and prefix != "if-":
        raise failed
    return stale


def _date(value: str | None) -> datetime | None:
    return parse_date(value) if value else None


def _span(record: FileRecord) -> tuple[int, int] | None:
    byte_range = request.range  # None when absent or unparsable: the whole object
    if byte_range is None or byte_range.units != "bytes" or len(byte_range.ranges) != 1:
        return None
    span = byte_range.range_for_length(record.file_size)
    if span is None:
        raise S3Error(
            "InvalidRange",
            "The requested range is not satisfiable",
            Content_Range=f"bytes */{record.file_size}",
        )
    return span[0], span[1] - 1


def _stream(body: BlobReader) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        body.close()


# -- DeleteObject ----------------------------------------------------------------------------


def delete_key(where: ObjectPath) -> None:
    """Remove what a key names (every file that shares it); a missing key is no error."""
    if where.name is None:
        buckets().remove_folder_marker(owner(), where.folder)
        return
    buckets().delete_object(owner(), where)
