"""``python app.py``: Werkzeug's server for local use, with the API's JSON refusals
and gunicorn's limits (:class:`~filedrop.http.server_errors.JsonErrorRequestHandler`)."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.serving import make_server

from .config import Settings
from .http.server_errors import JsonErrorRequestHandler

HOST = "127.0.0.1"  # local use: never another interface


def serve(app: Flask) -> None:
    settings: Settings = app.extensions["filedrop.settings"]
    # Werkzeug's banner and its per-request lines: the app logs each request itself.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Bound before it says so: a busy port ends here with Werkzeug's own two lines.
    server = make_server(
        HOST, settings.port, app, threaded=True, request_handler=JsonErrorRequestHandler
    )
    print(f"serving on http://{HOST}:{settings.port} (Ctrl+C to stop)", flush=True)
    server.serve_forever()  # returns on Ctrl+C, with the socket closed
