"""The REST API's JSON bodies as typed models: each field list written once.

Requests are parsed into these models (:mod:`filedrop.http.parsing`) and hand
the services typed values; responses are built from the records the services
return. :func:`component_schemas` publishes the same models as the OpenAPI
document's schemas, under their class names.

A field that a domain rule checks (a folder path, a quota) runs that rule
through :func:`domain_rule`, so the rule stays in its module and its error
keeps its code.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    SkipJsonSchema,
    models_json_schema,
)
from pydantic_core import PydanticCustomError, core_schema

from ..config import parse_size
from ..errors import FileDropError, InvalidRequest
from ..expiry import MAX_EXPIRES_IN, expiry_moment
from ..folders import Folder as FolderValue
from ..folders import validate_folder
from ..links import MAX_DOWNLOADS, MAX_PASSWORD_LENGTH, LinkState
from ..service import OnConflict, Placement
from ..storage.metadata import (
    FileRecord,
    LinkRecord,
    ListCursor,
    UploadRecord,
    UserRecord,
    iso_ms,
    utcnow,
)
from ..users import MAX_USER_NAME

REF_TEMPLATE = "#/components/schemas/{model}"
MAX_BATCH_DELETE = 1000
MAX_LIST_LIMIT = 1000
DOMAIN_ERROR = "domain_rule"


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


class RequestModel(BaseModel):
    """A body or query the API parses: described in the document as it is parsed."""


class ResponseModel(BaseModel):
    """A body the API sends: described in the document as it is sent."""

    def to_json(self) -> dict[str, Any]:
        """The body; a field left unset (an optional part) is left out."""
        return self.model_dump(mode="json", exclude_unset=True)


def domain_rule(rule: Callable[[Any], Any]) -> BeforeValidator:
    """``rule`` as a field validator: its error is collected with pydantic's own (the
    first in field order wins), and :func:`filedrop.http.parsing.parse` raises it as is."""

    def check(value: Any) -> Any:
        try:
            return rule(value)
        except FileDropError as exc:
            raise PydanticCustomError(
                DOMAIN_ERROR, "{message}", {"message": exc.message, "error": exc}
            ) from None

    return BeforeValidator(check)


# -- values -------------------------------------------------------------------------

TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
    "description": "UTC, ISO 8601 with milliseconds and `Z`.",
    "examples": ["2026-11-25T19:30:00.123Z"],
}
Timestamp = Annotated[
    datetime, PlainSerializer(iso_ms, return_type=str), WithJsonSchema(TIMESTAMP_SCHEMA)
]
Count = Annotated[int, Field(ge=0)]
# An optional request field: null is taken as absent, and documented as optional only.
Absent = SkipJsonSchema[None]
FileNameValue = Annotated[str, WithJsonSchema(schema_ref("FileName"))]
FolderPath = Annotated[str, WithJsonSchema(schema_ref("FolderPath"))]
ErrorCodeValue = Annotated[str, WithJsonSchema(schema_ref("ErrorCode"))]
Sha256 = Annotated[str, WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{64}$"})]
ETAG_SCHEMA: dict[str, Any] = {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}
ETag = Annotated[str, WithJsonSchema(ETAG_SCHEMA)]
BINARY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "contentMediaType": "application/octet-stream",
}
Binary = Annotated[bytes, WithJsonSchema(BINARY_SCHEMA)]
FileId = Annotated[str, Field(examples=["8kQ2mZrT4vXn1bYc"])]


def _whole_seconds(value: object) -> object:
    """Form fields and query parameters bring numbers as strings."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        return int(value.strip())
    return value


def _moment(value: object) -> datetime:
    """ISO 8601; without a time zone it is UTC."""
    if not isinstance(value, str):
        raise InvalidRequest("expires_at must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest("expires_at must be an ISO 8601 date-time string") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _quota(value: object) -> int:
    """Bytes, or a size such as ``5GiB``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRequest("quota_bytes must be a number of bytes or a size like '5GiB'")
    try:
        quota = parse_size(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if quota < 0:
        raise InvalidRequest("quota_bytes must not be negative")
    return quota


ExpiresIn = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=MAX_EXPIRES_IN,
        description="Seconds from now until it expires.",
        examples=[86400],
    ),
    BeforeValidator(_whole_seconds),
]
ExpiresAt = Annotated[
    datetime,
    Field(
        description="When it expires: ISO 8601, in the future; without a zone it is UTC.",
        examples=["2026-12-31T23:59:59Z"],
    ),
    domain_rule(_moment),
]
FolderParam = Annotated[str, WithJsonSchema(schema_ref("FolderPath")), domain_rule(validate_folder)]
ON_CONFLICT_TEXT = (
    "When a live file of the same name is already in the target folder: `allow` keeps "
    "both (the default), `rename` picks `name (1).ext`, `(2)`…, `replace` deletes the "
    "other file once this one is stored, `fail` answers 409 FILE_EXISTS and stores "
    "nothing. A check, not a lock: two requests racing for one new name may both get it."
)


# -- requests -----------------------------------------------------------------------


class PlacementFields(RequestModel):
    """Where a file goes and when it expires: form fields, query parameters or JSON keys."""

    on_conflict: OnConflict | Absent = Field(
        None, description=ON_CONFLICT_TEXT, json_schema_extra={"default": "allow"}
    )
    expires_in: ExpiresIn | Absent = None
    expires_at: ExpiresAt | Absent = None
    folder: FolderParam | Absent = None

    def placement(self, clear_expiry: bool = False) -> Placement:
        """The placement asked for; ``clear_expiry`` removes the file's expiry."""
        if clear_expiry and self.expires_in is not None:
            raise InvalidRequest("Send expires_in or expires_at, or clear the expiry, not both")
        expires_at = expiry_moment(self.expires_in, self.expires_at, utcnow())
        return Placement(
            folder=self.folder,
            on_conflict=self.on_conflict or "allow",
            expires_at=expires_at,
            sets_expiry=expires_at is not None or clear_expiry,
        )


# The multipart forms: their `file` parts stream to storage as they arrive (never
# parsed whole); their other fields are parsed as PlacementFields.


class UploadForm(PlacementFields):
    """A new file (or several): the content, and optionally its name and placement."""

    file: Binary = Field(
        description=(
            "The content. Its part `filename` names the file unless "
            "`file_name` is sent; its part `Content-Type` is the declared type. "
            "Several `file` parts upload several files: then `file_name` is "
            "refused, and each file gets the fields sent up to the next `file` "
            "part."
        )
    )
    file_name: FileNameValue | Absent = None


class ReplaceForm(PlacementFields):
    """New content, a new name, folder or expiry: any of them."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    file: Binary | Absent = Field(None, description="New content (optional).")
    file_name: FileNameValue | Absent = Field(None, description="A new name (optional).")


class RenameForm(PlacementFields):
    """Rename, move or set the expiry, as form fields. Never content: a field `file` or
    any unknown field is `400`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    file_name: FileNameValue | Absent = None


class RenameRequest(PlacementFields):
    """Rename, move, or set or clear (`null`) the expiry; any of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    expires_at: ExpiresAt | None = None  # null clears the expiry
    file_name: Annotated[StrictStr, WithJsonSchema(schema_ref("FileName"))] | Absent = None

    def update(self) -> Placement:
        return self.placement(
            clear_expiry="expires_at" in self.model_fields_set and self.expires_at is None
        )


class CopyRequest(PlacementFields):
    """All optional: by default the copy keeps the name and folder."""

    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[StrictStr, WithJsonSchema(schema_ref("FileName"))] | Absent = None


class DeleteFilesRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    file_ids: list[StrictStr] = Field(min_length=1, max_length=MAX_BATCH_DELETE)


class NewFolderRequest(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"required": ["path"]})

    # Missing or null, the path is a folder path that is not valid (INVALID_FOLDER).
    path: FolderParam = Field(None, validate_default=True)


class NewLinkRequest(RequestModel):
    """All optional: by default a link never expires and has no limit."""

    model_config = ConfigDict(extra="forbid")

    expires_in: ExpiresIn | Absent = None
    expires_at: ExpiresAt | Absent = None
    max_downloads: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=MAX_DOWNLOADS,
                description="Downloads (GETs that send content) allowed; 1 is a one-time link.",
            ),
        ]
        | Absent
    ) = None
    password: (
        Annotated[
            StrictStr,
            Field(
                min_length=1,
                max_length=MAX_PASSWORD_LENGTH,
                description="Kept only as a scrypt hash.",
            ),
        ]
        | Absent
    ) = None

    def expiry(self) -> datetime | None:
        return expiry_moment(self.expires_in, self.expires_at, utcnow())


class NewUserRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=MAX_USER_NAME)]
    quota_bytes: (
        Annotated[
            int,
            WithJsonSchema(
                {
                    "description": (
                        "Bytes, or a size like `5GiB`; `DEFAULT_QUOTA_BYTES` if absent."
                    ),
                    "oneOf": [
                        {"type": "integer", "minimum": 0},
                        {"type": "string", "examples": ["5GiB", "500MB"]},
                    ],
                }
            ),
            domain_rule(_quota),
        ]
        | Absent
    ) = None


# -- query parameters ----------------------------------------------------------------


def _flag(value: object) -> object:
    """true/false, 1/0 or yes/no, in any case; present but empty is false."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
    return value


QueryFlag = Annotated[StrictBool, BeforeValidator(_flag)]
# In a query string a value travels percent-encoded (up to 12 bytes a character) inside
# the request line, which servers bound (gunicorn: 4094 bytes) and refuse past that
# before the app runs. Folders up to the full 1024 characters travel in JSON or forms.
QUERY_FOLDER_SCHEMA: dict[str, Any] = {"allOf": [schema_ref("FolderPath")], "maxLength": 200}
QueryFolder = Annotated[str, WithJsonSchema(QUERY_FOLDER_SCHEMA), domain_rule(validate_folder)]


def encode_cursor(cursor: ListCursor) -> str:
    """The ``next_cursor`` of a page: where it stopped, opaque to clients."""
    millis = int(cursor.created_at.timestamp() * 1000)
    raw = json.dumps([millis, cursor.file_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: object) -> ListCursor:
    try:
        if not isinstance(token, str):
            raise TypeError
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        millis, file_id = json.loads(raw)
        if not isinstance(millis, int) or not isinstance(file_id, str):
            raise ValueError
        created = datetime.fromtimestamp(millis / 1000, UTC)
    # RecursionError: a token of nested "[[[…" that json cannot follow; never one of ours.
    except (ValueError, TypeError, binascii.Error, OverflowError, OSError, RecursionError):
        raise InvalidRequest("cursor is not one this server gave out") from None
    return ListCursor(created.replace(microsecond=millis % 1000 * 1000), file_id)


def _no_empty(value: object) -> object:
    """An empty parameter (``?cursor=``) is an absent one."""
    return None if value == "" else value


Cursor = Annotated[ListCursor, WithJsonSchema({"type": "string"}), domain_rule(_decode_cursor)]


class FileListQuery(RequestModel):
    limit: int = Field(100, ge=1, le=MAX_LIST_LIMIT, description="Page size.")
    cursor: Annotated[Cursor | Absent, BeforeValidator(_no_empty)] = Field(
        None, description="Opaque: `next_cursor` of the previous page."
    )
    prefix: str | Absent = Field(None, description="Only files whose `file_name` starts with this.")
    folder: QueryFolder | Absent = Field(
        None,
        description=(
            "Only files in this folder (`/` is the root); the first page then also lists "
            "the folder's direct subfolders in `folders`."
        ),
    )
    recursive: QueryFlag = Field(
        False, description="With `folder`: every file beneath it, not only those directly in it."
    )


class FolderDeleteQuery(RequestModel):
    # Checked by FolderService.delete, after the flag: a bad flag is named first.
    path: Annotated[str, WithJsonSchema(QUERY_FOLDER_SCHEMA)] = Field(description="The folder.")
    recursive: QueryFlag = Field(
        False, description="Delete every file and folder beneath it too (else it must be empty)."
    )


# -- responses ----------------------------------------------------------------------


class FileMetadata(ResponseModel):
    """A file's metadata. Fields may be added; none changes meaning."""

    model_config = ConfigDict(from_attributes=True)

    file_id: FileId = Field(description="Unguessable (96 random bits), URL-safe, never reused.")
    file_name: FileNameValue
    file_size: Count
    file_type: str = Field(
        description="The media type the client declared, or one detected from the content or name.",
        examples=["application/pdf"],
    )
    created_at: Timestamp
    updated_at: Timestamp
    sha256: Sha256
    etag: ETag
    folder: FolderPath
    expires_at: Timestamp | None = Field(description="When the file stops existing; null: never.")
    last_accessed_at: Timestamp | None = Field(
        description="The last download (null: none yet); best effort."
    )
    download_count: Count = Field(
        description="Downloads that sent content, links included; best effort."
    )

    @classmethod
    def of(cls, record: FileRecord) -> FileMetadata:
        return cls.model_validate(record)


class Folder(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    path: FolderPath

    @classmethod
    def of(cls, folder: FolderValue) -> Folder:
        return cls.model_validate(folder)


class FileList(ResponseModel):
    files: list[FileMetadata] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
    folders: list[Folder] | Absent = Field(
        None,
        description=(
            "With `folder` only: its direct subfolders, by name, on the first "
            "page (empty on later pages)."
        ),
    )


class FileUpdated(ResponseModel):
    message: Literal["File updated"]
    file: FileMetadata


class FileDeleted(ResponseModel):
    message: Literal["File deleted"]
    file_id: str


class ErrorDetail(ResponseModel):
    code: ErrorCodeValue
    message: str
    request_id: str


class UploadedFiles(ResponseModel):
    """Several `file` parts, all stored, in the order sent."""

    files: list[FileMetadata]


class StoredPart(ResponseModel):
    status: Literal[201]
    file: FileMetadata


class FailedPart(ResponseModel):
    status: int = Field(ge=400)
    file_name: str | None = Field(description="The part's filename, if it had one.")
    error: ErrorDetail


class BatchUploadResult(ResponseModel):
    """Several `file` parts, some not stored: one entry per part read."""

    files: list[StoredPart | FailedPart]


class DeletedFile(ResponseModel):
    file_id: str
    status: int
    error: ErrorDetail | Absent = None


class DeleteFilesResult(ResponseModel):
    files: list[DeletedFile] = Field(description="One entry per id sent, in order.")


class FolderCreated(ResponseModel):
    folder: Folder
    created: bool = Field(description="False if it was recorded already.")


class FolderDeleted(ResponseModel):
    message: Literal["Folder deleted"]
    path: FolderPath
    files_deleted: Count


class Link(ResponseModel):
    """A share link as its owner sees it; its token is never shown again."""

    link_id: str = Field(
        description="Names the link to its owner (for `DELETE /links/{token}`); grants nothing.",
        examples=["l_Q2mZrT4vXn1bYc"],
    )
    file_id: str
    created_at: Timestamp
    expires_at: Timestamp | None
    max_downloads: Annotated[int, Field(ge=1)] | None
    downloads: Count
    has_password: bool
    revoked_at: Timestamp | None
    state: LinkState = Field(
        description=(
            "`active`, or why the link ended: it expired, its downloads are used "
            "up, it was revoked, the file's content was replaced, or the file was "
            "deleted (or expired)."
        )
    )

    @classmethod
    def of(cls, link: LinkRecord, state: LinkState) -> Link:
        return cls(**_link_fields(link, state))


def _link_fields(link: LinkRecord, state: LinkState) -> dict[str, Any]:
    return {
        "link_id": link.link_id,
        "file_id": link.file_id,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "max_downloads": link.max_downloads,
        "downloads": link.downloads,
        "has_password": link.password_hash is not None,
        "revoked_at": link.revoked_at,
        "state": state,
    }


class NewLink(Link):
    token: str = Field(description="256 random bits; shown this once, stored only as a hash.")
    url: str = Field(
        description="`PUBLIC_BASE_URL` (or this request's host) + `/d/{token}`.",
        examples=["https://files.example.com/d/Xb3…"],
    )

    @classmethod
    def made(cls, link: LinkRecord, token: str, url: str) -> NewLink:
        return cls(token=token, url=url, **_link_fields(link, "active"))


class LinkList(ResponseModel):
    links: list[Link] = Field(description="Newest first.")


class LinkRevoked(ResponseModel):
    message: Literal["Link revoked"]
    link: Link


class Usage(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    file_count: Count
    bytes_used: Count
    quota_bytes: Count


class User(ResponseModel):
    user_id: str = Field(examples=["u_Yq3n0Zb1mPx7TkQa"])
    name: str
    created_at: Timestamp
    usage: Usage

    @classmethod
    def of(cls, user: UserRecord) -> User:
        return cls(
            user_id=user.user_id,
            name=user.name,
            created_at=user.created_at,
            usage=Usage.model_validate(user),
        )


class NewUser(ResponseModel):
    user: User
    api_key: str = Field(
        description="Shown this once; only its hash is stored.", examples=["fd_4n8x…"]
    )


class UserEnvelope(ResponseModel):
    user: User


class UserList(ResponseModel):
    users: list[User]


class UserDeleted(ResponseModel):
    message: Literal["User deleted"]
    user_id: str
    files_deleted: Count


class NewKey(ResponseModel):
    """The new key, shown once; the old key stops working at once."""

    user_id: str
    api_key: str


class StatusCheck(ResponseModel):
    ok: bool
    latency_ms: float = Field(ge=0)
    error: ErrorCodeValue | Absent = None


class StatusChecks(ResponseModel):
    database: StatusCheck
    storage: StatusCheck


class StatusBackends(ResponseModel):
    """Which stores hold the metadata and the blobs."""

    metadata: str = Field(examples=["mongo", "sqlite"])
    blobs: str = Field(examples=["s3", "local"])


class StatusTotals(ResponseModel):
    users: Count
    files: Count
    bytes: Count


class StatusTotalsUnknown(ResponseModel):
    error: ErrorCodeValue


class StatusDisk(ResponseModel):
    """Local blob storage only: the data directory's disk."""

    path: str
    free_bytes: Count
    total_bytes: Count


class AdminStatus(ResponseModel):
    version: str
    uptime_s: float = Field(ge=0)
    backend: StatusBackends
    checks: StatusChecks
    load_average: list[float] = Field(min_length=3, max_length=3)
    memory_rss_bytes: Annotated[int, Field(ge=0)] | None
    totals: StatusTotals | StatusTotalsUnknown = Field(
        description="Over all users; `{error}` when the database did not answer."
    )
    disk: StatusDisk | Absent = None


class UploadStatus(ResponseModel):
    """A resumable upload (not part of tus: `GET /uploads/{upload_id}`)."""

    upload_id: str = Field(examples=["fX-sF7TeLf_lpnX497YsfQ"])
    state: Literal["active", "complete"]
    offset: Count
    length: Count
    file_name: FileNameValue
    file_type: str | None = Field(
        description="`filetype` from Upload-Metadata; null to detect it from the content."
    )
    folder: str | None = Field(
        description="`folder` from Upload-Metadata: where the file goes (the root if null)."
    )
    file_id: str | None = Field(
        description="The file the upload became; null until it is complete."
    )
    created_at: Timestamp
    expires_at: Timestamp | None = Field(
        description="When the unfinished upload expires; null once complete."
    )

    @classmethod
    def of(cls, record: UploadRecord) -> UploadStatus:
        return cls(
            upload_id=record.upload_id,
            state="complete" if record.complete else "active",
            offset=record.offset,
            length=record.length,
            file_name=record.file_name,
            file_type=record.file_type,
            folder=record.folder,
            file_id=record.file_id if record.complete else None,
            created_at=record.created_at,
            expires_at=None if record.complete else record.expires_at,
        )


# -- the document's schemas ------------------------------------------------------


class _Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema (OpenAPI 3.1's dialect) without a title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        # An optional field's default of None means "absent", which is not a value to show.
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema

    def handle_ref_overrides(self, json_schema: JsonSchemaValue) -> JsonSchemaValue:
        # A $ref to a schema written by hand (FileName, FolderPath, ErrorCode) is not
        # one of pydantic's definitions: nothing to compare it with.
        if json_schema.get("$ref") not in self.json_to_defs_refs:
            return json_schema
        return super().handle_ref_overrides(json_schema)


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schemas of ``models`` and of the models they contain, by class name.

    Requests are described as they are parsed, responses as they are sent."""
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "serialization" if issubclass(model, ResponseModel) else "validation")
        for model in models
    ]
    _, document = models_json_schema(pairs, ref_template=REF_TEMPLATE, schema_generator=_Schemas)
    schemas: dict[str, Any] = document.get("$defs", {})
    for schema in schemas.values():
        schema.pop("title", None)
    return schemas


def query_parameters(model: type[RequestModel]) -> list[dict[str, Any]]:
    """``model``'s fields as the OpenAPI parameters of a query string."""
    schema = component_schemas([model])[model.__name__]
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query"}
        if name in schema.get("required", ()):
            parameter["required"] = True
        if "description" in field_schema:
            parameter["description"] = field_schema.pop("description")
        parameters.append({**parameter, "schema": field_schema})
    return parameters
