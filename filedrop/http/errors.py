"""The one place that turns any failure into the API's JSON error document:
our domain errors (:mod:`filedrop.errors`), Werkzeug's, and bugs."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import FileDropError

log = logging.getLogger("filedrop.errors")

# Werkzeug's and the HTTP server's own errors (routing, method, parsing, limits) keep
# their status but get our codes.
HTTP_CODES = {
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
    return HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "INVALID_REQUEST")


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
