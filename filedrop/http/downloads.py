"""Serving a file's content: conditional requests, ranges, safe headers, streaming."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from urllib.parse import quote

from flask import Request, Response
from werkzeug.datastructures import ETags
from werkzeug.http import parse_etags

from ..errors import RangeNotSatisfiable
from ..services import mediatypes
from ..services.files import Download, FileService
from ..storage.blobs import BlobReader
from ..storage.metadata import FileRecord

_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char, besides letters and digits
_REPLACED = "\x00"  # marks a character the fallback cannot hold (never in a name)
_REPLACED_RUN = re.compile(r"\x00(?:\s*\x00)*")  # "☕ 日本語": one "_" is enough


def content_disposition(file_name: str, inline: bool) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name; nothing raw reaches the header."""
    kind = "inline" if inline else "attachment"
    return (
        f'{kind}; filename="{ascii_fallback(file_name)}"; '
        f"filename*=UTF-8''{quote(file_name, safe=_ATTR_CHARS)}"
    )


def ascii_fallback(file_name: str) -> str:
    """A readable ASCII stand-in for clients that ignore ``filename*``: accents
    dropped (``café`` → ``cafe``), each run of anything else one ``_``, the
    extension kept; ``download`` when no letter or digit is left of the stem."""
    kept = []
    for ch in unicodedata.normalize("NFKD", file_name):
        if unicodedata.combining(ch):
            continue
        safe = ch.isascii() and ch.isprintable() and ch not in '"\\%'
        kept.append(ch if safe else _REPLACED)
    fallback = _REPLACED_RUN.sub("_", "".join(kept)).strip()
    if fallback == file_name:
        return fallback
    stem, dot, extension = fallback.rpartition(".")
    if not dot:
        stem, extension = fallback, ""
    if not any(ch.isalnum() for ch in stem):
        stem = "download"
    return stem + dot + extension


def header_etags(req: Request, name: str) -> ETags | None:
    """``If-Match`` or ``If-None-Match`` as ETags; None when the header is absent.

    Not ``request.if_match``: Werkzeug 3.1's ``parse_etags`` never returns on a
    value that ends in a newline (its ``$`` also matches before a final "\\n",
    an empty match it never steps past) and grows memory until the worker dies.
    """
    value = req.headers.get(name)
    return None if value is None else parse_etags(value.strip())


_BYTE_RANGE = re.compile(r"(\d*)-(\d*)")


def _requested_span(request: Request, record: FileRecord) -> tuple[int, int] | None:
    """(start, end inclusive) of a single satisfiable range, None for the whole file.

    RFC 9110: a last-byte-pos past the end, or a suffix longer than the file,
    stops at the end; a first-byte-pos at or past the end, or the suffix ``-0``,
    is unsatisfiable (416). Several ranges, another unit or a header that does
    not parse are ignored: the whole file. So is a suffix range of an empty file,
    the one range an empty file satisfies, as there is no byte to send.
    """
    spec = _single_byte_range(request.headers.get("Range"))
    if spec is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != record.etag:
        return None
    first, last = spec
    size = record.file_size
    if first is None:  # the last `last` bytes
        if not last:
            raise _unsatisfiable(size)
        return None if size == 0 else (max(size - last, 0), size - 1)
    if first >= size:
        raise _unsatisfiable(size)
    return first, size - 1 if last is None else min(last, size - 1)


def _single_byte_range(header: str | None) -> tuple[int | None, int | None] | None:
    """``bytes=a-b`` as (a, b), ``a-`` as (a, None), ``-n`` as (None, n); else None."""
    if header is None:
        return None
    unit, _, ranges = header.partition("=")
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]
    if unit.strip().lower() != "bytes" or len(specs) != 1:
        return None
    match = _BYTE_RANGE.fullmatch(specs[0])
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is not None and last is not None and last < first:
        return None  # invalid: RFC 9110 ignores the header
    return first, last


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range is outside the file's {size} bytes", Content_Range=f"bytes */{size}"
    )


def _headers(record: FileRecord, inline_requested: bool) -> dict[str, str]:
    inline = inline_requested and mediatypes.inline_safe(record.file_type)
    return {
        "Content-Type": record.file_type,
        "ETag": record.etag,
        "Last-Modified": record.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition(record.file_name, inline),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
    }


def _stream(body: BlobReader) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        body.close()


SpanPicker = Callable[[FileRecord], tuple[int, int] | None]


def send_file(service: FileService, owner: str, file_id: str, request: Request) -> Response:
    """GET/HEAD of a file: streamed, with ranges and conditional requests."""
    record = service.get(owner, file_id, counts=False)
    return serve(record, lambda pick: service.download(owner, file_id, pick, record), request)


def serve(
    record: FileRecord, open_content: Callable[[SpanPicker], Download], request: Request
) -> Response:
    """GET/HEAD of ``record``'s content: conditional requests, ranges, headers, streaming.

    ``open_content`` opens (and counts) the download; it is called only when a body
    is sent, so HEAD, 304 and 416 never open the blob nor count as downloads.
    """
    inline = request.args.get("disposition") == "inline"
    none_match = header_etags(request, "If-None-Match")
    if none_match is not None and none_match.contains_weak(record.sha256):
        return Response(status=304, headers=_headers(record, inline))
    span = _requested_span(request, record)
    body: BlobReader | None = None
    if request.method != "HEAD":
        download = open_content(lambda r: _requested_span(request, r))
        record, body, span = download.record, download.body, download.span
    headers = _headers(record, inline)
    status = 200
    length = record.file_size
    if span is not None:
        status = 206
        length = span[1] - span[0] + 1
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.file_size}"
    headers["Content-Length"] = str(length)
    if body is None:
        response = Response(status=status, headers=headers)
    else:
        # Not direct_passthrough: Werkzeug then hands the bare generator to the server, and
        # call_on_close (the access log line, metrics) would never run for downloads.
        response = Response(_stream(body), status=status, headers=headers)
    # Flask would otherwise set a default mimetype with a charset we did not store.
    response.headers["Content-Type"] = record.file_type
    response.headers["Content-Length"] = str(length)
    return response


def content_headers(record: FileRecord, request: Request) -> dict[str, str]:
    """The headers that go with ``record``'s content, streamed or from storage."""
    return _headers(record, request.args.get("disposition") == "inline")
