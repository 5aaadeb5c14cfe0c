"""What the API sends: each JSON body as a model built from the records the services
return (never the records' own shape), dumped with :meth:`ResponseModel.to_json`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import Field

from ...services.buckets import Bucket as BucketValue
from ...services.keys import NewKey as MadeKey
from ...services.links import LinkState
from ...storage.metadata import LinkRecord, UploadRecord, UserRecord
from .base import RecordView, ResponseModel
from .values import (
    Absent,
    Count,
    ErrorCodeValue,
    ETag,
    FileId,
    FileNameValue,
    FolderPath,
    Sha256,
    Timestamp,
)


class FileMetadata(RecordView):
    """A file's metadata. Fields may be added; none changes meaning."""

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


class Folder(RecordView):
    name: str
    path: FolderPath


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


class Usage(RecordView):
    file_count: Count
    bytes_used: Count
    quota_bytes: Count

    @classmethod
    def of(cls, record: object) -> Usage:
        # A store that loses racing updates (FerretDB) can leave the counters below zero
        # until fsck recomputes them from the files: show 0 rather than fail the request.
        user = cast(UserRecord, record)
        return cls(
            file_count=max(0, user.file_count),
            bytes_used=max(0, user.bytes_used),
            quota_bytes=user.quota_bytes,
        )


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
            usage=Usage.of(user),
        )


# A key's identifiers and secrets, alike wherever a response shows them.
KeyId = Annotated[str, Field(examples=["k_3n0Zb1mPx7TkQa"])]
AccessKeyId = Annotated[
    str,
    Field(
        description="The S3 access key id (SigV4 credential).", examples=["FDK3N0ZB1MPX7TKQA2WE"]
    ),
]
BearerKey = Annotated[
    str,
    Field(
        description="The bearer key for REST. Shown this once; only its hash is stored.",
        examples=["fd_4n8x…"],
    ),
]
SecretAccessKey = Annotated[
    str, Field(description="The S3 secret access key. Shown this once; kept encrypted.")
]


class KeySecrets(ResponseModel):
    """A new key's identifiers and secrets, as the one response that shows them."""

    key_id: KeyId
    api_key: BearerKey
    access_key_id: AccessKeyId
    secret_access_key: SecretAccessKey

    @staticmethod
    def of(key: MadeKey) -> dict[str, Any]:
        return {
            "key_id": key.record.key_id,
            "api_key": key.api_key,
            "access_key_id": key.record.access_key_id,
            "secret_access_key": key.secret_access_key,
        }


class NewUser(KeySecrets):
    user: User

    @classmethod
    def made(cls, user: UserRecord, key: MadeKey) -> NewUser:
        return cls(user=User.of(user), **KeySecrets.of(key))


class UserEnvelope(ResponseModel):
    user: User


class UserList(ResponseModel):
    users: list[User]


class UserDeleted(ResponseModel):
    message: Literal["User deleted"]
    user_id: str
    files_deleted: Count


class NewKey(KeySecrets):
    """The new key, shown once. Every key the user had stops working at once on the
    worker that reset them, and everywhere within AUTH_CACHE_S seconds (default 5), as
    long as a worker may trust a key it has looked up."""

    user_id: str

    @classmethod
    def made(cls, user_id: str, key: MadeKey) -> NewKey:
        return cls(user_id=user_id, **KeySecrets.of(key))


class ApiKey(RecordView):
    key_id: KeyId
    name: str
    bucket: str | None
    read_only: bool
    access_key_id: AccessKeyId
    created_at: Timestamp


class NewApiKey(ApiKey):
    api_key: BearerKey
    secret_access_key: SecretAccessKey

    @classmethod
    def made(cls, key: MadeKey) -> NewApiKey:
        shown = ApiKey.of(key.record).model_dump()
        return cls(**shown, api_key=key.api_key, secret_access_key=key.secret_access_key)


class ApiKeyList(ResponseModel):
    keys: list[ApiKey]


class ApiKeyDeleted(ResponseModel):
    message: Literal["Key deleted"]
    key_id: str


class BucketUsage(ResponseModel):
    file_count: Count
    bytes_used: Count


class Bucket(ResponseModel):
    name: str = Field(examples=["photos"])
    folder: str = Field(examples=["/photos"])
    usage: BucketUsage

    @classmethod
    def of(cls, bucket: BucketValue) -> Bucket:
        usage = BucketUsage(file_count=bucket.file_count, bytes_used=bucket.bytes_used)
        return cls(name=bucket.name, folder=bucket.folder, usage=usage)


class BucketList(ResponseModel):
    buckets: list[Bucket]


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


class StatusDisk(RecordView):
    """Local blob storage only: the disk holding the blobs."""

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
