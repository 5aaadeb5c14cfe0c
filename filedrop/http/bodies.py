"""Request bodies as streams: raw uploads and multipart forms, never read whole.

:func:`body_kind` is the one rule for what a body *is*, for every endpoint that
can take file content:

===================================== ======================= ==========================
Content-Type                          ``POST /files/upload``  ``PUT /files/{id}``
===================================== ======================= ==========================
``multipart/form-data``               fields + ``file`` parts fields + optional ``file``
``application/x-www-form-urlencoded`` refused (415)           fields only, never content
``application/json``                  content (a JSON file)   fields only (rename, move)
anything else, or none                content                 content
no body at all                        refused (no file)       query/header name only
===================================== ======================= ==========================

A urlencoded form is never content: ``curl -d 'file_name=x'`` must rename, not
overwrite a file with the text ``file_name=x``. tus (``/uploads/``) takes
content only as :data:`OFFSET_STREAM`.

:class:`RawBody` and :class:`MultipartBody` implement
:class:`filedrop.services.files.Incoming`. The multipart reader uses Werkzeug's
sans-IO decoder so the file part flows to storage chunk by chunk while small
fields (``file_name``) are collected on the way, before or after the file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import Enum
from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from ..errors import InvalidRequest, UnsupportedMediaType
from ..validation import declared_media_type

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
JSON = "application/json"
OFFSET_STREAM = "application/offset+octet-stream"

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 1000
# What the decoder may hold besides one chunk: a part's headers, the preamble, the epilogue.
MAX_FORM_OVERHEAD = 64 * 1024


class BodyKind(Enum):
    """What a request body carries (see the table above)."""

    EMPTY = "empty"  # no body: only the query string and headers speak
    MULTIPART = "multipart"  # form fields, and the file in its `file` parts
    FIELDS = "fields"  # urlencoded form fields: instructions, never content
    JSON = "json"  # a JSON object of instructions
    CONTENT = "content"  # the whole body is the file


def body_kind(req: Request, *, instructions: bool) -> BodyKind:
    """How an endpoint that takes file content reads ``req``'s body.

    ``instructions``: the endpoint also takes a body of instructions only (PUT
    renames and moves); then JSON is instructions. Where it does not (an upload),
    a JSON body is a JSON file like any other, and a urlencoded one is refused
    with a hint, since curl sends that type by default with ``--data-binary``.
    """
    if req.mimetype == MULTIPART:
        return BodyKind.MULTIPART
    if req.mimetype == URLENCODED:
        if not instructions:
            raise UnsupportedMediaType(
                f"An {URLENCODED} body holds form fields, never file content: send the file"
                f" as a {MULTIPART} part 'file', or as the raw body with its own Content-Type"
                " (curl: -H 'Content-Type: application/octet-stream')"
            )
        return BodyKind.FIELDS
    if req.mimetype == JSON and instructions:
        return BodyKind.JSON
    return BodyKind.CONTENT if has_body(req) else BodyKind.EMPTY


def has_body(req: Request) -> bool:
    """Whether the request carries a body (a declared length above 0, or chunks)."""
    if req.content_length is not None:
        return req.content_length > 0
    return "chunked" in req.headers.get("Transfer-Encoding", "").lower()


def read_form_fields(req: Request, allowed: set[str]) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body: UTF-8 fields, each once,
    only ``allowed`` ones. Bounded like every form field; never stored as content."""
    content_hint = (
        f"an {URLENCODED} body holds fields ({', '.join(sorted(allowed))}), never file content;"
        f" to send content use Content-Type application/octet-stream or {MULTIPART}"
    )
    too_large = InvalidRequest(f"The form is over {MAX_FIELD_BYTES} bytes: {content_hint}")
    if (req.content_length or 0) > MAX_FIELD_BYTES:
        raise too_large
    raw = RequestBody.of(req).read_whole(MAX_FIELD_BYTES + 1) if has_body(req) else b""
    if len(raw) > MAX_FIELD_BYTES:
        raise too_large
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_PARTS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest(f"The form is not UTF-8 fields: {content_hint}") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key == "file":
            raise InvalidRequest(f"A form field 'file' is not content: {content_hint}")
        if key not in allowed:
            shown = key if len(key) <= 40 else key[:40] + "…"
            raise InvalidRequest(f"Unknown form field {shown!r}: {content_hint}")
        if key in fields:
            raise InvalidRequest(f"Form field {key!r} is sent twice")
        fields[key] = value
    return fields


class RequestBody:
    """The request body as the WSGI server hands it over; what the client broke is a 400.

    Werkzeug guards a plain ``Content-Length`` body itself, but servers that
    delimit the body on their own (gunicorn always, any server for chunked
    requests) hand over their raw stream: a bad chunk raises the server's own
    exception (gunicorn's are not even ``OSError``) from ``read``, and a client
    that hangs up before its declared length just makes the stream end early.
    Neither may become a 500, nor a file silently cut short.

    :meth:`read` hands over bytes as they arrive, never assembled to an exact size:
    gunicorn's ``wsgi.input`` assembles each read through two buffers, which cost a
    worker 0.6-1.0 s of CPU per GiB on top of the 0.25 s the socket itself costs.
    """

    def __init__(self, stream: IO[bytes], declared_length: int | None) -> None:
        self._stream = stream
        self._declared = declared_length
        self._received = 0
        self._direct = _GunicornLength.of(stream)

    @classmethod
    def of(cls, req: Request) -> RequestBody:
        codings = {c.strip().lower() for c in req.headers.get("Transfer-Encoding", "").split(",")}
        if codings - {"", "chunked", "identity"}:
            # Servers only undo the chunking: a gzip-coded body would be stored still compressed.
            raise InvalidRequest("Transfer-Encoding other than chunked is not supported")
        return cls(req.stream, req.content_length)

    def read(self, size: int) -> bytes:
        """At most ``size`` bytes, at least one; ``b""`` only at the body's end."""
        try:
            chunk = self._direct.read(size) if self._direct else self._stream.read(size)
        except HTTPException:
            raise  # Werkzeug's own verdict (client disconnected, too large) stands
        except Exception as exc:  # whatever the server raises: the body cannot be read
            raise InvalidRequest(
                "The request body could not be read (malformed chunked encoding?)"
            ) from exc
        self._received += len(chunk)
        if not chunk and self._declared is not None and self._received < self._declared:
            raise InvalidRequest(
                f"The body ended after {self._received} of the {self._declared} bytes"
                " its Content-Length announced"
            )
        return chunk

    def read_whole(self, limit: int) -> bytes:
        """The body, or its first ``limit`` bytes if it is longer (for small bodies)."""
        pieces = bytearray()
        while len(pieces) < limit and (chunk := self.read(limit - len(pieces))):
            pieces += chunk
        return bytes(pieces)


class _GunicornLength:
    """A ``Content-Length`` body under gunicorn, read from the connection's own buffer
    (its ``Unreader``) a socket read at a time, as gunicorn's ``LengthReader`` would
    but without assembling each piece to the size asked for. The reader's count of
    bytes left is kept, so gunicorn still finds where the next request starts."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    @classmethod
    def of(cls, stream: Any) -> _GunicornLength | None:
        # Only where gunicorn serves (and so has loaded it): never imported here.
        gunicorn_body = sys.modules.get("gunicorn.http.body")
        if gunicorn_body is None or type(stream) is not gunicorn_body.Body:
            return None
        if type(stream.reader) is not gunicorn_body.LengthReader:
            return None  # chunked, or read to the connection's end
        if stream.buf.tell():
            return None  # read through the stream already: what it holds comes first
        return cls(stream.reader)

    def read(self, size: int) -> bytes:
        reader = self._reader
        wanted = min(size, reader.length)
        if wanted <= 0:
            return b""
        data: bytes = reader.unreader.read(None, read_ahead=wanted)
        if len(data) > wanted:  # what was buffered may run into the next request
            reader.unreader.unread(data[wanted:])
            data = data[:wanted]
        reader.length -= len(data)
        return data


class RawBody:
    """The whole request body is the file."""

    def __init__(
        self, stream: RequestBody, file_name: str | None, content_type: str | None, chunk_size: int
    ) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self.file_name = file_name
        self.fallback_name: str | None = None
        self.declared_type = declared_media_type(content_type)

    def chunks(self) -> Iterator[bytes]:
        while chunk := self._stream.read(self._chunk_size):
            yield chunk


class MultipartBody:
    """A ``multipart/form-data`` body whose part ``file`` is the file.

    A form may hold several ``file`` parts (a batch upload): :meth:`find_file`
    steps to the next one, and this object is then that file. Fields are
    collected as they pass: each file sees every field sent before the next
    ``file`` part (so a single file's fields may follow it, as they always could).
    """

    def __init__(self, stream: RequestBody, boundary: str, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        try:
            # File data flows through; without a bound, a preamble or part headers that
            # never end would be buffered whole, up to the file size limit.
            self._decoder = MultipartDecoder(
                boundary.encode("latin-1"),
                max_form_memory_size=chunk_size + MAX_FORM_OVERHEAD,
                max_parts=MAX_PARTS,
            )
        except UnicodeEncodeError:
            raise InvalidRequest("The multipart boundary is not ASCII") from None
        self._events = self._read_events()
        self.fields: dict[str, str] = {}
        self.fallback_name: str | None = None
        self.declared_type: str | None = None
        self.has_file = False
        self._file_done = False
        self.index = -1  # of the current `file` part: 0 for the first
        # Known once the current file's bytes are read: another `file` part follows.
        self.more_files = False
        # The current file part and what follows it up to the next file were read
        # cleanly: a batch can go on with the next file after this one failed.
        self.part_finished = False
        self._next_file: File | None = None

    @property
    def is_batch(self) -> bool:
        """Whether the form has several files (known once the first one is read)."""
        return self.index > 0 or self.more_files

    @property
    def file_name(self) -> str | None:
        if self.is_batch and "file_name" in self.fields:
            raise InvalidRequest(
                "file_name names one file: in a form with several files, "
                "each part's own filename names it"
            )
        return self.fields.get("file_name")

    def find_file(self) -> bool:
        """Read up to the next ``file`` part (collecting fields); False if there is none."""
        event, self._next_file = self._next_file, None
        if event is None:
            event = self._skip_to_file()
        if event is None:
            return False
        self.has_file, self._file_done = True, False
        self.index += 1
        self.more_files = self.part_finished = False
        self.fallback_name = event.filename or None
        self.declared_type = declared_media_type(event.headers.get("content-type"))
        return True

    def _skip_to_file(self) -> File | None:
        for event in self._events:
            if isinstance(event, File) and event.name == "file":
                return event
            self._consume_part(event)
        return None

    def chunks(self) -> Iterator[bytes]:
        """The file part's bytes; then the form up to the next file, for trailing fields."""
        if not self.has_file or self._file_done:
            return
        self._file_done = True
        for event in self._events:
            if not isinstance(event, Data):
                raise InvalidRequest("Malformed multipart body")
            if event.data:
                yield event.data
            if not event.more_data:
                break
        self._next_file = self._skip_to_file()
        self.more_files = self._next_file is not None
        self.part_finished = True

    def _consume_part(self, event: Event) -> None:
        """Keep a field's value (bounded); skip other parts' data."""
        if isinstance(event, Field):
            value = bytearray()
            for data in self._part_data():
                value += data
                if len(value) > MAX_FIELD_BYTES:
                    raise InvalidRequest(f"Form field {event.name!r} is too long")
            try:
                self.fields[event.name] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest(f"Form field {event.name!r} is not UTF-8") from None
        elif isinstance(event, File):
            for _ in self._part_data():
                pass

    def _part_data(self) -> Iterator[bytes]:
        for event in self._events:
            if not isinstance(event, Data):
                raise InvalidRequest("Malformed multipart body")
            yield event.data
            if not event.more_data:
                return

    def _read_events(self) -> Iterator[Event]:
        decoder = self._decoder
        while True:
            try:
                event = decoder.next_event()
            except ValueError as exc:
                raise InvalidRequest(f"Malformed multipart body: {exc}") from None
            except RequestEntityTooLarge:
                raise InvalidRequest(f"More than {MAX_PARTS} parts in the form") from None
            if isinstance(event, NeedData):
                chunk = self._stream.read(self._chunk_size)
                try:
                    decoder.receive_data(chunk or None)
                except RequestEntityTooLarge:
                    raise InvalidRequest(
                        "Malformed multipart body: part headers, preamble or epilogue"
                        f" longer than {MAX_FORM_OVERHEAD // 1024} KiB"
                    ) from None
            elif isinstance(event, Epilogue):
                return
            else:
                yield event
