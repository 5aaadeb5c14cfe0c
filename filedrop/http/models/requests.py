"""What clients send: JSON bodies, form fields and query strings, parsed into typed
values for the services (:func:`filedrop.http.parsing.parse`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from ...config import parse_size
from ...errors import InvalidRequest
from ...services.expiry import expiry_moment
from ...services.files import OnConflict, Placement
from ...services.folders import validate_folder
from ...services.keys import is_bucket_name
from ...services.links import MAX_DOWNLOADS, MAX_PASSWORD_LENGTH
from ...services.users import MAX_USER_NAME
from ...storage.metadata import SORTS, ListCursor, ListOrder, utcnow
from .base import RequestModel, domain_error, domain_rule, schema_ref
from .values import (
    ON_CONFLICT_TEXT,
    Absent,
    Binary,
    ExpiresAt,
    ExpiresIn,
    FileNameValue,
    FolderParam,
    JsonFileName,
)

MAX_BATCH_DELETE = 1000
MAX_LIST_LIMIT = 1000


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
    file_name: JsonFileName | Absent = None

    def update(self) -> Placement:
        return self.placement(
            clear_expiry="expires_at" in self.model_fields_set and self.expires_at is None
        )


class CopyRequest(PlacementFields):
    """All optional: by default the copy keeps the name and folder."""

    model_config = ConfigDict(extra="forbid")

    file_name: JsonFileName | Absent = None


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


# A user's or a key's name.
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_USER_NAME)]


def _bucket(value: object) -> object:
    if isinstance(value, str) and not is_bucket_name(value):
        raise InvalidRequest("bucket must be null or a valid bucket name")
    return value


class NewApiKeyRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    bucket: (
        Annotated[
            StrictStr,
            Field(
                pattern="^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                description=(
                    "Limit the key to this bucket (top-level folder); "
                    "null: all of the user's files."
                ),
            ),
            domain_rule(_bucket),
        ]
        | None
    ) = None
    read_only: StrictBool = False


class NewUserRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
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


@dataclass(frozen=True)
class PageCursor:
    """A ``cursor`` parameter: where a listing stopped, and the order it was listed in."""

    order: ListOrder
    position: ListCursor


def encode_cursor(cursor: ListCursor, order: ListOrder) -> str:
    """The ``next_cursor`` of a page: where it stopped and in which order, opaque to
    clients (so it is refused under any other order)."""
    key = cursor.key
    if isinstance(key, datetime):
        key = int(key.timestamp() * 1000)
    fields = [order.sort, "desc" if order.descending else "asc", key, cursor.file_id]
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: object) -> PageCursor:
    try:
        if not isinstance(token, str):
            raise TypeError
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
    return PageCursor(ListOrder(sort, direction == "desc"), ListCursor(key, file_id))


def _no_empty(value: object) -> object:
    """An empty parameter (``?cursor=``) is an absent one."""
    return None if value == "" else value


Cursor = Annotated[PageCursor, WithJsonSchema({"type": "string"}), domain_rule(_decode_cursor)]
SortName = Literal["date", "name", "size"]
# Each sort's direction when ``order`` is not given: newest, A to Z, largest first.
_DEFAULT_DESCENDING = {"date": True, "name": False, "size": True}


class FileListQuery(RequestModel):
    limit: int = Field(100, ge=1, le=MAX_LIST_LIMIT, description="Page size.")
    sort: Annotated[SortName | Absent, BeforeValidator(_no_empty)] = Field(
        None,
        description=(
            "What the listing is ordered by, over every file (not one page): `date` "
            "(`created_at`), `name` (case-insensitive: names compared by their Unicode "
            "casefold, then code point by code point, so `apple` < `Banana` < `éclair`) "
            "or `size` (bytes). Files that tie are ordered by `file_id`, the same direction."
        ),
        json_schema_extra={"default": "date"},
    )
    order: Annotated[Literal["asc", "desc"] | Absent, BeforeValidator(_no_empty)] = Field(
        None,
        description=(
            "`asc` or `desc`. The default follows `sort`: newest first (`date`: `desc`), "
            "A to Z (`name`: `asc`), largest first (`size`: `desc`). A `cursor` belongs "
            "to the `sort` and `order` it was given out for; under any other it is a 400."
        ),
    )
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

    @property
    def list_order(self) -> ListOrder:
        """The order asked for, each sort's own direction unless ``order`` says."""
        sort = self.sort or "date"
        descending = _DEFAULT_DESCENDING[sort] if self.order is None else self.order == "desc"
        return ListOrder(sort, descending)

    @property
    def after(self) -> ListCursor | None:
        """Where the previous page stopped, if a cursor was given."""
        return self.cursor.position if self.cursor else None

    @model_validator(mode="after")
    def _cursor_fits_order(self) -> Self:
        given = self.cursor.order if self.cursor else self.list_order
        if given != self.list_order:
            direction = "desc" if given.descending else "asc"
            raise domain_error(
                InvalidRequest(f"cursor was given out for sort={given.sort}&order={direction}")
            )
        return self


class FolderDeleteQuery(RequestModel):
    # Checked by FolderService.delete, after the flag: a bad flag is named first.
    path: Annotated[str, WithJsonSchema(QUERY_FOLDER_SCHEMA)] = Field(description="The folder.")
    recursive: QueryFlag = Field(
        False, description="Delete every file and folder beneath it too (else it must be empty)."
    )
