#!/usr/bin/env python3
"""FILE DROP benchmark: throughput, small-request latency, listing and worker memory.

Every figure is printed next to the same operation done with boto3 directly
against the same S3 in the same run, as a ratio. The benchmark is a
script, not a test: it asserts nothing and starts nothing unless asked.

Against a running deployment::

    python bench/bench.py --url http://127.0.0.1:8000 \\
        --s3-endpoint http://127.0.0.1:9000 --s3-key KEY --s3-secret SECRET --bucket filedrop \\
        [--api-key KEY] [--worker-pid PID[,PID...]]

Self-contained (SeaweedFS or MinIO + FerretDB from tests/servers.py, and
gunicorn, all on 127.0.0.1, all stopped at the end)::

    python bench/bench.py --start-servers [--workers 2 --threads 8] \\
        [--app-env S3_PART_SIZE=16MiB ...] [--json bench/results/run.json]

See bench/README.md for every option and the figures from this machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024**2
MB = 1000**2
CHUNK = MiB
TIMEOUT_S = 600.0  # any single socket operation
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WARM_UP_SIZE = 24 * MiB  # several S3 parts: the multipart path is warm too
WARM_UP_OPS = 64  # small-file requests of each kind before the first measurement
TARGET_OPS, TARGET_SECONDS = 20000, 10.0  # --targets: each measurement ends at 10 s
TUS_VERSION = "1.0.0"
TUS_OFFSET_STREAM = "application/offset+octet-stream"
_TUS = {"Tus-Resumable": TUS_VERSION}
SECTIONS = ["big", "s3api", "small", "redirect", "replicas", "list"]

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": MB, "gb": 1000**3}
_UNITS |= {"k": 1024, "kib": 1024, "m": MiB, "mib": MiB, "g": 1024**3, "gib": 1024**3}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4096, 4KiB, 1GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def size_label(size: int) -> str:
    """``64 MiB``, ``10 MB`` or ``1000 bytes``: whichever unit divides the size."""
    for unit, name in ((1024**3, "GiB"), (MiB, "MiB"), (1000**3, "GB"), (MB, "MB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# -- content ---------------------------------------------------------------------


class Content:
    """``size`` bytes generated on the fly (distinct per chunk), hashed as they are read."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self._block = hashlib.shake_256(seed.to_bytes(8, "big")).digest(CHUNK)
        self._sha256 = hashlib.sha256()
        self.sent = 0
        self._pending = memoryview(b"")

    def chunks(self) -> Iterator[bytes]:
        index = self.sent // CHUNK
        while self.sent < self.size:
            n = min(CHUNK, self.size - self.sent)
            chunk = (index.to_bytes(8, "big") + self._block[8:])[:n]
            self._sha256.update(chunk)
            self.sent += n
            index += 1
            yield chunk

    def read(self, size: int = -1) -> bytes:
        """File-like view of the same bytes, for boto3's upload_fileobj."""
        out = bytearray()
        chunks = self.chunks()
        while size < 0 or len(out) < size:
            if not self._pending:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk)
            take = len(self._pending) if size < 0 else min(size - len(out), len(self._pending))
            out += self._pending[:take]
            self._pending = self._pending[take:]
        return bytes(out)

    def take(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes (fewer at the end) as chunks: one request body of several.

        Whole chunks pass through uncopied; a chunk cut at the end waits for the next call.
        """
        chunks = self.chunks()
        while size > 0:
            if self._pending:
                piece = bytes(self._pending[:size])
                self._pending = self._pending[len(piece) :]
            else:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                if len(chunk) > size:
                    self._pending = memoryview(chunk)[size:]
                    chunk = chunk[:size]
                piece = chunk
            size -= len(piece)
            yield piece

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


# -- the worker's memory ------------------------------------------------------------


def _status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {name} for pid {pid}")


class RssWatch:
    """Peak RSS of some pids during a block: 50 ms samples plus the kernel's VmHWM."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.before: dict[int, int] = {}
        self.peak: dict[int, int] = {}
        self.after: dict[int, int] = {}
        self._stop = threading.Event()
        self._hwm: set[int] = set()

    def __enter__(self) -> RssWatch:
        for pid in self.pids:
            self.before[pid] = self.peak[pid] = _status_kb(pid, "VmRSS")
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM
                self._hwm.add(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                self.after[pid] = _status_kb(pid, "VmRSS")
                if pid in self._hwm:
                    self.peak[pid] = max(self.peak[pid], _status_kb(pid, "VmHWM"))

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    self.peak[pid] = max(self.peak[pid], _status_kb(pid, "VmRSS"))

    @property
    def growth(self) -> int:
        """The largest peak-minus-before over the watched workers."""
        return max((self.peak[p] - self.before[p] for p in self.pids), default=0)

    @property
    def kept(self) -> int:
        """The largest after-minus-before: memory the worker did not give back."""
        return max((self.after.get(p, 0) - self.before[p] for p in self.pids), default=0)


# -- where the CPU goes ----------------------------------------------------------------


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat from its third field (state) on: the command name before it
    may hold spaces and parentheses."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), 0 once it is gone."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time of each part of the stack over a measurement, per request.

    ``parts`` names groups of pids (the gunicorn workers, the database, the S3
    server); "client" is this process, whose threads make the requests.
    """

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = {name: pids for name, pids in parts.items() if pids}

    def read(self) -> dict[str, float]:
        used = {name: sum(_cpu_seconds(pid) for pid in pids) for name, pids in self.parts.items()}
        used["client"] = time.process_time()
        return used

    @staticmethod
    def per_request(
        before: dict[str, float], after: dict[str, float], ops: int
    ) -> dict[str, float]:
        """Milliseconds of CPU per request, by part."""
        return {name: (after[name] - before[name]) * 1000 / max(ops, 1) for name in before}


def cpu_text(per_request: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms:.2f}" for name, ms in per_request.items())


# -- FILE DROP client ------------------------------------------------------------------


@dataclass(frozen=True)
class TusUpload:
    """A completed tus upload: its ids and each PATCH's (bytes, seconds)."""

    upload_id: str
    file_id: str
    patches: list[tuple[int, float]]


class FileDrop:
    """A minimal FILE DROP client on http.client: one keep-alive connection per thread."""

    def __init__(self, url: str, api_key: str | None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            self._local.conn = conn
        return conn

    def _drop_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
        length: int | None = None,
        sink: Callable[[memoryview], object] | None = None,
    ) -> tuple[int, bytes]:
        """One request; a streamed body needs ``length``; ``sink`` receives a streamed answer."""
        status, _, data = self.exchange(method, path, body, headers, length, sink)
        return status, data

    def exchange(
        self,
        method: str,
        path: str,
        body: bytes | Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
        length: int | None = None,
        sink: Callable[[memoryview], object] | None = None,
        keep_conn: bool = False,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """:meth:`request`, with the response's headers too. ``keep_conn``: stream on the
        connection just used (it cannot have idled out), as a tus client does."""
        all_headers = {**self.auth, **(headers or {})}
        if not (body is None or isinstance(body, bytes)) and not keep_conn:
            # A stream cannot be replayed, so never start one on a connection the server
            # may have closed while idle (gunicorn's keep-alive is a few seconds).
            self._drop_conn()
        for attempt in range(2):  # a keep-alive connection the server closed: retry once
            conn = self._conn()
            try:
                if body is None or isinstance(body, bytes):
                    conn.request(method, path, body=body, headers=all_headers)
                else:
                    conn.putrequest(method, path)
                    for key, value in {**all_headers, "Content-Length": str(length)}.items():
                        conn.putheader(key, value)
                    conn.endheaders()
                    for chunk in body:
                        conn.send(chunk)
                response = conn.getresponse()
                if sink is None:
                    return response.status, response.headers, response.read()
                buffer = bytearray(CHUNK)
                view = memoryview(buffer)
                while n := response.readinto(buffer):
                    sink(view[:n])
                return response.status, response.headers, b""
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop_conn()
                if attempt or not (body is None or isinstance(body, bytes)):
                    raise
        raise AssertionError("unreachable")

    def upload(self, name: str, data: bytes) -> str:
        headers = {"X-File-Name": name, "Content-Type": "application/octet-stream"}
        status, text = self.request("POST", "/files/upload", data, headers)
        if status != 201:
            raise RuntimeError(f"upload failed: {status} {text[:300]!r}")
        file_id: str = json.loads(text)["file_id"]
        return file_id

    def upload_stream(self, content: Content, multipart: bool) -> dict[str, Any]:
        if multipart:
            boundary = f"bench-{uuid.uuid4().hex}"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            tail = f"\r\n--{boundary}--\r\n".encode()

            def chunks() -> Iterator[bytes]:
                yield head
                yield from content.chunks()
                yield tail

            headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            length = len(head) + content.size + len(tail)
            body = chunks()
        else:
            headers = {"X-File-Name": "big.bin", "Content-Type": "application/octet-stream"}
            length, body = content.size, content.chunks()
        status, text = self.request("POST", "/files/upload", body, headers, length)
        if status != 201:
            raise RuntimeError(f"upload failed: {status} {text[:300]!r}")
        record: dict[str, Any] = json.loads(text)
        if record["sha256"] != content.sha256:
            raise RuntimeError("FILE DROP stored other bytes than were sent")
        return record

    def upload_tus(self, content: Content, chunk_size: int) -> TusUpload:
        """tus 1.0: create the upload, then PATCH ``chunk_size`` bytes at a time, each body
        streamed with Content-Length, until the server answers with the file's id."""
        upload_id, file_id = self._tus_create(content.size)
        patches: list[tuple[int, float]] = []
        offset = 0
        while file_id is None and offset < content.size:
            n = min(chunk_size, content.size - offset)
            began = time.perf_counter()
            offset, file_id = self._tus_patch(upload_id, offset, content.take(n), n)
            patches.append((n, time.perf_counter() - began))
        if file_id is None:
            raise RuntimeError(f"tus upload of {content.size} bytes did not complete")
        return TusUpload(upload_id, file_id, patches)

    def _tus_create(self, size: int) -> tuple[str, str | None]:
        """POST /uploads/ without a body: the upload id, and the file id if already complete."""
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", "big.bin"), ("filetype", "application/octet-stream"))
        )
        headers = {**_TUS, "Upload-Length": str(size), "Upload-Metadata": metadata}
        status, response, text = self.exchange("POST", "/uploads/", b"", headers)
        if status != 201:
            raise RuntimeError(f"tus creation failed: {status} {text[:300]!r}")
        upload_id: str = json.loads(text)["upload_id"]
        return upload_id, response.get("X-File-Id")

    def _tus_patch(
        self, upload_id: str, offset: int, body: Iterator[bytes], length: int
    ) -> tuple[int, str | None]:
        """One PATCH at ``offset``: the new offset, and the file id once complete."""
        headers = {**_TUS, "Content-Type": TUS_OFFSET_STREAM, "Upload-Offset": str(offset)}
        # One connection for the whole upload, as tus clients keep theirs (tuspy's
        # requests session): the worker that served the last PATCH continues the file's
        # SHA-256; a PATCH landing on another worker makes completion read the file back.
        status, response, text = self.exchange(
            "PATCH", f"/uploads/{upload_id}", body, headers, length, keep_conn=True
        )
        if status != 204:
            raise RuntimeError(f"tus PATCH at {offset} failed: {status} {text[:300]!r}")
        new_offset = int(response.get("Upload-Offset", "-1"))
        if new_offset != offset + length:
            raise RuntimeError(f"tus PATCH at {offset} of {length} bytes left offset {new_offset}")
        return new_offset, response.get("X-File-Id")

    def tus_terminate(self, upload_id: str) -> None:
        """DELETE /uploads/{id}: a completed upload's record goes, its file stays."""
        status, text = self.request("DELETE", f"/uploads/{upload_id}", headers=_TUS)
        if status not in (204, 404):
            raise RuntimeError(f"tus termination failed: {status} {text[:300]!r}")

    def metadata(self, file_id: str) -> dict[str, Any]:
        status, text = self.request("GET", f"/files/{file_id}/metadata")
        if status != 200:
            raise RuntimeError(f"metadata failed: {status} {text[:300]!r}")
        record: dict[str, Any] = json.loads(text)
        return record

    def download(self, file_id: str, sink: Callable[[memoryview], object] | None = None) -> bytes:
        # ?redirect=0: through the app even where DOWNLOAD_REDIRECT sends GETs to S3.
        status, data = self.request("GET", f"/files/{file_id}?redirect=0", sink=sink)
        if status != 200:
            raise RuntimeError(f"download failed: {status} {data[:300]!r}")
        return data

    def storage_url(self, file_id: str) -> str | None:
        """Where ``GET /files/{id}`` redirects to; None if the app streams it (redirects off)."""
        status, headers, data = self.exchange("GET", f"/files/{file_id}", sink=lambda _: None)
        if status == 200:
            return None
        if status != 307:
            raise RuntimeError(f"download failed: {status} {data[:300]!r}")
        return str(headers["Location"])

    def delete(self, file_id: str) -> None:
        status, text = self.request("DELETE", f"/files/{file_id}")
        if status not in (200, 404):
            raise RuntimeError(f"delete failed: {status} {text[:300]!r}")

    def list_page(self, limit: int, cursor: str | None) -> tuple[int, str | None]:
        path = f"/files?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"listing failed: {status} {text[:300]!r}")
        body = json.loads(text)
        return len(body["files"]), body["next_cursor"]


def s3_client(args: argparse.Namespace, pool: int) -> Any:
    """boto3 as a careful user would set it up; checksums as the app sets them, so the
    ratio measures FILE DROP rather than botocore's optional CRC pass."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=args.s3_endpoint,
        aws_access_key_id=args.s3_key,
        aws_secret_access_key=args.s3_secret,
        region_name=args.s3_region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=pool,
            retries={"max_attempts": 2, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


# -- measurements ------------------------------------------------------------------


@dataclass
class Results:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **row: Any) -> None:
        self.rows.append(row)
        print("  " + format_row(row), flush=True)


def format_row(row: dict[str, Any]) -> str:
    ratio = row.get("ratio")
    text = f"{row['metric']:<42} {row.get('filedrop', ''):>12} {row.get('boto3', ''):>12}"
    text += f" {'' if ratio is None else f'{ratio:.2f}x':>7}  {row.get('note', '')}"
    return text


def s3_roundtrip(args: argparse.Namespace, s3: Any, size: int, seed: int) -> tuple[float, float]:
    """boto3 direct: upload_fileobj (default TransferConfig: 8 MiB parts, 10 threads) and a
    streamed get_object, of the same generated bytes. Returns (up, down) MB/s."""
    key = f"bench/big-{uuid.uuid4().hex}"
    content = Content(size, seed=seed)
    began = time.perf_counter()
    s3.upload_fileobj(content, args.bucket, key, Config=TransferConfig())
    up = size / MB / (time.perf_counter() - began)
    sha = hashlib.sha256()
    began = time.perf_counter()
    body = s3.get_object(Bucket=args.bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(CHUNK):
        sha.update(chunk)
    down = size / MB / (time.perf_counter() - began)
    if sha.hexdigest() != content.sha256:
        raise RuntimeError("S3 returned other bytes than were stored")
    s3.delete_object(Bucket=args.bucket, Key=key)
    return up, down


def filedrop_roundtrip(
    fd: FileDrop,
    size: int,
    seed: int,
    tus_chunk: int,
    pids: list[int],
    watches: dict[str, list[RssWatch]],
) -> dict[str, float]:
    """Raw-body, multipart and tus uploads, and a download, through FILE DROP: MB/s of each."""
    rates: dict[str, float] = {}
    file_id = ""
    for kind in ("upload raw", "upload multipart"):
        content = Content(size, seed=seed)
        with RssWatch(pids) as watch:
            began = time.perf_counter()
            record = fd.upload_stream(content, multipart=kind == "upload multipart")
            rates[kind] = size / MB / (time.perf_counter() - began)
        watches.setdefault(kind, []).append(watch)
        if kind == "upload raw":
            file_id = record["file_id"]
        else:
            fd.delete(record["file_id"])
    rates |= tus_upload(fd, size, seed, tus_chunk, pids, watches)
    time.sleep(0.5)  # part-upload threads wind down before the download's baseline
    sha = hashlib.sha256()
    with RssWatch(pids) as watch:
        began = time.perf_counter()
        fd.download(file_id, sink=sha.update)
        rates["download"] = size / MB / (time.perf_counter() - began)
    watches.setdefault("download", []).append(watch)
    if sha.hexdigest() != content.sha256:
        raise RuntimeError("FILE DROP returned other bytes than were stored")
    fd.delete(file_id)
    return rates


def tus_upload(
    fd: FileDrop,
    size: int,
    seed: int,
    chunk: int,
    pids: list[int],
    watches: dict[str, list[RssWatch]],
) -> dict[str, float]:
    """An upload through tus (/uploads/), PATCHes of ``chunk`` bytes: MB/s of the whole,
    of its last PATCH (which also assembles the file) and the median of the others.
    The file is checked (the sha256 FILE DROP recorded, then the bytes downloaded) and
    deleted."""
    content = Content(size, seed=seed)
    with RssWatch(pids) as watch:
        began = time.perf_counter()
        upload = fd.upload_tus(content, chunk)
        rates = {"upload tus": size / MB / (time.perf_counter() - began)}
    watches.setdefault("upload tus", []).append(watch)
    patch_rates = [n / MB / seconds for n, seconds in upload.patches]
    if patch_rates:
        rates["tus last PATCH"] = patch_rates[-1]
    if len(patch_rates) > 1:
        rates["tus other PATCHes"] = statistics.median(patch_rates[:-1])
    record = fd.metadata(upload.file_id)
    if record["sha256"] != content.sha256 or record["file_size"] != size:
        raise RuntimeError("FILE DROP recorded other bytes than were sent through tus")
    sha = hashlib.sha256()
    fd.download(upload.file_id, sink=sha.update)
    if sha.hexdigest() != content.sha256:
        raise RuntimeError("FILE DROP returned other bytes than were sent through tus")
    fd.delete(upload.file_id)
    fd.tus_terminate(upload.upload_id)
    return rates


def tus_note(chunk: int, ours: dict[str, list[float]]) -> str:
    """The tus row's note: the PATCH size, and the last PATCH's rate against the others'."""
    note = f"; PATCHes of {size_label(chunk)}"
    if "tus last PATCH" in ours:
        note += f", the last {statistics.median(ours['tus last PATCH']):.0f} MB/s"
    if "tus other PATCHes" in ours:
        note += f", the others {statistics.median(ours['tus other PATCHes']):.0f} MB/s"
    return note


def bench_big(
    args: argparse.Namespace, fd: FileDrop, s3: Any, pids: list[int], res: Results
) -> None:
    size = args.big_size
    label = f"{size / MiB:.0f} MiB" if size < 1024**3 else f"{size / 1024**3:g} GiB"
    print(
        f"\nbig file: {label}, {args.big_repeat} round(s), median reported;"
        f" tus PATCHes of {size_label(args.tus_chunk)}"
    )
    # Warm-up: S3 allocates its first volumes, the workers load botocore's models.
    s3_roundtrip(args, s3, WARM_UP_SIZE, seed=9)
    for _ in range(max(1, len(pids))):
        filedrop_roundtrip(fd, WARM_UP_SIZE, 9, args.tus_chunk, [], {})
    ups: list[float] = []
    downs: list[float] = []
    ours: dict[str, list[float]] = {}
    watches: dict[str, list[RssWatch]] = {}
    for round_no in range(args.big_repeat):
        # Alternate who goes first, so a busy moment on the machine hits both sides.
        if round_no % 2 == 0:
            up, down = s3_roundtrip(args, s3, size, seed=round_no)
        rates = filedrop_roundtrip(fd, size, round_no, args.tus_chunk, pids, watches)
        if round_no % 2 == 1:
            up, down = s3_roundtrip(args, s3, size, seed=round_no)
        ups.append(up)
        downs.append(down)
        for kind, rate in rates.items():
            ours.setdefault(kind, []).append(rate)
        print(
            f"  round {round_no + 1}: boto3 up {up:.0f} down {down:.0f}; FILE DROP "
            + ", ".join(f"{k} {v:.0f}" for k, v in rates.items())
            + " MB/s",
            flush=True,
        )
    s3_up, s3_down = statistics.median(ups), statistics.median(downs)
    for kind, what, note in (
        ("upload raw", "raw body", ""),
        ("upload multipart", "multipart form", ""),
        ("upload tus", "tus", tus_note(args.tus_chunk, ours)),
    ):
        rate = statistics.median(ours[kind])
        res.add(
            metric=f"upload {label}, {what} (MB/s)",
            filedrop=round(rate, 1),
            boto3=round(s3_up, 1),
            ratio=rate / s3_up,
            note=f"boto3: upload_fileobj, default TransferConfig{note}",
        )
    rate = statistics.median(ours["download"])
    res.add(
        metric=f"download {label} (MB/s)",
        filedrop=round(rate, 1),
        boto3=round(s3_down, 1),
        ratio=rate / s3_down,
        note="boto3: get_object, streamed in 1 MiB chunks",
    )
    for what, group in watches.items():
        growth = max(w.growth for w in group)
        kept = max(w.kept for w in group)
        res.add(
            metric=f"worker peak RSS growth, {what} (MiB)",
            filedrop=round(growth / MiB, 1) if pids else "n/a",
            note=(f"largest of {len(group)}; kept after: {kept / MiB:.1f} MiB")
            if pids
            else "pass --worker-pid",
        )


def bench_s3api(args: argparse.Namespace, s3: Any, pids: list[int], res: Results) -> None:
    """One upload_fileobj (default TransferConfig: 8 MiB parts, 10 threads) through FILE
    DROP's S3 API, and the same straight to the backend, in the same run."""
    if not (args.fd_s3_key and args.fd_s3_secret):
        print("\ns3api: skipped (give --fd-s3-key and --fd-s3-secret, or --start-servers)")
        return
    size = args.s3api_size
    print(f"\nS3 API: upload_fileobj of {size_label(size)} through {args.url}/s3")
    ours = s3_client(
        argparse.Namespace(
            s3_endpoint=f"{args.url}/s3",
            s3_key=args.fd_s3_key,
            s3_secret=args.fd_s3_secret,
            s3_region="us-east-1",
        ),
        pool=12,
    )
    bucket = "s3api-bench"
    with contextlib.suppress(ClientError):
        ours.create_bucket(Bucket=bucket)

    def upload(client: Any, target: str, seed: int, amount: int) -> float:
        key = f"bench/s3api-{uuid.uuid4().hex}"
        began = time.perf_counter()
        client.upload_fileobj(Content(amount, seed=seed), target, key, Config=TransferConfig())
        rate = amount / MB / (time.perf_counter() - began)
        client.delete_object(Bucket=target, Key=key)
        return rate

    upload(s3, args.bucket, 9, WARM_UP_SIZE)  # warm-up, as bench_big does
    upload(ours, bucket, 9, WARM_UP_SIZE)
    direct = upload(s3, args.bucket, 1, size)
    with RssWatch(pids) as watch:
        via = upload(ours, bucket, 1, size)
    res.add(
        metric=f"S3 API upload {size_label(size)} (MB/s)",
        filedrop=round(via, 1),
        boto3=round(direct, 1),
        ratio=via / direct,
        note="upload_fileobj, default TransferConfig, both sides",
    )
    res.add(
        metric="worker peak RSS growth, S3 API upload (MiB)",
        filedrop=round(watch.growth / MiB, 1) if pids else "n/a",
        note=f"kept after: {watch.kept / MiB:.1f} MiB" if pids else "pass --worker-pid",
    )


def fetch(url: str, sink: Callable[[memoryview], object]) -> None:
    """GET a (presigned) URL on a fresh connection, the body streamed to ``sink``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=TIMEOUT_S)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"storage answered {response.status}: {response.read(300)!r}")
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while n := response.readinto(buffer):
            sink(view[:n])
    finally:
        conn.close()


def bench_redirect(
    args: argparse.Namespace, fd: FileDrop, s3: Any, pids: list[int], res: Results
) -> None:
    """A download through ``DOWNLOAD_REDIRECT=presigned``: ``GET /files/{id}`` answers 307
    and the bytes come from S3; against boto3's get_object of the same bytes."""
    size = args.redirect_size
    label = f"{size / MiB:.0f} MiB" if size < 1024**3 else f"{size / 1024**3:g} GiB"
    print(f"\nredirected download: {label}, {args.big_repeat} round(s), median reported")
    content = Content(size, seed=31)
    file_id = fd.upload_stream(content, multipart=False)["file_id"]
    if fd.storage_url(file_id) is None:
        res.add(metric=f"download {label} via 307", note="skipped: DOWNLOAD_REDIRECT is off")
        fd.delete(file_id)
        return
    key = f"bench/redirect-{uuid.uuid4().hex}"
    s3.upload_fileobj(Content(size, seed=31), args.bucket, key, Config=TransferConfig())
    ours: list[float] = []
    theirs: list[float] = []
    watches: list[RssWatch] = []
    for round_no in range(args.big_repeat):
        for side in ("boto3", "filedrop") if round_no % 2 == 0 else ("filedrop", "boto3"):
            sha = hashlib.sha256()
            began = time.perf_counter()
            if side == "boto3":
                for chunk in s3.get_object(Bucket=args.bucket, Key=key)["Body"].iter_chunks(CHUNK):
                    sha.update(chunk)
                theirs.append(size / MB / (time.perf_counter() - began))
            else:
                with RssWatch(pids) as watch:
                    fetch(fd.storage_url(file_id) or "", sha.update)
                    ours.append(size / MB / (time.perf_counter() - began))
                watches.append(watch)
            if sha.hexdigest() != content.sha256:
                raise RuntimeError(f"{side} returned other bytes than were stored")
    mine, direct = statistics.median(ours), statistics.median(theirs)
    res.add(
        metric=f"download {label} via 307 to S3 (MB/s)",
        filedrop=round(mine, 1),
        boto3=round(direct, 1),
        ratio=mine / direct,
        note="GET /files/{id}, then the presigned URL in 1 MiB reads; boto3: get_object",
    )
    res.add(
        metric="worker peak RSS growth, download via 307 (MiB)",
        filedrop=round(max(w.growth for w in watches) / MiB, 1) if pids else "n/a",
        note=f"largest of {len(watches)}" if pids else "pass --worker-pid",
    )
    fd.delete(file_id)
    s3.delete_object(Bucket=args.bucket, Key=key)


def other_instance(
    args: argparse.Namespace,
    res: Results,
    given: str | None,
    start: Callable[[], str],
    metric: str,
) -> str | None:
    """Another FILE DROP for a section: the URL given, else one started here (with
    --start-servers); else None, and the section's row says it was skipped."""
    url = given or (start() if args.start_servers else None)
    if url is None:
        res.add(metric=metric, note="skipped: needs --start-servers or a URL option")
    return url


def bench_replicas(
    args: argparse.Namespace, fd: FileDrop, s3: Any, started: Started, res: Results
) -> None:
    """Small files at ``--replica-clients`` clients: on one instance, then spread over two
    (separate gunicorn masters on the same MongoDB and S3), next to boto3."""
    clients = args.replica_clients
    label = f"{args.small_size / 1024:g} KiB"
    url = other_instance(
        args,
        res,
        args.replica_url,
        lambda: start_replica(args, started),
        f"{label}, {clients} clients, 2 instances",
    )
    if url is None:
        return
    print(f"\ntwo instances: {args.url} and {url}, {clients} clients, {label} files")
    both = [fd, FileDrop(url, args.api_key)]
    payload = os.urandom(args.small_size)
    prefix = f"bench/replicas-{uuid.uuid4().hex[:8]}"
    ids: list[str] = []
    keys: list[str] = []
    lock = threading.Lock()

    def put(instances: list[FileDrop]) -> Callable[[int], None]:
        def op(i: int) -> None:
            file_id = instances[i % len(instances)].upload(f"replica-{i}.bin", payload)
            with lock:
                ids.append(file_id)

        return op

    def get(instances: list[FileDrop]) -> Callable[[int], None]:
        def op(i: int) -> None:
            if len(instances[i % len(instances)].download(random.choice(ids))) != len(payload):
                raise RuntimeError("short download")

        return op

    def s3_put(i: int) -> None:
        key = f"{prefix}/{uuid.uuid4().hex}"
        s3.put_object(Bucket=args.bucket, Key=key, Body=payload)
        with lock:
            keys.append(key)

    def s3_get(i: int) -> None:
        s3.get_object(Bucket=args.bucket, Key=random.choice(keys))["Body"].read()

    instances = {1: "1 instance", 2: "2 instances"}
    for name, ours, theirs in (("upload", put, s3_put), ("download", get, s3_get)):
        one = run_load(ours(both[:1]), clients, args.small_ops, args.small_seconds)
        two = run_load(ours(both), clients, args.small_ops, args.small_seconds)
        direct = run_load(theirs, clients, args.small_ops, args.small_seconds)
        for count, result in ((1, one), (2, two)):
            res.add(
                metric=f"{label} {name}, {clients} clients, {instances[count]} (req/s)",
                filedrop=round(result["rps"], 1),
                boto3=round(direct["rps"], 1),
                ratio=result["rps"] / direct["rps"],
                note=f"p50/p99 {result['p50_ms']:.1f}/{result['p99_ms']:.1f} ms"
                + (f"; {two['rps'] / one['rps']:.2f}x one instance" if count == 2 else ""),
            )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_load(op: Callable[[int], None], clients: int, max_ops: int, max_s: float) -> dict[str, Any]:
    """``clients`` threads call ``op(i)`` until ``max_ops`` calls or ``max_s`` seconds."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    counter = iter(range(max_ops))
    lock = threading.Lock()
    errors: list[BaseException] = []
    deadline = time.perf_counter() + max_s

    def worker(slot: int) -> None:
        while time.perf_counter() < deadline and not errors:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            began = time.perf_counter()
            try:
                op(i)
            except BaseException as exc:
                errors.append(exc)
                return
            latencies[slot].append(time.perf_counter() - began)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    flat = [x for per in latencies for x in per]
    return {
        "ops": len(flat),
        "seconds": elapsed,
        "rps": len(flat) / elapsed,
        "p50_ms": percentile(flat, 50) * 1000,
        "p99_ms": percentile(flat, 99) * 1000,
    }


def measured(
    meter: CpuMeter, op: Callable[[int], None], clients: int, max_ops: int, max_s: float
) -> dict[str, Any]:
    """:func:`run_load`, with the CPU each part of the stack spent per request."""
    before = meter.read()
    result = run_load(op, clients, max_ops, max_s)
    result["cpu_ms"] = CpuMeter.per_request(before, meter.read(), result["ops"])
    return result


def delete_files(fd: FileDrop, file_ids: list[str]) -> None:
    """Delete what the benchmark made; failures are counted, not fatal."""
    failed: list[str] = []

    def delete(i: int) -> None:
        try:
            fd.delete(file_ids[i])
        except (RuntimeError, OSError, http.client.HTTPException) as exc:
            failed.append(str(exc))

    run_load(delete, 8, len(file_ids), 600)
    if failed:
        print(f"  cleanup: {len(failed)} of {len(file_ids)} deletes failed, e.g. {failed[0][:200]}")


SMALL_OPS = ("upload", "download", "metadata", "floor")
# The floor: a request that reads nothing (GET /healthz), so what the HTTP server, Flask,
# the access log and the metrics cost every request, beside what each operation adds.
FLOOR_PATH = "/healthz"


def bench_small(
    args: argparse.Namespace,
    instances: list[Instance],
    s3: Any,
    res: Results,
    where: str = "",
) -> None:
    """4 KiB uploads, downloads and metadata reads on each instance (this tree first,
    then --baseline-ref's, if any), each beside boto3's put, get and head unless ``s3``
    is None. ``where`` tells the rows of a second deployment apart (", embedded")."""
    size = args.small_size
    payload = os.urandom(size)
    label = f"{size / 1024:g} KiB"
    print(
        f"\nsmall files{where}: {label}, at most {args.small_ops} ops or"
        f" {args.small_seconds:g} s each, on {', '.join(i.label for i in instances)}"
    )
    prefix = f"bench/small-{uuid.uuid4().hex[:8]}"
    s3_keys: list[str] = []
    made: dict[str, list[str]] = {instance.label: [] for instance in instances}
    lock = threading.Lock()

    def fd_ops(instance: Instance) -> dict[str, Callable[[int], None]]:
        fd, ids = instance.fd, made[instance.label]

        def put(i: int) -> None:
            file_id = fd.upload(f"small-{i}.bin", payload)
            with lock:
                ids.append(file_id)

        def get(i: int) -> None:
            if len(fd.download(random.choice(ids))) != size:
                raise RuntimeError("short download")

        def meta(i: int) -> None:
            # "metadata" isolates the database: GET /files/{id}/metadata vs S3 HEAD Object.
            fd.metadata(random.choice(ids))

        def floor(i: int) -> None:
            status, _ = fd.request("GET", FLOOR_PATH)
            if status != 200:
                raise RuntimeError(f"{FLOOR_PATH} answered {status}")

        return {"upload": put, "download": get, "metadata": meta, "floor": floor}

    def s3_put(i: int) -> None:
        key = f"{prefix}/{uuid.uuid4().hex}"
        s3.put_object(Bucket=args.bucket, Key=key, Body=payload)
        s3_keys.append(key)

    def s3_get(i: int) -> None:
        key = random.choice(s3_keys)
        if len(s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()) != size:
            raise RuntimeError("short download")

    def s3_head(i: int) -> None:
        s3.head_object(Bucket=args.bucket, Key=random.choice(s3_keys))

    ours = [fd_ops(instance) for instance in instances]
    direct: dict[str, Callable[[int], None]] = {
        "upload": s3_put,
        "download": s3_get,
        "metadata": s3_head,
    }
    # Warm-up, not measured: every worker makes its connections and loads what it loads
    # lazily (botocore's models, its first SQLite connection) before the clock starts.
    sides = [*ours, direct] if s3 is not None else ours
    for ops in sides:
        for name in SMALL_OPS:
            if name in ops:
                run_load(ops[name], max(args.clients), WARM_UP_OPS, args.small_seconds)
    turn = 0
    for name in SMALL_OPS:
        for clients in args.clients:
            # Who goes first alternates, so a busy moment on the machine hits both trees.
            order = list(range(len(instances)))[:: -1 if turn % 2 else 1]
            turn += 1
            results: dict[int, dict[str, Any]] = {}
            for index in order:
                op = ours[index][name]
                meter = instances[index].meter
                results[index] = measured(meter, op, clients, args.small_ops, args.small_seconds)
            theirs = None
            if s3 is not None and name in direct:
                meter = instances[0].meter
                theirs = measured(meter, direct[name], clients, args.small_ops, args.small_seconds)
            what = f"GET {FLOOR_PATH}" if name == "floor" else f"{label} {name}"
            small_rows(args, res, f"{what}, {clients} clients{where}", results, theirs)
            if name == "upload":
                held = ", ".join(f"{i.label} {len(made[i.label])}" for i in instances)
                print(f"  files held: {held}", flush=True)
    if not args.keep_files:
        for instance in instances:
            delete_files(instance.fd, made[instance.label])
        for start in range(0, len(s3_keys) if s3 is not None else 0, 1000):
            objects = [{"Key": k} for k in s3_keys[start : start + 1000]]
            s3.delete_objects(Bucket=args.bucket, Delete={"Objects": objects, "Quiet": True})


def small_rows(
    args: argparse.Namespace,
    res: Results,
    what: str,
    results: dict[int, dict[str, Any]],
    theirs: dict[str, Any] | None,
) -> None:
    """The rows of one small-file measurement: this tree (``results[0]``), boto3's figure
    beside it when measured, and the baseline's (``results[1]``) with the ratio to it."""
    mine, base = results[0], results.get(1)

    def compared(value: float, base_value: float | None, unit: str) -> tuple[dict[str, Any], str]:
        if base_value is None:
            return {}, ""
        ratio = value / base_value if base_value else float("nan")
        fields = {"baseline": round(base_value, 2), "vs_baseline": round(ratio, 3)}
        ref = args.baseline_ref
        return fields, f"baseline {ref}: {base_value:.2f}{unit}, this tree {ratio:.2f}x"

    fields, vs = compared(mine["rps"], base["rps"] if base else None, " req/s")
    res.add(
        metric=f"{what} (req/s)",
        filedrop=round(mine["rps"], 1),
        boto3=round(theirs["rps"], 1) if theirs else "",
        ratio=mine["rps"] / theirs["rps"] if theirs else None,
        note="; ".join(
            x for x in (f"{mine['ops']} ops" + (f" vs {theirs['ops']}" if theirs else ""), vs) if x
        ),
        **fields,
    )
    res.add(
        metric=f"{what} p50/p99 (ms)",
        filedrop=f"{mine['p50_ms']:.1f}/{mine['p99_ms']:.1f}",
        boto3=f"{theirs['p50_ms']:.1f}/{theirs['p99_ms']:.1f}" if theirs else "",
        note=f"baseline {args.baseline_ref}: {base['p50_ms']:.1f}/{base['p99_ms']:.1f}"
        if base
        else "",
    )
    # boto3's side: only the S3 server and this process work for it.
    direct = {
        k: v for k, v in (theirs or {}).get("cpu_ms", {}).items() if k in (args.s3_server, "client")
    }
    total = sum(mine["cpu_ms"].values())
    fields, vs = compared(total, sum(base["cpu_ms"].values()) if base else None, " ms")
    note = f"FILE DROP: {cpu_text(mine['cpu_ms'])}"
    note += f"; baseline: {cpu_text(base['cpu_ms'])}" if base else ""
    note += f"; boto3: {cpu_text(direct)}" if theirs else ""
    res.add(
        metric=f"{what} CPU/request (ms)",
        filedrop=round(total, 2),
        boto3=round(sum(direct.values()), 2) if theirs else "",
        note=note,
        **fields,
    )
    worker = mine["cpu_ms"].get("worker", 0.0)
    fields, vs = compared(worker, base["cpu_ms"].get("worker", 0.0) if base else None, " ms")
    res.add(metric=f"{what} worker CPU/request (ms)", filedrop=round(worker, 2), note=vs, **fields)


def fill_for_listing(fd: FileDrop, count: int, max_s: float) -> list[str]:
    """Make ``count`` tiny files (16 clients, at most ``max_s`` seconds): their ids."""
    payload = b"x" * 64
    ids: list[str] = [""] * count
    began = time.perf_counter()

    def put(i: int) -> None:
        ids[i] = fd.upload(f"list-{i:06d}.txt", payload)

    stats = run_load(put, 16, count, max_s)
    print(f"  made {stats['ops']} files in {time.perf_counter() - began:.1f} s", flush=True)
    return [i for i in ids if i]


def page_through(fd: FileDrop, count: int, limit: int) -> tuple[list[float], int]:
    """``GET /files?limit=`` page after page: seconds per page, and the files listed."""
    pages: list[float] = []
    cursor: str | None = None
    listed = 0
    for _ in range(count // limit + 1000):  # bounded: files made by others may show up too
        began = time.perf_counter()
        n, cursor = fd.list_page(limit, cursor)
        pages.append(time.perf_counter() - began)
        listed += n
        if cursor is None:
            break
    return pages, listed


def bench_listing(args: argparse.Namespace, fd: FileDrop, s3: Any, res: Results) -> None:
    count, limit = args.list_files, args.list_limit
    print(f"\nlisting: {count} files, pages of {limit}")
    ids = fill_for_listing(fd, count, args.list_fill_seconds)
    pages, listed = page_through(fd, count, limit)
    s3_pages: list[float] = []
    token: str | None = None
    for _ in range(len(pages)):
        extra = {"ContinuationToken": token} if token else {}
        began = time.perf_counter()
        page = s3.list_objects_v2(Bucket=args.bucket, MaxKeys=limit, **extra)
        s3_pages.append(time.perf_counter() - began)
        token = page.get("NextContinuationToken")
        if not token:
            break
    res.add(
        metric=f"list {listed} files, limit={limit}: p50 (ms/page)",
        filedrop=round(percentile(pages, 50) * 1000, 1),
        boto3=round(percentile(s3_pages, 50) * 1000, 1),
        ratio=percentile(s3_pages, 50) / percentile(pages, 50),
        note=f"{len(pages)} pages; boto3: list_objects_v2 MaxKeys={limit}",
    )
    res.add(
        metric=f"list {listed} files, limit={limit}: p99 (ms/page)",
        filedrop=round(percentile(pages, 99) * 1000, 1),
        boto3=round(percentile(s3_pages, 99) * 1000, 1),
        ratio=percentile(s3_pages, 99) / percentile(pages, 99),
    )
    if not args.keep_files:
        delete_files(fd, ids)


def bench_listing_embedded(args: argparse.Namespace, started: Started, res: Results) -> None:
    """The same listing on an embedded-mode FILE DROP (SQLite + local disk, no S3), whose
    indexes on owner + sort key serve every page: the query without FerretDB's full scans.

    Started here with --start-servers, else the instance at --list-embedded-url; no boto3 side.
    """
    count, limit = args.list_files, args.list_limit
    url = other_instance(
        args,
        res,
        args.list_embedded_url,
        lambda: this_embedded(args, started)[0],
        f"list {count} files, limit={limit}, embedded SQLite",
    )
    if url is None:
        return
    print(f"\nlisting, embedded mode at {url}: {count} files, pages of {limit}")
    fd = FileDrop(url, None)
    ids = fill_for_listing(fd, count, args.list_fill_seconds)
    pages, listed = page_through(fd, count, limit)
    res.add(
        metric=f"list {listed} files, limit={limit}, embedded SQLite: p50 (ms/page)",
        filedrop=round(percentile(pages, 50) * 1000, 1),
        note=f"{len(pages)} pages; embedded mode: SQLite + local disk, no S3",
    )
    res.add(
        metric=f"list {listed} files, limit={limit}, embedded SQLite: p99 (ms/page)",
        filedrop=round(percentile(pages, 99) * 1000, 1),
    )
    if not args.keep_files:
        delete_files(fd, ids)


# -- servers (only with --start-servers) ---------------------------------------------


@dataclass
class Started:
    s3_server: Any = None
    db_server: Any = None
    gunicorn: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)  # more gunicorns
    data_dirs: list[Path] = field(default_factory=list)  # embedded DATA_DIRs, removed at the end
    worktree: Path | None = None  # --baseline-ref's checkout, removed at the end
    embedded: tuple[str, list[int]] | None = None  # this tree in embedded mode: URL, pids
    app_env: dict[str, str] = field(default_factory=dict)  # the first gunicorn's environment

    def close(self) -> None:
        for process in [*self.others, self.gunicorn]:
            if process is not None:
                stop_group(process)
        for data_dir in self.data_dirs:
            shutil.rmtree(data_dir, ignore_errors=True)
        if self.worktree is not None:
            remove_worktree(self.worktree)
        for server in (self.s3_server, self.db_server):
            if server is not None:
                server.close()


@dataclass
class Instance:
    """One running FILE DROP the small-file section measures, and the pids of its stack."""

    label: str
    fd: FileDrop
    meter: CpuMeter


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (gunicorn and its workers), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)


def worker_pids(master: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(_stat_fields(entry)[1]) == master:
                    found.append(int(entry))
    return sorted(found)


def start_servers(args: argparse.Namespace, started: Started) -> None:
    """SeaweedFS/MinIO + FerretDB (tests/servers.py) and gunicorn, all on 127.0.0.1."""
    sys.path.insert(0, str(ROOT))
    from scripts.stack import new_user
    from tests import servers

    s3_class = servers.SeaweedS3 if args.s3_server == "seaweedfs" else servers.MinioS3
    print(f"starting {s3_class.name} and FerretDB ...", flush=True)
    started.s3_server = s3_class()
    started.s3_server.start()
    started.db_server = servers.FerretDB()
    started.db_server.start()
    s3 = started.s3_server
    args.s3_endpoint, args.s3_key, args.s3_secret = s3.endpoint_url, s3.access_key, s3.secret_key
    args.s3_region = s3.region
    s3.client().create_bucket(Bucket=args.bucket)

    port = servers.free_ports(1)[0]
    args.url = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_urlsafe(24)
    env = server_env(args, started, "filedrop_bench", admin_token)
    started.app_env = env
    started.log_path = Path(tempfile.mkdtemp(prefix="filedrop-bench-")) / "gunicorn.log"
    started.gunicorn = launch_gunicorn(args, args.app_dir, port, env, started.log_path)
    args.worker_pid = wait_ready(args.url, started.gunicorn, args.workers, started.log_path)
    made = new_user(args.url, admin_token, name="bench")
    args.api_key = made["api_key"]
    args.fd_s3_key, args.fd_s3_secret = made["access_key_id"], made["secret_access_key"]


def server_env(
    args: argparse.Namespace, started: Started, database: str, admin_token: str
) -> dict[str, str]:
    """The environment of a server-mode gunicorn on the started S3 and FerretDB."""
    env = kept_env()
    env.update(
        MONGO_URI=started.db_server.uri,
        MONGO_DB=database,
        S3_ENDPOINT_URL=args.s3_endpoint,
        S3_ACCESS_KEY_ID=args.s3_key,
        S3_SECRET_ACCESS_KEY=args.s3_secret,
        S3_REGION=args.s3_region,
        S3_BUCKET=args.bucket,
        LOG_LEVEL="WARNING",
    )
    # As deployed: API keys on, so every request is authenticated and counted against
    # the rate limit (a limit too high to refuse the bench, but still counted).
    env.update(
        FILEDROP_AUTH="enabled",
        FILEDROP_ADMIN_TOKEN=admin_token,
        FILEDROP_SECRET_KEY=secrets.token_urlsafe(32),
        RATE_LIMIT_REQUESTS=str(10**9),
    )
    # GET /files/{id} answers 307 to S3 (the redirect section); the others send ?redirect=0.
    env.update(DOWNLOAD_REDIRECT="presigned")
    env.update(app_env(args))
    return env


def start_baseline(args: argparse.Namespace, started: Started) -> tuple[str, str, list[int]]:
    """--baseline-ref checked out (a git worktree in the run's temp dir) and served by a
    gunicorn like this tree's, on the same S3 and FerretDB (its own database): its URL,
    a user's key and the worker pids."""
    from scripts.stack import create_user
    from tests import servers

    if started.log_path is None or started.db_server is None:
        raise RuntimeError("start the other servers first")
    run_dir = started.log_path.parent
    started.worktree = add_worktree(args.baseline_ref, run_dir / "baseline")
    admin_token = secrets.token_urlsafe(24)
    env = server_env(args, started, "filedrop_bench_baseline", admin_token)
    port = servers.free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    log_path = run_dir / "gunicorn-baseline.log"
    process = launch_gunicorn(args, str(started.worktree), port, env, log_path)
    started.others.append(process)
    pids = wait_ready(url, process, args.workers, log_path)
    return url, create_user(url, admin_token, name="bench"), [process.pid, *pids]


def add_worktree(ref: str, path: Path) -> Path:
    """A detached checkout of ``ref`` at ``path`` (git worktree: no clone, no network)."""
    print(f"checking out {ref} at {path} (baseline)", flush=True)
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), ref],
        check=True,
    )
    return path


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_embedded(
    args: argparse.Namespace, started: Started, app_dir: str, name: str = "embedded"
) -> tuple[str, list[int]]:
    """A gunicorn like the first (flags, --app-env) on ``app_dir`` in embedded mode:
    SQLite and files under a DATA_DIR in the run's temp dir, no MongoDB, no S3. Its URL
    and pids (master first)."""
    from tests import servers

    if started.log_path is None:
        raise RuntimeError("start the other servers first")
    run_dir = started.log_path.parent
    data_dir = Path(tempfile.mkdtemp(prefix=f"{name}-data-", dir=run_dir))
    started.data_dirs.append(data_dir)
    env = kept_env()
    env.update(FILEDROP_AUTH="disabled", LOG_LEVEL="WARNING")
    env.update(app_env(args))
    env = {k: v for k, v in env.items() if not k.startswith(("MONGO_", "S3_", "AWS_"))}
    # Empty rather than absent: a .env in the app dir must not bring them back.
    env.update(MONGO_URI="", S3_ENDPOINT_URL="", DATA_DIR=str(data_dir))
    port = servers.free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    log_path = run_dir / f"gunicorn-{name}.log"
    process = launch_gunicorn(args, app_dir, port, env, log_path)
    started.others.append(process)
    pids = wait_ready(url, process, args.workers, log_path)
    return url, [process.pid, *pids]


def this_embedded(args: argparse.Namespace, started: Started) -> tuple[str, list[int]]:
    """This tree in embedded mode (URL, pids): started on first use, shared by sections."""
    if started.embedded is None:
        started.embedded = start_embedded(args, started, args.app_dir)
    return started.embedded


def start_replica(args: argparse.Namespace, started: Started) -> str:
    """A second gunicorn master like the first (same settings, servers and flags) on
    another port: its URL."""
    from tests import servers

    if started.log_path is None:
        raise RuntimeError("start the other servers first")
    port = servers.free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    log_path = started.log_path.parent / "gunicorn-replica.log"
    process = launch_gunicorn(args, args.app_dir, port, started.app_env, log_path)
    started.others.append(process)
    wait_ready(url, process, args.workers, log_path)
    return url


def kept_env() -> dict[str, str]:
    """The few variables of this process that the started gunicorns inherit."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "PYENV_VERSION")
    return {k: v for k, v in os.environ.items() if k in keep}


def app_env(args: argparse.Namespace) -> dict[str, str]:
    """--app-env KEY=VALUE settings as a dict."""
    return {key: value for key, _, value in (item.partition("=") for item in args.app_env)}


def launch_gunicorn(
    args: argparse.Namespace,
    app_dir: str,
    port: int,
    env: dict[str, str],
    log_path: Path,
    module: str = "app:app",
) -> subprocess.Popen[bytes]:
    """gunicorn on 127.0.0.1:``port`` in its own process group, output to ``log_path``."""
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}"]
    command += ["-w", str(args.workers), "--threads", str(args.threads)]
    command += ["-k", args.worker_class, "--timeout", "600", "--no-control-socket"]
    command += [*args.gunicorn_arg, module]
    print(f"starting {' '.join(command[1:])} in {app_dir}", flush=True)
    print(f"gunicorn log: {log_path} (kept)", flush=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            cwd=app_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(
    url: str, process: subprocess.Popen[bytes], workers: int, log_path: Path
) -> list[int]:
    """Wait for /readyz and all ``workers`` workers: their pids."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    fd = FileDrop(url, None)
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = fd.request("GET", "/readyz")
            if status == 200 and len(worker_pids(process.pid)) >= workers:
                return worker_pids(process.pid)
        fd._drop_conn()
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"gunicorn did not get ready; log:\n{tail}")


# -- main ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "boto3": boto3.__version__,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    target = p.add_argument_group("target (ignored with --start-servers)")
    target.add_argument("--url", default="http://127.0.0.1:8000", help="FILE DROP base URL")
    target.add_argument("--api-key", help="Bearer key, if the target has auth on")
    target.add_argument("--s3-endpoint", help="the S3 endpoint FILE DROP uses")
    target.add_argument("--s3-key", help="S3 access key id")
    target.add_argument("--s3-secret", help="S3 secret access key")
    target.add_argument("--s3-region", default="us-east-1")
    target.add_argument("--bucket", default="filedrop-bench", help="S3 bucket for the baseline")
    target.add_argument("--fd-s3-key", help="s3api: an access key id of FILE DROP's S3 API")
    target.add_argument("--fd-s3-secret", help="s3api: its secret access key")
    target.add_argument(
        "--worker-pid",
        type=int_list,
        default=[],
        help="gunicorn worker pid(s), comma separated, to watch RSS (same machine only)",
    )
    start = p.add_argument_group("--start-servers: run everything here, on 127.0.0.1")
    start.add_argument("--start-servers", action="store_true")
    start.add_argument("--s3-server", choices=["seaweedfs", "minio"], default="seaweedfs")
    start.add_argument("--app-dir", default=str(ROOT), help="where app.py is (gunicorn's cwd)")
    start.add_argument("--workers", type=int, default=2)
    start.add_argument("--threads", type=int, default=8)
    start.add_argument("--worker-class", default="gevent", help="as gunicorn.conf.py")
    start.add_argument(
        "--app-env", action="append", default=[], metavar="KEY=VALUE", help="app setting"
    )
    start.add_argument(
        "--gunicorn-arg", action="append", default=[], metavar="ARG", help="extra gunicorn arg"
    )
    what = p.add_argument_group("what to measure")
    what.add_argument("--only", choices=SECTIONS, action="append")
    what.add_argument("--big-size", type=parse_size, default=parse_size("1GiB"))
    what.add_argument("--big-repeat", type=int, default=1, help="rounds; the median is shown")
    what.add_argument(
        "--tus-chunk",
        type=parse_size,
        default=parse_size("64MiB"),
        help="bytes per tus PATCH in the big-file tus upload",
    )
    what.add_argument(
        "--s3api-size",
        type=parse_size,
        default=parse_size("1GiB"),
        help="s3api: one upload_fileobj of this size through FILE DROP's /s3 and straight\n"
        "to the backend",
    )
    what.add_argument(
        "--redirect-size",
        type=parse_size,
        default=parse_size("1GiB"),
        help="file size of the download through DOWNLOAD_REDIRECT=presigned",
    )
    what.add_argument("--small-size", type=parse_size, default=parse_size("4KiB"))
    what.add_argument("--clients", type=int_list, default=[1, 8, 16])
    what.add_argument("--small-ops", type=int, default=2000, help="max ops per measurement")
    what.add_argument("--small-seconds", type=float, default=10.0, help="max s per measurement")
    what.add_argument("--list-files", type=int, default=10000)
    what.add_argument("--list-limit", type=int, default=100)
    what.add_argument("--list-fill-seconds", type=float, default=300.0)
    what.add_argument(
        "--list-embedded",
        action="store_true",
        help="also list on an embedded-mode FILE DROP (SQLite + local disk): started here\n"
        "with --start-servers, else the one at --list-embedded-url",
    )
    what.add_argument(
        "--list-embedded-url",
        metavar="URL",
        help="a running embedded-mode FILE DROP, keys off (implies --list-embedded;\n"
        "not with --start-servers)",
    )
    what.add_argument("--replica-clients", type=int, default=16, help="clients, two instances")
    what.add_argument(
        "--replica-url",
        metavar="URL",
        help="a second running instance on the same servers, same key (not with\n"
        "--start-servers, which starts one)",
    )
    what.add_argument(
        "--small-embedded",
        action="store_true",
        help="the small-file rows also on an embedded-mode FILE DROP (needs --start-servers)",
    )
    what.add_argument(
        "--baseline-ref",
        metavar="REV",
        help="also measure the small files on a checkout of git revision REV, on the same\n"
        "servers in the same run: both figures and their ratio (needs --start-servers)",
    )
    what.add_argument(
        "--targets",
        action="store_true",
        help="just the rows of the per-request targets: --start-servers --only small\n"
        f"--clients 16 --small-embedded --small-ops {TARGET_OPS} --small-seconds"
        f" {TARGET_SECONDS:g}\n(add --baseline-ref REV to compare)",
    )
    what.add_argument("--keep-files", action="store_true", help="do not delete what was made")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if args.targets:
        args.start_servers, args.only, args.clients = True, ["small"], [16]
        args.small_embedded, args.small_ops, args.small_seconds = True, TARGET_OPS, TARGET_SECONDS
    if (args.baseline_ref or args.small_embedded) and not args.start_servers:
        p.error("--baseline-ref and --small-embedded need --start-servers")
    if not args.start_servers and not (args.s3_endpoint and args.s3_key and args.s3_secret):
        p.error("give --s3-endpoint, --s3-key and --s3-secret, or --start-servers")
    if args.tus_chunk < 1:
        p.error("--tus-chunk must be at least 1 byte")
    if args.replica_url and args.start_servers:
        p.error("--replica-url is for runs without --start-servers")
    if args.list_embedded_url and args.start_servers:
        p.error("--list-embedded-url is for runs without --start-servers")
    args.list_embedded = args.list_embedded or bool(args.list_embedded_url)
    return args


def stack_meter(
    args: argparse.Namespace, started: Started, gunicorn: list[int] | None = None
) -> CpuMeter:
    """The started servers' processes, or just the given workers (or none) without
    --start-servers: parts of the stack this machine can't see are left out.
    ``gunicorn``: another app's master and workers, on the same servers."""
    workers = list(args.worker_pid or [])
    if started.gunicorn is not None:
        workers.append(started.gunicorn.pid)  # the master, which also wakes up
    if gunicorn is not None:
        workers = gunicorn
    parts = {"worker": workers}
    if started.db_server is not None:
        parts["FerretDB"] = [started.db_server.pid]
    if started.s3_server is not None:
        parts[args.s3_server] = [started.s3_server.pid]
    return CpuMeter(parts)


def bench_bare_flask(args: argparse.Namespace, started: Started, res: Results) -> None:
    """The floor under every row above: ``GET /healthz`` on a Flask app that does
    nothing else (bench/bare_flask.py), served by the same gunicorn settings."""
    from tests import servers

    if started.log_path is None:
        return
    port = servers.free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    log_path = started.log_path.parent / "gunicorn-bare-flask.log"
    here = str(Path(__file__).resolve().parent)
    process = launch_gunicorn(args, here, port, kept_env(), log_path, "bare_flask:app")
    started.others.append(process)
    pids = wait_ready(url, process, args.workers, log_path)
    fd = FileDrop(url, None)

    def floor(i: int) -> None:
        status, _ = fd.request("GET", FLOOR_PATH)
        if status != 200:
            raise RuntimeError(f"{FLOOR_PATH} answered {status}")

    clients = max(args.clients)
    run_load(floor, clients, WARM_UP_OPS, args.small_seconds)
    meter = CpuMeter({"worker": [process.pid, *pids]})
    result = measured(meter, floor, clients, args.small_ops, args.small_seconds)
    res.add(
        metric=f"GET {FLOOR_PATH}, {clients} clients, bare Flask (req/s)",
        filedrop=round(result["rps"], 1),
        note=f"{result['ops']} ops; bench/bare_flask.py, the same gunicorn settings",
    )
    res.add(
        metric=f"GET {FLOOR_PATH}, {clients} clients, bare Flask worker CPU/request (ms)",
        filedrop=round(result["cpu_ms"]["worker"], 2),
        note="what Flask and gunicorn alone cost a request on this machine",
    )


def bench_small_everywhere(
    args: argparse.Namespace, started: Started, fd: FileDrop, s3: Any, res: Results
) -> None:
    """The small-file rows on this tree (and --baseline-ref's), the bare-Flask floor,
    then in embedded mode."""
    instances = [Instance("this tree", fd, stack_meter(args, started))]
    if args.baseline_ref:
        url, key, pids = start_baseline(args, started)
        instances.append(Instance("baseline", FileDrop(url, key), stack_meter(args, started, pids)))
    bench_small(args, instances, s3, res)
    bench_bare_flask(args, started, res)
    if not args.small_embedded:
        return
    url, pids = this_embedded(args, started)
    embedded = [Instance("this tree", FileDrop(url, None), CpuMeter({"worker": pids}))]
    if args.baseline_ref and started.worktree is not None:
        url, pids = start_embedded(args, started, str(started.worktree), "baseline-embedded")
        embedded.append(Instance("baseline", FileDrop(url, None), CpuMeter({"worker": pids})))
    bench_small(args, embedded, None, res, where=", embedded")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = Started()
    # SIGTERM (e.g. from timeout) unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    res = Results()
    began = time.monotonic()
    error: BaseException | None = None
    try:
        if args.start_servers:
            start_servers(args, started)
            args.keep_files = True  # the servers and their data go away at the end anyway
        fd = FileDrop(args.url, args.api_key)
        s3 = s3_client(args, pool=max([*args.clients, 10]) + 2)
        only = set(args.only or SECTIONS)
        print(f"FILE DROP {args.url}, S3 {args.s3_endpoint} bucket {args.bucket}")
        print(f"watching worker pids: {args.worker_pid or 'none'}")
        print(f"load average before: {os.getloadavg()}")
        print(f"\n  {format_row({'metric': 'metric', 'filedrop': 'FILE DROP', 'boto3': 'boto3'})}")
        if "big" in only:
            bench_big(args, fd, s3, args.worker_pid, res)
        if "s3api" in only:
            bench_s3api(args, s3, args.worker_pid, res)
        if "small" in only:
            bench_small_everywhere(args, started, fd, s3, res)
        if "redirect" in only:
            bench_redirect(args, fd, s3, args.worker_pid, res)
        if "replicas" in only:
            bench_replicas(args, fd, s3, started, res)
        if "list" in only:
            bench_listing(args, fd, s3, res)
            if args.list_embedded:
                bench_listing_embedded(args, started, res)
    except BaseException as exc:
        error = exc
        raise
    finally:
        started.close()
        report(args, res, time.monotonic() - began, error)
    return 0


def report(
    args: argparse.Namespace, res: Results, seconds: float, error: BaseException | None
) -> None:
    """The table (also after a failure: what was measured so far) and the JSON file."""
    print(f"\n{'=' * 100}\nFILE DROP vs direct boto3, same S3, same run ({seconds:.0f} s)")
    if error is not None:
        print(f"STOPPED EARLY: {type(error).__name__}: {str(error)[:300]}")
    info = machine()
    print(f"machine: {info}")
    if args.start_servers:
        print(
            f"servers: {args.s3_server} + FerretDB, API keys on; gunicorn -w {args.workers} "
            f"--threads {args.threads} -k {args.worker_class} {' '.join(args.gunicorn_arg)}"
            f"; app env {args.app_env or 'defaults'}"
            + ("; listing also on embedded mode" if args.list_embedded else "")
            + ("; small files also on embedded mode" if args.small_embedded else "")
            + (f"; baseline: {args.baseline_ref}" if args.baseline_ref else "")
        )
    print(f"\n{format_row({'metric': 'metric', 'filedrop': 'FILE DROP', 'boto3': 'boto3'})}")
    for row in res.rows:
        print(format_row(row))
    if args.json:
        config = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in {"s3_secret", "api_key"}
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        body = {"machine": info, "config": config, "seconds": round(seconds, 1)}
        body |= {"error": None if error is None else repr(error), "results": res.rows}
        args.json.write_text(json.dumps(body, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
