"""The /files endpoints, with folders, expiry, copy and batches."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from flask import Blueprint, Request, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from ..errors import FileDropError, FileTooLarge, InvalidRequest, NoFile
from ..services.checksums import ExpectedDigests
from ..services.files import FileService, Placement
from ..storage.metadata import FileRecord
from ..validation import header_file_name, validate_file_name
from .bodies import (
    MULTIPART,
    BodyKind,
    MultipartBody,
    RawBody,
    RequestBody,
    body_kind,
    read_form_fields,
)
from .context import current_owner, current_user, get_folders, get_service, get_settings
from .downloads import header_etags, send_file
from .models.requests import (
    CopyRequest,
    DeleteFilesRequest,
    FileListQuery,
    PlacementFields,
    RenameForm,
    RenameRequest,
    encode_cursor,
)
from .models.responses import (
    BatchUploadResult,
    DeletedFile,
    DeleteFilesResult,
    ErrorDetail,
    FailedPart,
    FileDeleted,
    FileList,
    FileMetadata,
    FileUpdated,
    Folder,
    StoredPart,
    UploadedFiles,
)
from .parsing import parse, parse_json, parse_query
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
    return _created(record)


def _created(record: FileRecord) -> tuple[Response, int, dict[str, str]]:
    return jsonify(FileMetadata.of(record).to_json()), 201, {"Location": f"/files/{record.file_id}"}


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
        return _created(outcome)
    stored = [FileMetadata.of(o) for _, o in results if isinstance(o, FileRecord)]
    if len(stored) == len(results):
        return jsonify(UploadedFiles(files=stored).to_json()), 201, {}
    parts: list[StoredPart | FailedPart] = [
        StoredPart(status=201, file=FileMetadata.of(outcome))
        if isinstance(outcome, FileRecord)
        else FailedPart(status=outcome.status, file_name=part_name, error=_error_item(outcome))
        for part_name, outcome in results
    ]
    return jsonify(BatchUploadResult(files=parts).to_json()), 207, {}


def _form_placement(form: MultipartBody, digests: ExpectedDigests) -> Placement:
    """Asked just before each file commits, when the fields sent so far are known."""
    if form.is_batch and digests.values:
        raise InvalidRequest(
            "Digest, Repr-Digest and Content-MD5 describe one file, not a form with several"
        )
    return _placement(form.fields, request.args, new_file=True)


def _placement(*sources: Mapping[str, str], new_file: bool = False) -> Placement:
    """Folder, on_conflict and expiry from the first source that has each; for a key
    limited to a bucket, only a folder in it (``new_file``: a folder must be named)."""
    found = {}
    for key in PlacementFields.model_fields:
        value = next((source[key] for source in sources if key in source), None)
        if value is not None:
            found[key] = value
    where = parse(PlacementFields, found).placement()
    check_placement(where.folder, new_file)
    return where


def _error_item(exc: FileDropError) -> ErrorDetail:
    """The JSON error object, for one entry of a batch result."""
    return ErrorDetail(code=exc.code, message=exc.message, request_id=g.get("request_id"))


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
    return jsonify(FileMetadata.of(get_service().get(current_owner(), file_id)).to_json())


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
        fields = read_form_fields(request, allowed=set(RenameForm.model_fields))
        new_name = fields.get("file_name")
        where = _placement(fields, request.args)
    elif kind is BodyKind.JSON:
        # A JSON PUT: rename, move, set or (``"expires_at": null``) clear the expiry.
        asked = parse_json(RenameRequest)
        new_name, where = asked.file_name, asked.update()
        check_placement(where.folder, new_file=False)
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
    return jsonify(FileUpdated(message="File updated", file=FileMetadata.of(record)).to_json())


def _replace_form_placement(form: MultipartBody) -> Placement:
    if form.more_files:
        raise InvalidRequest("A replace takes one 'file' part")
    return _placement(form.fields, request.args)


@bp.post("/files/<file_id>/copy")
def copy(file_id: str) -> tuple[Response, int, dict[str, str]]:
    asked = parse_json(CopyRequest, optional=True)
    where = asked.placement()
    check_placement(where.folder, new_file=False)
    return _created(get_service().copy(current_owner(), file_id, asked.file_name, where))


@bp.post("/files/delete")
def delete_many() -> tuple[Response, int]:
    file_ids = parse_json(DeleteFilesRequest).file_ids
    results = get_service().delete_many(current_owner(), file_ids)
    items = [
        DeletedFile(file_id=file_id, status=200)
        if isinstance(outcome, FileRecord)
        else DeletedFile(file_id=file_id, status=outcome.status, error=_error_item(outcome))
        for file_id, outcome in zip(file_ids, results, strict=True)
    ]
    status = 200 if all(isinstance(outcome, FileRecord) for outcome in results) else 207
    return jsonify(DeleteFilesResult(files=items).to_json()), status


@bp.delete("/files/<file_id:file_id>")
def delete(file_id: str) -> Response:
    if_match = header_etags(request, "If-Match")
    get_service().delete(current_owner(), file_id, if_match)
    return jsonify(FileDeleted(message="File deleted", file_id=file_id).to_json())


@bp.get("/files")
def list_files() -> Response:
    asked = parse_query(FileListQuery)
    folder = scoped_listing(asked.folder)
    # A bucket-scoped key asking for no folder sees everything in its bucket.
    recursive = asked.recursive or folder != asked.folder
    owner, after, order = current_owner(), asked.after, asked.list_order
    records, cursor = get_service().list(
        owner, asked.limit, after, asked.prefix or None, folder, recursive, order
    )
    body = FileList(
        files=[FileMetadata.of(r) for r in records],
        next_cursor=encode_cursor(cursor, order) if cursor else None,
    )
    if folder is not None:
        # The direct subfolders, complete, on the first page; later pages carry files only.
        subfolders = get_folders().subfolders(owner, folder) if after is None else []
        body.folders = [Folder.of(f) for f in subfolders]
    return jsonify(body.to_json())


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


def _digests(req: Request) -> ExpectedDigests:
    return ExpectedDigests.from_headers(
        req.headers.get("Digest"), req.headers.get("Repr-Digest"), req.headers.get("Content-MD5")
    )


def _chunk_size() -> int:
    return get_settings().chunk_size
