"""FILE DROP: a file service on S3-compatible storage and MongoDB.

:func:`create_app` is the application factory; ``app.py`` calls it for gunicorn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast

from flask import Flask, Response

from .config import Settings
from .errors import FileDropError, ServerMisconfigured, register_error_handlers
from .keys import SecretBox, data_dir_secret
from .service import FileService
from .storage.blobs import BlobStore
from .storage.metadata import CatalogStore, MetadataStore

log = logging.getLogger("filedrop")

__version__ = "0.1.0"


class FileDropFlask(Flask):
    """Flask, with OPTIONS answered from the route that matched.

    Werkzeug's automatic OPTIONS lists the methods of every rule the path
    matches, so ``/files/upload`` would also advertise ``/files/<file_id>``'s.
    """

    def make_default_options_response(self) -> Response:
        from flask import request

        matched = request.url_rule
        methods = {"OPTIONS"}
        if matched is not None:
            for rule in self.url_map.iter_rules():
                if rule.rule == matched.rule:  # one pattern may have a rule per method
                    methods |= rule.methods or set()
        response = Response(status=204, headers={"Allow": ", ".join(sorted(methods))})
        del response.headers["Content-Type"]  # no body, so no (default text/html) type
        return response


def create_app(
    settings: Settings | None = None,
    *,
    blobs: BlobStore | None = None,
    meta: CatalogStore | None = None,
) -> Flask:
    """Build the app. Tests pass their own stores; otherwise settings choose them."""
    from . import cli, logs
    from .backends import describe, make_blob_store, make_metadata_store
    from .buckets import BucketService
    from .folders import FolderService
    from .http import access_log, admin, auth, buckets, docs, files, folders, health, links, s3, tus
    from .http import metrics as metrics_http
    from .keys import KeyService
    from .links import LinkService
    from .metrics import Metrics, Timed
    from .multipart import MAX_S3_API_PART, MultipartService
    from .ratelimit import RateLimiter
    from .uploads import UploadService
    from .users import UserService

    settings = settings or Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    app = FileDropFlask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # In embedded mode the app makes its own data directory: no setup step before a first run.
    create_data_dir = blobs is None and settings.backend == "embedded"
    blobs = blobs or make_blob_store(settings)
    meta = meta or make_metadata_store(settings, app)
    metrics = Metrics()
    app.extensions["filedrop.metrics"] = metrics
    # Everything above the stores sees them through a stopwatch (backend latency metrics).
    blobs, meta = cast(BlobStore, Timed(blobs, metrics)), cast(CatalogStore, Timed(meta, metrics))
    service = FileService(blobs, meta, settings.max_file_size)
    users = UserService(
        meta, service, KeyService(meta, _secret_box(settings)), settings.default_quota_bytes
    )
    app.extensions["filedrop.uploads"] = UploadService(
        service,
        settings.tus_expiry_s,
        settings.tus_lock_s,
        settings.s3_part_size,
        settings.s3_upload_concurrency,
    )
    app.extensions["filedrop"] = service
    app.extensions["filedrop.users"] = users
    folders_service = FolderService(service)
    app.extensions["filedrop.folders"] = folders_service
    app.extensions["filedrop.buckets"] = BucketService(folders_service)
    app.extensions["filedrop.multipart"] = MultipartService(service, MAX_S3_API_PART)
    app.extensions["filedrop.links"] = LinkService(service)
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


def _secret_box(settings: Settings) -> SecretBox:
    """The server key that seals S3 secrets: FILEDROP_SECRET_KEY, else (embedded mode)
    one kept in DATA_DIR, read when first needed."""
    if settings.secret_key:
        return SecretBox(lambda: settings.secret_key)
    if settings.backend == "embedded":
        return SecretBox(lambda: data_dir_secret(settings.data_dir))
    return SecretBox(_no_secret_key)


def _no_secret_key() -> str:
    raise ServerMisconfigured("FILEDROP_SECRET_KEY is not set: S3 keys cannot be made or checked")


def _prepare(meta: MetadataStore, local_blobs: BlobStore | None) -> None:
    """Create indexes now if the database answers; listing still works without them.

    ``local_blobs`` (embedded mode) gets its directory created too.
    """
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
    try:
        action()
    except FileDropError as exc:
        log.warning("could not %s at startup: %s", what, exc.message)
