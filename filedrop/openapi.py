"""The OpenAPI 3.1 description of FILE DROP's HTTP API, built as a Python dict.

This module owns the published contract of every route: parameters, headers,
bodies and each error status an operation can answer. It is code rather than a
JSON file so the parts that must agree with the server are taken from it: the
JSON bodies' schemas are generated from the models the routes parse and send
(:mod:`filedrop.http.models`), the error codes come from :mod:`filedrop.errors`,
the file-name limits from :mod:`filedrop.validation`, the version from the
package. ``tests/test_openapi.py`` checks that the served routes and the
document's paths are the same set, that the document is valid OpenAPI 3.1,
and that real responses match the schemas.

The users, keys and admin endpoints are described apart, in
:func:`_auth_paths`; joining them also requires a bearer key on every file
operation and adds the 401, 403, 429 and 507 answers that come with users,
rate limits and quotas.
"""

from __future__ import annotations

import copy
from typing import Any

from . import __version__
from .errors import FileDropError
from .http.errors import HTTP_CODES
from .http.limits import HEADER_COUNT_MAX, HEADER_FIELD_MAX, REQUEST_LINE_MAX
from .http.models import base, requests, responses, values
from .services.folders import MAX_FOLDER_LENGTH
from .validation import MAX_NAME_LENGTH

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"

Obj = dict[str, Any]

# The users, keys and admin paths; docs.py includes them as soon as the app serves any of them.
AUTH_PATHS = frozenset(
    {
        "/admin/users",
        "/admin/users/{user_id}",
        "/admin/users/{user_id}/keys",
        "/admin/status",
        "/me",
        "/me/keys",
        "/me/keys/{key_id}",
        "/metrics",
    }
)

_ERROR_DOCS: dict[str, tuple[str, str]] = {
    # code: (when it is answered, an example message)
    "INVALID_REQUEST": (
        "Malformed JSON or form, a bad query parameter or cursor, or nothing to update.",
        "cursor is not one this server gave out",
    ),
    "NO_FILE": (
        "An upload without a `file` part or a body.",
        "The form has no 'file' part",
    ),
    "INVALID_FILE_NAME": (
        f"A file name that is empty, `.` or `..`, longer than {MAX_NAME_LENGTH} characters, "
        "or contains `/`, control or bidirectional control characters.",
        "file_name must not contain '/'",
    ),
    "CHECKSUM_MISMATCH": (
        "The content does not match the `Digest`, `Repr-Digest` or `Content-MD5` sent; "
        "nothing was stored.",
        "The content does not match the sha256 digest sent",
    ),
    "UNAUTHORIZED": (
        "Missing or wrong credentials; `WWW-Authenticate` names the scheme.",
        "Send Authorization: Bearer <api key>",
    ),
    "FORBIDDEN": (
        "Authenticated but not allowed (a user's key on an admin route).",
        "Only the admin token may manage users",
    ),
    "FILE_NOT_FOUND": (
        "No such file for this user (also for other users' files).",
        "No file with id 8kQ2mZrT4vXn1bYc",
    ),
    "NOT_FOUND": ("No such route.", "The requested URL was not found on the server."),
    "METHOD_NOT_ALLOWED": (
        "The path exists but not with this method; `Allow` lists the methods.",
        "The method is not allowed for the requested URL.",
    ),
    "PRECONDITION_FAILED": (
        "`If-Match` does not match the file's current ETag; nothing changed.",
        "The file's ETag does not match If-Match",
    ),
    "FILE_TOO_LARGE": (
        "Over the per-file size limit; refused without reading the whole body.",
        "The file is larger than the limit of 5368709120 bytes",
    ),
    "RANGE_NOT_SATISFIABLE": (
        "The `Range` lies outside the file; `Content-Range: bytes */<size>` tells the size.",
        "The range is outside the file's 48213 bytes",
    ),
    "INVALID_FOLDER": (
        "A folder that does not start with `/`, has empty, `.` or `..` segments, control or "
        "bidirectional control characters, or is longer than 1024 characters.",
        "folder must not have '.' or '..' segments",
    ),
    "FOLDER_NOT_FOUND": ("No such folder for this user.", "No folder /projects/q3"),
    "FOLDER_NOT_EMPTY": (
        "Deleting a folder that still holds files or folders, without `recursive=true`.",
        "Folder /projects is not empty; use recursive=true",
    ),
    "FILE_EXISTS": (
        "`on_conflict=fail` and a file of that name is already in the target folder.",
        "A file named 'report.pdf' already exists in /projects",
    ),
    "LINK_NOT_FOUND": ("No such share link (never issued, or not yours).", "No such link"),
    "LINK_GONE": (
        "The share link worked once but no longer: it expired, its downloads are used up, "
        "it was revoked, or its file was replaced or deleted.",
        "This link has been used up",
    ),
    "LINK_PASSWORD_REQUIRED": (
        "The share link has a password and the request did not send the right one.",
        "This link needs a password: send it as ?password= or X-Link-Password",
    ),
    "USER_NOT_FOUND": ("No user with this id.", "No user with id u_Yq3n0Zb1mPx7TkQa"),
    "KEY_NOT_FOUND": ("No key with this id among the caller's.", "No key with id k_3n0Zb1mPx7TkQa"),
    "RATE_LIMITED": (
        "Too many requests for this key; see `Retry-After`.",
        "More than 3000 requests in 60 s; slow down",
    ),
    "STORAGE_UNAVAILABLE": (
        "The object storage (S3) cannot be reached; see `Retry-After`.",
        "Object storage is unavailable",
    ),
    "DATABASE_UNAVAILABLE": (
        "MongoDB cannot be reached; see `Retry-After`.",
        "The metadata database is unavailable",
    ),
    "QUOTA_EXCEEDED": (
        "The user's storage quota would be exceeded.",
        "This would exceed your storage quota of 10737418240 bytes",
    ),
    "UPLOAD_NOT_FOUND": (
        "No such resumable upload for this user (also for other users' uploads).",
        "No upload with id fX-sF7TeLf_lpnX497YsfQ",
    ),
    "OFFSET_MISMATCH": (
        "`Upload-Offset` is not the upload's current offset (HEAD tells it).",
        "Upload-Offset is 0 but the upload has 5242880 bytes",
    ),
    "UPLOAD_EXPIRED": (
        "The unfinished upload passed its `Upload-Expires`; start a new one.",
        "Upload fX-sF7TeLf_lpnX497YsfQ expired at 2026-11-26T21:03:28.946Z",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (
        "A tus PATCH (or creation body) that is not `application/offset+octet-stream`, "
        "or an upload sent as `application/x-www-form-urlencoded` (form fields, never content).",
        "PATCH bodies must be application/offset+octet-stream",
    ),
    "UPLOAD_LOCKED": (
        "Another request is writing to the upload; see `Retry-After`.",
        "Another request is writing to this upload; try again",
    ),
    "INTERNAL_ERROR": (
        "A bug: no stack trace in the body, the full trace is in the server log.",
        "Internal error; see the server log",
    ),
    "URI_TOO_LONG": (
        "A request line (method, path and query) over the HTTP server's limit: "
        f"{REQUEST_LINE_MAX} bytes.",
        "URI Too Long: Request Line is too large (12681 > 8190)",
    ),
    "HEADERS_TOO_LARGE": (
        f"A header over {HEADER_FIELD_MAX} bytes, or more than {HEADER_COUNT_MAX} headers.",
        "Request Header Fields Too Large: Error parsing headers: 'limit request headers fields'",
    ),
    "LENGTH_REQUIRED": (
        "A body the server can only take with a `Content-Length`, sent without one.",
        "Length Required",
    ),
    "EXPECTATION_FAILED": (
        "An `Expect` header other than `100-continue`.",
        "Expectation Failed: Unable to comply with expectation '200-ok'",
    ),
    "NOT_IMPLEMENTED": (
        "A `Transfer-Encoding` the server does not support.",
        "Not Implemented: Unsupported transfer coding: 'gzip'",
    ),
    "HTTP_VERSION_NOT_SUPPORTED": (
        "An HTTP version other than 1.0 or 1.1, from `python app.py` (gunicorn answers "
        "it with `400 INVALID_REQUEST`).",
        "Invalid HTTP version (9.9)",
    ),
}

_STATUS_TEXT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Content too large",
    414: "Request line too long",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    423: "Locked",
    429: "Too many requests",
    431: "Request headers too large",
    500: "Internal error",
    503: "Service unavailable",
    507: "Insufficient storage",
}


def error_codes() -> list[str]:
    """Every code the error handlers can put in an error body, sorted."""
    codes = {FileDropError.code, *HTTP_CODES.values()}
    pending = list(FileDropError.__subclasses__())
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


def build_spec() -> Obj:
    """The OpenAPI 3.1 document."""
    paths: Obj = {
        **_health_paths(),
        **_docs_paths(),
        **_file_paths(),
        **_upload_paths(),
        **_sharing_paths(),
    }
    components = _components()
    spec: Obj = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "FILE DROP",
            "version": __version__,
            "summary": "Upload, read, update, delete and list files over REST.",
            "description": _DESCRIPTION + _SHARING_DESCRIPTION,
        },
        "tags": [
            {"name": "files", "description": "Files: content and metadata."},
            {
                "name": "uploads",
                "description": "Resumable uploads over tus 1.0.0 that become files.",
            },
            {"name": "folders", "description": "Folders: empty ones and deletion."},
            {"name": "links", "description": "Share links: public downloads."},
            {"name": "health", "description": "Liveness and readiness probes."},
            {"name": "docs", "description": "This document and its interactive viewer."},
            {"name": "web", "description": "The web app for browsers (not an API)."},
        ],
        "paths": paths,
        "components": components,
    }
    _add_auth(spec)
    _add_server_limits(spec)
    # Building blocks are shared between operations; callers get their own copy.
    return copy.deepcopy(spec)


_DESCRIPTION = f"""\
FILE DROP stores files: the bytes in S3-compatible object storage and the
metadata in MongoDB or, in embedded mode (no `MONGO_URI`), in local files and
SQLite. The API is the same in both modes.

**Errors.** Every error is JSON with the right status:
`{{"error": {{"code": "FILE_NOT_FOUND", "message": "…", "request_id": "…"}}}}`.
The codes are listed in the `ErrorCode` schema. A method a path does not serve
gets `405 METHOD_NOT_ALLOWED` with an `Allow` header; an unknown path gets
`404 NOT_FOUND`. Any operation may answer `500 INTERNAL_ERROR` on a bug.
The HTTP server refuses, in the same JSON, what it cannot read: a request line
(path and query) over {REQUEST_LINE_MAX} bytes with `414 URI_TOO_LONG`, a header over
{HEADER_FIELD_MAX} bytes or more than {HEADER_COUNT_MAX} headers with `431 HEADERS_TOO_LARGE`,
and a line that is not HTTP/1.x with `400 INVALID_REQUEST`.

**Consistency.** Each version of a file's content is a new object and the
metadata switches to it in one atomic update: a download gets the old content
or the new, never a mix. A failed upload leaves no file behind (`503`);
concurrent replaces each end in success or `412`, and the file holds exactly
one of the contents sent. `file_size` and `sha256` always describe the stored
bytes.

**Request ids.** Every response carries `X-Request-Id`, the one the access log
shows. A client may send its own (`[A-Za-z0-9._:-]{{1,128}}`) and it is echoed.

**ETags.** A file's ETag is its SHA-256 in quotes. `If-None-Match` on a
download answers `304`; `If-Match` on `PUT`/`DELETE` answers `412` on a
mismatch and changes nothing.

**Request bodies.** What a body is follows its `Content-Type`, alike on upload
and replace: `multipart/form-data` is a form (fields, the file in part `file`);
`application/x-www-form-urlencoded` is form fields only and never content (an
upload refuses it with `415`); `application/json` is instructions on `PUT` and
a JSON file on upload; any other type, or none, is the raw content. tus takes
only `application/offset+octet-stream`.

**Ranges.** `Range: bytes=a-b`, `a-` and `-n` answer `206` with
`Content-Range` (RFC 9110): a last byte past the end, or a suffix `-n` longer
than the file, stops at the end; a first byte at or past the end, or `-0`, is
unsatisfiable: `416` with `Content-Range: bytes */<size>`. A multi-range
request, another unit or an unparsable header is served whole, as `200`.
"""


# -- building blocks ---------------------------------------------------------------


def _ref(kind: str, name: str) -> Obj:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> Obj:
    return _ref("schemas", name)


def _headers(*names: str, required: tuple[str, ...] = ()) -> Obj:
    """Response headers by component name; X-Request-Id is on every response."""
    headers: Obj = {"X-Request-Id": _ref("headers", "X-Request-Id")}
    for name in names:
        headers[name] = _ref("headers", name)
    for name in required:
        headers[name] = {**_HEADER_COMPONENTS[name], "required": True}
    return headers


def _json_response(description: str, schema: Obj, *header_names: str, **extra: Any) -> Obj:
    return {
        "description": description,
        "headers": _headers(*header_names, required=extra.pop("required_headers", ())),
        "content": {JSON: {"schema": schema, **extra}},
    }


def _error(status: int, *codes: str, description: str | None = None) -> Obj:
    """An error response that can carry exactly ``codes``, with an example of each."""
    whens = [f"- `{code}`: {_ERROR_DOCS.get(code, ('', ''))[0]}" for code in codes]
    text = description or _STATUS_TEXT.get(status, "Error")
    schema: Obj = {
        "allOf": [_schema("Error")],
        "properties": {"error": {"properties": {"code": {"enum": list(codes)}}}},
    }
    examples = {
        code: {
            "summary": code,
            "value": {
                "error": {
                    "code": code,
                    "message": _ERROR_DOCS.get(code, ("", code))[1],
                    "request_id": "3f2a9c0d1b4e5a6f",
                }
            },
        }
        for code in codes
    }
    headers = ["Retry-After"] if status in (429, 503) else []
    response = _json_response(text + ".\n\n" + "\n".join(whens), schema, examples=examples)
    if headers:
        response["headers"]["Retry-After"] = {**_HEADER_COMPONENTS["Retry-After"], "required": True}
    return response


def _unavailable(*codes: str) -> Obj:
    return _error(503, *codes, description="A backend is unreachable; try again after Retry-After")


_INTERNAL = _error(500, "INTERNAL_ERROR")
_BOTH_BACKENDS = ("STORAGE_UNAVAILABLE", "DATABASE_UNAVAILABLE")


def _param(name: str) -> Obj:
    return _ref("parameters", name)


# -- components --------------------------------------------------------------------

_ETAG = values.ETAG_SCHEMA
_BINARY = values.BINARY_SCHEMA
# A character a file name or folder segment may hold (filedrop.validation has the rule).
_NAME_CHAR = (
    "[^/\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029"
    "\\u202A-\\u202E\\u2066-\\u2069\\u200E\\u200F\\u061C]"
)

_HEADER_COMPONENTS: dict[str, Obj] = {
    "X-Request-Id": {
        "description": "This request's id, as the access log shows it.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "ETag": {
        "description": "The file's SHA-256 in quotes (a strong ETag).",
        "schema": _ETAG,
    },
    "Last-Modified": {
        "description": "The file's `updated_at` as an HTTP date.",
        "schema": {"type": "string", "examples": ["Wed, 25 Nov 2026 19:30:00 GMT"]},
    },
    "Accept-Ranges": {"schema": {"const": "bytes"}},
    "Content-Length": {"schema": {"type": "integer", "minimum": 0}},
    "Content-Range": {
        "description": "`bytes a-b/size` on 206; `bytes */size` on 416.",
        "schema": {"type": "string", "pattern": r"^bytes (\d+-\d+|\*)/\d+$"},
    },
    "Content-Disposition": {
        "description": (
            "RFC 6266: `attachment` (or `inline` when asked and safe) with an ASCII "
            "`filename` and the exact name in `filename*=UTF-8''…`."
        ),
        "schema": {
            "type": "string",
            "pattern": '^(attachment|inline); filename="[^"]*"; filename\\*=UTF-8\'\'\\S+$',
            "examples": ["attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"],
        },
    },
    "X-Content-Type-Options": {"schema": {"const": "nosniff"}},
    "Content-Security-Policy": {
        "description": "Downloads never run as a page of this origin.",
        "schema": {"type": "string", "examples": ["default-src 'none'; sandbox"]},
    },
    "Cache-Control": {"schema": {"type": "string", "examples": ["private, no-cache"]}},
    "Location": {
        "description": "The new file's URL, relative: `/files/{file_id}`.",
        "schema": {"type": "string", "pattern": "^/files/[^/]+$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Allow": {"schema": {"type": "string", "examples": ["GET, HEAD, OPTIONS"]}},
    "Referrer-Policy": {
        "description": "A share link's URL is its credential: never sent on as a Referer.",
        "schema": {"const": "no-referrer"},
    },
}

_PARAMETERS: dict[str, Obj] = {
    "FileId": {
        "name": "file_id",
        "in": "path",
        "required": True,
        "description": "The id the upload returned. Unknown ids answer 404.",
        "schema": {"type": "string", "examples": ["8kQ2mZrT4vXn1bYc"]},
    },
    "Range": {
        "name": "Range",
        "in": "header",
        "description": (
            "One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n` (last n bytes). "
            "`b` past the end, or `n` larger than the file, stops at the end; `a` at or "
            "past the end, or `bytes=-0`, is `416`. Several ranges, another unit or an "
            "unparsable header (`b` < `a` too) get the whole file, as does `bytes=-n` "
            "on an empty file."
        ),
        "schema": {"type": "string", "examples": ["bytes=0-1023"]},
    },
    "If-None-Match": {
        "name": "If-None-Match",
        "in": "header",
        "description": "ETags the client holds; a match answers 304 with no body.",
        "schema": {"type": "string"},
    },
    "If-Range": {
        "name": "If-Range",
        "in": "header",
        "description": "Serve `Range` only if the ETag still matches, else the whole file.",
        "schema": _ETAG,
    },
    "If-Match": {
        "name": "If-Match",
        "in": "header",
        "description": "Change the file only if its ETag matches (or `*`); else 412.",
        "schema": {"type": "string"},
    },
    "Digest": {
        "name": "Digest",
        "in": "header",
        "description": (
            "`sha-256=<base64>` and/or `md5=<base64>` of the content; a mismatch "
            "answers 400 CHECKSUM_MISMATCH and stores nothing."
        ),
        "schema": {
            "type": "string",
            "examples": ["sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="],
        },
    },
    "Repr-Digest": {
        "name": "Repr-Digest",
        "in": "header",
        "description": "RFC 9530 form of `Digest`: `sha-256=:<base64>:`.",
        "schema": {"type": "string"},
    },
    "Content-MD5": {
        "name": "Content-MD5",
        "in": "header",
        "description": "Base64 MD5 of the content; a mismatch answers 400 CHECKSUM_MISMATCH.",
        "schema": {"type": "string"},
    },
    "X-File-Name": {
        "name": "X-File-Name",
        "in": "header",
        "description": (
            "The file name for a raw body: UTF-8, percent-encoded where needed "
            "(`r%C3%A9sum%C3%A9.pdf`). Takes precedence over `?file_name=`."
        ),
        "schema": {"type": "string"},
    },
    "FileNameQuery": {
        "name": "file_name",
        "in": "query",
        "description": "The file name for a raw body, when `X-File-Name` is not sent.",
        "schema": _schema("FileName"),
    },
    "X-Request-Id": {
        "name": "X-Request-Id",
        "in": "header",
        "description": "A client-chosen request id, echoed back when it is sane.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "Redirect": {
        "name": "redirect",
        "in": "query",
        "description": (
            "With `DOWNLOAD_REDIRECT=presigned`, `0` streams the content through the "
            "app instead of answering 307. Ignored otherwise."
        ),
        "schema": {"enum": ["0", "1"], "default": "1"},
    },
    "Disposition": {
        "name": "disposition",
        "in": "query",
        "description": (
            "`inline` serves `Content-Disposition: inline` for types a browser shows "
            "safely (images, PDF, plain text, audio, video); never for HTML or SVG."
        ),
        "schema": {"enum": ["attachment", "inline"], "default": "attachment"},
    },
}


def _components() -> Obj:
    schemas: Obj = {
        "FileName": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": f"^(?!\\.\\.?$){_NAME_CHAR}+$",
            "description": (
                "Any Unicode but `.` and `..`; no `/`, no NUL or control characters, no "
                "bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, "
                "U+061C: they make a name display as another, `invoice\\u202efdp.exe` as "
                "`invoiceexe.pdf`). Metadata only: never a path or an object key."
            ),
            "examples": ["report.pdf"],
        },
        **base.component_schemas(
            [
                responses.FileMetadata,
                responses.FileList,
                responses.FileUpdated,
                responses.FileDeleted,
                requests.UploadForm,
                requests.ReplaceForm,
                requests.RenameForm,
                requests.RenameRequest,
                responses.UploadStatus,
            ]
        ),
        "ErrorCode": {
            "enum": error_codes(),
            "description": "\n".join(
                f"- `{code}`: {_ERROR_DOCS[code][0]}"
                for code in error_codes()
                if code in _ERROR_DOCS
            ),
        },
        "Error": {
            "type": "object",
            "description": "Every error response.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": _schema("ErrorCode"),
                        "message": {"type": "string", "description": "For people; may change."},
                        "request_id": {"type": "string"},
                    },
                }
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ready", "unavailable"]},
                "checks": {
                    "type": "object",
                    "description": "`ok`, or the error code of the failing backend.",
                    "required": ["database", "storage"],
                    "properties": {
                        "database": {"enum": ["ok", "DATABASE_UNAVAILABLE"]},
                        "storage": {"enum": ["ok", "STORAGE_UNAVAILABLE"]},
                    },
                },
                "error": {
                    "type": "object",
                    "description": "Present when not ready: the first failing check.",
                    "required": ["code"],
                    "properties": {"code": _schema("ErrorCode")},
                },
            },
        },
    }
    schemas.update(_sharing_schemas())
    return {
        "schemas": schemas,
        "parameters": {**_PARAMETERS, **_SHARING_PARAMETERS},
        "headers": _HEADER_COMPONENTS,
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "A user's API key: `Authorization: Bearer <key>`.",
            },
            "adminAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "The admin token from `FILEDROP_ADMIN_TOKEN`.",
            },
        },
    }


# -- served paths ------------------------------------------------------------------


def _health_paths() -> Obj:
    return {
        "/healthz": {
            "get": {
                "tags": ["health"],
                "operationId": "healthz",
                "summary": "Liveness: the process is up",
                "responses": {
                    "200": _json_response("Up.", _schema("Health")),
                    "500": _INTERNAL,
                },
            }
        },
        "/readyz": {
            "get": {
                "tags": ["health"],
                "operationId": "readyz",
                "summary": "Readiness: MongoDB and S3 answer",
                "responses": {
                    "200": _json_response("Both backends answer.", _schema("Readiness")),
                    "503": _json_response(
                        "A backend does not answer; `checks` says which.", _schema("Readiness")
                    ),
                    "500": _INTERNAL,
                },
            }
        },
    }


def _docs_paths() -> Obj:
    return {
        "/": {
            "get": {
                "tags": ["web"],
                "operationId": "home",
                "summary": "The web app for a browser; for other clients, where the docs are",
                "description": (
                    "A browser (its `Accept` prefers `text/html`) gets the web app's page, "
                    "served with a strict `Content-Security-Policy`. Any other client gets "
                    "JSON naming this document and the interactive docs."
                ),
                "responses": {
                    "200": {
                        "description": "The page, or JSON pointing at the docs.",
                        "headers": _headers("Content-Security-Policy"),
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["name", "version", "docs", "openapi"],
                                    "properties": {
                                        "name": {"const": "FILE DROP"},
                                        "version": {"type": "string"},
                                        "docs": {"type": "string", "examples": ["/docs"]},
                                        "openapi": {
                                            "type": "string",
                                            "examples": ["/openapi.json"],
                                        },
                                    },
                                }
                            },
                        },
                    },
                    "500": _INTERNAL,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["docs"],
                "operationId": "openapi",
                "summary": "This OpenAPI 3.1 document",
                "responses": {
                    "200": _json_response("The document.", {"type": "object"}),
                    "500": _INTERNAL,
                },
            }
        },
        "/docs": {
            "get": {
                "tags": ["docs"],
                "operationId": "docs",
                "summary": "Interactive API docs (Swagger UI, served from this app)",
                "responses": {
                    "200": {
                        "description": "An HTML page.",
                        "headers": _headers("Content-Security-Policy"),
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    "500": _INTERNAL,
                },
            }
        },
    }


def _redirect_to_storage() -> Obj:
    """A download's 307 (a fresh object: link downloads add a header to theirs)."""
    return {
        "description": (
            "Only with `DOWNLOAD_REDIRECT=presigned` (S3 storage): every check a download "
            "makes passed and the download was counted (a one-time link is used up); "
            "`Location` is a presigned storage URL that serves the content for "
            "`DOWNLOAD_REDIRECT_EXPIRY_S` seconds (60 by default, never past the file's "
            "or link's expiry), with the same `Content-Type`, `Content-Disposition` and "
            "`Cache-Control` as a streamed download. Send `Range` and conditional "
            "headers there. No body. `?redirect=0` streams instead."
        ),
        "headers": {
            "Location": {
                "description": "The presigned storage URL (absolute; it is the credential).",
                "required": True,
                "schema": {"type": "string", "pattern": "^https?://"},
            },
            "Cache-Control": {
                "description": "The URL is short-lived: never cached.",
                "schema": {"const": "no-store"},
            },
        },
    }


def _download_responses(head: bool, not_found_code: str = "FILE_NOT_FOUND") -> Obj:
    """GET and HEAD of a file answer alike; HEAD never has a body."""
    common = (
        "Content-Length",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
        "X-Content-Type-Options",
        "Content-Disposition",
        "Content-Security-Policy",
        "Cache-Control",
    )
    body: Obj = {} if head else {"content": {"*/*": {"schema": _BINARY}}}
    not_found = _error(404, not_found_code)
    unsatisfiable = _error(416, "RANGE_NOT_SATISFIABLE")
    unsatisfiable["headers"]["Content-Range"] = {
        **_HEADER_COMPONENTS["Content-Range"],
        "required": True,
    }
    if head:
        for response in (not_found, unsatisfiable):
            del response["content"]
    redirect: Obj = {} if head else {"307": _redirect_to_storage()}
    return {
        **redirect,
        "200": {
            "description": (
                "The whole file, streamed, with `Content-Type` set to its `file_type`."
                + (" No body." if head else "")
            ),
            "headers": _headers(*common, required=("ETag", "Content-Disposition")),
            **body,
        },
        "206": {
            "description": "The requested byte range." + (" No body." if head else ""),
            "headers": _headers(*common, required=("Content-Range", "ETag")),
            **body,
        },
        "304": {
            "description": "`If-None-Match` matched the ETag: no body.",
            "headers": _headers(required=("ETag",)),
        },
        "404": not_found,
        "416": unsatisfiable,
        "503": _unavailable(*_BOTH_BACKENDS),
        "500": _INTERNAL,
    }


def _file_paths() -> Obj:
    download_params = [
        _param("Disposition"),
        _param("Redirect"),
        _param("Range"),
        _param("If-Range"),
        _param("If-None-Match"),
        _param("X-Request-Id"),
    ]
    digest_params = [_param("Digest"), _param("Repr-Digest"), _param("Content-MD5")]
    raw_body = {
        "schema": {
            **_BINARY,
            "description": "The content; its `Content-Type` is stored as `file_type`.",
        }
    }
    return {
        "/files/upload": {
            "post": {
                "tags": ["files"],
                "operationId": "uploadFile",
                "summary": "Upload a new file",
                "description": (
                    "Send `multipart/form-data` with a part `file` (and optionally "
                    "`file_name`), or the raw content as the body with the name in "
                    "`X-File-Name` or `?file_name=`. Any `Content-Type` other than "
                    "`multipart/form-data` and `application/x-www-form-urlencoded` is a "
                    "raw body (`application/json` too: a JSON file): the type is stored "
                    "as `file_type`, or detected when it is absent or "
                    "`application/octet-stream`. A urlencoded body holds form fields, "
                    "never content: `415` (curl's `--data-binary` sends that type unless "
                    "told otherwise: add `-H 'Content-Type: application/octet-stream'`). "
                    "Folder, `on_conflict` and expiry: form "
                    "fields or query parameters. A form with several `file` parts stores "
                    "each: `201` with all of them, or `207` with a result per part when "
                    "any failed (a part that cannot be read to its end stops the batch)."
                ),
                "parameters": [
                    _param("X-File-Name"),
                    _param("FileNameQuery"),
                    _param("TargetFolder"),
                    _param("OnConflict"),
                    _param("ExpiresIn"),
                    _param("ExpiresAt"),
                    *digest_params,
                    _param("X-Request-Id"),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _schema("UploadForm"),
                            "encoding": {"file": {"contentType": "*/*"}},
                        },
                        "application/octet-stream": raw_body,
                        "*/*": raw_body,
                    },
                },
                "responses": {
                    "201": _json_response(
                        "Stored: the file's metadata (with `Location`), or for several "
                        "`file` parts every file's.",
                        {"oneOf": [_schema("FileMetadata"), _schema("UploadedFiles")]},
                        "Location",
                    ),
                    "207": _json_response(
                        "Several `file` parts, not all stored.", _schema("BatchUploadResult")
                    ),
                    "400": _error(
                        400,
                        "NO_FILE",
                        "INVALID_FILE_NAME",
                        "INVALID_REQUEST",
                        "CHECKSUM_MISMATCH",
                        "INVALID_FOLDER",
                    ),
                    "409": _error(409, "FILE_EXISTS"),
                    "413": _error(413, "FILE_TOO_LARGE"),
                    "415": _error(415, "UNSUPPORTED_MEDIA_TYPE"),
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            }
        },
        "/files/{file_id}": {
            "parameters": [_param("FileId")],
            "get": {
                "tags": ["files"],
                "operationId": "downloadFile",
                "summary": "Download a file's content",
                "parameters": download_params,
                "responses": _download_responses(head=False),
            },
            "head": {
                "tags": ["files"],
                "operationId": "headFile",
                "summary": "The headers a download would have, without the body",
                "parameters": download_params,
                "responses": _download_responses(head=True),
            },
            "put": {
                "tags": ["files"],
                "operationId": "updateFile",
                "summary": "Replace a file's content, rename, move it or set its expiry",
                "description": (
                    "New content: `multipart/form-data` with a part `file`, or a raw "
                    "body of any other type but `application/json` and "
                    "`application/x-www-form-urlencoded`: those two are instructions only "
                    "and never change the content. Rename: a `file_name` form field "
                    "(multipart, or urlencoded as `curl -d file_name=…` sends), "
                    'JSON `{"file_name": …}`, '
                    "or with an empty body `X-File-Name` / `?file_name=`. Both at once: "
                    "a form with `file` and `file_name`, or a raw body with "
                    "`X-File-Name`. The content is swapped atomically: readers see the "
                    "old or the new, never a mix, and the file's share links end. Move "
                    "and expiry: `folder`, `expires_in`, `expires_at` as form fields, JSON "
                    "keys or query parameters; `on_conflict` settles a name clash."
                ),
                "parameters": [
                    _param("If-Match"),
                    _param("X-File-Name"),
                    _param("FileNameQuery"),
                    _param("TargetFolder"),
                    _param("OnConflict"),
                    _param("ExpiresIn"),
                    _param("ExpiresAt"),
                    *digest_params,
                    _param("X-Request-Id"),
                ],
                "requestBody": {
                    "required": False,
                    "content": {
                        "multipart/form-data": {
                            "schema": _schema("ReplaceForm"),
                            "encoding": {"file": {"contentType": "*/*"}},
                        },
                        JSON: {"schema": _schema("RenameRequest")},
                        "application/x-www-form-urlencoded": {"schema": _schema("RenameForm")},
                        "application/octet-stream": raw_body,
                        "*/*": raw_body,
                    },
                },
                "responses": {
                    "200": _json_response("Updated.", _schema("FileUpdated")),
                    "400": _error(
                        400,
                        "INVALID_REQUEST",
                        "INVALID_FILE_NAME",
                        "CHECKSUM_MISMATCH",
                        "INVALID_FOLDER",
                    ),
                    "404": _error(404, "FILE_NOT_FOUND"),
                    "409": _error(409, "FILE_EXISTS"),
                    "412": _error(412, "PRECONDITION_FAILED"),
                    "413": _error(413, "FILE_TOO_LARGE"),
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            },
            "delete": {
                "tags": ["files"],
                "operationId": "deleteFile",
                "summary": "Delete a file's content and metadata",
                "parameters": [_param("If-Match"), _param("X-Request-Id")],
                "responses": {
                    "200": _json_response("Deleted.", _schema("FileDeleted")),
                    "404": _error(404, "FILE_NOT_FOUND"),
                    "412": _error(412, "PRECONDITION_FAILED"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            },
        },
        "/files/{file_id}/metadata": {
            "parameters": [_param("FileId")],
            "get": {
                "tags": ["files"],
                "operationId": "getFileMetadata",
                "summary": "A file's metadata",
                "parameters": [_param("X-Request-Id")],
                "responses": {
                    "200": _json_response("The metadata.", _schema("FileMetadata")),
                    "404": _error(404, "FILE_NOT_FOUND"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            },
        },
        "/files": {
            "get": {
                "tags": ["files"],
                "operationId": "listFiles",
                "summary": "List files, newest first or by name, size or date",
                "description": (
                    "Each page continues strictly after the last file of the one before, "
                    "so pages never skip or repeat a file while files are being added "
                    "(newest first, a new file lands before the first page; in another "
                    "order it shows up where it sorts, if that is still ahead). A file "
                    "renamed or replaced meanwhile may move across the page boundary."
                ),
                "parameters": [
                    *base.query_parameters(requests.FileListQuery),
                    _param("X-Request-Id"),
                ],
                "responses": {
                    "200": _json_response("A page of files.", _schema("FileList")),
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FOLDER"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            }
        },
    }


# -- resumable uploads (tus 1.0.0) ---------------------------------------------------

_OFFSET_STREAM = "application/offset+octet-stream"
_TUS_HEADERS: dict[str, Obj] = {
    "Tus-Resumable": {
        "description": "The tus protocol version, on every response of these routes.",
        "schema": {"const": "1.0.0"},
    },
    "Tus-Version": {
        "description": "The tus versions this server speaks.",
        "schema": {"const": "1.0.0"},
    },
    "Upload-Offset": {
        "description": "Bytes of the upload stored so far.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Upload-Length": {
        "description": "The upload's declared total size.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Upload-Expires": {
        "description": "When the unfinished upload expires (an HTTP date); absent once complete.",
        "schema": {"type": "string", "examples": ["Thu, 26 Nov 2026 21:03:28 GMT"]},
    },
    "Upload-Metadata": {
        "description": "The `Upload-Metadata` sent at creation, as sent.",
        "schema": {"type": "string"},
    },
    "X-File-Id": {
        "description": "The file the upload became; only once it is complete.",
        "schema": {"type": "string", "examples": ["8kQ2mZrT4vXn1bYc"]},
    },
    "Cache-Control": {"schema": {"const": "no-store"}},
    "Location": {
        "description": "The upload's URL, relative: `/uploads/{upload_id}`.",
        "schema": {"type": "string", "pattern": "^/uploads/[^/]+$"},
    },
}


def _tus_headers(*names: str, required: tuple[str, ...] = ()) -> Obj:
    headers: Obj = {"X-Request-Id": _ref("headers", "X-Request-Id")}
    for name in ("Tus-Resumable", *names, *required):
        headers[name] = dict(_TUS_HEADERS[name])
        if name in required or name == "Tus-Resumable":
            headers[name]["required"] = True
    return headers


def _tus_param(name: str, description: str, required: bool = False, **schema: Any) -> Obj:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _upload_paths() -> Obj:
    """tus 1.0.0 at /uploads/, each tus request also answering 400 without Tus-Resumable."""
    paths = _tus_operations()
    for item in paths.values():
        for method, operation in item.items():
            if method in ("get", "options", "parameters") or "400" in operation["responses"]:
                continue
            missing = _error(400, "INVALID_REQUEST", description="No Tus-Resumable header")
            if method == "head":
                del missing["content"]
            operation["responses"]["400"] = missing
    return paths


def _tus_operations() -> Obj:
    """tus 1.0.0: core, creation, creation-with-upload, termination, expiration, checksum.

    ``OPTIONS /uploads/`` (tus discovery: Tus-Version, Tus-Extension, Tus-Max-Size,
    Tus-Checksum-Algorithm) is served too but, like every OPTIONS, not listed.
    """
    version = _tus_param(
        "Tus-Resumable",
        "The tus version the client speaks: `1.0.0`; another answers 412, none 400.",
        required=True,
        const="1.0.0",
    )
    checksum = _tus_param(
        "Upload-Checksum",
        "`<algorithm> <base64 digest>` of this body (sha1, md5, sha256 or sha512);"
        " a mismatch answers 460 and the body is discarded.",
        examples=["sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="],
    )
    binary_body = {
        "content": {_OFFSET_STREAM: {"schema": {**_BINARY, "contentMediaType": _OFFSET_STREAM}}}
    }
    wrong_version = _error(412, "PRECONDITION_FAILED", description="Not tus 1.0.0")
    wrong_version["headers"]["Tus-Version"] = {**_TUS_HEADERS["Tus-Version"], "required": True}
    locked = _error(423, "UPLOAD_LOCKED")
    locked["headers"]["Retry-After"] = {**_HEADER_COMPONENTS["Retry-After"], "required": True}
    mismatch = _error(
        460, "CHECKSUM_MISMATCH", description="Checksum mismatch: the body was discarded"
    )
    not_found = _error(404, "UPLOAD_NOT_FOUND")
    expired = _error(410, "UPLOAD_EXPIRED")
    head_errors: Obj = {
        "404": copy.deepcopy(not_found),
        "410": copy.deepcopy(expired),
        "412": copy.deepcopy(wrong_version),
        "503": _unavailable("DATABASE_UNAVAILABLE"),
        "500": copy.deepcopy(_INTERNAL),
    }
    for response in head_errors.values():
        del response["content"]
    upload_id = {
        "name": "upload_id",
        "in": "path",
        "required": True,
        "description": "From the creation's `Location`. Unknown ids answer 404.",
        "schema": {"type": "string", "examples": ["fX-sF7TeLf_lpnX497YsfQ"]},
    }
    return {
        "/uploads/": {
            "post": {
                "tags": ["uploads"],
                "operationId": "createUpload",
                "summary": "Start a resumable upload (tus creation, creation-with-upload)",
                "description": (
                    "Declares the size (`Upload-Length`, checked against the size limit"
                    " and reserved against the quota before any byte is taken) and the"
                    " file: `Upload-Metadata` pairs `filename` (required), `filetype`,"
                    " `folder` (a path such as `/projects/q3`), values base64. A body"
                    " (`application/offset+octet-stream`)"
                    " is the upload's first bytes. Send the rest with PATCH to"
                    " `Location`; when the last byte arrives the upload becomes a file,"
                    " whose id comes back as `X-File-Id`. An unfinished upload expires"
                    " after `Upload-Expires`, and with it its reserved quota."
                ),
                "parameters": [
                    version,
                    _tus_param(
                        "Upload-Length",
                        "The upload's size in bytes.",
                        required=True,
                        type="integer",
                        minimum=0,
                    ),
                    _tus_param(
                        "Upload-Metadata",
                        "Comma-separated `key base64(value)` pairs: `filename`,"
                        " `filetype`, `folder`.",
                        examples=["filename cmVwb3J0LnBkZg==,filetype YXBwbGljYXRpb24vcGRm"],
                    ),
                    checksum,
                    _param("X-Request-Id"),
                ],
                "requestBody": {"required": False, **binary_body},
                "responses": {
                    "201": {
                        **_json_response_with(
                            "Created; `Upload-Offset` counts the bytes the body carried.",
                            _schema("UploadStatus"),
                            _tus_headers(
                                "Upload-Expires",
                                "X-File-Id",
                                required=("Location", "Upload-Offset"),
                            ),
                        ),
                        # What a client does next with the new upload (and a fuzzer follows).
                        "links": {
                            operation: {
                                "operationId": operation,
                                "parameters": {"upload_id": "$response.body#/upload_id"},
                            }
                            for operation in (
                                "appendToUpload",
                                "getUploadOffset",
                                "getUpload",
                                "terminateUpload",
                            )
                        },
                    },
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FILE_NAME", "INVALID_FOLDER"),
                    "412": wrong_version,
                    "413": _error(413, "FILE_TOO_LARGE"),
                    "415": _error(415, "UNSUPPORTED_MEDIA_TYPE"),
                    "460": copy.deepcopy(mismatch),
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            }
        },
        "/uploads/{upload_id}": {
            "parameters": [upload_id],
            "head": {
                "tags": ["uploads"],
                "operationId": "getUploadOffset",
                "summary": "How many bytes of the upload are stored (tus core)",
                "description": (
                    "Waits a moment for a PATCH in progress to finish, so the offset is"
                    " where to resume. Never more than the bytes in storage."
                ),
                "parameters": [version, _param("X-Request-Id")],
                "responses": {
                    "200": {
                        "description": "The upload's progress. No body.",
                        "headers": _tus_headers(
                            "Upload-Expires",
                            "Upload-Metadata",
                            "X-File-Id",
                            required=("Upload-Offset", "Upload-Length", "Cache-Control"),
                        ),
                    },
                    **head_errors,
                },
            },
            "get": {
                "tags": ["uploads"],
                "operationId": "getUpload",
                "summary": "The upload as JSON, with its file_id once complete",
                "parameters": [_param("X-Request-Id")],
                "responses": {
                    "200": _json_response_with(
                        "The upload.",
                        _schema("UploadStatus"),
                        _tus_headers(
                            "Upload-Expires",
                            "X-File-Id",
                            required=("Upload-Offset", "Upload-Length", "Cache-Control"),
                        ),
                    ),
                    "404": copy.deepcopy(not_found),
                    "410": copy.deepcopy(expired),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            },
            "patch": {
                "tags": ["uploads"],
                "operationId": "appendToUpload",
                "summary": "Append bytes at Upload-Offset (tus core, checksum)",
                "description": (
                    "If the connection drops mid-body, the bytes that arrived are kept"
                    " (unless `Upload-Checksum` covered them): HEAD tells where to resume."
                    " The PATCH that brings the last byte makes the file and answers"
                    " `X-File-Id`."
                ),
                "parameters": [
                    version,
                    _tus_param(
                        "Upload-Offset",
                        "Where this body starts: the offset HEAD reported.",
                        required=True,
                        type="integer",
                        minimum=0,
                    ),
                    checksum,
                    _param("X-Request-Id"),
                ],
                "requestBody": {"required": True, **binary_body},
                "responses": {
                    "204": {
                        "description": "Stored. No body.",
                        "headers": _tus_headers(
                            "Upload-Expires", "X-File-Id", required=("Upload-Offset",)
                        ),
                    },
                    "400": _error(400, "INVALID_REQUEST"),
                    "404": copy.deepcopy(not_found),
                    "409": _error(409, "OFFSET_MISMATCH"),
                    "410": copy.deepcopy(expired),
                    "412": copy.deepcopy(wrong_version),
                    "413": _error(413, "FILE_TOO_LARGE"),
                    "415": _error(415, "UNSUPPORTED_MEDIA_TYPE"),
                    "423": copy.deepcopy(locked),
                    "460": mismatch,
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            },
            "delete": {
                "tags": ["uploads"],
                "operationId": "terminateUpload",
                "summary": "Cancel the upload: its bytes and reserved quota go (tus termination)",
                "description": "A completed upload's record goes; the file it became stays.",
                "parameters": [version, _param("X-Request-Id")],
                "responses": {
                    "204": {"description": "Gone. No body.", "headers": _tus_headers()},
                    "404": copy.deepcopy(not_found),
                    "412": copy.deepcopy(wrong_version),
                    "423": locked,
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            },
        },
    }


def _json_response_with(description: str, schema: Obj, headers: Obj) -> Obj:
    return {"description": description, "headers": headers, "content": {JSON: {"schema": schema}}}


# == Folders, copy, batches, expiring files, share links =================
# Joined to the document by build_spec; tests/test_openapi.py checks routes and
# responses against it like every other part.

_FOLDER_SEGMENT = f"(?!\\.\\.?(/|$)){_NAME_CHAR}+"


def _placement_query(name: str, description: str) -> Obj:
    """A placement field (as a JSON body or form takes it) as a query parameter."""
    fields = base.component_schemas([requests.PlacementFields])["PlacementFields"]
    schema = {k: v for k, v in fields["properties"][name].items() if k != "description"}
    return {"name": name, "in": "query", "description": description, "schema": schema}


_SHARING_PARAMETERS: dict[str, Obj] = {
    "TargetFolder": {
        "name": "folder",
        "in": "query",
        "description": (
            "The folder the file goes to (a form field `folder` wins over this). Longer "
            "folders (to 1024 characters) fit in a form field or JSON rather than a URL."
        ),
        "schema": requests.QUERY_FOLDER_SCHEMA,
    },
    "OnConflict": _placement_query("on_conflict", values.ON_CONFLICT_TEXT),
    "ExpiresIn": _placement_query(
        "expires_in", "The file expires this many seconds from now (not with `expires_at`)."
    ),
    "ExpiresAt": _placement_query(
        "expires_at", "The file expires then: ISO 8601 (not with `expires_in`)."
    ),
    "NewFolderQuery": {
        "name": "path",
        "in": "query",
        "description": 'The folder to create, instead of a JSON body `{"path": …}`.',
        "schema": requests.QUERY_FOLDER_SCHEMA,
    },
    "LinkToken": {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "The token `POST /files/{file_id}/links` returned (once).",
        "schema": {"type": "string", "maxLength": 128},
    },
    "LinkPassword": {
        "name": "password",
        "in": "query",
        "description": (
            "The link's password, if it has one (or send `X-Link-Password`, which also "
            "carries passwords too long for a URL)."
        ),
        "schema": {"type": "string", "maxLength": 100},
    },
    "X-Link-Password": {
        "name": "X-Link-Password",
        "in": "header",
        "description": "The link's password, if it has one; UTF-8. Wins over `?password=`.",
        "schema": {"type": "string"},
    },
}


def _sharing_schemas() -> Obj:
    return {
        "FolderPath": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_FOLDER_LENGTH,
            "pattern": f"^/({_FOLDER_SEGMENT}(/{_FOLDER_SEGMENT})*)?$",
            "description": (
                "`/` (the root) or `/segment/…`: any Unicode segments, none empty, `.` or "
                "`..`; no control or bidirectional control characters. Metadata only, like a "
                "file name."
            ),
            "examples": ["/projects/q3"],
        },
        **base.component_schemas(
            [
                responses.Folder,
                responses.ErrorDetail,
                responses.UploadedFiles,
                responses.BatchUploadResult,
                requests.CopyRequest,
                requests.DeleteFilesRequest,
                responses.DeleteFilesResult,
                requests.NewFolderRequest,
                responses.FolderCreated,
                responses.FolderDeleted,
                requests.NewLinkRequest,
                responses.Link,
                responses.NewLink,
                responses.LinkList,
                responses.LinkRevoked,
                responses.BucketList,
            ]
        ),
    }


def _shared_download_responses(head: bool, pages: tuple[str, ...] = ()) -> Obj:
    """As a file's download, but a link's errors: unknown (404), ended (410), password.
    ``pages``: the statuses a browser gets as the link's HTML page instead of JSON."""
    responses = _download_responses(head, not_found_code="LINK_NOT_FOUND")
    for status in ("200", "206", "304", *(() if head else ("307",))):
        responses[status]["headers"]["Referrer-Policy"] = _ref("headers", "Referrer-Policy")
    password = _error(403, "LINK_PASSWORD_REQUIRED")
    gone = _error(410, "LINK_GONE")
    if head:
        for response in (password, gone):
            del response["content"]
    responses["403"] = password
    responses["410"] = gone
    for status in pages:
        response = responses[status] = copy.deepcopy(responses[status])
        response["description"] += _LINK_PAGE_INSTEAD
        response["content"]["text/html"] = {"schema": {"type": "string"}}
    return responses


_LINK_PAGE_INSTEAD = (
    "\n\nA browser (`Accept` prefers `text/html`) gets the link's HTML page with "
    "this status instead of JSON: the reason, and the password form when one is asked."
)


def _sharing_paths() -> Obj:
    link_errors = {
        "404": _error(404, "FILE_NOT_FOUND"),
        "503": _unavailable("DATABASE_UNAVAILABLE"),
        "500": _INTERNAL,
    }
    shared_download_params = [
        _param("LinkPassword"),
        _param("X-Link-Password"),
        _param("Disposition"),
        _param("Redirect"),
        _param("Range"),
        _param("If-Range"),
        _param("If-None-Match"),
        _param("X-Request-Id"),
    ]
    no_store = {"description": "The token is never cached.", "schema": {"const": "no-store"}}
    return {
        "/files/{file_id}/copy": {
            "parameters": [_param("FileId")],
            "post": {
                "tags": ["files"],
                "operationId": "copyFile",
                "summary": "Copy a file (server-side, counted against the quota)",
                "description": (
                    "A new file with the same content, copied inside the object storage "
                    "(no bytes pass through the app), by default with the same name in "
                    "the same folder. Links and expiry are not copied."
                ),
                "parameters": [_param("X-Request-Id")],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _schema("CopyRequest")}},
                },
                "responses": {
                    "201": _json_response(
                        "Copied.", _schema("FileMetadata"), required_headers=("Location",)
                    ),
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FILE_NAME", "INVALID_FOLDER"),
                    "404": _error(404, "FILE_NOT_FOUND"),
                    "409": _error(409, "FILE_EXISTS"),
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            },
        },
        "/files/delete": {
            "post": {
                "tags": ["files"],
                "operationId": "deleteFiles",
                "summary": "Delete several files",
                "description": "Each id is deleted in turn, as `DELETE /files/{file_id}` would.",
                "parameters": [_param("X-Request-Id")],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _schema("DeleteFilesRequest")}},
                },
                "responses": {
                    "200": _json_response("All deleted.", _schema("DeleteFilesResult")),
                    "207": _json_response(
                        "Some not deleted: see each entry's status and error.",
                        _schema("DeleteFilesResult"),
                    ),
                    "400": _error(400, "INVALID_REQUEST"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            }
        },
        "/buckets": {
            "get": {
                "tags": ["folders"],
                "operationId": "listBuckets",
                "summary": "The caller's buckets (S3's view of top-level folders) and usage",
                "description": (
                    "A bucket is a top-level folder whose name is a valid S3 bucket name; "
                    "the S3 API at `/s3` serves it. Create or delete one with POST and "
                    "DELETE `/folders` on `/NAME`. A bucket-scoped key sees only its own."
                ),
                "parameters": [_param("X-Request-Id")],
                "responses": {
                    "200": _json_response("The buckets, by name.", _schema("BucketList")),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            }
        },
        "/folders": {
            "post": {
                "tags": ["folders"],
                "operationId": "createFolder",
                "summary": "Create a folder (it exists even while empty)",
                "description": (
                    "Folders holding files exist without this; a created folder stays "
                    "until deleted. Its parents need no creating. Name it in the query "
                    '(`?path=/projects/q3`, as for DELETE) or in a JSON body `{"path": …}`, '
                    "not both."
                ),
                "parameters": [_param("NewFolderQuery"), _param("X-Request-Id")],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _schema("NewFolderRequest")}},
                },
                "responses": {
                    "201": _json_response("Created.", _schema("FolderCreated")),
                    "200": _json_response("It was created before.", _schema("FolderCreated")),
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FOLDER"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            },
            "delete": {
                "tags": ["folders"],
                "operationId": "deleteFolder",
                "summary": "Delete a folder; with recursive=true everything beneath it",
                "description": (
                    "Without `recursive` the folder must be empty (no live file or folder "
                    "beneath it). Recursive deletion is not one transaction: a file "
                    "uploaded into the folder meanwhile may survive it."
                ),
                "parameters": [
                    *base.query_parameters(requests.FolderDeleteQuery),
                    _param("X-Request-Id"),
                ],
                "responses": {
                    "200": _json_response("Deleted.", _schema("FolderDeleted")),
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FOLDER"),
                    "404": _error(404, "FOLDER_NOT_FOUND"),
                    "409": _error(409, "FOLDER_NOT_EMPTY"),
                    "503": _unavailable(*_BOTH_BACKENDS),
                    "500": _INTERNAL,
                },
            },
        },
        "/files/{file_id}/links": {
            "parameters": [_param("FileId")],
            "post": {
                "tags": ["links"],
                "operationId": "createLink",
                "summary": "Share the file's current content by a public URL",
                "description": (
                    "`GET /d/{token}` then downloads it without a key. The link ends when "
                    "it expires, when `max_downloads` are used up, when revoked, and when "
                    "the file's content is replaced or the file deleted."
                ),
                "parameters": [_param("X-Request-Id")],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _schema("NewLinkRequest")}},
                },
                "responses": {
                    "201": _with_header(
                        _with_header(
                            _json_response(
                                "Created; the token is shown this once.", _schema("NewLink")
                            ),
                            "Location",
                            {
                                "description": "The link, relative: `/d/{token}`.",
                                "schema": {"type": "string", "pattern": "^/d/[^/]+$"},
                                "required": True,
                            },
                        ),
                        "Cache-Control",
                        {**no_store, "required": True},
                    ),
                    "400": _error(400, "INVALID_REQUEST"),
                    **link_errors,
                },
            },
            "get": {
                "tags": ["links"],
                "operationId": "listLinks",
                "summary": "The file's links and their states (no tokens)",
                "parameters": [_param("X-Request-Id")],
                "responses": {
                    "200": _json_response("The links.", _schema("LinkList")),
                    **link_errors,
                },
            },
        },
        "/links/{token}": {
            "parameters": [
                {
                    **_SHARING_PARAMETERS["LinkToken"],
                    "description": "The link's token, or its `link_id`.",
                }
            ],
            "delete": {
                "tags": ["links"],
                "operationId": "revokeLink",
                "summary": "Revoke a link now (again is fine)",
                "parameters": [_param("X-Request-Id")],
                "responses": {
                    "200": _json_response("Revoked.", _schema("LinkRevoked")),
                    "404": _error(404, "LINK_NOT_FOUND"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            },
        },
        "/d/{token}": {
            "parameters": [_param("LinkToken")],
            "get": {
                "tags": ["links"],
                "operationId": "downloadSharedFile",
                "summary": "Download through a share link (no key)",
                "description": (
                    "Headers, ranges and streaming as `GET /files/{file_id}`. Each response "
                    "that sends content counts as one download; with `max_downloads` the "
                    "count is claimed before the first byte, atomically (of two concurrent "
                    "downloads of a one-time link exactly one gets the file). HEAD and 304 "
                    "count nothing.\n\nA browser navigating to the link (`Accept` prefers "
                    "`text/html`, `Sec-Fetch-Dest: document` if sent) gets an HTML page "
                    "instead: the file's name and size (once no password is missing) and a "
                    "Download button that posts to this URL. The page counts no download."
                ),
                "parameters": shared_download_params,
                # A browser lacking the password gets the page's form, with 200.
                "responses": _shared_download_responses(head=False, pages=("404", "410")),
            },
            "post": {
                "tags": ["links"],
                "operationId": "downloadSharedFileByForm",
                "summary": "Download through a share link from an HTML form (no key)",
                "description": (
                    "As `GET`, with the password in a form body (never in a URL): what "
                    "the link's page posts. A browser's form gets the page back, with the "
                    "reason, when the password is wrong or the link has ended."
                ),
                "parameters": [_param("X-Link-Password"), _param("X-Request-Id")],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"password": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    **_shared_download_responses(head=False, pages=("403", "404", "410")),
                    "400": _error(400, "INVALID_REQUEST"),
                },
            },
            "head": {
                "tags": ["links"],
                "operationId": "headSharedFile",
                "summary": "The headers a shared download would have; counts nothing",
                "parameters": shared_download_params,
                "responses": _shared_download_responses(head=True),
            },
        },
    }


_SHARING_DESCRIPTION = """
**Folders.** A file lives in a folder (`folder`, `/` by default): set it at
upload (form field or `?folder=`) or move it with `PUT`. `GET /files?folder=…`
lists that folder's files and its direct subfolders, `recursive=true` every file
beneath it. Names are unique per folder only when asked: `on_conflict`.

**Expiring files.** `expires_in` or `expires_at` at upload or by `PUT` (JSON
`"expires_at": null` clears it). An expired file is gone for every endpoint at
once; `flask --app app purge` then deletes it, and with
`PURGE_UNACCESSED_DAYS` also files nobody downloaded or changed for that long
(`last_accessed_at` and `download_count` say when and how often).

**Share links.** `POST /files/{file_id}/links` makes a public URL
`/d/{token}` for the file's current content. Ended links (expired, used up,
revoked, or the file replaced or deleted) answer `410 LINK_GONE`; unknown
tokens `404 LINK_NOT_FOUND`; a password-protected link without the right
password `403 LINK_PASSWORD_REQUIRED`.

**Batches.** Several `file` parts in one upload answer `201 {"files": […]}`,
or `207` with a result per file when any failed; `POST /files/delete` deletes a
list of ids.
"""


# == Users, keys, admin, rate limits, quotas ===============================
# Joined to the rest by build_spec. tests/test_openapi.py checks that these and the
# routes agree, and that the responses match.

_PUBLIC_PATHS = ("/", "/healthz", "/readyz", "/openapi.json", "/docs")
_SHARE_PATHS = ("/d/{token}",)
_CACHE_CONTROL_NO_STORE: Obj = {
    "description": "Keys are never cached.",
    "schema": {"const": "no-store"},
    "required": True,
}


def _auth_schemas() -> Obj:
    return base.component_schemas(
        [
            requests.NewUserRequest,
            responses.NewUser,
            responses.UserEnvelope,
            responses.UserList,
            responses.UserDeleted,
            responses.NewKey,
            requests.NewApiKeyRequest,
            responses.NewApiKey,
            responses.ApiKeyList,
            responses.ApiKeyDeleted,
            responses.AdminStatus,
        ]
    )


def _with_header(response: Obj, name: str, header: Obj) -> Obj:
    response["headers"][name] = header
    return response


def _unauthorized() -> Obj:
    return _with_header(
        _error(401, "UNAUTHORIZED"),
        "WWW-Authenticate",
        {"schema": {"const": 'Bearer realm="filedrop"'}, "required": True},
    )


def _auth_paths() -> Obj:
    user_id = {
        "name": "user_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "examples": ["u_Yq3n0Zb1mPx7TkQa"]},
    }
    admin: Obj = {"tags": ["admin"], "security": [{"adminAuth": []}]}

    def admin_errors(*extra: tuple[str, Obj]) -> Obj:
        return {
            **dict(extra),
            "401": _unauthorized(),
            "403": _error(
                403,
                "FORBIDDEN",
                description="A user's key on an admin route, or no `FILEDROP_ADMIN_TOKEN` set",
            ),
            "429": _error(429, "RATE_LIMITED"),
            "503": _unavailable("DATABASE_UNAVAILABLE"),
            "500": _INTERNAL,
        }

    no_such_user = ("404", _error(404, "USER_NOT_FOUND"))

    def user_errors(*extra: tuple[str, Obj]) -> Obj:
        return {
            **dict(extra),
            "401": _unauthorized(),
            "403": _error(403, "FORBIDDEN", description="A limited key, or the admin token"),
            "429": _error(429, "RATE_LIMITED"),
            "503": _unavailable("DATABASE_UNAVAILABLE"),
            "500": _INTERNAL,
        }

    return {
        "/metrics": {
            "get": {
                **admin,
                "operationId": "metrics",
                "summary": "Prometheus metrics (admin token unless METRICS=public)",
                "description": "Requests by route and status, latency histograms, bytes in "
                "and out, S3 and database call latency and errors, uploads in flight. "
                "Not served with METRICS=off.",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **admin_errors(),
                },
            }
        },
        "/admin/users": {
            "post": {
                **admin,
                "operationId": "createUser",
                "summary": "Create a user and their first API key",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _schema("NewUserRequest")}},
                },
                "responses": {
                    "201": _with_header(
                        _with_header(
                            _json_response(
                                "Created; the key is shown this once.", _schema("NewUser")
                            ),
                            "Location",
                            {
                                "description": "The new user's URL: `/admin/users/{user_id}`.",
                                "schema": {"type": "string", "pattern": "^/admin/users/[^/]+$"},
                                "required": True,
                            },
                        ),
                        "Cache-Control",
                        _CACHE_CONTROL_NO_STORE,
                    ),
                    **admin_errors(("400", _error(400, "INVALID_REQUEST"))),
                },
            },
            "get": {
                **admin,
                "operationId": "listUsers",
                "summary": "All users, oldest first",
                "responses": {
                    "200": _json_response("The users.", _schema("UserList")),
                    **admin_errors(),
                },
            },
        },
        "/admin/users/{user_id}": {
            "parameters": [user_id],
            "get": {
                **admin,
                "operationId": "getUser",
                "summary": "One user and their usage",
                "responses": {
                    "200": _json_response("The user.", _schema("UserEnvelope")),
                    **admin_errors(no_such_user),
                },
            },
            "delete": {
                **admin,
                "operationId": "deleteUser",
                "summary": "Delete a user: their keys stop working, then their files go",
                "responses": {
                    "200": _json_response("Deleted.", _schema("UserDeleted")),
                    **admin_errors(no_such_user),
                },
            },
        },
        "/admin/users/{user_id}/keys": {
            "parameters": [user_id],
            "post": {
                **admin,
                "operationId": "rotateUserKey",
                "summary": "Reset a user's keys: all stop working; one new key replaces them",
                "responses": {
                    "201": _with_header(
                        _json_response("The new key, shown once.", _schema("NewKey")),
                        "Cache-Control",
                        _CACHE_CONTROL_NO_STORE,
                    ),
                    **admin_errors(no_such_user),
                },
            },
        },
        "/admin/status": {
            "get": {
                **admin,
                "operationId": "adminStatus",
                "summary": "The instance as an admin sees it: backends, load, totals",
                "responses": {
                    "200": _json_response("The status.", _schema("AdminStatus")),
                    **admin_errors(),
                },
            }
        },
        "/me": {
            "get": {
                "tags": ["users"],
                "operationId": "me",
                "summary": "The calling user and their usage",
                "responses": {
                    "200": _json_response("The user.", _schema("User")),
                    "401": _unauthorized(),
                    "403": _error(403, "FORBIDDEN", description="The admin token is not a user"),
                    "404": _error(404, "USER_NOT_FOUND"),
                    "429": _error(429, "RATE_LIMITED"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            }
        },
        "/me/keys": {
            "post": {
                "tags": ["users"],
                "operationId": "createKey",
                "summary": "Make an API key: a bearer key and an S3 key pair, both shown once",
                "description": "`bucket` limits the key to one bucket (a top-level folder) "
                "over REST and S3: everything else is not found. `read_only` refuses every "
                "write with 403. A limited key cannot make keys.",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _schema("NewApiKeyRequest")}},
                },
                "responses": {
                    "201": _with_header(
                        _json_response("The key, shown once.", _schema("NewApiKey")),
                        "Cache-Control",
                        _CACHE_CONTROL_NO_STORE,
                    ),
                    **user_errors(("400", _error(400, "INVALID_REQUEST"))),
                },
            },
            "get": {
                "tags": ["users"],
                "operationId": "listKeys",
                "summary": "The caller's keys, without their secrets",
                "responses": {
                    "200": _json_response("The keys.", _schema("ApiKeyList")),
                    **user_errors(),
                },
            },
        },
        "/me/keys/{key_id}": {
            "parameters": [
                {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "delete": {
                "tags": ["users"],
                "operationId": "deleteKey",
                "summary": "End a key: its bearer form and its S3 pair stop working at once",
                "responses": {
                    "200": _json_response("Deleted.", _schema("ApiKeyDeleted")),
                    **user_errors(("404", _error(404, "KEY_NOT_FOUND", "USER_NOT_FOUND"))),
                },
            },
        },
    }


def _add_server_limits(spec: Obj) -> None:
    """Any request may be too big for the HTTP server before the app sees it."""
    too_long = _error(414, "URI_TOO_LONG")
    too_large = _error(431, "HEADERS_TOO_LARGE")
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                operation["responses"].setdefault("414", too_long)
                operation["responses"].setdefault("431", too_large)


def _add_auth(spec: Obj) -> None:
    """With keys on: keys required, users and admin described, rate limits and quotas."""
    spec["security"] = [{"bearerAuth": []}]
    spec["info"]["description"] += _AUTH_DESCRIPTION
    spec["tags"] += [
        {"name": "users", "description": "The calling user."},
        {"name": "admin", "description": "Users and keys, with the admin token."},
    ]
    spec["components"]["schemas"].update(_auth_schemas())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            if path in _PUBLIC_PATHS:
                # Probes and docs are never metered: they answer even with the database down.
                operation["security"] = []
                continue
            if path in _SHARE_PATHS:  # no key: the link is the credential; limited by address
                operation["security"] = []
                responses["429"] = _error(429, "RATE_LIMITED")
                continue
            responses["401"] = _unauthorized()
            responses["403"] = _error(
                403, "FORBIDDEN", description="The admin token used on a user's route"
            )
            responses["429"] = _error(429, "RATE_LIMITED")
            if operation["operationId"] in ("uploadFile", "updateFile", "createUpload", "copyFile"):
                responses["507"] = _error(507, "QUOTA_EXCEEDED")
    spec["paths"].update(_auth_paths())


_AUTH_DESCRIPTION = """
**Keys.** Send `Authorization: Bearer <api key>`. An admin creates users and
their keys with the admin token (`FILEDROP_ADMIN_TOKEN`); a key is shown once
and stored only as a hash. A user never sees another user's files: they answer
404 like files that do not exist. An instance run with `FILEDROP_AUTH=disabled`
serves one implicit user and needs no key on the file routes. A user may make
more keys (`POST /me/keys`), each limited to one bucket (top-level folder) or
read-only if asked; each also carries an S3 key pair for the S3 API.

**S3 API.** The same files speak S3 at `/s3` (path-style `/s3/{bucket}/{key}`,
AWS Signature Version 4, S3's XML): a bucket is a top-level folder, a key the
path beneath it. It is S3's protocol, not described here; the README lists what
it supports.

**Limits.** Requests are rate limited per key (public routes per address);
over the limit answers `429` with `Retry-After`. Uploads and replaces that
would take a user over their quota answer `507 QUOTA_EXCEEDED`.
"""
