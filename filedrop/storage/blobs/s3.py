"""BlobStore on any S3-compatible server (AWS S3, MinIO, SeaweedFS) via boto3."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header
from botocore.utils import parse_timestamp

from ...errors import StorageUnavailable
from . import BlobInfo, BlobNotFound

log = logging.getLogger("filedrop.s3")

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}
# The response headers a presigned GET may set, and the query parameters that set them.
_RESPONSE_HEADER_PARAMS = {
    "content-type": "ResponseContentType",
    "content-disposition": "ResponseContentDisposition",
    "cache-control": "ResponseCacheControl",
}


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """Translate botocore failures: missing objects vs. storage that can't serve."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise BlobNotFound(action) from exc
        log.warning("S3 %s failed: %s", action, code or exc)
        raise StorageUnavailable(f"Object storage failed to {action} ({code})") from exc
    except BotoCoreError as exc:
        log.warning("S3 %s failed: %s", action, exc)
        raise StorageUnavailable(f"Object storage is unreachable ({action})") from exc


def _timestamp(text: str) -> datetime:
    """botocore's timestamp parser, with a fast path for the HTTP dates of response
    headers (Last-Modified on every GET and HEAD): botocore hands every timestamp to
    dateutil, 165 us here against 11 us for the standard library's parser."""
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return parse_timestamp(text)  # ISO 8601 in XML bodies, epoch seconds
    return parsed if parsed.tzinfo else parse_timestamp(text)


class _S3Reader:
    def __init__(self, body: Any, chunk_size: int) -> None:
        self._body = body
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        with _s3_errors("read an object"):
            yield from self._body.iter_chunks(self._chunk_size)

    def close(self) -> None:
        self._body.close()


class S3BlobStore:
    """Objects in one bucket. Bodies above one part go up as a multipart upload,
    a few parts in flight at once, so memory stays at ``part_size * (concurrency + 1)``."""

    name = "s3"

    def __init__(
        self,
        client: Any,
        bucket: str,
        part_size: int = 8 * 1024**2,
        concurrency: int = 4,
        chunk_size: int = 1024**2,
        presign_client: Any = None,
    ) -> None:
        self._s3 = client
        # Signs URLs for clients, with the address they reach storage at.
        self._presign = presign_client or client
        self._bucket = bucket
        self._part_size = max(part_size, 5 * 1024**2)  # S3's minimum for all but the last part
        self._concurrency = max(1, concurrency)
        self._chunk_size = chunk_size
        # Parts streamed from a request go up unsigned: signing hashes a body before
        # sending it, and a stream can be read only once.
        client.meta.events.register(
            "before-sign.s3.UploadPart", _unsigned_streams, unique_id="filedrop-unsigned-streams"
        )

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None,
        access_key: str,
        secret_key: str,
        region: str,
        bucket: str,
        timeout_s: float = 5.0,
        max_pool: int = 32,
        public_endpoint_url: str = "",
        **kwargs: Any,
    ) -> S3BlobStore:
        """``public_endpoint_url``: where clients reach storage, for presigned URLs,
        when it differs from ``endpoint_url`` (e.g. a container name inside compose)."""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=timeout_s,
            read_timeout=max(timeout_s, 30.0),
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=max_pool,
            # Streamed bodies are hashed by us; botocore's default CRC pass would read them twice.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        core = botocore.session.get_session()
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_timestamp
        )
        session = boto3.session.Session(
            botocore_session=core,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
        )
        client = session.client("s3", endpoint_url=endpoint_url or None, config=config)
        if public_endpoint_url and public_endpoint_url != endpoint_url:
            kwargs["presign_client"] = session.client(
                "s3", endpoint_url=public_endpoint_url, config=config
            )
        # botocore sends "Expect: 100-continue" with every body. SeaweedFS and MinIO can
        # answer it in a way that leaves a stray response on the kept-alive connection;
        # the next call then hangs for the whole read timeout (boto3 #3757, botocore
        # #1833; seen here under schemathesis against SeaweedFS 4.48). We send bodies
        # we already hold, so the handshake buys nothing: switch it off.
        client.meta.events.unregister("before-call.s3", add_expect_header)
        return cls(client, bucket, **kwargs)

    def put_stream(
        self, key: str, chunks: Iterable[bytes], before_commit: Callable[[], None] | None = None
    ) -> None:
        parts = _parts(chunks, self._part_size)
        head = [next(parts, b"")]
        second = next(parts, None)
        if second is None:  # small body: one request, nothing to clean up on failure
            if before_commit:
                before_commit()
            with _s3_errors("store an object"):
                self._s3.put_object(Bucket=self._bucket, Key=key, Body=head[0])
            return
        head.append(second)
        del second  # from here on only the queue below holds the first two parts
        self._put_multipart(key, _chain(head, parts), before_commit)

    def _put_multipart(
        self,
        key: str,
        parts: Iterator[bytes],
        before_commit: Callable[[], None] | None,
    ) -> None:
        with _s3_errors("start a multipart upload"):
            upload_id = self._s3.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]
        pending: list[Future[dict[str, Any]]] = []
        done: list[dict[str, Any]] = []
        try:
            with ThreadPoolExecutor(self._concurrency, thread_name_prefix="s3-part") as pool:
                number = 0
                while True:
                    # Wait for a free slot before reading the next part off the socket.
                    if len(pending) >= self._concurrency:
                        done.append(pending.pop(0).result())
                    body = next(parts, None)
                    if body is None:
                        break
                    number += 1
                    pending.append(pool.submit(self._upload_part, key, upload_id, number, body))
                    del body
                done.extend(f.result() for f in pending)
            if before_commit:
                before_commit()
            with _s3_errors("complete a multipart upload"):
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": done},
                )
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        with _s3_errors("upload a part"):
            etag = self._s3.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]
        return {"PartNumber": number, "ETag": etag}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            # Storage may be the thing that failed; fsck aborts what is left.
            log.warning("could not abort multipart upload of %s: %s", key, exc)

    # -- multipart uploads across requests (tus) ---------------------------------

    def start_multipart(self, key: str) -> str:
        with _s3_errors("start a multipart upload"):
            upload_id: str = self._s3.create_multipart_upload(Bucket=self._bucket, Key=key)[
                "UploadId"
            ]
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        etag: str = self._upload_part(key, upload_id, number, body)["ETag"]
        return etag

    def upload_part_stream(
        self, key: str, upload_id: str, number: int, chunks: Iterable[bytes], size: int
    ) -> str:
        body = _ChunkStream(chunks, size)
        try:
            with _s3_errors("upload a part"):
                etag: str = self._s3.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ContentLength=size,
                )["ETag"]
        except Exception:
            if body.failure is not None:  # botocore wraps it (HTTPClientError): unwrap
                raise body.failure from None
            raise
        return etag

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> None:
        listed = [{"PartNumber": number, "ETag": etag} for number, etag in parts]
        with _s3_errors("complete a multipart upload"):
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            with _s3_errors("abort a multipart upload"):
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except BlobNotFound:
            pass  # SeaweedFS: NoSuchUpload for an upload already gone; MinIO and AWS: 204

    def open(self, key: str, start: int | None = None, end: int | None = None) -> _S3Reader:
        args: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if start is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        with _s3_errors("read an object"):
            body = self._s3.get_object(**args)["Body"]
        return _S3Reader(body, self._chunk_size)

    def delete(self, key: str) -> None:
        with _s3_errors("delete an object"):
            self._s3.delete_object(Bucket=self._bucket, Key=key)

    def exists(self, key: str) -> bool:
        try:
            with _s3_errors("check an object"):
                self._s3.head_object(Bucket=self._bucket, Key=key)
        except BlobNotFound:
            return False
        return True

    def iter_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        paginator = self._s3.get_paginator("list_objects_v2")
        with _s3_errors("list objects"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield BlobInfo(obj["Key"], obj["Size"], obj["LastModified"])

    def copy(self, source_key: str, dest_key: str) -> None:
        with _s3_errors("copy an object"):
            self._s3.copy({"Bucket": self._bucket, "Key": source_key}, self._bucket, dest_key)

    def abort_stale_uploads(
        self, prefix: str, older_than: datetime, dry_run: bool, keep: Collection[str] = ()
    ) -> list[str]:
        stale: list[str] = []
        paginator = self._s3.get_paginator("list_multipart_uploads")
        with _s3_errors("list multipart uploads"):
            # No Prefix= here: MinIO matches it against whole keys only.
            for page in paginator.paginate(Bucket=self._bucket):
                for upload in page.get("Uploads", []):
                    key = upload["Key"]
                    if (
                        key.startswith(prefix)
                        and key not in keep
                        and upload["Initiated"] < older_than
                    ):
                        stale.append(upload["Key"])
                        if not dry_run:
                            self._abort(upload["Key"], upload["UploadId"])
        return stale

    def disk_usage(self) -> None:
        return None  # the bytes live on the S3 server's disks, not this machine's

    def presigned_get_url(
        self, key: str, expires_s: int, response_headers: Mapping[str, str]
    ) -> str:
        params = {"Bucket": self._bucket, "Key": key}
        for name, value in response_headers.items():
            params[_RESPONSE_HEADER_PARAMS[name.lower()]] = value
        # Signing is local: no request to storage, so nothing here can time out.
        with _s3_errors("sign a download URL"):
            url: str = self._presign.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_s
            )
        return url

    def ensure_bucket(self) -> bool:
        with _s3_errors("create the bucket"):
            try:
                self._s3.head_bucket(Bucket=self._bucket)
                return False
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                    raise
            try:
                self._s3.create_bucket(Bucket=self._bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in (
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                ):
                    return False
                raise
        return True

    def check(self) -> None:
        try:
            with _s3_errors("reach the bucket"):
                self._s3.head_bucket(Bucket=self._bucket)
        except BlobNotFound:
            raise StorageUnavailable(f"Bucket {self._bucket!r} does not exist") from None


def _parts(chunks: Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """Regroup a stream of chunks into bodies of ``part_size`` (the last may be shorter).

    Each byte is copied once, into its part; nothing else outlives the yield.
    """
    pieces: list[memoryview] = []
    buffered = 0
    emitted = False
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = min(len(view), part_size - buffered)
            pieces.append(view[:take])
            buffered += take
            view = view[take:]
            if buffered == part_size:
                emitted = True
                yield _join(pieces)
                buffered = 0
    if buffered or not emitted:  # the tail, or the single (maybe empty) body
        yield _join(pieces)


def _join(pieces: list[memoryview]) -> bytes:
    joined = b"".join(pieces)
    pieces.clear()
    return joined


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    while head:
        yield head.pop(0)
    yield from rest


class _ChunkStream:
    """``size`` bytes of chunks as a request body botocore reads. It has no ``seek``:
    a retry cannot rewind it and fails (UnseekableStreamError) rather than resend a
    spent stream. The last chunk is held back until the chunks are exhausted, so a
    stream that raises at its end (a checksum that does not match) fails before
    storage has the whole body, and storage never keeps the part.

    ``read(amount)`` hands over the whole chunk at hand, however small ``amount``:
    urllib3 asks for 16 KiB at a time and passes each block to ``sendall()``, so
    a chunk goes out in one trip through the HTTP client and the (gevent) socket,
    not 64 per MiB, and is never copied. Only the HTTP client reads this body."""

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self._chunks = iter(chunks)
        self._left = size
        self.failure: Exception | None = None  # what reading the chunks raised
        self._ahead = self._pull()

    def _pull(self) -> bytes | None:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return None

    def read(self, amount: int = -1) -> bytes:
        try:
            if amount < 0:  # to the end (moto reads so; botocore's HTTP client never does)
                return b"".join(iter(self._read, b""))
            return self._read()
        except Exception as exc:
            self.failure = exc
            raise

    def _read(self) -> bytes:
        chunk = self._ahead
        if chunk is None:
            if self._left:
                raise ValueError(f"the chunks ended {self._left} bytes short")
            return b""
        if len(chunk) > self._left:
            raise ValueError("the chunks held more bytes than the declared size")
        self._left -= len(chunk)
        self._ahead = self._pull()  # the next chunk (or the end, and its checks) first
        return chunk


def _unsigned_streams(request: Any, **_: Any) -> None:
    """Send a :class:`_ChunkStream` body as UNSIGNED-PAYLOAD (a per-request override
    of the client's ``payload_signing_enabled``)."""
    if isinstance(request.data, _ChunkStream):
        config = request.context["client_config"]
        s3: Any = {**(config.s3 or {}), "payload_signing_enabled": False}
        request.context["client_config"] = config.merge(Config(s3=s3))
