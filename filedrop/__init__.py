"""FILE DROP: a file service on S3-compatible storage and MongoDB.

:func:`create_app` is the application factory; :mod:`filedrop.wsgi` calls it for
gunicorn. Importing the package loads no Flask (the factory imports it), so
gunicorn's master can check the settings with :mod:`filedrop.config` alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from .config import Settings, make_data_dir
from .storage.blobs import BlobStore
from .storage.metadata import CatalogStore, FileStore

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("filedrop")

__version__ = "0.1.0"


def create_app(
    settings: Settings | None = None,
    *,
    blobs: BlobStore | None = None,
    meta: CatalogStore | None = None,
) -> Flask:
    """Build the app. Tests pass their own stores; otherwise settings choose them."""
    from . import cli, logs
    from .backends import describe, make_blob_store, make_metadata_store
    from .flaskapp import FileDropFlask
    from .http import (
        access_log,
        admin,
        auth,
        buckets,
        docs,
        files,
        folders,
        health,
        links,
        s3,
        tus,
        web,
    )
    from .http import metrics as metrics_http
    from .http.errors import register_error_handlers
    from .metrics import Metrics, Timed
    from .services.buckets import BucketService
    from .services.files import FileService
    from .services.folders import FolderService
    from .services.keys import KeyService, secret_box
    from .services.links import LinkService
    from .services.multipart import MAX_S3_API_PART, MultipartService
    from .services.ratelimit import RateLimiter
    from .services.uploads import UploadService
    from .services.users import UserService

    settings = settings or Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    app = FileDropFlask(__name__)
    if settings.trusted_proxy_hops:
        _trust_proxies(app, settings.trusted_proxy_hops)
    # In embedded mode the app makes its own data directory: no setup step before a first run.
    create_data_dir = blobs is None and settings.backend == "embedded"
    if create_data_dir:
        make_data_dir(settings)
    blobs = blobs or make_blob_store(settings)
    meta = meta or make_metadata_store(settings)
    metrics = Metrics()
    app.extensions["filedrop.metrics"] = metrics
    # Everything above the stores sees them through a stopwatch (backend latency metrics).
    blobs, meta = cast(BlobStore, Timed(blobs, metrics)), cast(CatalogStore, Timed(meta, metrics))
    # Each service gets the one protocol it uses; all of them are this one store.
    service = FileService(blobs, meta, meta, settings.max_file_size)
    users = UserService(
        meta,
        meta,
        service,
        KeyService(meta, secret_box(settings)),
        settings.default_quota_bytes,
        settings.auth_cache_s,
    )
    app.extensions["filedrop.uploads"] = UploadService(
        service,
        meta,
        settings.tus_expiry_s,
        settings.tus_lock_s,
        settings.s3_part_size,
        settings.s3_upload_concurrency,
    )
    app.extensions["filedrop"] = service
    app.extensions["filedrop.users"] = users
    folders_service = FolderService(service, meta)
    app.extensions["filedrop.folders"] = folders_service
    app.extensions["filedrop.buckets"] = BucketService(folders_service)
    app.extensions["filedrop.multipart"] = MultipartService(service, meta, MAX_S3_API_PART)
    app.extensions["filedrop.links"] = LinkService(service, meta)
    app.extensions["filedrop.catalog"] = meta  # operations (fsck) that span every record
    app.extensions["filedrop.settings"] = settings
    app.extensions["filedrop.ratelimit"] = RateLimiter(
        meta, settings.rate_limit_per_window, settings.rate_limit_window_s
    )
    app.extensions["filedrop.started"] = time.time()
    register_error_handlers(app)
    access_log.init_app(app, metrics)
    auth.init_app(app)
    for blueprint in (
        health.bp,
        files.bp,
        folders.bp,
        links.bp,
        links.public_bp,
        tus.bp,
        admin.bp,
        admin.me_bp,
        buckets.bp,
        docs.bp,
        web.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(s3.bp)
    if settings.metrics != "off":
        app.register_blueprint(metrics_http.bp)
    cli.init_app(app)
    _prepare(meta, blobs if create_data_dir else None)
    log.info(
        "FILE DROP %s: metadata in %s, blobs in %s", __version__, describe(meta), describe(blobs)
    )
    if not settings.auth_enabled:
        log.warning(
            "FILEDROP_AUTH is disabled: no API keys; anyone who can reach this port can read, "
            "change and delete every file. For local use only."
        )
        _best_effort("create the implicit user", users.ensure_implicit_user)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies: the client's address (per-address rate limits,
    logs) and scheme (share-link URLs) come from their X-Forwarded-For/-Proto.
    Never without a proxy that sets them: a client could claim any address."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    # As Flask documents it; setattr because mypy forbids assigning to a method.
    setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops))  # noqa: B010


def _prepare(meta: FileStore, local_blobs: BlobStore | None) -> None:
    """Create indexes now if the database answers; listing still works without them.

    ``local_blobs`` (embedded mode) gets its directory created too.
    """
    from .errors import FileDropError

    if local_blobs is not None:
        try:
            local_blobs.ensure_bucket()
        except FileDropError as exc:
            log.warning("could not create the data directory at startup: %s", exc.message)
    try:
        meta.ensure_indexes()
    except FileDropError as exc:
        log.warning("could not create indexes at startup: %s", exc.message)


def _best_effort(what: str, action: Callable[[], None]) -> None:
    """Startup work that can wait for the database: log, don't crash the worker."""
    from .errors import FileDropError

    try:
        action()
    except FileDropError as exc:
        log.warning("could not %s at startup: %s", what, exc.message)
