"""API keys: each has a bearer form (REST) and an S3 access key pair, may be scoped
to one bucket (a top-level folder) and may be read-only.

The bearer form is kept only as a hash. SigV4 needs the S3 secret itself to check a
signature, so the secret is kept encrypted (Fernet: AES-128-CBC and HMAC-SHA256)
under the server key ``FILEDROP_SECRET_KEY``: a dump of the database alone does not
reveal it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ..config import Settings
from ..errors import FileDropError, Forbidden, InvalidRequest, KeyNotFound, Unauthorized
from ..storage.metadata import CatalogStore, KeyRecord, UserRecord, utcnow

KEY_PREFIX = "fd_"
ACCESS_KEY_PREFIX = "FD"
SECRET_FILE = "secret.key"
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
# S3's bucket-name rules: 3-63 of a-z 0-9 . -, starting and ending with a letter or
# digit, no "..", not an IP address, none of the reserved prefixes and suffixes.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_bucket_name(name: str) -> bool:
    """Whether ``name`` follows S3's bucket-naming rules."""
    return bool(
        _BUCKET_RE.match(name)
        and ".." not in name
        and not _IP_RE.match(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )


def new_api_key() -> str:
    """256 random bits; the prefix makes leaked keys easy to grep for."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # A fast hash is right for a 256-bit random key: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class SecretBox:
    """Seals and opens S3 secrets with the server key.

    The server key is any string of at least 32 characters; its SHA-256 is the Fernet key.
    ``load`` finds it lazily: an instance that never makes or checks an S3 key needs none.
    """

    def __init__(self, load: Callable[[], str]) -> None:
        self._load = load
        self._fernet: Fernet | None = None

    def _box(self) -> Fernet:
        if self._fernet is None:
            secret = self._load()
            digest = hashlib.sha256(secret.encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The secret, or None if it was sealed under another server key."""
        try:
            return self._box().decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            return None


def secret_box(settings: Settings) -> SecretBox:
    """The server key that seals S3 secrets: FILEDROP_SECRET_KEY, else (embedded mode)
    one kept in DATA_DIR, read when first needed."""
    if settings.secret_key:
        return SecretBox(lambda: settings.secret_key)
    if settings.backend == "embedded":
        return SecretBox(lambda: data_dir_secret(settings.data_dir))
    return SecretBox(_no_secret_key)


def _no_secret_key() -> str:
    # Startup refuses this configuration; an app built from Settings directly gets here.
    raise FileDropError("FILEDROP_SECRET_KEY is not set: S3 keys cannot be made or checked")


def data_dir_secret(data_dir: str) -> str:
    """Embedded mode's server key: made once, kept in DATA_DIR (mode 0600)."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret + "\n")
    return secret


@dataclass(frozen=True)
class NewKey:
    """A key as made: the record, and both secrets (shown to the caller once)."""

    record: KeyRecord
    api_key: str
    secret_access_key: str

    def public(self) -> dict[str, object]:
        return {
            **self.record.public(),
            "api_key": self.api_key,
            "secret_access_key": self.secret_access_key,
        }


@dataclass(frozen=True)
class Caller:
    """Who a request acts as: the user, and the key's limits (None: a full key)."""

    user: UserRecord
    key: KeyRecord | None = None

    @property
    def bucket(self) -> str | None:
        return self.key.bucket if self.key else None

    @property
    def read_only(self) -> bool:
        return bool(self.key and self.key.read_only)

    def check_write(self) -> None:
        if self.read_only:
            raise Forbidden("This key is read-only")


class KeyService:
    """Making, listing, ending and checking API keys."""

    def __init__(self, store: CatalogStore, box: SecretBox) -> None:
        self.store = store
        self.box = box

    def create(
        self, owner: str, name: object, bucket: object = None, read_only: object = False
    ) -> NewKey:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidRequest("name must be a string of 1 to 100 characters")
        if bucket is not None and (not isinstance(bucket, str) or not is_bucket_name(bucket)):
            raise InvalidRequest("bucket must be null or a valid bucket name")
        if not isinstance(read_only, bool):
            raise InvalidRequest("read_only must be true or false")
        api_key = new_api_key()
        secret = secrets.token_urlsafe(30)  # 40 characters, as AWS's are
        record = KeyRecord(
            key_id="k_" + secrets.token_urlsafe(12),
            owner=owner,
            name=name,
            key_hash=hash_key(api_key),
            access_key_id=ACCESS_KEY_PREFIX
            + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(18)),
            secret_sealed=self.box.seal(secret),
            bucket=bucket,
            read_only=read_only,
            created_at=utcnow(),
        )
        self.store.insert_key(record)
        return NewKey(record, api_key, secret)

    def list(self, owner: str) -> list[KeyRecord]:
        return self.store.list_keys(owner)

    def delete(self, owner: str, key_id: str) -> KeyRecord:
        removed = self.store.delete_key(owner, key_id)
        if removed is None:
            raise KeyNotFound(key_id)
        return removed

    def by_bearer(self, api_key: str) -> KeyRecord | None:
        digest = hash_key(api_key)
        record = self.store.find_key_by_hash(digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest):
            return None
        return record

    def by_access_key(self, access_key_id: str) -> tuple[KeyRecord, str]:
        """The key and its S3 secret, for checking a signature."""
        record = self.store.find_key_by_access_key(access_key_id)
        secret = self.box.open(record.secret_sealed) if record else None
        if record is None or secret is None:
            raise Unauthorized("The access key id is not valid")
        return record, secret
