"""Embedded mode's stores on their own: files on disk (LocalBlobStore) and SQLite metadata.

The HTTP contract runs against them through the ``backend`` fixture
(``local+sqlite``); these tests cover what only they can get wrong: atomic
writes, keys as paths, SQL prefix matching, and several threads and processes
sharing one database file.
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filedrop import create_app
from filedrop.backends import make_blob_store, make_metadata_store
from filedrop.errors import DatabaseUnavailable, StorageUnavailable
from filedrop.ids import new_blob_key, new_file_id
from filedrop.storage.blobs import BlobNotFound
from filedrop.storage.blobs.local import InvalidBlobKey, LocalBlobStore
from filedrop.storage.blobs.s3 import S3BlobStore
from filedrop.storage.metadata import FileRecord, ListOrder, field_names
from filedrop.storage.mongo import MongoMetadataStore
from filedrop.storage.sqlite import SqliteMetadataStore
from filedrop.storage.sqlite import files as sqlite_files
from filedrop.storage.sqlite import limits as sqlite_limits
from filedrop.storage.sqlite import schema as sqlite_schema
from tests.fixtures import _settings
from tests.helpers import pattern, upload_ok
from tests.records import chunks, file_record, read_blob, user_record

pytestmark = pytest.mark.unit

# -- fixtures and helpers -----------------------------------------------------


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    store = LocalBlobStore(tmp_path / "blobs", chunk_size=4096)
    assert store.ensure_bucket() is True
    assert store.ensure_bucket() is False
    return store


@pytest.fixture
def meta(tmp_path: Path) -> Iterator[SqliteMetadataStore]:
    store = SqliteMetadataStore(tmp_path / "meta.sqlite3")
    store.ensure_indexes()
    yield store
    store.close()


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- LocalBlobStore: writes are atomic ------------------------------------------


def test_put_then_read_whole_and_ranges(blobs: LocalBlobStore) -> None:
    content = pattern(50_000)
    key = new_blob_key(new_file_id())
    blobs.put_stream(key, chunks(content))
    assert read_blob(blobs, key) == content
    assert read_blob(blobs, key, 0, 0) == content[:1]
    assert read_blob(blobs, key, 4095, 8200) == content[4095:8201]
    assert read_blob(blobs, key, 49_990) == content[49_990:]
    assert read_blob(blobs, key, 49_990, 10**9) == content[49_990:]  # clamped, as S3 does
    assert blobs.exists(key)


def test_reader_yields_bounded_chunks(blobs: LocalBlobStore) -> None:
    key = new_blob_key(new_file_id())
    blobs.put_stream(key, [pattern(20_000)])
    reader = blobs.open(key)
    sizes = [len(chunk) for chunk in reader]
    reader.close()
    assert max(sizes) <= 4096 and sum(sizes) == 20_000


def test_failing_before_commit_stores_nothing_and_leaves_no_temp_file(
    blobs: LocalBlobStore,
) -> None:
    key = new_blob_key(new_file_id())

    def refuse() -> None:
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError):
        blobs.put_stream(key, chunks(pattern(30_000)), refuse)
    assert not blobs.exists(key)
    assert _files_under(blobs.root) == []
    assert list(blobs.iter_blobs("blobs/")) == []


def test_raising_chunk_iterator_stores_nothing_and_leaves_no_temp_file(
    blobs: LocalBlobStore,
) -> None:
    key = new_blob_key(new_file_id())

    def broken() -> Iterator[bytes]:
        yield b"x" * 10_000
        raise ConnectionResetError("client went away")

    committed: list[bool] = []
    with pytest.raises(ConnectionResetError):
        blobs.put_stream(key, broken(), lambda: committed.append(True))
    assert committed == []
    assert not blobs.exists(key)
    assert _files_under(blobs.root) == []


def test_write_is_invisible_until_it_commits(blobs: LocalBlobStore) -> None:
    key = new_blob_key(new_file_id())
    seen: list[bool] = []

    def before_commit() -> None:
        seen.append(blobs.exists(key))

    blobs.put_stream(key, [b"abc"], before_commit)
    assert seen == [False]
    assert blobs.exists(key)


def test_disk_errors_are_storage_unavailable_and_leave_nothing(
    blobs: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_blob_key(new_file_id())

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("filedrop.storage.blobs.local.os.fsync", full)
    with pytest.raises(StorageUnavailable):
        blobs.put_stream(key, [b"abc"])
    monkeypatch.undo()
    assert _files_under(blobs.root) == []


def test_missing_blob_is_not_found_and_delete_is_idempotent(blobs: LocalBlobStore) -> None:
    key = new_blob_key(new_file_id())
    with pytest.raises(BlobNotFound):
        blobs.open(key)
    assert not blobs.exists(key)
    blobs.delete(key)
    blobs.put_stream(key, [b"abc"])
    blobs.delete(key)
    blobs.delete(key)
    assert not blobs.exists(key)
    with pytest.raises(BlobNotFound):
        blobs.open(key)
    assert list(blobs.root.iterdir()) == []  # emptied directories are pruned


def test_open_reader_survives_the_blob_being_deleted(blobs: LocalBlobStore) -> None:
    """A replace deletes the old blob while a download may still be streaming it."""
    key = new_blob_key(new_file_id())
    content = pattern(40_000)
    blobs.put_stream(key, [content])
    reader = blobs.open(key)
    blobs.delete(key)
    assert b"".join(reader) == content
    reader.close()


def test_copy_and_write_after_directory_was_pruned(blobs: LocalBlobStore) -> None:
    file_id = new_file_id()
    first, second = new_blob_key(file_id), new_blob_key(file_id)
    blobs.put_stream(first, [b"content"])
    blobs.copy(first, second)
    assert read_blob(blobs, second) == b"content"
    blobs.delete(first)
    blobs.delete(second)
    blobs.put_stream(first, [b"again"])  # its directory was removed: made again
    assert read_blob(blobs, first) == b"again"
    with pytest.raises(BlobNotFound):
        blobs.copy(new_blob_key(file_id), second)


# -- LocalBlobStore: keys never become arbitrary paths ----------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "blobs/../../outside",
        "blobs/./x",
        "blobs//x",
        "blobs/x/",
        "blobs\\x",
        "blobs/x.tmp",
        "blobs/.hidden",
        "blobs/caf\u00e9",
        "blobs/x\n",
        "blobs/x\x00y",
        "C:/x",
    ],
)
def test_keys_that_are_not_ours_never_touch_the_filesystem(
    blobs: LocalBlobStore, tmp_path: Path, key: str
) -> None:
    before = sorted(tmp_path.rglob("*"))
    for call in (
        lambda: blobs.put_stream(key, [b"evil"]),
        lambda: blobs.open(key),
        lambda: blobs.delete(key),
        lambda: blobs.exists(key),
        lambda: blobs.copy(new_blob_key(new_file_id()), key),
    ):
        with pytest.raises(InvalidBlobKey):
            call()
    assert sorted(tmp_path.rglob("*")) == before


def test_listing_with_a_foreign_prefix_finds_nothing(blobs: LocalBlobStore, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not a blob")
    blobs.put_stream(new_blob_key(new_file_id()), [b"abc"])
    assert list(blobs.iter_blobs("../")) == []
    assert list(blobs.iter_blobs("/etc/")) == []
    assert len(list(blobs.iter_blobs(""))) == 1


# -- LocalBlobStore: listing and sweeping ---------------------------------------


def test_iter_blobs_lists_committed_blobs_with_utc_times(blobs: LocalBlobStore) -> None:
    keys = sorted(new_blob_key(new_file_id()) for _ in range(5))
    for number, key in enumerate(keys):
        blobs.put_stream(key, [b"x" * number])
    (blobs.root / "blobs" / ".stray.0123abcd.tmp").write_bytes(b"half")
    (blobs.root / "blobs" / "notes.txt").write_bytes(b"not ours: never listed, never deleted")
    started = datetime.now(UTC) - timedelta(minutes=1)
    listed = list(blobs.iter_blobs("blobs/"))
    assert [info.key for info in listed] == keys
    assert [info.size for info in listed] == list(range(5))
    for info in listed:
        assert info.last_modified.tzinfo is not None
        assert info.last_modified.utcoffset() == timedelta(0)
        assert info.last_modified > started
    one = keys[2]
    assert [info.key for info in blobs.iter_blobs(one[: len("blobs/") + 5])] == [
        k for k in keys if k.startswith(one[: len("blobs/") + 5])
    ]
    assert list(blobs.iter_blobs("nothing/")) == []


def test_abort_stale_uploads_sweeps_only_old_temp_files(blobs: LocalBlobStore) -> None:
    file_id = new_file_id()
    key = new_blob_key(file_id)
    directory = blobs.root / "blobs" / file_id
    directory.mkdir(parents=True)
    stale = directory / f".{key.rsplit('/', 1)[1]}.00ff00ff00ff00ff.tmp"
    stale.write_bytes(b"crashed mid-write")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = directory / ".other.1234.tmp"
    fresh.write_bytes(b"still being written")
    cutoff = datetime.now(UTC) - timedelta(hours=1)

    assert blobs.abort_stale_uploads("blobs/", cutoff, dry_run=True) == [key]
    assert stale.exists()
    assert blobs.abort_stale_uploads("blobs/", cutoff, dry_run=False) == [key]
    assert not stale.exists() and fresh.exists()
    assert list(blobs.iter_blobs("blobs/")) == []
    os.utime(fresh, (old, old))
    blobs.abort_stale_uploads("blobs/", cutoff, dry_run=False)
    assert list(blobs.root.iterdir()) == []  # emptied directories are pruned


def test_check_needs_the_data_directory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "not-yet")
    with pytest.raises(StorageUnavailable):
        store.check()
    store.ensure_bucket()
    store.check()


def test_memory_stays_bounded_while_streaming_in_and_out(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", chunk_size=256 * 1024)
    store.ensure_bucket()
    key = new_blob_key(new_file_id())
    chunk = b"z" * (256 * 1024)
    size = 64 * 1024**2
    tracemalloc.start()
    try:
        store.put_stream(key, (chunk for _ in range(size // len(chunk))))
        reader = store.open(key)
        total = sum(len(part) for part in reader)
        reader.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 4 * 1024**2


# -- SqliteMetadataStore (the protocol's contract: tests/contract/test_metadata.py) -----


def test_iter_all_pages_through_every_owner(
    meta: SqliteMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_files, "_SCAN_PAGE", 3)
    records = [file_record(owner=f"user{n % 3}") for n in range(10)]
    for record in records:
        meta.insert(record)
    assert sorted(r.file_id for r in meta.iter_all()) == sorted(r.file_id for r in records)
    meta.remove(records[0].file_id)
    assert len(list(meta.iter_all())) == 9


def test_a_locked_database_is_database_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SqliteMetadataStore(path, timeout_s=0.2)
    store.ensure_indexes()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable):
            store.insert(file_record())
        assert store.list("alice", 10, None, None) == []  # WAL: readers still read
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.insert(file_record())
    store.close()


def test_unopenable_database_is_database_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    store = SqliteMetadataStore(tmp_path / "file" / "meta.sqlite3")
    with pytest.raises(DatabaseUnavailable):
        store.check()


# -- SqliteMetadataStore: rate-limit windows ------------------------------------


def test_hit_counts_per_bucket_and_window_and_prunes_old_windows(
    meta: SqliteMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    assert [meta.hit("key-a", now, 60) for _ in range(3)] == [1, 2, 3]
    assert meta.hit("key-b", now, 60) == 1
    assert meta.hit("key-a", now + 60, 60) == 1
    meta.hit("old", now - 3600, 60)
    monkeypatch.setattr(sqlite_limits, "_PRUNE_EVERY", 1)
    meta.hit("key-a", now, 60)
    conn = sqlite3.connect(meta.path)
    buckets = {row[0] for row in conn.execute("SELECT bucket FROM rate_limits")}
    conn.close()
    assert buckets == {"key-a", "key-b"}


def test_connections_outlive_the_threads_that_used_them(
    meta: SqliteMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's thread (or, under gevent workers, its greenlet) ends with the
    request: the next one reuses the connection instead of opening its own."""
    record = file_record()
    meta.insert(record)
    opened: list[sqlite3.Connection] = []
    connect = meta._connect

    def counted() -> sqlite3.Connection:
        opened.append(connect())
        return opened[-1]

    monkeypatch.setattr(meta, "_connect", counted)
    for _ in range(20):
        thread = threading.Thread(target=meta.get, args=(record.owner, record.file_id))
        thread.start()
        thread.join()
    assert len(opened) <= 1
    # Concurrent callers each get a connection of their own, and leave it for the next.
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: meta.get(record.owner, record.file_id), range(200)))
    assert all(r is not None and r.file_id == record.file_id for r in found)
    assert len(opened) <= 5


def test_first_connections_to_a_new_database_all_succeed(tmp_path: Path) -> None:
    """Requests that meet a new database together each open a connection and switch
    it to WAL; SQLite refuses that switch at once while others are busy, without
    waiting, so it is retried. Each round is a new database: before the retry,
    40 rounds saw 3 failures, and this test failed 3 runs in 3."""
    for round_ in range(60):
        store = SqliteMetadataStore(tmp_path / f"new-{round_}.sqlite3")
        barrier = threading.Barrier(12)

        def first_hit(
            _: int, store: SqliteMetadataStore = store, barrier: threading.Barrier = barrier
        ) -> int:
            barrier.wait(timeout=10)
            return store.hit("bucket", 0, 60)

        with ThreadPoolExecutor(12) as pool:
            counts = sorted(pool.map(first_hit, range(12)))
        assert counts == list(range(1, 13))
        store.close()


# -- several processes on one database file ------------------------------------------


def _hammer(path: str, worker: int, count: int, start_at: float) -> int:
    """One process's share of writes; runs in a fresh interpreter (spawn)."""
    time.sleep(max(0.0, start_at - time.time()))
    store = SqliteMetadataStore(path)
    store.ensure_indexes()
    for n in range(count):
        record = file_record(owner=f"w{worker}", name=f"{worker}-{n}")
        store.insert(record)
        store.update(record.owner, record.file_id, {"file_name": f"renamed {n}"}, record.sha256)
        store.hit("shared", 0, 60)
        assert store.reserve("shared-user", 1, 1)
    return count


@pytest.mark.live  # two fresh interpreters: seconds, so outside the inner loop
def test_two_processes_share_one_database_without_lock_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    setup = SqliteMetadataStore(path)
    setup.create_user(user_record("shared-user", quota=10**9))
    setup.close()
    count = 150
    start_at = time.time() + 2.0  # both interpreters are up before either writes
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        done = list(pool.map(_hammer, [str(path)] * 2, [0, 1], [count] * 2, [start_at] * 2))
    assert done == [count, count]
    store = SqliteMetadataStore(path)
    assert len(list(store.iter_all())) == 2 * count
    assert store.hit("shared", 0, 60) == 2 * count + 1
    user = store.get_user("shared-user")
    assert user is not None and (user.bytes_used, user.file_count) == (2 * count, 2 * count)
    store.close()


def _use_inherited_store(store: SqliteMetadataStore) -> None:
    store.insert(file_record(owner="child"))


def test_a_forked_worker_opens_its_own_connection(meta: SqliteMetadataStore) -> None:
    """gunicorn --preload forks after create_app has used the store."""
    meta.insert(file_record(owner="parent"))
    child = multiprocessing.get_context("fork").Process(target=_use_inherited_store, args=(meta,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert len(meta.list("child", 10, None, None)) == 1
    meta.insert(file_record(owner="parent"))  # the parent's connection still works
    assert len(meta.list("parent", 10, None, None)) == 2


# -- embedded mode end to end ------------------------------------------------------


def test_embedded_settings_choose_local_and_sqlite(tmp_path: Path) -> None:
    settings = _settings(data_dir=str(tmp_path))
    assert settings.backend == "embedded"
    blob_store, meta_store = make_blob_store(settings), make_metadata_store(settings)
    assert isinstance(blob_store, LocalBlobStore) and blob_store.root == tmp_path / "blobs"
    assert isinstance(meta_store, SqliteMetadataStore)
    assert meta_store.path == tmp_path / "filedrop.sqlite3"
    servers = settings.with_overrides(
        mongo_uri="mongodb://127.0.0.1:1", s3_endpoint_url="http://127.0.0.1:1"
    )
    assert isinstance(make_blob_store(servers), S3BlobStore)
    assert isinstance(make_metadata_store(servers), MongoMetadataStore)


def test_files_persist_across_restarts_with_same_ids_and_sha256(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = _settings(data_dir=str(data_dir))
    content = pattern(300_000)
    first = create_app(settings).test_client()
    assert first.get("/readyz").status_code == 200  # no setup step: directories made at startup
    uploaded = [upload_ok(first, content, "big.bin"), upload_ok(first, b"small", "100% _x.txt")]
    assert (data_dir / "filedrop.sqlite3").is_file() and (data_dir / "blobs").is_dir()

    second = create_app(settings).test_client()
    listed = second.get("/files").get_json()["files"]
    assert [f["file_id"] for f in listed] == [m["file_id"] for m in reversed(uploaded)]
    for meta in uploaded:
        again = second.get(f"/files/{meta['file_id']}/metadata").get_json()
        assert again == meta
    body = second.get(f"/files/{uploaded[0]['file_id']}")
    assert body.data == content
    assert hashlib.sha256(body.data).hexdigest() == uploaded[0]["sha256"]
    assert second.get("/files?prefix=100%25%20_").get_json()["files"] == [uploaded[1]]


# -- SqliteMetadataStore: numbered schema migrations ---------------------------------


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_database_starts_at_the_latest_schema_version(meta: SqliteMetadataStore) -> None:
    assert _user_version(meta.path) == sqlite_schema.SCHEMA_VERSION == len(sqlite_schema.MIGRATIONS)


def test_each_migration_runs_once_and_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "meta.sqlite3"
    first = SqliteMetadataStore(path)
    first.insert(file_record())
    first.close()
    ran: list[int] = []
    top = sqlite_schema.SCHEMA_VERSION
    later = (
        (top + 1, lambda conn: ran.append(top + 1)),
        (top + 2, lambda conn: ran.append(top + 2) or conn.execute("CREATE TABLE extra (x INT)")),
    )
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", (*sqlite_schema.MIGRATIONS, *later))
    for _ in range(2):  # the second store finds nothing left to do
        store = SqliteMetadataStore(path)
        assert len(store.list("alice", 10, None, None)) == 1
        store.close()
    assert ran == [top + 1, top + 2] and _user_version(path) == top + 2


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "meta.sqlite3"
    SqliteMetadataStore(path).ensure_indexes()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        raise sqlite3.OperationalError("disk I/O error")

    top = sqlite_schema.SCHEMA_VERSION
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", (*sqlite_schema.MIGRATIONS, (top + 1, broken)))
    with pytest.raises(DatabaseUnavailable):
        SqliteMetadataStore(path).check()
    assert _user_version(path) == top
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables


def test_a_database_from_before_numbered_migrations_is_adopted(tmp_path: Path) -> None:
    """Version 0 but every table and column already there: the steps find their work done."""
    path = tmp_path / "meta.sqlite3"
    record = file_record()
    store = SqliteMetadataStore(path)
    store.insert(record)
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 0")
    store = SqliteMetadataStore(path)
    assert store.get("alice", record.file_id) == record
    store.close()
    assert _user_version(path) == sqlite_schema.SCHEMA_VERSION


def test_the_name_key_migration_fills_in_the_files_already_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files stored before name order sort by their casefolded names once migrated."""
    path = tmp_path / "meta.sqlite3"
    before = tuple(step for step in sqlite_schema.MIGRATIONS if step[1] is not _NAME_KEY_STEP)
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_schema, "MIGRATIONS", before)
        SqliteMetadataStore(path).ensure_indexes()
    records = [file_record(name=name) for name in ("b.txt", "Straße.txt", "A.txt", "c.txt")]
    columns = field_names(FileRecord)
    with sqlite3.connect(path) as conn:  # rows as the older release wrote them
        for record in records:
            values = [sqlite_files._stored(c, getattr(record, c)) for c in columns]
            marks = ", ".join("?" * len(columns))
            conn.execute(f"INSERT INTO files ({', '.join(columns)}) VALUES ({marks})", values)
    store = SqliteMetadataStore(path)
    listed = store.list("alice", 10, None, None, order=ListOrder("name", descending=False))
    assert [r.file_name for r in listed] == ["A.txt", "b.txt", "c.txt", "Straße.txt"]
    store.close()
    assert _user_version(path) == sqlite_schema.SCHEMA_VERSION


_NAME_KEY_STEP = sqlite_schema._add_name_key_and_sort_indexes
