"""The request body read straight from gunicorn's connection buffer: bytes as they
arrive, never past the body into the next request on a kept-alive connection, and
gunicorn's own count of what is left kept right. Built on gunicorn's real body
classes over a socket pair, as a worker builds them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from filedrop.errors import InvalidRequest
from filedrop.http.bodies import RequestBody

pytestmark = pytest.mark.unit

NEXT_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    yield a, b
    a.close()
    b.close()


def gunicorn_body(sock: socket.socket, length: int, already_read: bytes = b"") -> Body:
    """``wsgi.input`` as gunicorn builds it; ``already_read``: the body's start that
    came with the headers, held in the connection's buffer."""
    unreader = SocketUnreader(sock)
    if already_read:
        unreader.unread(already_read)
    return Body(LengthReader(unreader, length))


def read_all(body: RequestBody, size: int) -> list[bytes]:
    pieces = []
    while piece := body.read(size):
        assert 0 < len(piece) <= size
        pieces.append(piece)
    return pieces


def test_reads_stop_at_the_body_and_leave_the_next_request(pair: tuple) -> None:
    sender, receiver = pair
    content = bytes(range(256)) * 4096  # 1 MiB
    # The headers' read took the body's first bytes along; the rest and a pipelined
    # request follow on the socket.
    sending = threading.Thread(target=sender.sendall, args=(content[1000:] + NEXT_REQUEST,))
    sending.start()
    stream = gunicorn_body(receiver, len(content), content[:1000])
    body = RequestBody(stream, len(content))

    pieces = read_all(body, 64 * 1024)
    sending.join(5)

    assert pieces[0] == content[:1000]  # what was at hand, not assembled to 64 KiB
    assert b"".join(pieces) == content
    assert stream.reader.length == 0
    assert stream.reader.unreader.read() == NEXT_REQUEST  # still there for gunicorn


def test_a_buffer_running_past_the_body_is_cut_at_its_end(pair: tuple) -> None:
    _, receiver = pair
    stream = gunicorn_body(receiver, 5, b"hello" + NEXT_REQUEST)
    body = RequestBody(stream, 5)

    assert read_all(body, 1024) == [b"hello"]
    assert stream.reader.unreader.read() == NEXT_REQUEST


def test_gunicorn_drains_what_the_app_left_unread(pair: tuple) -> None:
    """A request answered before its body was read (an error) leaves the rest to
    gunicorn, which reads it off before the next request."""
    sender, receiver = pair
    sender.sendall(b"a" * 30000 + NEXT_REQUEST)
    stream = gunicorn_body(receiver, 30000)
    body = RequestBody(stream, 30000)

    assert body.read(100) == b"a" * 100
    while stream.read(8192):  # as gunicorn's parser discards an unread body
        pass
    assert stream.reader.unreader.read() == NEXT_REQUEST


def test_a_body_cut_short_is_refused(pair: tuple) -> None:
    sender, receiver = pair
    sender.sendall(b"x" * 100)
    sender.shutdown(socket.SHUT_WR)
    body = RequestBody(gunicorn_body(receiver, 1000), 1000)

    assert body.read(4096) == b"x" * 100
    with pytest.raises(InvalidRequest, match="after 100 of the 1000 bytes"):
        body.read(4096)


def test_a_stream_read_through_gunicorn_first_is_read_through_it(pair: tuple) -> None:
    """Bytes gunicorn's stream already buffered are not skipped."""
    sender, receiver = pair
    sender.sendall(b"0123456789" * 10)
    stream = gunicorn_body(receiver, 100)
    assert stream.readline(3) == b"012"  # leaves the rest of its read in its own buffer
    body = RequestBody(stream, 97)

    assert b"".join(read_all(body, 16)) == (b"0123456789" * 10)[3:]


def test_read_whole_gathers_small_bodies(pair: tuple) -> None:
    sender, receiver = pair
    stream = gunicorn_body(receiver, 20, b"0123456789")
    sender.sendall(b"abcdefghij")

    assert RequestBody(stream, 20).read_whole(1000) == b"0123456789abcdefghij"
