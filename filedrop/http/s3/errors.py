"""S3 error codes: the S3 API's own failures, and how every FILE DROP error reads in S3."""

from __future__ import annotations

from werkzeug.exceptions import HTTPException

from ...errors import (
    ChecksumMismatch,
    FileDropError,
    FileExists,
    FileNotFound,
    FileTooLarge,
    FolderNotEmpty,
    FolderNotFound,
    Forbidden,
    InvalidFileName,
    InvalidFolder,
    InvalidRequest,
    PreconditionFailed,
    QuotaExceeded,
    RangeNotSatisfiable,
    RateLimited,
    Unauthorized,
)
from ...services.multipart import InvalidPart, NoSuchUpload

_STATUS = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "NotImplemented": 501,
    "PreconditionFailed": 412,
    "QuotaExceeded": 403,
    "RequestTimeTooSkewed": 403,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "SlowDown": 503,
    "XAmzContentSHA256Mismatch": 400,
}


class S3Error(FileDropError):
    """An S3 error with its S3 code (``s3_code``) and status."""

    def __init__(self, s3_code: str, message: str, **headers: str) -> None:
        super().__init__(message, **headers)
        self.s3_code = s3_code
        self.status = _STATUS[s3_code]
        self.code = s3_code


def s3_error(exc: Exception) -> S3Error:
    """Any failure as the S3 error a client of S3 expects."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, HTTPException):
        return _http(exc)
    if not isinstance(exc, FileDropError):
        return S3Error("InternalError", "Internal error; see the server log")
    message = exc.message
    if isinstance(exc, InvalidPart):
        return S3Error(exc.kind, message)
    for kind, code in _MAPPING:
        if isinstance(exc, kind):
            error = S3Error(code, message, **exc.headers)
            error.retry_after = exc.retry_after
            return error
    if exc.status == 503:
        return S3Error("ServiceUnavailable", message, **exc.headers)
    return S3Error("InternalError", message)


_MAPPING: tuple[tuple[type[FileDropError], str], ...] = (
    (NoSuchUpload, "NoSuchUpload"),
    (FileNotFound, "NoSuchKey"),
    (FolderNotFound, "NoSuchBucket"),
    (FolderNotEmpty, "BucketNotEmpty"),
    (Unauthorized, "InvalidAccessKeyId"),
    (Forbidden, "AccessDenied"),
    (QuotaExceeded, "QuotaExceeded"),
    (FileTooLarge, "EntityTooLarge"),
    (RangeNotSatisfiable, "InvalidRange"),
    (PreconditionFailed, "PreconditionFailed"),
    (RateLimited, "SlowDown"),
    (ChecksumMismatch, "BadDigest"),
    (InvalidFileName, "InvalidArgument"),
    (InvalidFolder, "InvalidArgument"),
    (FileExists, "InvalidRequest"),
    (InvalidRequest, "InvalidRequest"),
)


def _http(exc: HTTPException) -> S3Error:
    status = exc.code or 500
    if status == 405:
        return S3Error("MethodNotAllowed", "The method is not allowed against this resource")
    if status == 413:
        return S3Error("EntityTooLarge", "The request is too large")
    if status == 404:
        return S3Error("NoSuchKey", "The specified key does not exist")
    if status < 500:
        return S3Error("InvalidRequest", exc.description or exc.name)
    return S3Error("InternalError", "Internal error; see the server log")
