"""The metadata-store contract: every promise of filedrop/storage/metadata.py's
protocols, checked against every implementation (mongomock, SQLite, FerretDB).

A store that passes here can back the service; the HTTP suites then check the
rules built on top. Concurrency promises run only where threads may share the
store, and FerretDB's lost updates are marked where it cannot keep them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from filedrop.ids import new_blob_key, new_file_id, new_upload_id
from filedrop.storage.metadata import (
    NEWEST_FIRST,
    FileRecord,
    FileStore,
    LinkRecord,
    ListCursor,
    ListOrder,
    UploadRecord,
    utcnow,
)
from tests.fixtures import MetaUnderTest
from tests.records import file_record, user_record

pytestmark = pytest.mark.contract

# Measured on FerretDB v1.24.2 (sqlite handler, 2 cores), three runs: ten threads of
# fifty hit()s on one window counted 244-273 of 500; twenty racing reserve()s of 10
# against a quota of 100 admitted 10-20 per user (4 of 5 users over the quota per run),
# with bytes_used left anywhere from 10 to 100.
FERRETDB_LOSES_UPDATES = (
    "FerretDB v1 applies an update as a read plus a separate write: racing updates "
    "of one document overwrite each other"
)


def _link(
    owner: str = "alice",
    file_id: str = "f1",
    max_downloads: int | None = None,
    expires_at: datetime | None = None,
    created_at: datetime | None = None,
) -> LinkRecord:
    token_hash = hashlib.sha256(new_file_id().encode()).hexdigest()
    return LinkRecord(
        token_hash=token_hash,
        link_id=new_file_id(),
        owner=owner,
        file_id=file_id,
        blob_key=new_blob_key(file_id),
        created_at=created_at or utcnow(),
        expires_at=expires_at,
        max_downloads=max_downloads,
        downloads=0,
        password_hash=None,
        revoked_at=None,
    )


def _upload(owner: str = "alice", expires_at: datetime | None = None) -> UploadRecord:
    now = utcnow()
    file_id = new_file_id()
    return UploadRecord(
        upload_id=new_upload_id(),
        owner=owner,
        length=100,
        offset=0,
        metadata="filename ZS50eHQ=",
        file_name="e.txt",
        file_type=None,
        folder=None,
        file_id=file_id,
        blob_key=new_blob_key(file_id),
        multipart_id="mp-1",
        part_size=5 * 1024**2,
        parts=(),
        staged=(),
        created_at=now,
        expires_at=expires_at or now + timedelta(days=1),
    )


def _ids(records: list[FileRecord]) -> list[str]:
    return [r.file_id for r in records]


def _race(threads: int, work: object) -> list[object]:
    barrier = threading.Barrier(threads)

    def one(i: int) -> object:
        barrier.wait()
        return work(i)  # type: ignore[operator]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def _xfail_where_updates_race(request: pytest.FixtureRequest, meta: MetaUnderTest) -> None:
    if meta.loses_racing_updates:
        request.applymarker(pytest.mark.xfail(strict=True, reason=FERRETDB_LOSES_UPDATES))


# -- files -----------------------------------------------------------------------


def test_records_round_trip_with_millisecond_utc_times(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    moment = datetime(2026, 11, 25, 19, 30, 0, 123_000, tzinfo=UTC)
    record = file_record(created_at=moment, expires_at=moment + timedelta(days=1), folder="/a/b")
    store.insert(record)
    assert store.get("alice", record.file_id) == record
    assert store.get("alice", record.file_id, counts=False) == record
    assert store.get("mallory", record.file_id) is None  # users stay isolated
    assert store.get("alice", "nosuchfile") is None


def test_update_returns_the_record_before_and_honours_sha256(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    record = file_record()
    store.insert(record)
    assert store.update("alice", record.file_id, {"file_name": "x"}, if_sha256="0" * 64) is None
    assert store.update("mallory", record.file_id, {"file_name": "x"}) is None
    before = store.update("alice", record.file_id, {"file_name": "b.txt"}, record.sha256)
    assert before == record
    assert store.get("alice", record.file_id) == replace(record, file_name="b.txt")
    assert store.update("alice", "nosuchfile", {"file_name": "x"}) is None


@pytest.mark.parametrize(
    "field",
    ["file_id", "owner", "download_count", "last_accessed_at", "not_a_field", "x = 'y'; --"],
)
def test_update_refuses_what_is_not_a_changeable_field(
    meta_store: MetaUnderTest, field: str
) -> None:
    """Identity and download bookkeeping are not the record's own writes; unknown keys
    are a bug in the caller, not something to store."""
    store = meta_store.store
    record = file_record()
    store.insert(record)
    with pytest.raises(ValueError, match="not changeable file record fields"):
        store.update("alice", record.file_id, {field: 1})
    assert store.get("alice", record.file_id) == record


def test_delete_returns_the_record_and_honours_sha256(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    record = file_record()
    store.insert(record)
    assert store.delete("alice", record.file_id, if_sha256="0" * 64) is None
    assert store.delete("mallory", record.file_id) is None
    assert store.delete("alice", record.file_id, if_sha256=record.sha256) == record
    assert store.get("alice", record.file_id) is None
    assert store.delete("alice", record.file_id) is None


def test_list_is_newest_first_and_a_cursor_pages_through_ties(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    moment = utcnow()
    tied = [file_record(created_at=moment) for _ in range(3)]
    older = file_record(created_at=moment - timedelta(seconds=1))
    for record in [older, *tied, file_record(owner="bob")]:
        store.insert(record)
    expected = [*sorted(_ids(tied), reverse=True), older.file_id]
    assert _ids(store.list("alice", 10, None, None)) == expected
    assert _paged(store, NEWEST_FIRST) == expected


def _paged(store: FileStore, order: ListOrder, folder: str | None = None) -> list[str]:
    """Every file_id of alice's listing in ``order``, two a page, through cursors."""
    seen: list[str] = []
    cursor = None
    while page := store.list("alice", 2, cursor, None, folder=folder, order=order):
        seen += _ids(page)
        cursor = ListCursor(order.key(page[-1]), page[-1].file_id)
    return seen


# Names whose casefolds tie ("Apple", "apple", "APPLE"; "Straße", "STRASSE"), sort
# differently by code point than by casefold ("Zebra" < "apple" in binary), and reach
# beyond ASCII ("Éclair" casefolds to "éclair", after every ASCII letter).
_NAMES = ["banana", "Apple", "apple", "Zebra", "Éclair", "APPLE", "Straße", "STRASSE", "cherry"]


def _by(order: ListOrder, records: list[FileRecord]) -> list[str]:
    ranked = sorted(records, key=lambda r: (order.key(r), r.file_id), reverse=order.descending)
    return _ids(ranked)


@pytest.mark.parametrize("descending", [False, True])
def test_list_by_name_is_casefolded_with_ties_by_file_id(
    meta_store: MetaUnderTest, descending: bool
) -> None:
    store = meta_store.store
    records = [file_record(name=name, folder="/docs") for name in _NAMES]
    for record in [*records, file_record(name="aardvark"), file_record(owner="bob", name="a")]:
        store.insert(record)
    order = ListOrder("name", descending)
    expected = _by(order, records)
    listed = store.list("alice", 20, None, None, folder="/docs", order=order)
    folded = ["apple"] * 3 + ["banana", "cherry", "strasse", "strasse", "zebra", "éclair"]
    assert [r.file_name.casefold() for r in listed] == (folded[::-1] if descending else folded)
    assert _ids(listed) == expected
    assert _paged(store, order, folder="/docs") == expected


def test_a_rename_moves_a_file_in_name_order(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    first, second = file_record(name="a.txt"), file_record(name="b.txt")
    for record in (first, second):
        store.insert(record)
    store.update("alice", first.file_id, {"file_name": "C.txt"})
    order = ListOrder("name", descending=False)
    assert _ids(store.list("alice", 10, None, None, order=order)) == [
        second.file_id,
        first.file_id,
    ]


@pytest.mark.parametrize("descending", [False, True])
def test_list_by_size_and_by_date_both_ways_with_ties_by_file_id(
    meta_store: MetaUnderTest, descending: bool
) -> None:
    store = meta_store.store
    moment = utcnow()
    records = [
        replace(file_record(created_at=moment - timedelta(seconds=n % 3)), file_size=size)
        for n, size in enumerate([5, 0, 5, 10**12, 7, 5, 0])
    ]
    for record in records:
        store.insert(record)
    for sort in ("size", "date"):
        order = ListOrder(sort, descending)
        assert _ids(store.list("alice", 20, None, None, order=order)) == _by(order, records)
        assert _paged(store, order) == _by(order, records)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("100%", ["100% done.txt"]),
        ("a_b", ["a_b.txt"]),
        ("a%", []),
        ("_", ["_hidden"]),
        ("(x)", ["(x).txt"]),
        ("a.", []),  # not a regex either
        ("\u00e9t\u00e9", ["\u00e9t\u00e9 \U0001f31e.jpg"]),
        ("\U0001f31e", ["\U0001f31e only"]),
        ("A", []),  # case-sensitive
        ("'; DROP TABLE files; --", []),
    ],
)
def test_prefix_is_matched_literally(
    meta_store: MetaUnderTest, prefix: str, expected: list[str]
) -> None:
    store = meta_store.store
    names = [
        "100% done.txt",
        "100 percent.txt",
        "a_b.txt",
        "axb.txt",
        "abc",
        "_hidden",
        "(x).txt",
        "\u00e9t\u00e9 \U0001f31e.jpg",
        "\u00e9te.jpg",
        "\U0001f31e only",
    ]
    for name in names:
        store.insert(file_record(name=name))
    assert sorted(r.file_name for r in store.list("alice", 100, None, prefix)) == expected
    assert len(store.list("alice", 100, None, None)) == len(names)


def test_list_by_folder_recursively_and_live(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = utcnow()
    root, docs, deep, sibling = (
        file_record(folder="/"),
        file_record(folder="/docs"),
        file_record(folder="/docs/deep"),
        file_record(folder="/docsx"),
    )
    expired = file_record(folder="/docs", expires_at=now - timedelta(seconds=1))
    for record in (root, docs, deep, sibling, expired):
        store.insert(record)

    def listed(folder: str | None, recursive: bool, live: bool = True) -> set[str]:
        found = store.list(
            "alice",
            10,
            None,
            None,
            folder=folder,
            recursive=recursive,
            live_at=now if live else None,
        )
        return set(_ids(found))

    assert listed("/", False) == {root.file_id}
    assert listed("/docs", False) == {docs.file_id}
    assert listed("/docs", False, live=False) == {docs.file_id, expired.file_id}
    assert listed("/docs", True) == {docs.file_id, deep.file_id}
    assert (
        listed("/", True) == listed(None, False) == {r.file_id for r in (root, docs, deep, sibling)}
    )


def test_find_named_sees_live_files_in_exactly_one_folder(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = utcnow()
    here = file_record(name="a.txt", folder="/x")
    for record in (
        here,
        file_record(name="a.txt", folder="/x/y"),
        file_record(name="a.txt", folder="/x", expires_at=now),
        file_record(name="a.txt", folder="/x", owner="bob"),
        file_record(name="b.txt", folder="/x"),
    ):
        store.insert(record)
    assert _ids(store.find_named("alice", "/x", "a.txt", now)) == [here.file_id]


def test_iter_all_and_remove_see_every_owner(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    records = [file_record(owner=f"user{i % 3}") for i in range(7)]
    for record in records:
        store.insert(record)
    assert sorted(_ids(list(store.iter_all()))) == sorted(_ids(records))
    store.remove(records[0].file_id)
    store.remove("nosuchfile")
    assert store.get(records[0].owner, records[0].file_id) is None
    assert len(list(store.iter_all())) == 6


def test_record_access_counts_downloads_that_survive_updates(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    record = file_record()
    store.insert(record)
    first, second = utcnow(), utcnow() + timedelta(seconds=5)
    store.record_access(record.file_id, first)
    store.record_access(record.file_id, second)
    store.update("alice", record.file_id, {"blob_key": new_blob_key(record.file_id)})
    found = store.get("alice", record.file_id)
    assert found is not None
    assert (found.download_count, found.last_accessed_at) == (2, second)
    assert _ids(store.list("alice", 1, None, None)) == [record.file_id]
    assert store.list("alice", 1, None, None)[0].download_count == 2


def test_purgeable_finds_expired_and_unaccessed_files_in_pages(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = utcnow()
    long_ago = now - timedelta(days=30)
    expired = file_record(expires_at=now - timedelta(seconds=1))
    stale = file_record(created_at=long_ago)
    stale_but_downloaded = file_record(created_at=long_ago)
    fresh = file_record(expires_at=now + timedelta(days=1))
    for record in (expired, stale, stale_but_downloaded, fresh):
        store.insert(record)
    store.record_access(stale_but_downloaded.file_id, now)
    found, after = store.purgeable(now, None, "", 10)
    assert (_ids(found), after) == ([expired.file_id], None)
    cutoff = now - timedelta(days=1)
    everything: list[str] = []
    after_id: str | None = ""
    while after_id is not None:
        page, after_id = store.purgeable(now, cutoff, after_id, 1)
        everything += _ids(page)
    assert sorted(everything) == sorted([expired.file_id, stale.file_id])


def test_check_answers(meta_store: MetaUnderTest) -> None:
    meta_store.store.check()
    meta_store.store.ensure_indexes()  # again: idempotent


# -- users -------------------------------------------------------------------------


def test_users_by_id_and_key_hash_oldest_first(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    first = user_record("u1")
    second = replace(user_record("u2"), created_at=first.created_at + timedelta(seconds=1))
    store.create_user(second)
    store.create_user(first)
    assert store.get_user("u1") == first
    assert store.find_by_key_hash("hash-u2") == second
    assert store.find_by_key_hash("nope") is None
    assert store.list_users() == [first, second]
    assert store.set_key_hash("u1", "rotated") is True
    assert store.set_key_hash("nobody", "x") is False
    assert store.find_by_key_hash("hash-u1") is None
    assert store.get_user("u1") == replace(first, key_hash="rotated")
    assert store.delete_user("u1") == replace(first, key_hash="rotated")
    assert store.delete_user("u1") is None
    assert store.get_user("u1") is None


def test_reserve_keeps_the_quota_and_release_gives_back(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    store.create_user(user_record("u1", quota=100))
    assert store.reserve("u1", 60, 1) is True
    assert store.reserve("u1", 41, 1) is False
    assert store.reserve("u1", 40, 1) is True
    store.release("u1", 30, 1)
    user = store.get_user("u1")
    assert user is not None and (user.bytes_used, user.file_count) == (70, 1)
    store.set_usage("u1", 5, 9)
    user = store.get_user("u1")
    assert user is not None and (user.bytes_used, user.file_count) == (5, 9)
    assert store.reserve("implicit-user", 10**12, 1) is True  # no record: no quota


def test_reserve_never_exceeds_the_quota_under_racing_threads(
    threaded_meta_store: MetaUnderTest, request: pytest.FixtureRequest
) -> None:
    """Five users, twenty racers each asking for a tenth of the quota: ten get in."""
    meta = threaded_meta_store
    _xfail_where_updates_race(request, meta)
    for user_id in (f"racer{i}" for i in range(5)):
        meta.store.create_user(user_record(user_id, quota=100))
        admitted = _race(20, lambda _, u=user_id: meta.store.reserve(u, 10, 1))
        user = meta.store.get_user(user_id)
        assert user is not None
        assert admitted.count(True) == 10 and (user.bytes_used, user.file_count) == (100, 10)


# -- rate-limit counters --------------------------------------------------------------


def test_hit_counts_per_bucket_and_window(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = int(time.time())  # windows that ended are swept now and then
    assert store.hit("k1", now, 60) == 1
    assert store.hit("k1", now, 60, n=3) == 4
    assert store.hit("k2", now, 60) == 1
    assert store.hit("k1", now + 60, 60) == 1


def test_hit_counts_every_racing_request(
    threaded_meta_store: MetaUnderTest, request: pytest.FixtureRequest
) -> None:
    meta_store = threaded_meta_store
    _xfail_where_updates_race(request, meta_store)

    now = int(time.time())

    def fifty(_: int) -> None:
        for _ in range(50):
            meta_store.store.hit("busy", now, 60)

    _race(10, fifty)
    assert meta_store.store.hit("busy", now, 60, n=0) == 500


# -- resumable uploads ----------------------------------------------------------------


def test_uploads_are_found_by_owner_only(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    upload = replace(_upload(), parts=((1, '"etag1"'),), staged=(("uploads/x/y", 7),))
    store.insert_upload(upload)
    assert store.get_upload("alice", upload.upload_id) == upload
    assert store.get_upload("bob", upload.upload_id) is None


def test_an_upload_lease_is_held_by_one_lock_until_it_lapses(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    upload = _upload()
    store.insert_upload(upload)
    now = utcnow()
    later = now + timedelta(seconds=30)
    locked = store.lock_upload("alice", upload.upload_id, "A", now, later)
    assert locked == replace(upload, lock="A", lock_until=later)
    assert store.lock_upload("bob", upload.upload_id, "B", now, later) is None
    assert store.lock_upload("alice", upload.upload_id, "B", now, later) is None
    assert store.renew_upload_lock(upload.upload_id, "B", later) is False
    assert store.renew_upload_lock(upload.upload_id, "A", later + timedelta(seconds=1)) is True
    # Lapsed: another request may take it over, and the old holder is out.
    after = later + timedelta(seconds=2)
    assert store.lock_upload("alice", upload.upload_id, "B", after, after + timedelta(30))
    assert store.commit_upload(upload.upload_id, "A", {"offset": 50}) is False
    assert store.delete_upload(upload.upload_id, "A") is None


def test_commit_upload_applies_progress_and_frees_the_lease(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    upload = _upload()
    store.insert_upload(upload)
    now = utcnow()
    store.lock_upload("alice", upload.upload_id, "A", now, now + timedelta(seconds=30))
    progress = {"offset": 60, "parts": ((1, '"e1"'),), "staged": (("uploads/u/k", 10),)}
    with pytest.raises(ValueError):
        store.commit_upload(upload.upload_id, "A", {"owner": "mallory"})
    assert store.commit_upload(upload.upload_id, "A", progress) is True
    assert store.get_upload("alice", upload.upload_id) == replace(upload, **progress)  # type: ignore[arg-type]
    assert store.commit_upload(upload.upload_id, "A", {"offset": 70}) is False
    store.lock_upload("alice", upload.upload_id, "B", now, now + timedelta(seconds=30))
    removed = store.delete_upload(upload.upload_id, "B")
    assert removed is not None and removed.offset == 60
    assert store.get_upload("alice", upload.upload_id) is None


def test_iter_uploads_sees_every_owner_or_the_expired(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = utcnow()
    old = _upload(owner="bob", expires_at=now - timedelta(hours=1))
    young = _upload(expires_at=now + timedelta(hours=1))
    store.insert_upload(old)
    store.insert_upload(young)
    assert {u.upload_id for u in store.iter_uploads()} == {old.upload_id, young.upload_id}
    assert [u.upload_id for u in store.iter_uploads(expired_before=now)] == [old.upload_id]


# -- folders ----------------------------------------------------------------------------


def test_folders_are_recorded_once_and_deleted_alone_or_beneath(
    meta_store: MetaUnderTest,
) -> None:
    store = meta_store.store
    now = utcnow()
    for path in ("/a", "/a/b", "/a/b/c", "/ab"):
        assert store.create_folder("alice", path, now) is True
    assert store.create_folder("alice", "/a", now) is False
    assert store.folder_recorded("alice", "/a") and not store.folder_recorded("bob", "/a")
    assert store.delete_folders("alice", "/a/b", recursive=False) == 1
    assert store.folder_recorded("alice", "/a/b/c")
    assert store.delete_folders("alice", "/a", recursive=True) == 2
    assert store.folder_recorded("alice", "/ab")
    assert store.delete_folders("alice", "/", recursive=True) == 1


def test_folders_beneath_come_from_live_files_and_records(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    now = utcnow()
    store.insert(file_record(folder="/docs/2024"))
    store.insert(file_record(folder="/gone", expires_at=now))
    store.insert(file_record(folder="/theirs", owner="bob"))
    store.create_folder("alice", "/docs/empty", now)
    store.create_folder("alice", "/other", now)
    assert store.folders_beneath("alice", "/", now) == {"/docs/2024", "/docs/empty", "/other"}
    assert store.folders_beneath("alice", "/docs", now) == {"/docs/2024", "/docs/empty"}
    assert store.folders_beneath("alice", "/docs/2024", now) == set()


# -- share links ------------------------------------------------------------------------------


def test_links_by_token_hash_by_id_and_by_file(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    older = _link()
    newer = _link(created_at=older.created_at + timedelta(seconds=1))
    store.insert_link(older)
    store.insert_link(newer)
    store.insert_link(_link(owner="bob"))
    assert store.get_link(older.token_hash) == older
    assert store.find_link("alice", newer.link_id) == newer
    assert store.find_link("bob", newer.link_id) is None
    assert store.list_links("alice", "f1") == [newer, older]
    everything = store.scan_links("", 100)
    assert [link.token_hash for link in everything] == sorted(x.token_hash for x in everything)
    assert len(everything) == 3
    store.delete_link(older.token_hash)
    assert store.get_link(older.token_hash) is None


def test_a_limited_link_serves_exactly_its_downloads(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    link = _link(max_downloads=2)
    store.insert_link(link)
    now = utcnow()
    assert [store.claim_download(link, now) for _ in range(3)] == [True, True, False]
    found = store.get_link(link.token_hash)
    assert found is not None and found.downloads == 2
    unlimited = _link()
    store.insert_link(unlimited)
    assert all(store.claim_download(unlimited, now) for _ in range(3))
    found = store.get_link(unlimited.token_hash)
    assert found is not None and found.downloads == 3


@pytest.mark.parametrize("max_downloads", [None, 5])
def test_a_claim_rechecks_revocation_in_the_store(
    meta_store: MetaUnderTest, max_downloads: int | None
) -> None:
    """The caller's copy of the link may predate a revocation: the store decides."""
    store = meta_store.store
    link = _link(max_downloads=max_downloads)
    store.insert_link(link)
    revoked = store.revoke_link("alice", link.token_hash, utcnow())
    assert revoked is not None and revoked.revoked_at is not None
    assert store.claim_download(link, utcnow()) is False
    found = store.get_link(link.token_hash)
    assert found is not None and found.downloads == 0


@pytest.mark.parametrize("max_downloads", [None, 5])
def test_a_claim_rechecks_expiry_in_the_store(
    meta_store: MetaUnderTest, max_downloads: int | None
) -> None:
    store = meta_store.store
    expires = utcnow() + timedelta(minutes=1)
    link = _link(max_downloads=max_downloads, expires_at=expires)
    store.insert_link(link)
    assert store.claim_download(link, expires) is False
    assert store.claim_download(link, expires - timedelta(milliseconds=1)) is True


def test_revoking_keeps_the_first_time_and_is_the_owners_alone(meta_store: MetaUnderTest) -> None:
    store = meta_store.store
    link = _link()
    store.insert_link(link)
    first = utcnow()
    assert store.revoke_link("bob", link.token_hash, first) is None
    assert store.revoke_link("alice", link.token_hash, first) == replace(link, revoked_at=first)
    again = store.revoke_link("alice", link.token_hash, first + timedelta(seconds=5))
    assert again is not None and again.revoked_at == first


def test_racing_claims_of_a_one_time_link_have_one_winner(
    threaded_meta_store: MetaUnderTest,
) -> None:
    """Exact on FerretDB too: a limited link's claims are atomic inserts there."""
    meta_store = threaded_meta_store
    link = _link(max_downloads=1)
    meta_store.store.insert_link(link)
    won = _race(12, lambda _: meta_store.store.claim_download(link, utcnow()))
    assert won.count(True) == 1
