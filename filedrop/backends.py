"""Build the blob and metadata stores the settings ask for.

MongoDB + S3 when ``MONGO_URI`` is set (see ``Settings.backend``); otherwise
embedded mode: files under ``DATA_DIR/blobs`` and metadata in
``DATA_DIR/filedrop.sqlite3``, with no server to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .storage.blobs import BlobStore
from .storage.local import LocalBlobStore
from .storage.metadata import CatalogStore, FileStore
from .storage.mongo import MongoMetadataStore
from .storage.s3 import S3BlobStore
from .storage.sqlite import SqliteMetadataStore

if TYPE_CHECKING:
    from flask import Flask

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


def make_metadata_store(settings: Settings, app: Flask | None = None) -> CatalogStore:
    if settings.backend == "embedded":
        return SqliteMetadataStore(Path(settings.data_dir) / DATABASE_FILE)
    kwargs: dict[str, Any] = {
        "serverSelectionTimeoutMS": settings.mongo_timeout_ms,
        "connectTimeoutMS": settings.mongo_timeout_ms,
        "socketTimeoutMS": max(settings.mongo_timeout_ms * 5, 15000),
        "tz_aware": True,
    }
    client: Any
    if app is not None:
        # Flask-PyMongo connects lazily, so forking gunicorn workers is safe.
        from flask_pymongo import PyMongo

        client = PyMongo(app, settings.mongo_uri, **kwargs).cx
    else:
        from pymongo import MongoClient

        client = MongoClient(settings.mongo_uri, connect=False, **kwargs)
    return MongoMetadataStore(client[settings.mongo_db])


def describe(store: BlobStore | FileStore) -> str:
    """Which backend a store is and, for the embedded ones, where its data lives."""
    describe_store = getattr(store, "describe", None)
    return str(describe_store()) if callable(describe_store) else store.name
