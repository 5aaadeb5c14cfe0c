"""gunicorn settings for FILE DROP: ``gunicorn app:app`` picks them up through
``gunicorn.conf.py``; ``filedrop serve`` passes ``-c python:filedrop.gunicorn_conf``.

A worker waits on sockets (the client, S3, MongoDB) and streams in bounded
chunks, so it serves many requests at once. gevent does that with greenlets,
which cost less than gthread's threads: in bench/bench.py, at 8 and 16 clients,
4 KiB downloads ran 0.47-0.50x of boto3 against 0.34-0.42x with
``-k gthread --threads 8``, and uploads 0.45-0.56x against 0.42-0.48x.
GUNICORN_WORKER_CLASS=gthread brings threads back (GUNICORN_THREADS per worker).
In embedded mode (SQLite and local disk) a gevent worker waits out each fsync
whole, with every request it holds: at 8 clients 4 KiB uploads ran at 617-624
req/s there against 588-802 with gthread (downloads were faster with gevent).
Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.

The master checks FILE DROP's settings here (and makes the embedded DATA_DIR),
before it binds the port or forks a worker: a bad one ends gunicorn once, with one
line. It imports nothing of the app (gevent patches the standard library in each
worker, before the app is loaded).
"""

import os
from typing import Any

from filedrop.config import Settings, env_count, exit_on_settings_error, make_data_dir
from filedrop.http.limits import HEADER_COUNT_MAX, HEADER_FIELD_MAX, REQUEST_LINE_MAX

with exit_on_settings_error():
    make_data_dir(Settings.from_env())
    workers = env_count("WEB_CONCURRENCY", 2)
    threads = env_count("GUNICORN_THREADS", 8)  # gthread only

# Loopback unless HOST says otherwise: embedded mode runs without keys by default.
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = 1000  # gevent: requests in flight per worker
# A 5 GiB upload on a slow link takes long; the heartbeat, not the request, is timed.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Longer lines get a JSON 414, more or longer headers a JSON 431 (post_worker_init).
limit_request_line = REQUEST_LINE_MAX
limit_request_field_size = HEADER_FIELD_MAX
limit_request_fields = HEADER_COUNT_MAX
accesslog = None  # FILE DROP writes its own JSON access line per request


def post_fork(server: Any, worker: Any) -> None:  # gunicorn calls it with both
    """Freed S3 parts go back to the OS: with a fixed mmap threshold glibc stops
    moving big allocations into per-thread arenas, where they stay resident.

    2 MiB: the 8 MiB parts are mmapped and unmapped, while the 1 MiB chunks
    (CHUNK_SIZE) come from the heap and are reused. At 128 KiB every chunk was a
    fresh mmap, page-faulted in and zeroed; 2 MiB took 1 GiB multipart uploads
    from 0.71x to 0.82x of boto3 in bench/bench.py, for 4-6 MiB more peak memory
    (47-52 MiB in tests/test_memory.py, whose limit is 64 MiB)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt(-3, 2 * 1024 * 1024)  # M_MMAP_THRESHOLD


def post_worker_init(worker: Any) -> None:  # gunicorn calls it in each worker, with the app loaded
    """gunicorn answers requests it can't parse (a request line or header past its
    limits, a line that is not HTTP) with an HTML page of its own: make it the API's
    JSON. Done in the worker, so the master imports nothing of the app."""
    from filedrop.http.server_errors import install_for_gunicorn

    install_for_gunicorn()
