"""Downloads that skip the app: ``307`` to a short-lived presigned storage URL.

With ``DOWNLOAD_REDIRECT=presigned`` a GET of a file's content is checked here as
always (key, owner, expiry, link limits, counted) and then sent on to storage,
which serves the bytes, ranges and conditional requests itself. The URL makes
storage answer with the same Content-Type, Content-Disposition (never inline
for HTML or SVG) and Cache-Control as the streamed path. HEAD, ``?redirect=0``
and blob stores that can't sign URLs keep the streamed path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Request, Response

from ..services.files import HeadersFor
from ..storage.metadata import FileRecord
from .context import get_settings
from .downloads import content_headers

# What storage can be told to answer with; the rest (nosniff, CSP) only the app can send.
_STORAGE_HEADERS = ("Content-Type", "Content-Disposition", "Cache-Control")

Presign = Callable[[int, HeadersFor], str | None]


def redirect_to_storage(request: Request, presign: Presign) -> Response | None:
    """307 to the URL ``presign(expires_s, headers_for)`` makes, or None to stream."""
    settings = get_settings()
    if (
        settings.download_redirect != "presigned"
        or request.method != "GET"
        or request.args.get("redirect") == "0"
    ):
        return None

    def storage_headers(record: FileRecord) -> Mapping[str, str]:
        headers = content_headers(record, request)
        return {name: headers[name] for name in _STORAGE_HEADERS}

    url = presign(settings.download_redirect_expiry_s, storage_headers)
    if url is None:
        return None
    response = Response(
        status=307,
        headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    del response.headers["Content-Type"]  # no body
    return response
