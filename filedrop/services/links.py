"""Share links: public URLs that download one file without a key.

A link's token is 256 random bits, shown once; only its SHA-256 is stored,
as with API keys. The link is bound to the content the file had when it was
made (its blob key, which is never reused), so replacing the content or
deleting the file ends the link with no write to it, and no race can serve
new content through an old link. A link also ends when it expires, when its
``max_downloads`` are used up, or when its owner revokes it. A link that
ended answers ``410 LINK_GONE``; a token never issued answers ``404``.

Every download through a limited link is claimed in the store before the
first byte goes out (:meth:`LinkStore.claim_download`): of two concurrent
downloads of a one-time link exactly one gets the file. A link may carry a
password, kept only as a scrypt hash.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from ..errors import (
    FileNotFound,
    InvalidRequest,
    LinkGone,
    LinkNotFound,
    LinkPasswordRequired,
)
from ..storage.metadata import FileRecord, LinkRecord, LinkStore, utcnow
from .expiry import parse_expiry
from .files import Download, FileService, HeadersFor, url_lifetime

TOKEN_BYTES = 32
MAX_DOWNLOADS = 10**9
MAX_PASSWORD_LENGTH = 1024
_MAX_TOKEN_LENGTH = 128  # ours are 43 characters; anything much longer is not worth a lookup
# scrypt at 16 MiB and ~50 ms per guess: a stolen hash is slow to attack, a guess is slow to try.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024**2
_PURGE_PAGE = 500

ACTIVE = "active"
_GONE_MESSAGES = {
    "expired": "This link has expired",
    "used_up": "This link has been used up",
    "revoked": "This link was revoked",
    "replaced": "The shared file's content was replaced since this link was made",
    "deleted": "The shared file no longer exists",
}


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_link_id() -> str:
    """A public handle for listing and revoking a link; it grants no access."""
    return "l_" + secrets.token_urlsafe(12)


def hash_token(token: str) -> str:
    # A fast hash is right for a 256-bit random token: there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def password_matches(password: str, stored: str) -> bool:
    """Constant-time check against a :func:`hash_password` string (its own parameters)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8", "surrogateescape")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def link_state(link: LinkRecord, record: FileRecord | None, now: datetime) -> str:
    """``active``, or why the link ended: revoked, expired, used_up, deleted, replaced."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= now:
        return "expired"
    if link.max_downloads is not None and link.downloads >= link.max_downloads:
        return "used_up"
    if record is None or record.is_expired(now):
        return "deleted"
    if record.blob_key != link.blob_key:
        return "replaced"
    return ACTIVE


class LinkService:
    """Making, listing and revoking links (for their owner), and serving them (for anyone)."""

    def __init__(self, files: FileService, store: LinkStore) -> None:
        self.files = files
        self.store = store

    # -- the owner's side ---------------------------------------------------------

    def create(
        self,
        owner: str,
        file_id: str,
        expires_in: object = None,
        expires_at: object = None,
        max_downloads: object = None,
        password: object = None,
    ) -> tuple[LinkRecord, str]:
        """A new link to the file's current content, and its token (returned only here)."""
        now = utcnow()
        expiry = parse_expiry(expires_in, expires_at, now)
        limit = _max_downloads(max_downloads)
        password_hash = hash_password(_password(password)) if password is not None else None
        record = self.files.get(owner, file_id)
        token = new_token()
        link = LinkRecord(
            token_hash=hash_token(token),
            link_id=new_link_id(),
            owner=owner,
            file_id=record.file_id,
            blob_key=record.blob_key,
            created_at=now,
            expires_at=expiry,
            max_downloads=limit,
            downloads=0,
            password_hash=password_hash,
            revoked_at=None,
        )
        self.store.insert_link(link)
        return link, token

    def list(self, owner: str, file_id: str) -> list[tuple[LinkRecord, str]]:
        """The file's links, newest first, each with its state."""
        record = self.files.get(owner, file_id)
        now = utcnow()
        return [
            (link, link_state(link, record, now)) for link in self.store.list_links(owner, file_id)
        ]

    def revoke(self, owner: str, token_or_id: str) -> tuple[LinkRecord, str]:
        """End a link now, by its token or its ``link_id``; revoking twice is fine."""
        link = self._owned(owner, token_or_id)
        revoked = self.store.revoke_link(owner, link.token_hash, utcnow())
        if revoked is None:  # removed by a purge in between
            raise LinkNotFound()
        return revoked, link_state(revoked, None, utcnow())

    def _owned(self, owner: str, token_or_id: str) -> LinkRecord:
        link = None
        if token_or_id.startswith("l_"):
            link = self.store.find_link(owner, token_or_id)
        if link is None and len(token_or_id) <= _MAX_TOKEN_LENGTH:  # a token may start "l_" too
            link = self.store.get_link(hash_token(token_or_id))
        if link is None or link.owner != owner:
            raise LinkNotFound()
        return link

    # -- the public side ------------------------------------------------------------

    def resolve(self, token: str, password: str | None) -> tuple[LinkRecord, FileRecord]:
        """The live link and file behind ``token``; 404, 410 or a password error otherwise."""
        link = self.store.get_link(hash_token(token)) if len(token) <= _MAX_TOKEN_LENGTH else None
        if link is None:
            raise LinkNotFound()
        now = utcnow()
        record = self.files.meta.get(link.owner, link.file_id)
        state = link_state(link, record, now)
        if state != ACTIVE or record is None:
            raise LinkGone(_GONE_MESSAGES.get(state, "This link no longer works"))
        # Ended links answer 410 before any password work: a dead link costs no scrypt.
        if link.password_hash is not None:
            if not password:
                raise LinkPasswordRequired(
                    "This link needs a password: send it as ?password= or X-Link-Password"
                )
            if not password_matches(password, link.password_hash):
                raise LinkPasswordRequired("The link's password is wrong")
        return link, record

    def open(
        self,
        link: LinkRecord,
        record: FileRecord,
        byte_range: Callable[[FileRecord], tuple[int, int] | None],
    ) -> Download:
        """Open the linked content and count the download, or raise LinkGone.

        The blob is opened first and the download claimed second, so a storage
        failure never uses up a one-time link; a lost claim closes the blob unread.
        """
        try:
            download = self.files.open(link.owner, link.file_id, byte_range, record, pinned=True)
        except FileNotFound:
            raise LinkGone(_GONE_MESSAGES["replaced"]) from None
        try:
            claimed = self.store.claim_download(link, utcnow())
        except BaseException:
            download.body.close()
            raise
        if not claimed:
            download.body.close()
            raise LinkGone(_GONE_MESSAGES["used_up"])
        self.files.record_download(download.record)
        return download

    def download_url(
        self, link: LinkRecord, record: FileRecord, expires_s: int, headers: HeadersFor
    ) -> str | None:
        """A short-lived storage URL of the linked content, the download claimed and
        counted first (or LinkGone); None when the blob store can't make one.

        The URL is signed before the claim, so a store that can't sign never uses up
        a one-time link. It works for ``expires_s`` at most, and never past the
        link's or the file's expiry: one short window for a one-time link.
        """
        lifetime = url_lifetime(expires_s, link.expires_at, record.expires_at)
        url = self.files.presign(record, lifetime, headers)
        if url is None:
            return None
        if not self.store.claim_download(link, utcnow()):
            raise LinkGone(_GONE_MESSAGES["used_up"])
        self.files.record_download(record)
        return url

    # -- housekeeping ----------------------------------------------------------------

    def purge(self, dry_run: bool) -> builtins.list[str]:
        """Drop the records of links that ended; they answer 404 from then on, as
        the contract allows. Returns their link ids."""
        now = utcnow()
        dropped: builtins.list[str] = []
        after = ""
        while True:
            page = self.store.scan_links(after, _PURGE_PAGE)
            for link in page:
                record = self.files.meta.get(link.owner, link.file_id)
                if link_state(link, record, now) != ACTIVE:
                    dropped.append(link.link_id)
                    if not dry_run:
                        self.store.delete_link(link.token_hash)
            if len(page) < _PURGE_PAGE:
                return dropped
            after = page[-1].token_hash


def _max_downloads(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("max_downloads must be a whole number")
    if not 1 <= value <= MAX_DOWNLOADS:
        raise InvalidRequest(f"max_downloads must be between 1 and {MAX_DOWNLOADS}")
    return value


def _password(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"password must be a string of 1 to {MAX_PASSWORD_LENGTH} characters")
    return value
