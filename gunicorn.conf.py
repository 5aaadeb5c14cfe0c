"""gunicorn settings for FILE DROP: ``gunicorn app:app`` picks this file up.

Threads (gthread) suit an I/O-bound service: a worker waits on sockets to the
client, S3 and MongoDB, and streams in bounded chunks. Every value can be
overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os

# Loopback unless HOST says otherwise: embedded mode runs without keys by default.
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A 5 GiB upload on a slow link takes long; the heartbeat, not the request, is timed.
timeout = 120
graceful_timeout = 30
keepalive = 5
# gunicorn's maximum. Names travel percent-encoded in the query (?file_name=, ?folder=):
# 255 four-byte characters alone are 3060 bytes, past the 4094 default with a folder,
# and gunicorn would answer its own HTML 414 (schemathesis found it).
limit_request_line = 8190
accesslog = None  # FILE DROP writes its own JSON access line per request


def post_fork(server, worker):  # gunicorn calls it with both
    """Freed buffers go back to the OS: with a fixed mmap threshold glibc stops
    moving big allocations into per-thread arenas, where they stay resident."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
