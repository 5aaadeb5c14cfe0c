"""Build the blob and metadata stores the settings ask for.

MongoDB + S3 when ``MONGO_URI`` is set (see ``Settings.backend``); otherwise
embedded mode: files under ``DATA_DIR/blobs`` and metadata in
``DATA_DIR/filedrop.sqlite3``, with no server to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo import MongoClient

from .config import Settings
from .storage.blobs import BlobStore
from .storage.local import LocalBlobStore
from .storage.metadata import CatalogStore, MetadataStore
from .storage.mongo import MongoMetadataStore
from .storage.s3 import S3BlobStore
from .storage.sqlite import SqliteMetadataStore

# Embedded mode's layout under DATA_DIR.
BLOB_DIR = "blobs"
DATABASE_FILE = "filedrop.sqlite3"


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.backend == "embedded":
        return LocalBlobStore(Path(settings.data_dir) / BLOB_DIR, chunk_size=settings.chunk_size)
    return S3BlobStore.connect(
        settings.s3_endpoint_url,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_region,
        settings.s3_bucket,
        timeout_s=settings.s3_timeout_s,
        max_pool=settings.s3_max_pool,
        part_size=settings.s3_part_size,
        concurrency=settings.s3_upload_concurrency,
        chunk_size=settings.chunk_size,
    )


def make_metadata_store(settings: Settings) -> CatalogStore:
    if settings.backend == "embedded":
        return SqliteMetadataStore(Path(settings.data_dir) / DATABASE_FILE)
    # connect=False: the client connects on first use, so forking gunicorn workers is safe.
    client: MongoClient[Any] = MongoClient(
        settings.mongo_uri,
        connect=False,
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        socketTimeoutMS=max(settings.mongo_timeout_ms * 5, 15000),
        tz_aware=True,
    )
    return MongoMetadataStore(client[settings.mongo_db])


def describe(store: BlobStore | MetadataStore) -> str:
    """Which backend a store is and, for the embedded ones, where its data lives."""
    describe_store = getattr(store, "describe", None)
    return str(describe_store()) if callable(describe_store) else store.name
