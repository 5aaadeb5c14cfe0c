"""The aws-chunked decoder on its own: any chunk sizes against any read sizes."""

from __future__ import annotations

import io

import pytest

from filedrop.http.s3.errors import S3Error
from filedrop.http.s3.sigv4 import AwsChunkedDecoder

pytestmark = pytest.mark.unit

CONTENT = bytes(range(256)) * 300  # 75 KiB


def _encode(content: bytes, step: int) -> bytes:
    pieces = [
        f"{len(content[i : i + step]):x};chunk-signature=ab\r\n".encode()
        + content[i : i + step]
        + b"\r\n"
        for i in range(0, len(content), step)
    ]
    return b"".join(pieces) + b"0;chunk-signature=ab\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"


@pytest.mark.parametrize("step", [1000, 64 * 1024, len(CONTENT)])
@pytest.mark.parametrize("read_size", [1, 7, 4096, 1024**2])
def test_decodes_whatever_the_chunk_and_read_sizes(step: int, read_size: int) -> None:
    decoder = AwsChunkedDecoder(io.BytesIO(_encode(CONTENT, step)), read_size, None)
    assert b"".join(decoder.chunks()) == CONTENT
    assert decoder.trailers == {"x-amz-checksum-crc32": "AAAA"}


@pytest.mark.parametrize("read_size", [7, 1024**2])
def test_a_body_cut_inside_a_chunk_is_incomplete(read_size: int) -> None:
    body = _encode(CONTENT, 64 * 1024)[:40_000]
    decoder = AwsChunkedDecoder(io.BytesIO(body), read_size, None)
    with pytest.raises(S3Error) as exc:
        b"".join(decoder.chunks())
    assert exc.value.code == "IncompleteBody"
