"""Users and API keys: keys are random, shown once, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata

from .errors import InvalidRequest, Unauthorized, UserNotFound
from .service import FileService
from .storage.metadata import FolderStore, UserRecord, UserStore, utcnow

log = logging.getLogger("filedrop.users")

KEY_PREFIX = "fd_"
IMPLICIT_USER = "local"  # the one user of FILEDROP_AUTH=disabled


def new_api_key() -> str:
    """256 random bits; the prefix makes leaked keys easy to grep for."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # A fast hash is right for a 256-bit random key: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def validate_user_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise InvalidRequest("name must be a string of 1 to 100 characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise InvalidRequest("name must not contain control characters")
    return name


class UserService:
    def __init__(
        self, store: UserStore, folders: FolderStore, files: FileService, default_quota: int
    ) -> None:
        self.store = store
        self.folders = folders
        self.files = files
        self.default_quota = default_quota

    def create(self, name: str, quota_bytes: int | None = None) -> tuple[UserRecord, str]:
        """A new user and their key. The key is returned here and never again."""
        key = new_api_key()
        user = UserRecord(
            user_id="u_" + secrets.token_urlsafe(12),
            name=validate_user_name(name),
            key_hash=hash_key(key),
            quota_bytes=self.default_quota if quota_bytes is None else quota_bytes,
            bytes_used=0,
            file_count=0,
            created_at=utcnow(),
        )
        self.store.create_user(user)
        return user, key

    def ensure_implicit_user(self) -> None:
        """The single user of an instance without keys, with the default quota."""
        if self.store.get_user(IMPLICIT_USER) is None:
            self.store.create_user(
                UserRecord(IMPLICIT_USER, "local", "", self.default_quota, 0, 0, utcnow())
            )

    def get(self, user_id: str) -> UserRecord:
        user = self.store.get_user(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user

    def list(self) -> list[UserRecord]:
        return self.store.list_users()

    def rotate_key(self, user_id: str) -> str:
        """A new key; the old one stops working with this write."""
        key = new_api_key()
        if not self.store.set_key_hash(user_id, hash_key(key)):
            raise UserNotFound(user_id)
        return key

    def delete(self, user_id: str) -> int:
        """Remove the user (their key dies first), then all their files and blobs, then
        their folders. Their share links end with the files; purge drops their records."""
        if self.store.delete_user(user_id) is None:
            raise UserNotFound(user_id)
        deleted = self.files.delete_all(user_id)
        self.folders.delete_folders(user_id, "/", recursive=True)
        return deleted

    def authenticate(self, key: str | None) -> UserRecord:
        if not key:
            raise Unauthorized("Send Authorization: Bearer <api key>")
        digest = hash_key(key)
        user = self.store.find_by_key_hash(digest)
        if user is None or not hmac.compare_digest(user.key_hash, digest):
            raise Unauthorized("The API key is not valid")
        return user


def is_admin_token(key: str | None, admin_token: str) -> bool:
    """Constant-time comparison with the configured admin token (never matches when unset)."""
    if not key or not admin_token:
        return False
    return hmac.compare_digest(key.encode("utf-8", "surrogateescape"), admin_token.encode())
