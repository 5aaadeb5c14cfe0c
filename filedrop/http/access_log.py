"""One JSON log line and one metrics observation per request.

The line has method, path, status, bytes, duration, request id and owner.

The line is written when the response is closed, so a streamed download is
timed to its last byte. Headers (and so API keys) and bodies are never logged.
"""

from __future__ import annotations

import functools
import logging
import re
import time

from flask import Flask, Response, g, request

from ..metrics import Metrics
from .context import assign_request_id

log = logging.getLogger("filedrop.access")


_UPLOAD_METHODS = ("POST", "PUT", "PATCH")
_CONVERTER = re.compile(r"<[^<>:]+:([^<>]+)>")


@functools.lru_cache(maxsize=256)
def route_label(rule: str) -> str:
    """A route as logs and metrics name it: ``/files/<file_id>``, without the URL
    converter a rule may name (``<file_id:file_id>``), so labels stay as documented."""
    return _CONVERTER.sub(r"<\1>", rule)


def init_app(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        assign_request_id()
        g.uploading = request.method in _UPLOAD_METHODS and bool(
            request.content_length or request.headers.get("Transfer-Encoding")
        )
        if g.uploading:
            metrics.active_uploads.inc()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or assign_request_id()
        response.headers["X-Request-Id"] = request_id
        request_method, status = request.method, response.status_code
        bytes_in, bytes_out = request.content_length or 0, response.content_length or 0
        rule = request.url_rule
        route = route_label(rule.rule) if rule is not None else "unmatched"
        # The line is only built when something will read it (LOG_LEVEL INFO or lower).
        line = _line(request_method, route, status, bytes_in, bytes_out, request_id)
        started = g.get("started", time.perf_counter())
        uploading = g.get("uploading", False)

        def _write() -> None:
            seconds = time.perf_counter() - started
            if line is not None:
                line["duration_ms"] = round(seconds * 1000, 2)
                log.info("%s %s %s", request_method, line["path"], status, extra={"fields": line})
            metrics.observe_request(request_method, route, status, bytes_in, bytes_out, seconds)
            if uploading:
                metrics.active_uploads.dec()

        response.call_on_close(_write)
        return response


def _line(
    method: str, route: str, status: int, bytes_in: int, bytes_out: int, request_id: str
) -> dict[str, object] | None:
    if not log.isEnabledFor(logging.INFO):
        return None
    return {
        "method": method,
        # A share-link token in the path is a credential: log the route instead.
        "path": route if request.view_args and "token" in request.view_args else request.path,
        "status": status,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "request_id": request_id,
        "owner": g.get("owner"),
    }
