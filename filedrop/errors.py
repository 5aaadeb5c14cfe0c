"""Domain errors: what can go wrong, each with its stable code and HTTP status.

Lower layers raise these and never build responses; nothing here knows a web
framework. :mod:`filedrop.http.errors` turns each into the API's JSON error.
"""

from __future__ import annotations


class FileDropError(Exception):
    """Base of every error the API reports. ``status`` and ``code`` are part of the API contract."""

    status = 500
    code = "INTERNAL_ERROR"
    retry_after: int | None = None

    def __init__(self, message: str, **headers: str) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class InvalidRequest(FileDropError):
    status, code = 400, "INVALID_REQUEST"


class NoFile(FileDropError):
    status, code = 400, "NO_FILE"


class InvalidFileName(FileDropError):
    status, code = 400, "INVALID_FILE_NAME"


class ChecksumMismatch(FileDropError):
    status, code = 400, "CHECKSUM_MISMATCH"

    def __init__(self, message: str, algorithm: str | None = None) -> None:
        super().__init__(message)
        self.algorithm = algorithm  # hashlib's name of the digest that did not match


class BodyInterrupted(InvalidRequest):
    """The request body stopped before its end (the client hung up, or broke the framing)."""


class UploadChecksumMismatch(ChecksumMismatch):
    """tus checksum extension: a PATCH whose Upload-Checksum does not match is discarded."""

    status = 460


class Unauthorized(FileDropError):
    status, code = 401, "UNAUTHORIZED"

    def __init__(self, message: str) -> None:
        super().__init__(message, WWW_Authenticate='Bearer realm="filedrop"')


class Forbidden(FileDropError):
    status, code = 403, "FORBIDDEN"


class FileNotFound(FileDropError):
    status, code = 404, "FILE_NOT_FOUND"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"No file with id {file_id}")


class InvalidFolder(FileDropError):
    status, code = 400, "INVALID_FOLDER"


class FolderNotFound(FileDropError):
    status, code = 404, "FOLDER_NOT_FOUND"

    def __init__(self, path: str) -> None:
        super().__init__(f"No folder {path}")


class FolderNotEmpty(FileDropError):
    status, code = 409, "FOLDER_NOT_EMPTY"


class FileExists(FileDropError):
    """``on_conflict=fail`` met a file of the same name in the target folder."""

    status, code = 409, "FILE_EXISTS"


class LinkNotFound(FileDropError):
    """A share-link token (or link id) never issued, or not the caller's."""

    status, code = 404, "LINK_NOT_FOUND"

    def __init__(self, message: str = "No such link") -> None:
        super().__init__(message)


class LinkGone(FileDropError):
    """A share link that worked once: expired, used up, revoked, or its file changed."""

    status, code = 410, "LINK_GONE"


class LinkPasswordRequired(FileDropError):
    """A password-protected share link without the right password."""

    status, code = 403, "LINK_PASSWORD_REQUIRED"


class KeyNotFound(FileDropError):
    status, code = 404, "KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"No key with id {key_id}")


class UserNotFound(FileDropError):
    status, code = 404, "USER_NOT_FOUND"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"No user with id {user_id}")


class RateLimited(FileDropError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class UploadNotFound(FileDropError):
    status, code = 404, "UPLOAD_NOT_FOUND"

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"No upload with id {upload_id}")


class OffsetMismatch(FileDropError):
    status, code = 409, "OFFSET_MISMATCH"


class UploadExpired(FileDropError):
    status, code = 410, "UPLOAD_EXPIRED"


class UnsupportedMediaType(FileDropError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class UploadLocked(FileDropError):
    status, code, retry_after = 423, "UPLOAD_LOCKED", 1


class PreconditionFailed(FileDropError):
    status, code = 412, "PRECONDITION_FAILED"


class FileTooLarge(FileDropError):
    status, code = 413, "FILE_TOO_LARGE"


class RangeNotSatisfiable(FileDropError):
    status, code = 416, "RANGE_NOT_SATISFIABLE"


class QuotaExceeded(FileDropError):
    status, code = 507, "QUOTA_EXCEEDED"


class StorageUnavailable(FileDropError):
    status, code, retry_after = 503, "STORAGE_UNAVAILABLE", 5


class DatabaseUnavailable(FileDropError):
    status, code, retry_after = 503, "DATABASE_UNAVAILABLE", 5
