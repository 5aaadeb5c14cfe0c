"""Requests the HTTP server refuses itself, before the app sees them: a request
line or a header past the server's limits, a line that is not HTTP, an ``Expect``
the server cannot meet.

gunicorn (production) and Werkzeug's server (``python app.py``) answer those
with an HTML page of their own; the API promises JSON for every error. Each server
gets a hook here that writes the same error document as the app does.
"""

from __future__ import annotations

import json
import socket

from werkzeug.serving import WSGIRequestHandler

from ..ids import new_request_id
from .errors import error_body, http_error_code
from .limits import HEADER_COUNT_MAX, HEADER_FIELD_MAX, REQUEST_LINE_MAX

# The server's own message names what it refused and may quote the request.
_MAX_MESSAGE = 300


def error_document(status: int, message: str) -> tuple[bytes, dict[str, str]]:
    """The JSON body for ``status`` and the headers that go with it."""
    request_id = new_request_id()
    document = error_body(http_error_code(status), message[:_MAX_MESSAGE], request_id)
    # The app's own format (Flask's compact JSON and a newline), whoever answers.
    body = (json.dumps(document, separators=(",", ":")) + "\n").encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Content-Type-Options": "nosniff",
        "X-Request-Id": request_id,
        "Connection": "close",
    }
    return body, headers


def _gunicorn_write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Stands in for ``gunicorn.util.write_error`` (same arguments): gunicorn's
    ``reason`` is its own constant phrase, ``mesg`` may quote the request."""
    from gunicorn.util import write_nonblock

    body, headers = error_document(status_int, f"{reason}: {mesg}" if mesg else reason)
    head = f"HTTP/1.1 {status_int} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    write_nonblock(sock, head.encode("latin-1") + b"\r\n" + body)


def install_for_gunicorn() -> None:
    """Make gunicorn's refusals JSON. Its workers call ``util.write_error`` through
    the module, so replacing the attribute in a worker covers every worker class."""
    from gunicorn import util

    util.write_error = _gunicorn_write_error


class JsonErrorRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, refusing malformed requests in JSON and holding
    requests to gunicorn's limits (``limits.py``): its own allow 64 KiB lines.

    It writes no line per request: the app's access log has each one."""

    def parse_request(self) -> bool:
        if len(self.raw_requestline.rstrip(b"\r\n")) > REQUEST_LINE_MAX:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414, f"request line over {REQUEST_LINE_MAX} bytes")
            return False
        if not super().parse_request():
            return False
        if len(self.headers) > HEADER_COUNT_MAX:
            self.send_error(431, f"more than {HEADER_COUNT_MAX} header fields")
            return False
        for name, value in self.headers.raw_items():
            if len(name) + len(value) + 4 > HEADER_FIELD_MAX:  # "Name: value\r\n"
                self.send_error(431, f"header {name[:64]} over {HEADER_FIELD_MAX} bytes")
                return False
        # As gunicorn: 100-continue (any case) is the one expectation a server can meet.
        for expect in self.headers.get_all("Expect") or []:
            if expect.strip().lower() != "100-continue":
                self.send_error(417, f"Unable to comply with expectation: {expect!r}")
                return False
        return True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def handle_expect_100(self) -> bool:
        # Werkzeug writes "100 Continue" itself when it runs the app: not a second one here.
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        reason = self.responses.get(code, ("Error", ""))[0]
        self.log_error("code %d, message %s", code, message or reason)
        # A line the server could not read leaves it assuming HTTP/0.9, which has no
        # status line or headers: answer as HTTP/1.x, as gunicorn does.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        body, headers = error_document(code, message or reason)
        self.send_response(code, reason)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
