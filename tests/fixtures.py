"""Fixtures (a pytest plugin, loaded by tests/conftest.py): the same contract runs
against every backend pair.

``backend`` is parametrized over moto+mongomock (fast, in-process), local+sqlite
(embedded mode, in a temp dir) and the real servers: SeaweedFS+FerretDB and
MinIO+FerretDB, started once per session on 127.0.0.1 by :mod:`tests.servers`.
With ``FILEDROP_REQUIRE_SERVERS=1`` (as ``.ci/run`` sets) a missing server
binary fails the run, and so does any skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mongomock
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws

from filedrop import create_app
from filedrop.config import Settings
from filedrop.storage.blobs import BlobStore
from filedrop.storage.blobs.local import LocalBlobStore
from filedrop.storage.blobs.s3 import S3BlobStore
from filedrop.storage.metadata import CatalogStore
from filedrop.storage.mongo import MongoMetadataStore
from filedrop.storage.sqlite import SqliteMetadataStore
from tests import servers

REQUIRE_SERVERS = os.environ.get("FILEDROP_REQUIRE_SERVERS") == "1"
PART_SIZE = 5 * 1024**2  # S3's minimum, so tests cross into multipart with small files

FAST = "moto+mongomock"
EMBEDDED = "local+sqlite"  # embedded mode: files on disk, metadata in SQLite, no servers
REAL = ["seaweedfs+ferretdb", "minio+ferretdb"]
ALL = [FAST, EMBEDDED, *REAL]
S3_BACKENDS = [FAST, *REAL]


def _missing(what: str) -> None:
    message = f"{what} is not available (run scripts/build-servers.sh)"
    if REQUIRE_SERVERS:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _serve(server: servers.ServerProcess) -> Iterator[servers.ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ServerProcess]:
    if not servers.find_weed():
        _missing("SeaweedFS (weed)")
    yield from _serve(servers.SeaweedS3(tmp_path_factory.mktemp("seaweedfs")))


@pytest.fixture(scope="session")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ServerProcess]:
    if not servers.find_minio():
        _missing("MinIO")
    yield from _serve(servers.MinioS3(tmp_path_factory.mktemp("minio")))


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ServerProcess]:
    if not servers.find_ferretdb():
        _missing("FerretDB")
    yield from _serve(servers.FerretDB(tmp_path_factory.mktemp("ferretdb")))


@dataclass
class Backend:
    """One backend pair, ready for a test: stores, settings, and the servers behind them."""

    name: str
    settings: Settings
    blobs: BlobStore
    meta: CatalogStore
    s3_server: Any = None
    db_server: Any = None

    @property
    def real(self) -> bool:
        return self.s3_server is not None

    @property
    def atomic_metadata(self) -> bool:
        """Whether single-document conditional updates are atomic, as MongoDB's are.

        FerretDB v1 runs findAndModify as a query plus a separate update (its
        own TODO #2168 in msg_findandmodify.go), so two racing conditional
        updates can both apply. Content stays whole either way; exclusivity
        (one If-Match winner, no orphaned blob) is only promised where atomic.
        """
        return self.db_server is None


def _settings(**overrides: Any) -> Settings:
    base = Settings(
        s3_part_size=PART_SIZE,
        s3_timeout_s=2.0,
        mongo_timeout_ms=2000,
        chunk_size=256 * 1024,
        log_level="WARNING",
        auth="disabled",
        rate_limit_per_window=0,
        secret_key="test-server-key-" + "x" * 32,
    )
    return base.with_overrides(**overrides)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _real_backend(request: pytest.FixtureRequest, name: str) -> Backend:
    s3 = request.getfixturevalue("seaweedfs" if name.startswith("seaweedfs") else "minio")
    db = request.getfixturevalue("ferretdb")
    settings = _settings(
        s3_endpoint_url=s3.endpoint_url,
        s3_access_key_id=s3.access_key,
        s3_secret_access_key=s3.secret_key,
        s3_region=s3.region,
        s3_bucket=_unique("fd"),
        mongo_uri=db.uri,
        mongo_db=_unique("fd").replace("-", "_"),
    )
    from filedrop.backends import make_blob_store, make_metadata_store

    blobs = make_blob_store(settings)
    blobs.ensure_bucket()
    meta = make_metadata_store(settings)
    return Backend(name, settings, blobs, meta, s3, db)  # type: ignore[arg-type]


@pytest.fixture(params=ALL)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _make_backend(request, request.param)


@pytest.fixture(params=[EMBEDDED, *REAL])
def concurrent_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Backends that take real concurrent requests (mongomock and moto are not thread-safe)."""
    yield from _make_backend(request, request.param)


@pytest.fixture(params=REAL)
def real_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    yield from _make_backend(request, request.param)


def _make_backend(request: pytest.FixtureRequest, name: str) -> Iterator[Backend]:
    if name == FAST:
        with mock_aws():
            settings = _settings(s3_bucket="filedrop-test", mongo_db="filedrop_test")
            blobs = S3BlobStore.connect(
                None, "test", "test", "us-east-1", settings.s3_bucket, part_size=PART_SIZE
            )
            blobs.ensure_bucket()
            meta = MongoMetadataStore(mongomock.MongoClient(tz_aware=True)[settings.mongo_db])
            yield Backend(name, settings, blobs, meta)
        return
    if name == EMBEDDED:
        tmp_path = request.getfixturevalue("tmp_path")
        settings = _settings(data_dir=str(tmp_path))
        local = LocalBlobStore(tmp_path / "blobs", chunk_size=settings.chunk_size)
        local.ensure_bucket()
        sqlite = SqliteMetadataStore(tmp_path / "filedrop.sqlite3")
        yield Backend(name, settings, local, sqlite)
        sqlite.close()
        return
    yield _real_backend(request, name)


# -- one store at a time, for the storage contract suites (tests/contract) ----

METADATA_STORES = ["mongomock", "sqlite", "ferretdb"]
BLOB_STORES = ["moto", "local", "seaweedfs", "minio"]


@dataclass
class MetaUnderTest:
    """A metadata store for a contract test, and what kind of database is behind it."""

    name: str
    store: CatalogStore

    @property
    def loses_racing_updates(self) -> bool:
        """FerretDB v1 runs an update as a read and a separate write (see tests/servers.py)."""
        return self.name == "ferretdb"


@pytest.fixture(params=METADATA_STORES)
def meta_store(request: pytest.FixtureRequest) -> Iterator[MetaUnderTest]:
    yield from _meta_store(request, request.param)


@pytest.fixture(params=[m for m in METADATA_STORES if m != "mongomock"])
def threaded_meta_store(request: pytest.FixtureRequest) -> Iterator[MetaUnderTest]:
    """The metadata stores that threads may share (mongomock is not thread-safe)."""
    yield from _meta_store(request, request.param)


def _meta_store(request: pytest.FixtureRequest, name: str) -> Iterator[MetaUnderTest]:
    if name == "mongomock":
        db = mongomock.MongoClient(tz_aware=True)["filedrop_contract"]
        store: CatalogStore = MongoMetadataStore(db)
    elif name == "sqlite":
        store = SqliteMetadataStore(request.getfixturevalue("tmp_path") / "meta.sqlite3")
    else:
        server = request.getfixturevalue("ferretdb")
        client = server.client()
        store = MongoMetadataStore(client[_unique("fd").replace("-", "_")])
    store.ensure_indexes()
    yield MetaUnderTest(name, store)
    if isinstance(store, SqliteMetadataStore):
        store.close()
    elif name == "ferretdb":
        client.close()


@pytest.fixture(params=BLOB_STORES)
def blob_store(request: pytest.FixtureRequest) -> Iterator[BlobStore]:
    if request.param == "moto":
        with mock_aws():
            blobs = S3BlobStore.connect(
                None, "test", "test", "us-east-1", "filedrop-contract", part_size=PART_SIZE
            )
            blobs.ensure_bucket()
            yield blobs
        return
    if request.param == "local":
        local = LocalBlobStore(request.getfixturevalue("tmp_path") / "blobs", chunk_size=4096)
        local.ensure_bucket()
        yield local
        return
    server = request.getfixturevalue(request.param)
    s3 = S3BlobStore.connect(
        server.endpoint_url,
        server.access_key,
        server.secret_key,
        server.region,
        _unique("fd"),
        timeout_s=2.0,
        part_size=PART_SIZE,
    )
    s3.ensure_bucket()
    yield s3


@pytest.fixture
def app(backend: Backend) -> Flask:
    return create_app(backend.settings, blobs=backend.blobs, meta=backend.meta)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- markers ---------------------------------------------------------------------

_SERVER_FIXTURES = {"seaweedfs", "minio", "ferretdb", "real_backend"}
_SERVER_NAMES = ("seaweedfs", "minio", "ferretdb")


LAYERS = ("unit", "contract", "http", "live", "fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``real`` every test that starts a real server: through a session fixture,
    or through a parameter (``backend``, ``meta_store``...) that names one. A test with
    no layer would fall out of every ``-m`` selection: that is a collection error."""
    unlayered = [
        item.nodeid for item in items if not any(item.get_closest_marker(m) for m in LAYERS)
    ]
    if unlayered:
        raise pytest.UsageError("tests without a layer marker: " + ", ".join(unlayered[:5]))
    for item in items:
        params = getattr(item, "callspec", None)
        values = [str(v) for v in params.params.values()] if params else []
        uses_fixture = bool(_SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
        if uses_fixture or any(name in v for v in values for name in _SERVER_NAMES):
            item.add_marker(pytest.mark.real)


# -- CI: a skipped real-server test is a failure ------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):  # an expected failure ran
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_SERVERS and _skipped and exitstatus == 0:
        print(f"\nFILEDROP_REQUIRE_SERVERS=1 but {len(_skipped)} test(s) were skipped:")
        for nodeid in _skipped[:20]:
            print("  ", nodeid)
        session.exitstatus = 1
