"""Domain errors and the one place that turns any failure into the API's JSON error.

Lower layers raise the exceptions defined here and never build responses;
:func:`register_error_handlers` maps each to its status and code.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("filedrop.errors")


class FileDropError(Exception):
    """Base of every error the API reports. ``status`` and ``code`` are part of the API contract."""

    status = 500
    code = "INTERNAL_ERROR"
    retry_after: int | None = None

    def __init__(self, message: str, **headers: str) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class InvalidRequest(FileDropError):
    status, code = 400, "INVALID_REQUEST"


class NoFile(FileDropError):
    status, code = 400, "NO_FILE"


class InvalidFileName(FileDropError):
    status, code = 400, "INVALID_FILE_NAME"


class ChecksumMismatch(FileDropError):
    status, code = 400, "CHECKSUM_MISMATCH"


class BodyInterrupted(InvalidRequest):
    """The request body stopped before its end (the client hung up, or broke the framing)."""


class UploadChecksumMismatch(ChecksumMismatch):
    """tus checksum extension: a PATCH whose Upload-Checksum does not match is discarded."""

    status = 460


class Unauthorized(FileDropError):
    status, code = 401, "UNAUTHORIZED"

    def __init__(self, message: str) -> None:
        super().__init__(message, WWW_Authenticate='Bearer realm="filedrop"')


class Forbidden(FileDropError):
    status, code = 403, "FORBIDDEN"


class FileNotFound(FileDropError):
    status, code = 404, "FILE_NOT_FOUND"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"No file with id {file_id}")


class InvalidFolder(FileDropError):
    status, code = 400, "INVALID_FOLDER"


class FolderNotFound(FileDropError):
    status, code = 404, "FOLDER_NOT_FOUND"

    def __init__(self, path: str) -> None:
        super().__init__(f"No folder {path}")


class FolderNotEmpty(FileDropError):
    status, code = 409, "FOLDER_NOT_EMPTY"


class FileExists(FileDropError):
    """``on_conflict=fail`` met a file of the same name in the target folder."""

    status, code = 409, "FILE_EXISTS"


class LinkNotFound(FileDropError):
    """A share-link token (or link id) never issued, or not the caller's."""

    status, code = 404, "LINK_NOT_FOUND"

    def __init__(self, message: str = "No such link") -> None:
        super().__init__(message)


class LinkGone(FileDropError):
    """A share link that worked once: expired, used up, revoked, or its file changed."""

    status, code = 410, "LINK_GONE"


class LinkPasswordRequired(FileDropError):
    """A password-protected share link without the right password."""

    status, code = 403, "LINK_PASSWORD_REQUIRED"


class KeyNotFound(FileDropError):
    status, code = 404, "KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"No key with id {key_id}")


class UserNotFound(FileDropError):
    status, code = 404, "USER_NOT_FOUND"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"No user with id {user_id}")


class RateLimited(FileDropError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class UploadNotFound(FileDropError):
    status, code = 404, "UPLOAD_NOT_FOUND"

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"No upload with id {upload_id}")


class OffsetMismatch(FileDropError):
    status, code = 409, "OFFSET_MISMATCH"


class UploadExpired(FileDropError):
    status, code = 410, "UPLOAD_EXPIRED"


class UnsupportedMediaType(FileDropError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class UploadLocked(FileDropError):
    status, code, retry_after = 423, "UPLOAD_LOCKED", 1


class PreconditionFailed(FileDropError):
    status, code = 412, "PRECONDITION_FAILED"


class FileTooLarge(FileDropError):
    status, code = 413, "FILE_TOO_LARGE"


class RangeNotSatisfiable(FileDropError):
    status, code = 416, "RANGE_NOT_SATISFIABLE"


class QuotaExceeded(FileDropError):
    status, code = 507, "QUOTA_EXCEEDED"


class StorageUnavailable(FileDropError):
    status, code, retry_after = 503, "STORAGE_UNAVAILABLE", 5


class DatabaseUnavailable(FileDropError):
    status, code, retry_after = 503, "DATABASE_UNAVAILABLE", 5


# Werkzeug's and the HTTP server's own errors (routing, method, parsing, limits) keep
# their status but get our codes.
_HTTP_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    411: "LENGTH_REQUIRED",
    412: "PRECONDITION_FAILED",
    413: "FILE_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    417: "EXPECTATION_FAILED",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    # The HTTP server's own refusals (http/server_errors.py).
    501: "NOT_IMPLEMENTED",
    505: "HTTP_VERSION_NOT_SUPPORTED",
}


def http_error_code(status: int) -> str:
    """Our code for an HTTP status that Werkzeug or the HTTP server chose."""
    return _HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "INVALID_REQUEST")


def error_body(code: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The API's error document."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_response(status: int, code: str, message: str, **headers: Any) -> Response:
    """The JSON error body, with the request id that the access log also shows."""
    response = jsonify(error_body(code, message, g.get("request_id")))
    response.status_code = status
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = str(value)
    return response


def register_error_handlers(app: Flask) -> None:
    """Route every exception, ours, Werkzeug's or a bug, to a JSON response."""
    # Werkzeug answers "/files//x" with a 308 and an HTML page that no error handler
    # sees (Flask returns routing redirects as they are). An API path is exact: 404.
    app.url_map.merge_slashes = False

    @app.errorhandler(FileDropError)
    def _domain(exc: FileDropError) -> Response:
        headers: dict[str, Any] = dict(exc.headers)
        if exc.retry_after is not None:
            headers["Retry_After"] = exc.retry_after
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message, **headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        allowed = sorted(getattr(exc, "valid_methods", None) or ()) if status == 405 else None
        if allowed:
            usable = ", ".join(m for m in allowed if m not in ("HEAD", "OPTIONS")) or "OPTIONS"
            message = f"{request.method} is not allowed on {request.path}: use {usable}"
        response = error_response(status, http_error_code(status), message)
        if allowed and exc.response is None:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "Internal error; see the server log")
