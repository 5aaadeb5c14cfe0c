"""The /files endpoints of SPEC §1."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from flask import Blueprint, Request, Response, jsonify, request

from ..checksums import ExpectedDigests
from ..errors import FileTooLarge, InvalidRequest, NoFile
from ..storage.metadata import ListCursor
from ..validation import header_file_name, int_param, validate_file_name
from .bodies import MultipartBody, RawBody, RequestBody
from .context import current_owner, get_service, get_settings
from .downloads import send_file
from .jsonbody import read_json_object

bp = Blueprint("files", __name__)

# A multipart body carries a little more than the file: boundaries, headers, fields.
_MULTIPART_OVERHEAD = 1024 * 1024


@bp.post("/files/upload")
def upload() -> tuple[Response, int, dict[str, str]]:
    service = get_service()
    _refuse_oversized(request, service.max_file_size)
    incoming: MultipartBody | RawBody
    if request.mimetype == "multipart/form-data":
        incoming = _multipart(request)
        if not incoming.find_file():
            raise NoFile("The form has no 'file' part")
    else:
        if not _has_body(request):
            raise NoFile("Send the file as a 'file' form part or as the request body")
        incoming = _raw(request, require_name=True)
        if request.content_length:
            service.check_room(current_owner(), request.content_length)
    record = service.upload(current_owner(), incoming, _digests(request))
    return jsonify(record.public()), 201, {"Location": f"/files/{record.file_id}"}


@bp.route("/files/<file_id>", methods=["GET", "HEAD"])
def download(file_id: str) -> Response:
    return send_file(get_service(), current_owner(), file_id, request)


@bp.get("/files/<file_id>/metadata")
def metadata(file_id: str) -> Response:
    return jsonify(get_service().get(current_owner(), file_id).public())


@bp.put("/files/<file_id>")
def update(file_id: str) -> Response:
    service = get_service()
    _refuse_oversized(request, service.max_file_size)
    incoming: MultipartBody | RawBody | None = None
    new_name: str | None = None
    if request.mimetype == "multipart/form-data":
        form = _multipart(request)
        if form.find_file():
            incoming = form
        else:
            new_name = form.fields.get("file_name")
    elif request.mimetype == "application/json":
        new_name = _json_file_name(request)
    elif _has_body(request):
        incoming = _raw(request, require_name=False)
    else:
        new_name = _query_or_header_name(request)
    if incoming is None and new_name is None:
        raise InvalidRequest("Send new content, a new file_name, or both")
    if_match = request.if_match if "If-Match" in request.headers else None
    record = service.replace(
        current_owner(), file_id, incoming, new_name, if_match, _digests(request)
    )
    return jsonify({"message": "File updated", "file": record.public()})


@bp.delete("/files/<file_id>")
def delete(file_id: str) -> Response:
    if_match = request.if_match if "If-Match" in request.headers else None
    get_service().delete(current_owner(), file_id, if_match)
    return jsonify({"message": "File deleted", "file_id": file_id})


@bp.get("/files")
def list_files() -> Response:
    limit = int_param(request.args.get("limit"), "limit", 100, 1, 1000)
    after = _decode_cursor(request.args.get("cursor"))
    prefix = request.args.get("prefix") or None
    records, cursor = get_service().list(current_owner(), limit, after, prefix)
    return jsonify(
        {
            "files": [r.public() for r in records],
            "next_cursor": _encode_cursor(cursor) if cursor else None,
        }
    )


# -- request parsing ---------------------------------------------------------


def _refuse_oversized(req: Request, limit: int) -> None:
    """413 before reading a byte, when the declared length is already too much."""
    length = req.content_length
    if length is None:
        return
    allowance = _MULTIPART_OVERHEAD if req.mimetype == "multipart/form-data" else 0
    if length > limit + allowance:
        raise FileTooLarge(f"The file is larger than the limit of {limit} bytes")


def _has_body(req: Request) -> bool:
    if req.content_length is not None:
        return req.content_length > 0
    return "chunked" in req.headers.get("Transfer-Encoding", "").lower()


def _multipart(req: Request) -> MultipartBody:
    boundary = req.mimetype_params.get("boundary")
    if not boundary:
        raise InvalidRequest("multipart/form-data without a boundary")
    return MultipartBody(RequestBody.of(req), boundary, _chunk_size())


def _raw(req: Request, require_name: bool) -> RawBody:
    name = _query_or_header_name(req)
    if name is not None or require_name:
        validate_file_name(name)  # fail before reading the body
    return RawBody(RequestBody.of(req), name, req.headers.get("Content-Type"), _chunk_size())


def _query_or_header_name(req: Request) -> str | None:
    header = req.headers.get("X-File-Name")
    if header is not None:
        return header_file_name(header)
    return req.args.get("file_name")


def _json_file_name(req: Request) -> str | None:
    name = read_json_object(allowed={"file_name"}).get("file_name")
    if name is not None and not isinstance(name, str):
        raise InvalidRequest("file_name must be a string")
    return name


def _digests(req: Request) -> ExpectedDigests:
    return ExpectedDigests.from_headers(
        req.headers.get("Digest"), req.headers.get("Repr-Digest"), req.headers.get("Content-MD5")
    )


def _chunk_size() -> int:
    return get_settings().chunk_size


def _encode_cursor(cursor: ListCursor) -> str:
    millis = int(cursor.created_at.timestamp() * 1000)
    raw = json.dumps([millis, cursor.file_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str | None) -> ListCursor | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        millis, file_id = json.loads(raw)
        if not isinstance(millis, int) or not isinstance(file_id, str):
            raise ValueError
        created = datetime.fromtimestamp(millis / 1000, UTC)
    # RecursionError: a token of nested "[[[…" that json cannot follow; never one of ours.
    except (ValueError, TypeError, binascii.Error, OverflowError, OSError, RecursionError):
        raise InvalidRequest("cursor is not one this server gave out") from None
    return ListCursor(created.replace(microsecond=millis % 1000 * 1000), file_id)
