"""One JSON log line per request: method, path, status, bytes, duration, request id.

The line is written when the response is closed, so a streamed download is
timed to its last byte. Headers (and so API keys) and bodies are never logged.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, g, request

from .context import assign_request_id

log = logging.getLogger("filedrop.access")


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        assign_request_id()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or assign_request_id()
        response.headers["X-Request-Id"] = request_id
        line = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "bytes_in": request.content_length or 0,
            "bytes_out": response.content_length or 0,
            "request_id": request_id,
            "owner": g.get("owner"),
        }
        started = g.get("started", time.perf_counter())

        def _write() -> None:
            line["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
            log.info(json.dumps(line, ensure_ascii=False))

        response.call_on_close(_write)
        return response
