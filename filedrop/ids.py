"""Identifiers the service makes: file ids and blob keys. Never user input."""

from __future__ import annotations

import secrets

BLOB_PREFIX = "blobs/"


def new_file_id() -> str:
    """16 URL-safe characters carrying 96 random bits."""
    return secrets.token_urlsafe(12)


def new_blob_key(file_id: str) -> str:
    """A fresh, immutable object key for one version of a file's content.

    ``file_id`` is our own id, so no user input reaches the key; the random
    suffix makes every version a new object, never overwritten in place.
    """
    return f"{BLOB_PREFIX}{file_id}/{secrets.token_urlsafe(12)}"


def new_request_id() -> str:
    return secrets.token_hex(8)
