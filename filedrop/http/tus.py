"""Resumable uploads over tus 1.0.0 at ``/uploads/``: the protocol's headers in,
:class:`filedrop.services.uploads.UploadService` behind.

Extensions: creation, creation-with-upload, termination, expiration and
checksum (sha1, md5, sha256, sha512). ``GET /uploads/{id}`` (not part of tus)
shows the upload as JSON, with its ``file_id`` once complete. Authenticated and
rate limited like every route; errors are the API's JSON (no body on HEAD).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from ..errors import (
    BodyInterrupted,
    InvalidFileName,
    InvalidRequest,
    PreconditionFailed,
    UnsupportedMediaType,
)
from ..services.folders import validate_folder
from ..services.uploads import (
    CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    Body,
    NewUpload,
    UploadChecksum,
    public_status,
)
from ..storage.metadata import UploadRecord
from ..validation import declared_media_type, validate_file_name
from .bodies import OFFSET_STREAM, RequestBody, has_body
from .context import current_owner, get_settings, get_uploads

bp = Blueprint("tus", __name__)

MAX_METADATA_CHARS = 8 * 1024
_MAX_DIGITS = 19  # an int64, as S3 and our stores count bytes


@bp.before_request
def _require_tus_version() -> None:
    """400 without Tus-Resumable (a malformed tus request), 412 with Tus-Version for
    another version (OPTIONS and the JSON status are not tus requests)."""
    if request.method in ("OPTIONS", "GET"):
        return
    version = request.headers.get("Tus-Resumable")
    if version is None:
        raise InvalidRequest(f"Send Tus-Resumable: {TUS_VERSION}", Tus_Version=TUS_VERSION)
    if version != TUS_VERSION:
        raise PreconditionFailed(
            f"Send Tus-Resumable: {TUS_VERSION} (got {version!r})", Tus_Version=TUS_VERSION
        )


@bp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    if response.status_code == 460:  # tus's own status; Werkzeug has no reason phrase for it
        response.status = "460 Checksum Mismatch"
    return response


@bp.route("/uploads/", methods=["OPTIONS"], strict_slashes=False, provide_automatic_options=False)
@bp.route("/uploads/<upload_id>", methods=["OPTIONS"], provide_automatic_options=False)
def discover(upload_id: str | None = None) -> Response:
    """What this server supports (tus discovery)."""
    return _empty(
        204,
        {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": ",".join(TUS_EXTENSIONS),
            "Tus-Max-Size": str(get_uploads().max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@bp.route("/uploads/", methods=["POST"], strict_slashes=False, provide_automatic_options=False)
def create() -> tuple[Response, int, dict[str, str]]:
    if "Upload-Defer-Length" in request.headers:
        raise InvalidRequest("Upload-Defer-Length is not supported: send Upload-Length")
    new = _new_upload(_int_header("Upload-Length"), request.headers.get("Upload-Metadata", ""))
    body: Body | None = None
    if request.mimetype == OFFSET_STREAM:
        body = _body()
    elif has_body(request):
        raise UnsupportedMediaType(f"A creation body must be {OFFSET_STREAM}")
    record = get_uploads().create(current_owner(), new, body)
    headers = _progress_headers(record)
    headers["Location"] = f"/uploads/{record.upload_id}"
    return jsonify(public_status(record)), 201, headers


@bp.route("/uploads/<upload_id>", methods=["GET", "HEAD"], provide_automatic_options=False)
def status(upload_id: str) -> Response | tuple[Response, int, dict[str, str]]:
    """HEAD: the tus offset. GET: the upload as JSON (with ``file_id`` once complete)."""
    record = get_uploads().status(current_owner(), upload_id)
    headers = _progress_headers(record)
    headers["Upload-Length"] = str(record.length)
    headers["Cache-Control"] = "no-store"
    if request.method == "HEAD":
        if record.metadata:
            headers["Upload-Metadata"] = record.metadata
        return _empty(200, headers)
    return jsonify(public_status(record)), 200, headers


@bp.route("/uploads/<upload_id>", methods=["PATCH"], provide_automatic_options=False)
def append(upload_id: str) -> Response:
    if request.mimetype != OFFSET_STREAM:
        raise UnsupportedMediaType(f"PATCH bodies must be {OFFSET_STREAM}")
    offset = _int_header("Upload-Offset")
    record = get_uploads().append(current_owner(), upload_id, offset, _body())
    return _empty(204, _progress_headers(record))


@bp.route("/uploads/<upload_id>", methods=["DELETE"], provide_automatic_options=False)
def terminate(upload_id: str) -> Response:
    get_uploads().terminate(current_owner(), upload_id)
    return _empty(204, {})


# -- request parsing ---------------------------------------------------------------


def _empty(status: int, headers: dict[str, str]) -> Response:
    """A response without a body, and so without a Content-Type."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response


def _progress_headers(record: UploadRecord) -> dict[str, str]:
    headers = {"Upload-Offset": str(record.offset)}
    if record.complete:
        headers["X-File-Id"] = record.file_id
    else:
        headers["Upload-Expires"] = http_date(record.expires_at)
    return headers


def _int_header(name: str) -> int:
    raw = request.headers.get(name)
    if raw is None:
        raise InvalidRequest(f"{name} is required")
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_DIGITS:
        raise InvalidRequest(f"{name} must be a non-negative integer")
    return int(value)


def _body() -> Body:
    stream = RequestBody.of(request)
    return Body(
        _chunks(stream, get_settings().chunk_size),
        request.content_length,
        _checksum(request.headers.get("Upload-Checksum")),
    )


def _chunks(stream: RequestBody, size: int) -> Iterator[bytes]:
    """The body's chunks; a client that stops sending mid-body is BodyInterrupted."""
    try:
        while chunk := stream.read(size):
            yield chunk
    except (InvalidRequest, ClientDisconnected) as exc:
        raise BodyInterrupted(
            "The request body ended before its end; the bytes that arrived were kept"
            " unless an Upload-Checksum covered them"
        ) from exc


def _checksum(header: str | None) -> UploadChecksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise InvalidRequest(
            f"Upload-Checksum algorithm {algorithm!r} is not supported;"
            f" use one of {', '.join(CHECKSUM_ALGORITHMS)}"
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("Upload-Checksum digest is not valid base64") from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise InvalidRequest(f"Upload-Checksum digest is not a {algorithm} digest")
    return UploadChecksum(algorithm, digest)


def _new_upload(length: int, raw_metadata: str) -> NewUpload:
    pairs = _metadata(raw_metadata)
    name = pairs.get("filename", pairs.get("name"))
    if name is None:
        raise InvalidFileName("Upload-Metadata must carry the file's name as 'filename'")
    folder = pairs.get("folder")
    return NewUpload(
        length=length,
        metadata=raw_metadata.strip(),
        file_name=validate_file_name(name),
        file_type=declared_media_type(pairs.get("filetype", pairs.get("type"))),
        folder=None if folder is None else validate_folder(folder),
    )


def _metadata(raw: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (value optional)."""
    if len(raw) > MAX_METADATA_CHARS:
        raise InvalidRequest(f"Upload-Metadata is longer than {MAX_METADATA_CHARS} characters")
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        if not key.isascii() or not key.isprintable() or key in pairs:
            raise InvalidRequest(f"Upload-Metadata has a bad or repeated key {key!r}")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"Upload-Metadata value of {key!r} is not base64 UTF-8") from None
    return pairs
