"""Multipart uploads (CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads)."""

from __future__ import annotations

from flask import Response

from .errors import S3Error


def multipart_operation(bucket: str, key: str) -> Response:
    raise S3Error("NotImplemented", "Multipart uploads are not implemented yet")


def list_uploads(bucket: str) -> Response:
    raise S3Error("NotImplemented", "Multipart uploads are not implemented yet")
