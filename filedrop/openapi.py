"""The OpenAPI 3.1 description of FILE DROP's HTTP API, built as a Python dict.

This module owns the published contract of every route: parameters, headers,
bodies, response schemas and each error status an operation can answer.
It is code rather than a JSON file so the parts that must agree with the
server are taken from it: the error codes come from :mod:`filedrop.errors`,
the file-name limits from :mod:`filedrop.validation`, the version from the
package. ``tests/test_openapi.py`` checks that the served routes and the
document's paths are the same set, that the document is valid OpenAPI 3.1,
and that real responses match the schemas.

The users, keys and admin endpoints of SPEC §4 are described apart, in
:func:`_auth_paths`, and join the document only with ``include_auth=True``:
that also requires a bearer key on every file operation and adds the 401,
403, 429 and 507 answers that come with users, rate limits and quotas.
"""

from __future__ import annotations

import copy
from typing import Any

from . import __version__
from .errors import _HTTP_CODES, FileDropError
from .validation import MAX_NAME_LENGTH

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"

Obj = dict[str, Any]

# The SPEC §4 paths; docs.py includes them as soon as the app serves any of them.
AUTH_PATHS = frozenset(
    {
        "/admin/users",
        "/admin/users/{user_id}",
        "/admin/users/{user_id}/keys",
        "/admin/status",
        "/me",
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
        f"A file name that is empty, longer than {MAX_NAME_LENGTH} characters, "
        "or contains `/` or control characters.",
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
    "USER_NOT_FOUND": ("No user with this id.", "No user with id u_Yq3n0Zb1mPx7TkQa"),
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
    "INTERNAL_ERROR": (
        "A bug: no stack trace in the body, the full trace is in the server log.",
        "Internal error; see the server log",
    ),
}

_STATUS_TEXT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    412: "Precondition failed",
    413: "Content too large",
    416: "Range not satisfiable",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    507: "Insufficient storage",
}


def error_codes() -> list[str]:
    """Every code the error handlers can put in an error body, sorted."""
    codes = {FileDropError.code, *_HTTP_CODES.values()}
    pending = list(FileDropError.__subclasses__())
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


def build_spec(include_auth: bool = False) -> Obj:
    """The OpenAPI 3.1 document; ``include_auth`` adds SPEC §4 (users, keys, admin)."""
    paths: Obj = {**_health_paths(), **_docs_paths(), **_file_paths()}
    components = _components()
    spec: Obj = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "FILE DROP",
            "version": __version__,
            "summary": "Upload, read, update, delete and list files over REST.",
            "description": _DESCRIPTION,
        },
        "tags": [
            {"name": "files", "description": "Files: content and metadata (SPEC §1)."},
            {"name": "health", "description": "Liveness and readiness probes (SPEC §6)."},
            {"name": "docs", "description": "This document and its interactive viewer."},
        ],
        "paths": paths,
        "components": components,
    }
    if include_auth:
        _add_auth(spec)
    # Building blocks are shared between operations; callers get their own copy.
    return copy.deepcopy(spec)


def to_openapi_path(flask_rule: str) -> str:
    """``/files/<file_id>`` (a Flask rule, converters allowed) as ``/files/{file_id}``."""
    out: list[str] = []
    rest = flask_rule
    while "<" in rest:
        head, _, tail = rest.partition("<")
        variable, _, rest = tail.partition(">")
        out.append(head + "{" + variable.rpartition(":")[2] + "}")
    out.append(rest)
    return "".join(out)


_DESCRIPTION = """\
FILE DROP stores files: the bytes in S3-compatible object storage, the
metadata in MongoDB.

**Errors.** Every error is JSON with the right status:
`{"error": {"code": "FILE_NOT_FOUND", "message": "…", "request_id": "…"}}`.
The codes are listed in the `ErrorCode` schema. A method a path does not serve
gets `405 METHOD_NOT_ALLOWED` with an `Allow` header; an unknown path gets
`404 NOT_FOUND`. Any operation may answer `500 INTERNAL_ERROR` on a bug.

**Request ids.** Every response carries `X-Request-Id`, the one the access log
shows. A client may send its own (`[A-Za-z0-9._:-]{1,128}`) and it is echoed.

**ETags.** A file's ETag is its SHA-256 in quotes. `If-None-Match` on a
download answers `304`; `If-Match` on `PUT`/`DELETE` answers `412` on a
mismatch and changes nothing.

**Ranges.** `Range: bytes=a-b`, `a-` and `-n` answer `206` with
`Content-Range`; an unsatisfiable range answers `416`; a multi-range request
is served whole, as `200`.
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

_TIMESTAMP: Obj = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
    "description": "UTC, ISO 8601 with milliseconds and `Z`.",
    "examples": ["2026-11-25T19:30:00.123Z"],
}
_SHA256: Obj = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ETAG: Obj = {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}
_BINARY: Obj = {
    "type": "string",
    "format": "binary",
    "contentMediaType": "application/octet-stream",
}

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
            "Several ranges, or an unparsable header, get the whole file."
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
    "Limit": {
        "name": "limit",
        "in": "query",
        "description": "Page size.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    "Cursor": {
        "name": "cursor",
        "in": "query",
        "description": "Opaque: `next_cursor` of the previous page.",
        "schema": {"type": "string"},
    },
    "Prefix": {
        "name": "prefix",
        "in": "query",
        "description": "Only files whose `file_name` starts with this.",
        "schema": {"type": "string"},
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
    file_metadata: Obj = {
        "type": "object",
        "description": "A file's metadata (SPEC §1). Fields may be added; none changes meaning.",
        "required": [
            "file_id",
            "file_name",
            "file_size",
            "file_type",
            "created_at",
            "updated_at",
            "sha256",
            "etag",
        ],
        "properties": {
            "file_id": {
                "type": "string",
                "description": "Unguessable (96 random bits), URL-safe, never reused.",
                "examples": ["8kQ2mZrT4vXn1bYc"],
            },
            "file_name": _schema("FileName"),
            "file_size": {"type": "integer", "minimum": 0},
            "file_type": {
                "type": "string",
                "description": (
                    "The media type the client declared, or one detected from the content or name."
                ),
                "examples": ["application/pdf"],
            },
            "created_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
            "sha256": _SHA256,
            "etag": _ETAG,
        },
    }
    schemas: Obj = {
        "FileName": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": "^[^/\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]+$",
            "description": (
                "Any Unicode, no `/`, no NUL or control characters. Metadata only: "
                "never a path or an object key."
            ),
            "examples": ["report.pdf"],
        },
        "FileMetadata": file_metadata,
        "FileList": {
            "type": "object",
            "required": ["files", "next_cursor"],
            "properties": {
                "files": {
                    "type": "array",
                    "items": _schema("FileMetadata"),
                    "description": "Newest first.",
                },
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last page.",
                },
            },
        },
        "FileUpdated": {
            "type": "object",
            "required": ["message", "file"],
            "properties": {
                "message": {"const": "File updated"},
                "file": _schema("FileMetadata"),
            },
        },
        "FileDeleted": {
            "type": "object",
            "required": ["message", "file_id"],
            "properties": {"message": {"const": "File deleted"}, "file_id": {"type": "string"}},
        },
        "UploadForm": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {
                    **_BINARY,
                    "description": (
                        "The content. Its part `filename` names the file unless "
                        "`file_name` is sent; its part `Content-Type` is the declared type."
                    ),
                },
                "file_name": _schema("FileName"),
            },
        },
        "ReplaceForm": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "file": {**_BINARY, "description": "New content (optional)."},
                "file_name": {**_schema("FileName"), "description": "A new name (optional)."},
            },
        },
        "RenameRequest": {
            "type": "object",
            "required": ["file_name"],
            "additionalProperties": False,
            "properties": {"file_name": _schema("FileName")},
        },
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
            "description": "Every error response (SPEC §2).",
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
    return {
        "schemas": schemas,
        "parameters": _PARAMETERS,
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


def _download_responses(head: bool) -> Obj:
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
    not_found = _error(404, "FILE_NOT_FOUND")
    unsatisfiable = _error(416, "RANGE_NOT_SATISFIABLE")
    unsatisfiable["headers"]["Content-Range"] = {
        **_HEADER_COMPONENTS["Content-Range"],
        "required": True,
    }
    if head:
        for response in (not_found, unsatisfiable):
            del response["content"]
    return {
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
                    "`multipart/form-data` is a raw body: the type is stored as "
                    "`file_type`, or detected when it is absent or "
                    "`application/octet-stream`."
                ),
                "parameters": [
                    _param("X-File-Name"),
                    _param("FileNameQuery"),
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
                        "Stored.", _schema("FileMetadata"), required_headers=("Location",)
                    ),
                    "400": _error(
                        400, "NO_FILE", "INVALID_FILE_NAME", "INVALID_REQUEST", "CHECKSUM_MISMATCH"
                    ),
                    "413": _error(413, "FILE_TOO_LARGE"),
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
                "summary": "Replace a file's content and/or rename it",
                "description": (
                    "New content: `multipart/form-data` with a part `file`, or a raw "
                    'body. Rename: a `file_name` form field, JSON `{"file_name": …}`, '
                    "or with an empty body `X-File-Name` / `?file_name=`. Both at once: "
                    "a form with `file` and `file_name`, or a raw body with "
                    "`X-File-Name`. The content is swapped atomically: readers see the "
                    "old or the new, never a mix."
                ),
                "parameters": [
                    _param("If-Match"),
                    _param("X-File-Name"),
                    _param("FileNameQuery"),
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
                        "application/octet-stream": raw_body,
                        "*/*": raw_body,
                    },
                },
                "responses": {
                    "200": _json_response("Updated.", _schema("FileUpdated")),
                    "400": _error(400, "INVALID_REQUEST", "INVALID_FILE_NAME", "CHECKSUM_MISMATCH"),
                    "404": _error(404, "FILE_NOT_FOUND"),
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
                "summary": "List files, newest first",
                "description": "Pages never skip or repeat a file while files are being added.",
                "parameters": [
                    _param("Limit"),
                    _param("Cursor"),
                    _param("Prefix"),
                    _param("X-Request-Id"),
                ],
                "responses": {
                    "200": _json_response("A page of files.", _schema("FileList")),
                    "400": _error(400, "INVALID_REQUEST"),
                    "503": _unavailable("DATABASE_UNAVAILABLE"),
                    "500": _INTERNAL,
                },
            }
        },
    }


# == SPEC §4: users, keys, admin, rate limits, quotas ===============================
# Switched on by build_spec(include_auth=True); docs.py does that as soon as the app
# serves any of AUTH_PATHS. tests/test_openapi.py checks that these and the routes
# agree, and that the responses match.

_PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
_CACHE_CONTROL_NO_STORE: Obj = {
    "description": "Keys are never cached.",
    "schema": {"const": "no-store"},
    "required": True,
}


def _auth_schemas() -> Obj:
    count: Obj = {"type": "integer", "minimum": 0}
    check: Obj = {
        "type": "object",
        "required": ["ok", "latency_ms"],
        "properties": {
            "ok": {"type": "boolean"},
            "latency_ms": {"type": "number", "minimum": 0},
            "error": _schema("ErrorCode"),
        },
    }
    return {
        "Usage": {
            "type": "object",
            "required": ["file_count", "bytes_used", "quota_bytes"],
            "properties": {"file_count": count, "bytes_used": count, "quota_bytes": count},
        },
        "User": {
            "type": "object",
            "required": ["user_id", "name", "created_at", "usage"],
            "properties": {
                "user_id": {"type": "string", "examples": ["u_Yq3n0Zb1mPx7TkQa"]},
                "name": {"type": "string"},
                "created_at": _TIMESTAMP,
                "usage": _schema("Usage"),
            },
        },
        "NewUserRequest": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "quota_bytes": {
                    "description": "Bytes, or a size like `5GiB`; `DEFAULT_QUOTA_BYTES` if absent.",
                    "oneOf": [
                        {"type": "integer", "minimum": 0},
                        {"type": "string", "examples": ["5GiB", "500MB"]},
                    ],
                },
            },
        },
        "NewUser": {
            "type": "object",
            "required": ["user", "api_key"],
            "properties": {
                "user": _schema("User"),
                "api_key": {
                    "type": "string",
                    "description": "Shown this once; only its hash is stored.",
                    "examples": ["fd_4n8x…"],
                },
            },
        },
        "UserEnvelope": {
            "type": "object",
            "required": ["user"],
            "properties": {"user": _schema("User")},
        },
        "UserList": {
            "type": "object",
            "required": ["users"],
            "properties": {"users": {"type": "array", "items": _schema("User")}},
        },
        "UserDeleted": {
            "type": "object",
            "required": ["message", "user_id", "files_deleted"],
            "properties": {
                "message": {"const": "User deleted"},
                "user_id": {"type": "string"},
                "files_deleted": count,
            },
        },
        "NewKey": {
            "type": "object",
            "required": ["user_id", "api_key"],
            "description": "The new key, shown once; the old key stops working at once.",
            "properties": {"user_id": {"type": "string"}, "api_key": {"type": "string"}},
        },
        "AdminStatus": {
            "type": "object",
            "required": [
                "version",
                "uptime_s",
                "backend",
                "checks",
                "load_average",
                "memory_rss_bytes",
                "totals",
            ],
            "properties": {
                "version": {"type": "string"},
                "uptime_s": {"type": "number", "minimum": 0},
                "backend": {
                    "type": "object",
                    "description": "Which stores hold the metadata and the blobs.",
                    "required": ["metadata", "blobs"],
                    "properties": {
                        "metadata": {"type": "string", "examples": ["mongo", "sqlite"]},
                        "blobs": {"type": "string", "examples": ["s3", "local"]},
                    },
                },
                "checks": {
                    "type": "object",
                    "required": ["database", "storage"],
                    "properties": {"database": check, "storage": check},
                },
                "load_average": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 3,
                    "maxItems": 3,
                },
                "memory_rss_bytes": {"type": ["integer", "null"], "minimum": 0},
                "totals": {
                    "description": "Over all users; `{error}` when the database did not answer.",
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["users", "files", "bytes"],
                            "properties": {"users": count, "files": count, "bytes": count},
                        },
                        {
                            "type": "object",
                            "required": ["error"],
                            "properties": {"error": _schema("ErrorCode")},
                        },
                    ],
                },
                "disk": {
                    "type": "object",
                    "description": "Local blob storage only: the data directory's disk.",
                    "required": ["path", "free_bytes", "total_bytes"],
                    "properties": {
                        "path": {"type": "string"},
                        "free_bytes": count,
                        "total_bytes": count,
                    },
                },
            },
        },
    }


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
                "summary": "Delete a user: their key stops working, then their files go",
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
                "summary": "Issue a new key for a user; the old one stops working",
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
    }


def _add_auth(spec: Obj) -> None:
    """SPEC §4: keys required, users and admin described, rate limits and quotas."""
    spec["security"] = [{"bearerAuth": []}]
    spec["info"]["description"] += _AUTH_DESCRIPTION
    spec["tags"] += [
        {"name": "users", "description": "The calling user (SPEC §4)."},
        {"name": "admin", "description": "Users and keys, with the admin token (SPEC §4)."},
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
            responses["401"] = _unauthorized()
            responses["403"] = _error(
                403, "FORBIDDEN", description="The admin token used on a user's route"
            )
            responses["429"] = _error(429, "RATE_LIMITED")
            if operation["operationId"] in ("uploadFile", "updateFile"):
                responses["507"] = _error(507, "QUOTA_EXCEEDED")
    spec["paths"].update(_auth_paths())


_AUTH_DESCRIPTION = """
**Keys.** Send `Authorization: Bearer <api key>`. An admin creates users and
their keys with the admin token (`FILEDROP_ADMIN_TOKEN`); a key is shown once
and stored only as a hash. A user never sees another user's files: they answer
404 like files that do not exist. An instance run with `FILEDROP_AUTH=disabled`
serves one implicit user and needs no key on the file routes.

**Limits.** Requests are rate limited per key (public routes per address);
over the limit answers `429` with `Retry-After`. Uploads and replaces that
would take a user over their quota answer `507 QUOTA_EXCEEDED`.
"""
