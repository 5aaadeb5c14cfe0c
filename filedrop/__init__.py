"""FILE DROP: a file service on S3-compatible storage and MongoDB.

:func:`create_app` is the application factory; ``app.py`` calls it for gunicorn.
"""

from __future__ import annotations

import logging

from flask import Flask

from .config import Settings
from .errors import FileDropError, register_error_handlers
from .service import FileService
from .storage.blobs import BlobStore
from .storage.metadata import MetadataStore

log = logging.getLogger("filedrop")

__version__ = "0.1.0"


def create_app(
    settings: Settings | None = None,
    *,
    blobs: BlobStore | None = None,
    meta: MetadataStore | None = None,
) -> Flask:
    """Build the app. Tests pass their own stores; otherwise settings choose them."""
    from . import cli
    from .backends import make_blob_store, make_metadata_store
    from .http import access_log, files, health

    settings = settings or Settings.from_env()
    _configure_logging(settings.log_level)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    blobs = blobs or make_blob_store(settings)
    meta = meta or make_metadata_store(settings, app)
    app.extensions["filedrop"] = FileService(blobs, meta, settings.max_file_size)
    app.extensions["filedrop.settings"] = settings
    register_error_handlers(app)
    access_log.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(files.bp)
    cli.init_app(app)
    _prepare(meta)
    log.info("FILE DROP %s: metadata in %s, blobs in %s", __version__, meta.name, blobs.name)
    return app


def _prepare(meta: MetadataStore) -> None:
    """Create indexes now if the database answers; listing still works without them."""
    try:
        meta.ensure_indexes()
    except FileDropError as exc:
        log.warning("could not create indexes at startup: %s", exc.message)


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    logging.getLogger("filedrop").setLevel(level.upper())
