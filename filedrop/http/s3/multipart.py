"""Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts and ListMultipartUploads."""

from __future__ import annotations

from flask import Response, current_app, request

from ...errors import InvalidRequest
from ...services.buckets import ObjectPath
from ...services.multipart import MultipartService, Target
from ...storage.metadata import MultipartRecord
from ...validation import declared_media_type
from ..context import current_user, get_settings
from .auth import current_signing
from .body import S3Body, declared_size
from .common import object_etag, owner, reach_bucket, refuse_subresources
from .errors import S3Error
from .xml import E, read_document, timestamp, xml_response

MAX_PARTS_LISTED = 1000


def get_multipart() -> MultipartService:
    service: MultipartService = current_app.extensions["filedrop.multipart"]
    return service


def multipart_operation(bucket: str, key: str) -> Response:
    reach_bucket(bucket)
    target = _target(bucket, key)
    method = request.method
    if method == "POST" and "uploads" in request.args:
        refuse_subresources("uploads")
        return _create(target)
    upload_id = request.args.get("uploadId")
    if upload_id is None:
        raise S3Error("NotImplemented", "This operation is not implemented")
    upload = get_multipart().get(owner(), upload_id, target)
    if method == "PUT":
        refuse_subresources("uploadId", "partNumber")
        return _upload_part(upload)
    if method == "POST":
        refuse_subresources("uploadId")
        return _complete(upload)
    if method == "DELETE":
        refuse_subresources("uploadId")
        get_multipart().abort(upload)
        return Response(status=204)
    refuse_subresources("uploadId", "max-parts", "part-number-marker")
    return _list_parts(upload)


def _target(bucket: str, key: str) -> Target:
    try:
        where = ObjectPath.of(bucket, key)
    except InvalidRequest as exc:
        raise S3Error("InvalidArgument", exc.message) from None
    if where.name is None:
        raise S3Error("InvalidArgument", "A key ending in '/' is a folder, not a file")
    return Target(bucket, key, where.folder, where.name)


def _create(target: Target) -> Response:
    content_type = declared_media_type(request.headers.get("Content-Type"))
    upload = get_multipart().create(owner(), target, content_type)
    root = E(
        "InitiateMultipartUploadResult",
        E("Bucket", target.bucket),
        E("Key", target.key),
        E("UploadId", upload.upload_id),
    )
    return xml_response(root)


def _upload_part(upload: MultipartRecord) -> Response:
    if "x-amz-copy-source" in request.headers:
        raise S3Error("NotImplemented", "UploadPartCopy is not implemented")
    raw = request.args.get("partNumber", "")
    if not raw.isdigit():
        raise S3Error("InvalidArgument", "partNumber must be a number from 1 to 10000")
    size = declared_size(request)
    if size is None:
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header")
    body = S3Body(request, current_signing(), None, get_settings().chunk_size)
    part = get_multipart().upload_part(upload, int(raw), body.chunks(), size, current_user())
    headers = {"ETag": f'"{part.md5}"'}
    for name, value in body.checksums.items():
        headers[f"x-amz-checksum-{name}"] = value
    return Response(status=200, headers=headers)


def _complete(upload: MultipartRecord) -> Response:
    root = read_document(request)
    if root.tag != "CompleteMultipartUpload":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed")
    chosen = []
    for node in root.findall("Part"):
        number, etag = node.findtext("PartNumber"), node.findtext("ETag")
        if number is None or not number.strip().isdigit() or etag is None:
            raise S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag")
        chosen.append((int(number), etag))
    record = get_multipart().complete(upload, chosen)
    result = E(
        "CompleteMultipartUploadResult",
        E("Location", f"{request.host_url.rstrip('/')}/s3/{upload.bucket}/{upload.key}"),
        E("Bucket", upload.bucket),
        E("Key", upload.key),
        E("ETag", object_etag(record)),
    )
    return xml_response(result)


def _list_parts(upload: MultipartRecord) -> Response:
    limit = _number("max-parts", MAX_PARTS_LISTED)
    marker = _number("part-number-marker", 0)
    parts = [part for part in get_multipart().parts(upload) if part.number > marker]
    shown, truncated = parts[:limit], len(parts) > limit
    root = E(
        "ListPartsResult",
        E("Bucket", upload.bucket),
        E("Key", upload.key),
        E("UploadId", upload.upload_id),
        E("PartNumberMarker", marker),
        E("NextPartNumberMarker", shown[-1].number) if truncated else None,
        E("MaxParts", limit),
        E("IsTruncated", truncated),
        E("StorageClass", "STANDARD"),
        (
            E(
                "Part",
                E("PartNumber", p.number),
                E("LastModified", timestamp(p.uploaded_at)),
                E("ETag", f'"{p.md5}"'),
                E("Size", p.size),
            )
            for p in shown
        ),
    )
    return xml_response(root)


def list_uploads(bucket: str) -> Response:
    refuse_subresources(
        "uploads", "prefix", "delimiter", "max-uploads", "key-marker", "upload-id-marker"
    )
    prefix = request.args.get("prefix", "")
    uploads = [u for u in get_multipart().in_bucket(owner(), bucket) if u.key.startswith(prefix)]
    uploads.sort(key=lambda u: (u.key, u.created_at))
    limit = _number("max-uploads", 1000)
    root = E(
        "ListMultipartUploadsResult",
        E("Bucket", bucket),
        E("KeyMarker", ""),
        E("UploadIdMarker", ""),
        E("Prefix", prefix),
        E("MaxUploads", limit),
        E("IsTruncated", len(uploads) > limit),
        (
            E(
                "Upload",
                E("Key", u.key),
                E("UploadId", u.upload_id),
                E("Initiated", timestamp(u.created_at)),
                E("StorageClass", "STANDARD"),
            )
            for u in uploads[:limit]
        ),
    )
    return xml_response(root)


def _number(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise S3Error("InvalidArgument", f"{name} must be a number")
    return min(int(raw), MAX_PARTS_LISTED) if name.startswith("max") else int(raw)
