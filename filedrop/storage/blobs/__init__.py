"""The blob-store interface: a handful of streaming verbs over opaque keys.

Its implementations live beside it: :mod:`.s3` (any S3-compatible server) and
:mod:`.local` (a directory on disk, for embedded mode).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class BlobNotFound(Exception):
    """The key names no object. Internal: callers decide what it means."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class DiskUsage:
    """The local filesystem that holds a store's bytes, and how full it is."""

    path: str
    free_bytes: int
    total_bytes: int


class BlobReader(Protocol):
    """An open object body: iterate it for chunks, close it when done."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Bytes under opaque, immutable keys. Keys always come from :mod:`filedrop.ids`.

    tests/contract/test_blobs.py holds every store to the promises written here.
    """

    name: str

    def put_stream(
        self, key: str, chunks: Iterable[bytes], before_commit: Callable[[], None] | None = None
    ) -> None:
        """Store the chunks under ``key``, holding at most a few parts in memory.

        ``before_commit`` runs after the last chunk was read and before the
        object becomes visible; if it (or reading) raises, nothing is stored and no
        unfinished upload is left behind. No chunks: an empty object.
        """

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BlobReader:
        """Stream the object, or bytes ``start``..``end`` inclusive of it (``end`` None or
        past the object: to its end). A missing object raises BlobNotFound."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    def exists(self, key: str) -> bool: ...

    def iter_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        """Every object whose key starts with ``prefix``: its size, and when it was
        written (timezone-aware). Unfinished writes and uploads are not objects."""

    def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy: no bytes pass through this process. The copy is an object of
        its own (deleting the source leaves it); a missing source raises BlobNotFound."""

    def start_multipart(self, key: str) -> str:
        """Begin an upload to ``key`` in parts that may arrive over many requests (tus).

        Returns its upload id. Nothing is visible under ``key`` until
        :meth:`complete_multipart`.
        """

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        """Store part ``number`` (1-based) of the upload; returns its ETag.

        Uploading a number again replaces that part. Every part but the last must
        hold at least 5 MiB (S3's rule). An unknown upload raises BlobNotFound.
        """

    def upload_part_stream(
        self, key: str, upload_id: str, number: int, chunks: Iterable[bytes], size: int
    ) -> str:
        """:meth:`upload_part` for a part of ``size`` bytes read from ``chunks`` as it
        goes up, holding a chunk or two in memory, never the part. Its ETag is the
        hex MD5 of the part's bytes (quoted, from S3 servers): S3's part ETag, which
        AWS S3 (unless SSE-KMS encrypts the bucket), MinIO and SeaweedFS compute as
        they store the part, so the caller need not hash it again.

        If reading raises, or yields other than ``size`` bytes, nothing is stored
        (a part stored earlier under that number stays) and the error propagates.
        A failure of storage is never retried: the chunks cannot be read again.
        """

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> None:
        """Make the parts ``(number, etag)``, in order, the object ``key`` (at least one part)."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown upload is not an error."""

    def abort_stale_uploads(
        self, prefix: str, older_than: datetime, dry_run: bool, keep: Collection[str] = ()
    ) -> list[str]:
        """Keys of unfinished uploads started before ``older_than``; abort them unless dry.

        Uploads to a key in ``keep`` (resumable uploads still alive) are left alone.
        """

    def disk_usage(self) -> DiskUsage | None:
        """The local disk that holds the bytes; None for a store on another machine."""

    def presigned_get_url(
        self, key: str, expires_s: int, response_headers: Mapping[str, str]
    ) -> str | None:
        """A URL that GETs the object straight from storage for ``expires_s`` seconds,
        answering with ``response_headers`` (Content-Type, Content-Disposition and
        Cache-Control only). Range and conditional requests work against it.

        None when this store cannot hand out such URLs: the caller serves the bytes.
        """

    def ensure_bucket(self) -> bool:
        """Create the container if missing; True if it was created."""

    def check(self) -> None:
        """Raise StorageUnavailable unless the container is reachable."""
