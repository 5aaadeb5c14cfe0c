"""``python app.py``: Werkzeug's server for local use, with the API's JSON refusals
and gunicorn's limits (:class:`~filedrop.http.server_errors.JsonErrorRequestHandler`)."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.serving import run_simple

from .config import Settings
from .http.server_errors import JsonErrorRequestHandler

HOST = "127.0.0.1"  # local use: never another interface


def serve(app: Flask) -> None:
    settings: Settings = app.extensions["filedrop.settings"]
    # Werkzeug's banner and its per-request lines: the app logs each request itself.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"serving on http://{HOST}:{settings.port} (Ctrl+C to stop)", flush=True)
    run_simple(HOST, settings.port, app, threaded=True, request_handler=JsonErrorRequestHandler)
