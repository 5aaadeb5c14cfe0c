"""Build the blob and metadata stores the settings ask for."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .config import Settings
from .storage.blobs import BlobStore
from .storage.metadata import MetadataStore
from .storage.mongo import MongoMetadataStore
from .storage.s3 import S3BlobStore


def make_blob_store(settings: Settings) -> BlobStore:
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


def make_metadata_store(settings: Settings, app: Flask | None = None) -> MetadataStore:
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
