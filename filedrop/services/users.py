"""Users and their API keys: keys are random, shown once, stored only as hashes
(the S3 secret of each key encrypted; see :mod:`filedrop.services.keys`)."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
import unicodedata

from ..errors import InvalidRequest, Unauthorized, UserNotFound
from ..storage.metadata import FolderStore, KeyRecord, UserRecord, UserStore, utcnow
from .files import FileService
from .keys import Caller, KeyService, NewKey, hash_key

log = logging.getLogger("filedrop.users")

IMPLICIT_USER = "local"  # the one user of FILEDROP_AUTH=disabled
FIRST_KEY_NAME = "default"
MAX_USER_NAME = 100
_KEY_CACHE_MAX = 10_000  # cached keys per process; past it, the cache starts over


def validate_user_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_USER_NAME:
        raise InvalidRequest(f"name must be 1 to {MAX_USER_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise InvalidRequest("name must not contain control characters")
    return name


class KeyCache:
    """Callers (user and key) by bearer-key hash, or by S3 access key id with the key's
    secret, each kept for ``ttl_s`` seconds after it was read.

    A key revoked here (rotated, deleted, or its user deleted) is dropped at once; other
    processes forget it within ``ttl_s``. A lookup that started before a revocation
    is not cached, so a stale read racing the revocation can't bring the key back.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._callers: dict[str, tuple[Caller, str, float]] = {}
        self._revocations = 0
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[Caller, str] | None:
        """The caller, and the S3 secret ("" for a bearer key)."""
        hit = self._callers.get(name)
        if hit is None or hit[2] <= time.monotonic():
            return None
        return hit[0], hit[1]

    def epoch(self) -> int:
        """Pass to :meth:`put`: revocations since then keep its caller out."""
        return self._revocations

    def put(self, name: str, caller: Caller, epoch: int, secret: str = "") -> None:
        with self._lock:
            if epoch != self._revocations:
                return
            if len(self._callers) >= _KEY_CACHE_MAX:
                self._callers.clear()
            self._callers[name] = (caller, secret, time.monotonic() + self.ttl_s)

    def revoke(self, user_id: str) -> None:
        with self._lock:
            self._revocations += 1
            stale = [n for n, (c, _, _) in self._callers.items() if c.user.user_id == user_id]
            for name in stale:
                del self._callers[name]


class UserService:
    def __init__(
        self,
        store: UserStore,
        folders: FolderStore,
        files: FileService,
        keys: KeyService,
        default_quota: int,
        key_cache_s: float = 0.0,
    ) -> None:
        """``key_cache_s``: how long a looked-up bearer key is trusted without asking the
        store again (0: every request asks). The usage figures of a cached user may lag
        by as much; quotas are enforced by the store's reservation, never by those figures."""
        self.store = store
        self.folders = folders
        self.files = files
        self.keys = keys
        self.default_quota = default_quota
        self._cache = KeyCache(key_cache_s) if key_cache_s > 0 else None

    def create(self, name: str, quota_bytes: int | None = None) -> tuple[UserRecord, NewKey]:
        """A new user and their first key (full access, with an S3 pair). The key's
        secrets are returned here and never again."""
        user_id = "u_" + secrets.token_urlsafe(12)
        validate_user_name(name)
        key = self.keys.create(user_id, FIRST_KEY_NAME)
        user = UserRecord(
            user_id=user_id,
            name=name,
            key_hash=key.record.key_hash,
            quota_bytes=self.default_quota if quota_bytes is None else quota_bytes,
            bytes_used=0,
            file_count=0,
            created_at=utcnow(),
        )
        try:
            self.store.create_user(user)
        except BaseException:
            self.keys.delete(user_id, key.record.key_id)
            raise
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

    def rotate_key(self, user_id: str) -> NewKey:
        """Reset the user's credentials: every key they had stops working, and one new
        full key (with an S3 pair) takes their place."""
        self.get(user_id)
        self.store.delete_keys(user_id)
        self._revoke(user_id)
        key = self.keys.create(user_id, FIRST_KEY_NAME)
        updated = self.store.set_key_hash(user_id, key.record.key_hash)
        self._revoke(user_id)
        if not updated:
            self.keys.delete(user_id, key.record.key_id)
            raise UserNotFound(user_id)
        return key

    def delete_key(self, user_id: str, key_id: str) -> KeyRecord:
        """End one key, in both its forms at once."""
        user = self.get(user_id)
        removed = self.keys.delete(user_id, key_id)
        if hmac.compare_digest(removed.key_hash, user.key_hash):
            # The first key is also the user's own key (as before keys had records).
            self.store.set_key_hash(user_id, hash_key("retired:" + secrets.token_urlsafe(32)))
        self._revoke(user_id)
        return removed

    def delete(self, user_id: str) -> int:
        """Remove the user (their keys die first), then all their files and blobs, then
        their folders. Their share links end with the files; purge drops their records."""
        removed = self.store.delete_user(user_id)
        self._revoke(user_id)
        if removed is None:
            raise UserNotFound(user_id)
        self.store.delete_keys(user_id)
        deleted = self.files.delete_all(user_id)
        self.folders.delete_folders(user_id, "/", recursive=True)
        return deleted

    def authenticate(self, key: str | None) -> Caller:
        """The caller a bearer key stands for (401 unless it is a live key)."""
        if not key:
            raise Unauthorized("Send Authorization: Bearer <api key>")
        digest = hash_key(key)
        cached = self._cache.get(digest) if self._cache else None
        if cached is not None:
            return cached[0]
        epoch = self._cache.epoch() if self._cache else 0
        caller = self._look_up(key, digest)
        if self._cache:
            self._cache.put(digest, caller, epoch)
        return caller

    def _look_up(self, key: str, digest: str) -> Caller:
        record = self.keys.by_bearer(key)
        if record is not None:
            user = self.store.get_user(record.owner)
            if user is None:
                raise Unauthorized("The API key is not valid")
            return Caller(user, record)
        # A user's own key from before keys had records of their own.
        user = self.store.find_by_key_hash(digest)
        if user is None or not hmac.compare_digest(user.key_hash, digest):
            raise Unauthorized("The API key is not valid")
        return Caller(user)

    def authenticate_s3(self, access_key_id: str) -> tuple[Caller, str]:
        """The caller an S3 access key id stands for, and the secret to check its
        signature with (401 unless it is a live key). Cached like bearer keys: the
        secret is decrypted once per ``key_cache_s``, not on every request."""
        name = "s3:" + access_key_id  # bearer-key hashes are hex: no clash
        cached = self._cache.get(name) if self._cache else None
        if cached is not None:
            return cached
        epoch = self._cache.epoch() if self._cache else 0
        record, secret = self.keys.by_access_key(access_key_id)
        user = self.store.get_user(record.owner)
        if user is None:
            raise Unauthorized("The access key id is not valid")
        caller = Caller(user, record)
        if self._cache:
            self._cache.put(name, caller, epoch, secret)
        return caller, secret

    def _revoke(self, user_id: str) -> None:
        if self._cache:
            self._cache.revoke(user_id)


def is_admin_token(key: str | None, admin_token: str) -> bool:
    """Constant-time comparison with the configured admin token (never matches when unset)."""
    if not key or not admin_token:
        return False
    return hmac.compare_digest(key.encode("utf-8", "surrogateescape"), admin_token.encode())
