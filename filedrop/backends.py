"""Build the blob and metadata stores the settings ask for.

MongoDB + S3 when ``MONGO_URI`` is set (see ``Settings.backend``); otherwise
embedded mode: files under ``DATA_DIR/blobs`` and metadata in
``DATA_DIR/filedrop.sqlite3``, with no server to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Settings, SettingsError
from .storage.blobs import BlobStore
from .storage.blobs.local import LocalBlobStore
from .storage.blobs.s3 import S3BlobStore
from .storage.metadata import CatalogStore, FileStore
from .storage.mongo import MongoMetadataStore
from .storage.sqlite import SqliteMetadataStore

# Embedded mode's layout under DATA_DIR.
BLOB_DIR = "blobs"
DATABASE_FILE = "filedrop.sqlite3"


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.backend == "embedded":
        return LocalBlobStore(Path(settings.data_dir) / BLOB_DIR, chunk_size=settings.chunk_size)
    try:
        return _connect_s3(settings)
    except ValueError as exc:  # botocore's "Invalid endpoint: ..."
        raise SettingsError(f"setting S3_ENDPOINT_URL: {exc} (use http(s)://HOST:PORT)") from None


def _connect_s3(settings: Settings) -> S3BlobStore:
    return S3BlobStore.connect(
        settings.s3_endpoint_url,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_region,
        settings.s3_bucket,
        timeout_s=settings.s3_timeout_s,
        max_pool=settings.s3_max_pool,
        public_endpoint_url=settings.s3_public_endpoint_url,
        part_size=settings.s3_part_size,
        concurrency=settings.s3_upload_concurrency,
        chunk_size=settings.chunk_size,
    )


def make_metadata_store(settings: Settings) -> CatalogStore:
    if settings.backend == "embedded":
        return SqliteMetadataStore(Path(settings.data_dir) / DATABASE_FILE)
    from pymongo import MongoClient
    from pymongo.errors import ConfigurationError, InvalidName

    try:
        # connect=False: the client connects on first use, so forking gunicorn workers is safe.
        client: MongoClient[Any] = MongoClient(
            settings.mongo_uri,
            connect=False,
            serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            connectTimeoutMS=settings.mongo_timeout_ms,
            socketTimeoutMS=max(settings.mongo_timeout_ms * 5, 15000),
            tz_aware=True,
        )
    except (ConfigurationError, ValueError) as exc:  # InvalidURI is a ConfigurationError
        raise SettingsError(f"setting MONGO_URI: {exc}") from None
    try:
        return MongoMetadataStore(client[settings.mongo_db])
    except InvalidName as exc:
        raise SettingsError(f"setting MONGO_DB: {exc}") from None


def bucket_report(settings: Settings, created: bool) -> str:
    """What ``create-bucket`` did, in one line: embedded mode has a directory, not a bucket."""
    if settings.backend == "embedded":
        state = "created" if created else "ready"
        return f"embedded mode has no bucket: data directory {settings.data_dir} {state}"
    return f"bucket {settings.s3_bucket}: {'created' if created else 'already exists'}"


def describe(store: BlobStore | FileStore) -> str:
    """Which backend a store is and, for the embedded ones, where its data lives."""
    describe_store = getattr(store, "describe", None)
    return str(describe_store()) if callable(describe_store) else store.name
