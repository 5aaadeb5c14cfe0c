"""The /files endpoints, with folders, expiry, copy and batches."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Request, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from ..checksums import ExpectedDigests
from ..errors import FileDropError, FileTooLarge, InvalidRequest, NoFile
from ..folders import validate_folder
from ..service import FileService, Placement
from ..storage.metadata import SORTS, FileRecord, ListCursor, ListOrder
from ..validation import bool_param, header_file_name, int_param, validate_file_name
from .bodies import (
    MULTIPART,
    BodyKind,
    MultipartBody,
    RawBody,
    RequestBody,
    body_kind,
    has_body,
    read_form_fields,
)
from .context import current_owner, current_user, get_folders, get_service, get_settings
from .downloads import header_etags, send_file
from .jsonbody import read_json_object
from .redirects import redirect_to_storage
from .scope import check_placement, scoped_listing

bp = Blueprint("files", __name__)


class FileIdConverter(BaseConverter):
    """A file id in a path: any segment but the names of the collection's own actions,
    so ``GET /files/upload`` is ``405`` with ``Allow: POST``, not a missing file."""

    regex = r"(?!(?:upload|delete)$)[^/]+"


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    """Runs before the routes below are added: Flask replays a blueprint in order."""
    state.app.url_map.converters["file_id"] = FileIdConverter


# A multipart body carries a little more than the file: boundaries, headers, fields.
_MULTIPART_OVERHEAD = 1024 * 1024
MAX_BATCH_DELETE = 1000
# Where a file goes: form fields, query parameters or JSON keys alike.
_PLACEMENT_KEYS = ("folder", "on_conflict", "expires_in", "expires_at")


@bp.post("/files/upload")
def upload() -> tuple[Response, int, dict[str, str]]:
    service = get_service()
    _refuse_oversized(request, service.max_file_size)
    digests = _digests(request)
    kind = body_kind(request, instructions=False)
    if kind is BodyKind.MULTIPART:
        form = _multipart(request)
        if not form.find_file():
            raise NoFile("The form has no 'file' part")
        return _upload_form(service, form, digests)
    if kind is BodyKind.EMPTY:
        raise NoFile("Send the file as a 'file' form part or as the request body")
    incoming = _raw(request, require_name=True)
    where = _placement(request.args, new_file=True)  # refused before the body is read
    if request.content_length:
        service.check_room(current_owner(), request.content_length, current_user())
    record = service.upload(current_owner(), incoming, digests, lambda: where)
    return jsonify(record.public()), 201, {"Location": f"/files/{record.file_id}"}


def _upload_form(
    service: FileService, form: MultipartBody, digests: ExpectedDigests
) -> tuple[Response, int, dict[str, str]]:
    """Store each ``file`` part in turn. One file: as ever. Several: 201 with every
    file, or 207 with a result per file when any failed.

    A file that fails once its bytes were read does not stop the others; a part
    that cannot be read to its end (too large, malformed) stops the batch there.
    """
    owner = current_owner()
    results: list[tuple[str | None, FileRecord | FileDropError]] = []
    while True:
        part_name = form.fallback_name
        outcome: FileRecord | FileDropError
        try:
            outcome = service.upload(owner, form, digests, lambda: _form_placement(form, digests))
        except FileDropError as exc:
            if not results and not (form.part_finished and form.is_batch):
                raise  # a single file, or nothing stored yet and the form is unreadable
            outcome = exc
        results.append((part_name, outcome))
        if isinstance(outcome, FileDropError) and not form.part_finished:
            break
        try:
            if not form.find_file():
                break
        except FileDropError as exc:
            results.append((None, exc))
            break
    if not form.is_batch and isinstance(outcome, FileRecord):
        return jsonify(outcome.public()), 201, {"Location": f"/files/{outcome.file_id}"}
    if all(isinstance(outcome, FileRecord) for _, outcome in results):
        return (
            jsonify({"files": [o.public() for _, o in results if isinstance(o, FileRecord)]}),
            201,
            {},
        )
    items: list[dict[str, Any]] = []
    for part_name, outcome in results:
        if isinstance(outcome, FileRecord):
            items.append({"status": 201, "file": outcome.public()})
        else:
            items.append(
                {"status": outcome.status, "file_name": part_name, "error": _error_item(outcome)}
            )
    return jsonify({"files": items}), 207, {}


def _form_placement(form: MultipartBody, digests: ExpectedDigests) -> Placement:
    """Asked just before each file commits, when the fields sent so far are known."""
    if form.is_batch and digests.values:
        raise InvalidRequest(
            "Digest, Repr-Digest and Content-MD5 describe one file, not a form with several"
        )
    return _placement(form.fields, request.args, new_file=True)


def _placement(*sources: Mapping[str, Any], new_file: bool = False) -> Placement:
    """Folder, on_conflict and expiry from the first source that has each; for a key
    limited to a bucket, only a folder in it (``new_file``: a folder must be named)."""
    found: dict[str, Any] = {}
    for key in _PLACEMENT_KEYS:
        found[key] = next((source[key] for source in sources if key in source), None)
    where = Placement.parse(**found)
    check_placement(where.folder, new_file)
    return where


def _error_item(exc: FileDropError) -> dict[str, Any]:
    """The JSON error object, for one entry of a batch result."""
    return {"code": exc.code, "message": exc.message, "request_id": g.get("request_id")}


@bp.route("/files/<file_id:file_id>", methods=["GET", "HEAD"])
def download(file_id: str) -> Response:
    service, owner = get_service(), current_owner()
    redirected = redirect_to_storage(
        request, lambda expires_s, headers: service.download_url(owner, file_id, expires_s, headers)
    )
    if redirected is not None:
        return redirected
    return send_file(service, owner, file_id, request)


@bp.get("/files/<file_id>/metadata")
def metadata(file_id: str) -> Response:
    return jsonify(get_service().get(current_owner(), file_id).public())


@bp.put("/files/<file_id:file_id>")
def update(file_id: str) -> Response:
    service = get_service()
    _refuse_oversized(request, service.max_file_size)
    incoming: MultipartBody | RawBody | None = None
    new_name: str | None = None
    where = Placement()
    # A form's fields may follow its file: then they are read once the content is.
    form_placement: Callable[[], Placement] | None = None
    kind = body_kind(request, instructions=True)
    if kind is BodyKind.MULTIPART:
        form = _multipart(request)
        if form.find_file():
            incoming = form
            form_placement = functools.partial(_replace_form_placement, form)
        else:
            new_name = form.fields.get("file_name")
            where = _placement(form.fields, request.args)
    elif kind is BodyKind.FIELDS:
        fields = read_form_fields(request, allowed={"file_name", *_PLACEMENT_KEYS})
        new_name = fields.get("file_name")
        where = _placement(fields, request.args)
    elif kind is BodyKind.JSON:
        new_name, where = _json_update(request)
    elif kind is BodyKind.CONTENT:
        incoming = _raw(request, require_name=False)
        where = _placement(request.args)
    else:
        new_name = _query_or_header_name(request)
        where = _placement(request.args)
    if incoming is None and new_name is None and not where.changes_anything:
        raise InvalidRequest("Send new content, a new file_name, folder or expiry")
    if_match = header_etags(request, "If-Match")
    record = service.replace(
        current_owner(),
        file_id,
        incoming,
        new_name,
        if_match,
        _digests(request),
        form_placement or (lambda: where),
    )
    return jsonify({"message": "File updated", "file": record.public()})


def _replace_form_placement(form: MultipartBody) -> Placement:
    if form.more_files:
        raise InvalidRequest("A replace takes one 'file' part")
    return _placement(form.fields, request.args)


@bp.post("/files/<file_id>/copy")
def copy(file_id: str) -> tuple[Response, int, dict[str, str]]:
    body = _optional_json({"file_name", *_PLACEMENT_KEYS})
    new_name = _string_or_none(body, "file_name")
    record = get_service().copy(current_owner(), file_id, new_name, _placement(body))
    return jsonify(record.public()), 201, {"Location": f"/files/{record.file_id}"}


@bp.post("/files/delete")
def delete_many() -> tuple[Response, int]:
    file_ids = read_json_object(allowed={"file_ids"}).get("file_ids")
    if (
        not isinstance(file_ids, list)
        or not 1 <= len(file_ids) <= MAX_BATCH_DELETE
        or not all(isinstance(file_id, str) for file_id in file_ids)
    ):
        raise InvalidRequest(f"file_ids must be a list of 1 to {MAX_BATCH_DELETE} file ids")
    results = get_service().delete_many(current_owner(), file_ids)
    items: list[dict[str, Any]] = []
    for file_id, outcome in zip(file_ids, results, strict=True):
        if isinstance(outcome, FileRecord):
            items.append({"file_id": file_id, "status": 200})
        else:
            items.append(
                {"file_id": file_id, "status": outcome.status, "error": _error_item(outcome)}
            )
    status = 200 if all(isinstance(outcome, FileRecord) for outcome in results) else 207
    return jsonify({"files": items}), status


@bp.delete("/files/<file_id:file_id>")
def delete(file_id: str) -> Response:
    if_match = header_etags(request, "If-Match")
    get_service().delete(current_owner(), file_id, if_match)
    return jsonify({"message": "File deleted", "file_id": file_id})


@bp.get("/files")
def list_files() -> Response:
    limit = int_param(request.args.get("limit"), "limit", 100, 1, 1000)
    order = _list_order(request.args.get("sort") or "date", request.args.get("order") or None)
    after = _decode_cursor(request.args.get("cursor"), order)
    prefix = request.args.get("prefix") or None
    raw_folder = request.args.get("folder")
    asked = None if raw_folder is None else validate_folder(raw_folder)
    folder = scoped_listing(asked)
    # A bucket-scoped key asking for no folder sees everything in its bucket.
    recursive = bool_param(request.args.get("recursive"), "recursive") or folder != asked
    owner = current_owner()
    records, cursor = get_service().list(owner, limit, after, prefix, folder, recursive, order)
    body: dict[str, Any] = {"files": [r.public() for r in records]}
    if folder is not None:
        # The direct subfolders, complete, on the first page; later pages carry files only.
        subfolders = get_folders().subfolders(owner, folder) if after is None else []
        body["folders"] = [f.public() for f in subfolders]
    body["next_cursor"] = _encode_cursor(cursor, order) if cursor else None
    return jsonify(body)


# -- request parsing ---------------------------------------------------------


def _refuse_oversized(req: Request, limit: int) -> None:
    """413 before reading a byte, when the declared length is already too much."""
    length = req.content_length
    if length is None:
        return
    allowance = _MULTIPART_OVERHEAD if req.mimetype == MULTIPART else 0
    if length > limit + allowance:
        raise FileTooLarge(f"The file is larger than the limit of {limit} bytes")


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


def _json_update(req: Request) -> tuple[str | None, Placement]:
    """A JSON PUT: rename, move, set or (``"expires_at": null``) clear the expiry."""
    body = read_json_object(allowed={"file_name", *_PLACEMENT_KEYS})
    clear = "expires_at" in body and body["expires_at"] is None
    where = Placement.parse(
        body.get("folder"),
        body.get("on_conflict"),
        body.get("expires_in"),
        body.get("expires_at"),
        clear_expiry=clear,
    )
    check_placement(where.folder, new_file=False)
    return _string_or_none(body, "file_name"), where


def _string_or_none(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string")
    return value


def _optional_json(allowed: set[str]) -> dict[str, Any]:
    """A JSON object body, or {} when there is no body at all."""
    return read_json_object(allowed=allowed) if has_body(request) else {}


def _digests(req: Request) -> ExpectedDigests:
    return ExpectedDigests.from_headers(
        req.headers.get("Digest"), req.headers.get("Repr-Digest"), req.headers.get("Content-MD5")
    )


def _chunk_size() -> int:
    return get_settings().chunk_size


# Each sort's direction when ``order`` is not given: newest, A to Z, largest first.
_DEFAULT_DESCENDING = {"date": True, "name": False, "size": True}


def _list_order(sort: str, order: str | None) -> ListOrder:
    if sort not in SORTS:
        raise InvalidRequest("sort must be one of: " + ", ".join(SORTS))
    if order not in (None, "asc", "desc"):
        raise InvalidRequest("order must be asc or desc")
    descending = _DEFAULT_DESCENDING[sort] if order is None else order == "desc"
    return ListOrder(sort, descending)


def _encode_cursor(cursor: ListCursor, order: ListOrder) -> str:
    """An opaque token naming its order, so it is refused under any other."""
    key = cursor.key
    if isinstance(key, datetime):
        key = int(key.timestamp() * 1000)
    fields = [order.sort, "desc" if order.descending else "asc", key, cursor.file_id]
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str | None, order: ListOrder) -> ListCursor | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fields = json.loads(raw)
        if isinstance(fields, list) and len(fields) == 2:
            fields = ["date", "desc", *fields]  # tokens from before sorting: newest first
        sort, direction, key, file_id = fields
        if not isinstance(file_id, str) or sort not in SORTS or direction not in ("asc", "desc"):
            raise ValueError
        if not isinstance(key, str if sort == "name" else int) or isinstance(key, bool):
            raise ValueError
        if sort == "date" and isinstance(key, int):
            created = datetime.fromtimestamp(key / 1000, UTC)
            key = created.replace(microsecond=key % 1000 * 1000)
    # RecursionError: a token of nested "[[[…" that json cannot follow; never one of ours.
    except (ValueError, TypeError, binascii.Error, OverflowError, OSError, RecursionError):
        raise InvalidRequest("cursor is not one this server gave out") from None
    if ListOrder(sort, direction == "desc") != order:
        raise InvalidRequest(f"cursor was given out for sort={sort}&order={direction}")
    return ListCursor(key, file_id)
