"""The value types fields are made of: timestamps, names, folders, expiry, counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema

from ...errors import InvalidRequest
from ...services.expiry import MAX_EXPIRES_IN
from ...services.folders import validate_folder
from ...storage.metadata import iso_ms
from .base import domain_rule, schema_ref

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
# An optional field: left out of a response when unset; in a request, null is taken as
# absent. Documented as optional only, never as null.
Absent = SkipJsonSchema[None]
FileNameValue = Annotated[str, WithJsonSchema(schema_ref("FileName"))]
# In JSON a name must be a string; FileService checks the name itself.
JsonFileName = Annotated[StrictStr, WithJsonSchema(schema_ref("FileName"))]
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
