"""Users and API keys: keys are random, shown once, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import unicodedata

from .errors import InvalidRequest, Unauthorized, UserNotFound
from .service import FileService
from .storage.metadata import FolderStore, UserRecord, UserStore, utcnow

log = logging.getLogger("filedrop.users")

KEY_PREFIX = "fd_"
IMPLICIT_USER = "local"  # the one user of FILEDROP_AUTH=disabled
MAX_USER_NAME = 100
_KEY_CACHE_MAX = 10_000  # cached keys per process; past it, the cache starts over


def new_api_key() -> str:
    """256 random bits; the prefix makes leaked keys easy to grep for."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # A fast hash is right for a 256-bit random key: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def validate_user_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_USER_NAME:
        raise InvalidRequest(f"name must be 1 to {MAX_USER_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise InvalidRequest("name must not contain control characters")
    return name


class KeyCache:
    """Users by key hash, each kept for ``ttl_s`` seconds after it was read.

    A key revoked here (rotated, or its user deleted) is dropped at once; other
    processes forget it within ``ttl_s``. A lookup that started before a revocation
    is not cached, so a stale read racing the revocation can't bring the key back.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._users: dict[str, tuple[UserRecord, float]] = {}
        self._revocations = 0
        self._lock = threading.Lock()

    def get(self, digest: str) -> UserRecord | None:
        hit = self._users.get(digest)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def epoch(self) -> int:
        """Pass to :meth:`put`: revocations since then keep its user out."""
        return self._revocations

    def put(self, digest: str, user: UserRecord, epoch: int) -> None:
        with self._lock:
            if epoch != self._revocations:
                return
            if len(self._users) >= _KEY_CACHE_MAX:
                self._users.clear()
            self._users[digest] = (user, time.monotonic() + self.ttl_s)

    def revoke(self, user_id: str) -> None:
        with self._lock:
            self._revocations += 1
            for digest in [d for d, (u, _) in self._users.items() if u.user_id == user_id]:
                del self._users[digest]


class UserService:
    def __init__(
        self,
        store: UserStore,
        folders: FolderStore,
        files: FileService,
        default_quota: int,
        key_cache_s: float = 0.0,
    ) -> None:
        """``key_cache_s``: how long a looked-up key is trusted without asking the store
        again (0: every request asks). The usage figures of a cached user may lag by as
        much; quotas are enforced by the store's reservation, never by those figures."""
        self.store = store
        self.folders = folders
        self.files = files
        self.default_quota = default_quota
        self._keys = KeyCache(key_cache_s) if key_cache_s > 0 else None

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
        updated = self.store.set_key_hash(user_id, hash_key(key))
        self._revoke(user_id)
        if not updated:
            raise UserNotFound(user_id)
        return key

    def delete(self, user_id: str) -> int:
        """Remove the user (their key dies first), then all their files and blobs, then
        their folders. Their share links end with the files; purge drops their records."""
        removed = self.store.delete_user(user_id)
        self._revoke(user_id)
        if removed is None:
            raise UserNotFound(user_id)
        deleted = self.files.delete_all(user_id)
        self.folders.delete_folders(user_id, "/", recursive=True)
        return deleted

    def authenticate(self, key: str | None) -> UserRecord:
        if not key:
            raise Unauthorized("Send Authorization: Bearer <api key>")
        digest = hash_key(key)
        cached = self._keys.get(digest) if self._keys else None
        if cached is not None:
            return cached
        epoch = self._keys.epoch() if self._keys else 0
        user = self.store.find_by_key_hash(digest)
        if user is None or not hmac.compare_digest(user.key_hash, digest):
            raise Unauthorized("The API key is not valid")
        if self._keys:
            self._keys.put(digest, user, epoch)
        return user

    def _revoke(self, user_id: str) -> None:
        if self._keys:
            self._keys.revoke(user_id)


def is_admin_token(key: str | None, admin_token: str) -> bool:
    """Constant-time comparison with the configured admin token (never matches when unset)."""
    if not key or not admin_token:
        return False
    return hmac.compare_digest(key.encode("utf-8", "surrogateescape"), admin_token.encode())
