"""Request bodies as streams: raw uploads and multipart forms, never read whole.

Both classes implement :class:`filedrop.service.Incoming`. The multipart reader
uses Werkzeug's sans-IO decoder so the file part flows to storage chunk by
chunk while small fields (``file_name``) are collected on the way, before or
after the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from ..errors import InvalidRequest
from ..validation import declared_media_type

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 1000


class RawBody:
    """The whole request body is the file."""

    def __init__(
        self, stream: IO[bytes], file_name: str | None, content_type: str | None, chunk_size: int
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
    """A ``multipart/form-data`` body whose part ``file`` is the file."""

    def __init__(self, stream: IO[bytes], boundary: str, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        try:
            self._decoder = MultipartDecoder(boundary.encode("latin-1"), max_parts=MAX_PARTS)
        except UnicodeEncodeError:
            raise InvalidRequest("The multipart boundary is not ASCII") from None
        self._events = self._read_events()
        self.fields: dict[str, str] = {}
        self.fallback_name: str | None = None
        self.declared_type: str | None = None
        self.has_file = False
        self._file_done = False

    @property
    def file_name(self) -> str | None:
        return self.fields.get("file_name")

    def find_file(self) -> bool:
        """Read up to the ``file`` part (collecting fields); False if there is none."""
        for event in self._events:
            if isinstance(event, File) and event.name == "file":
                self.has_file = True
                self.fallback_name = event.filename or None
                self.declared_type = declared_media_type(event.headers.get("content-type"))
                return True
            self._consume_part(event)
        return False

    def chunks(self) -> Iterator[bytes]:
        """The file part's bytes; then the rest of the form, for trailing fields."""
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
        for event in self._events:
            self._consume_part(event)

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
                decoder.receive_data(chunk or None)
            elif isinstance(event, Epilogue):
                return
            else:
                yield event
