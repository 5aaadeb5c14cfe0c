"""Identifiers the service makes: file ids and blob keys. Never user input."""

from __future__ import annotations

import secrets

BLOB_PREFIX = "blobs/"
# Staged bytes of resumable uploads (less than a part each), outside BLOB_PREFIX:
# fsck never mistakes them for file blobs; purge-uploads sweeps the abandoned ones.
STAGING_PREFIX = "uploads/"


def new_file_id() -> str:
    """16 URL-safe characters carrying 96 random bits."""
    return secrets.token_urlsafe(12)


def new_blob_key(file_id: str) -> str:
    """A fresh, immutable object key for one version of a file's content.

    ``file_id`` is our own id, so no user input reaches the key; the random
    suffix makes every version a new object, never overwritten in place.
    """
    return f"{BLOB_PREFIX}{file_id}/{secrets.token_urlsafe(12)}"


def new_upload_id() -> str:
    """A resumable upload's id: 128 random bits, URL-safe (it is the upload's URL)."""
    return secrets.token_urlsafe(16)


def new_staging_key(upload_id: str) -> str:
    """A fresh key for bytes of upload ``upload_id`` waiting to fill a part."""
    return f"{STAGING_PREFIX}{upload_id}/{secrets.token_urlsafe(12)}"


def upload_id_of_staging_key(key: str) -> str | None:
    """The upload a staging key belongs to (None for a key not made here)."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 and key.startswith(STAGING_PREFIX) else None


def new_request_id() -> str:
    return secrets.token_hex(8)
