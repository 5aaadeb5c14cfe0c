"""Keys, isolation, quotas, rate limits and the admin API, on every backend."""

from __future__ import annotations

import dataclasses
import io
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filedrop import create_app
from filedrop.errors import RateLimited, Unauthorized
from filedrop.services import ratelimit, users
from filedrop.services.files import FileService
from filedrop.services.fsck import fsck
from filedrop.services.keys import KeyService, SecretBox
from filedrop.services.ratelimit import RateLimiter
from filedrop.services.users import UserService, hash_key
from filedrop.storage.metadata import (
    FolderStore,
    KeyRecord,
    KeyStore,
    UserRecord,
    UserStore,
    utcnow,
)
from tests.fixtures import Backend
from tests.helpers import error_code

pytestmark = pytest.mark.http

ADMIN = "admin-token-for-tests-0123456789"


def _app(backend: Backend, **overrides: Any) -> Flask:
    settings = backend.settings.with_overrides(
        **{"auth": "enabled", "admin_token": ADMIN, **overrides}
    )
    return create_app(settings, blobs=backend.blobs, meta=backend.meta)


@pytest.fixture
def auth_app(backend: Backend) -> Flask:
    return _app(backend)


def _admin(key: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_user(client: FlaskClient, name: str = "alice", **extra: Any) -> tuple[str, str]:
    response = client.post("/admin/users", json={"name": name, **extra}, headers=_admin())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body["user"]["user_id"], body["api_key"]


def _upload(client: FlaskClient, key: str, content: bytes, name: str = "f.txt") -> Any:
    return client.post(
        "/files/upload",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        headers=_admin(key),
    )


def test_requests_without_or_with_a_wrong_key_are_401(auth_app: Flask) -> None:
    client = auth_app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/files", headers=headers)
        assert response.status_code == 401
        assert error_code(response) == "UNAUTHORIZED"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/healthz").status_code == 200  # probes stay open
    assert client.get("/readyz").status_code == 200


def test_keys_are_random_shown_once_and_stored_hashed(auth_app: Flask, backend: Backend) -> None:
    client = auth_app.test_client()
    user_id, key = _new_user(client)
    assert len(key) >= 40
    stored = backend.meta.get_user(user_id)
    assert stored is not None and stored.key_hash == hash_key(key) and key not in stored.key_hash
    listed = client.get("/admin/users", headers=_admin()).get_json()["users"]
    assert [u["user_id"] for u in listed] == [user_id]
    assert "api_key" not in listed[0] and "key_hash" not in listed[0]


def test_admin_api_needs_the_admin_token(auth_app: Flask) -> None:
    client = auth_app.test_client()
    _, key = _new_user(client)
    assert client.get("/admin/users").status_code == 401
    assert client.get("/admin/users", headers=_admin("wrong")).status_code == 401
    as_user = client.get("/admin/users", headers=_admin(key))
    assert as_user.status_code == 403 and error_code(as_user) == "FORBIDDEN"
    as_admin_on_files = client.get("/files", headers=_admin())
    assert as_admin_on_files.status_code == 403


def test_admin_api_is_off_without_a_configured_token(backend: Backend) -> None:
    client = _app(backend, admin_token="").test_client()
    response = client.post("/admin/users", json={"name": "x"}, headers=_admin("anything"))
    assert response.status_code == 403


def test_users_never_see_each_others_files(auth_app: Flask) -> None:
    client = auth_app.test_client()
    _, alice = _new_user(client, "alice")
    _, bob = _new_user(client, "bob")
    file_id = _upload(client, alice, b"alice's secret").get_json()["file_id"]
    url = f"/files/{file_id}"
    as_bob = _admin(bob)
    for response in (
        client.get(url, headers=as_bob),
        client.head(url, headers=as_bob),
        client.get(url + "/metadata", headers=as_bob),
        client.put(url, data=b"overwrite", headers=as_bob),
        client.put(url, json={"file_name": "mine.txt"}, headers=as_bob),
        client.delete(url, headers=as_bob),
    ):
        assert response.status_code == 404
        if response.data:
            assert error_code(response) == "FILE_NOT_FOUND"
    assert client.get("/files", headers=as_bob).get_json()["files"] == []
    assert client.get("/me", headers=as_bob).get_json()["usage"]["file_count"] == 0
    assert client.get(url, headers=_admin(alice)).data == b"alice's secret"


def test_me_shows_usage_that_drifted_below_zero_as_zero(auth_app: Flask, backend: Backend) -> None:
    """A store that loses racing updates (FerretDB) can leave usage below zero until
    fsck recomputes it; /me must still answer, never a 500."""
    client = auth_app.test_client()
    user_id, key = _new_user(client)
    backend.meta.release(user_id, 5, 1)
    response = client.get("/me", headers=_admin(key))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["usage"]["bytes_used"] == 0
    assert response.get_json()["usage"]["file_count"] == 0


def test_me_reports_exact_usage(auth_app: Flask) -> None:
    client = auth_app.test_client()
    user_id, key = _new_user(client, quota_bytes=1000)
    first = _upload(client, key, b"x" * 100).get_json()
    _upload(client, key, b"y" * 50)
    client.put(f"/files/{first['file_id']}", data=b"z" * 10, headers=_admin(key))
    me = client.get("/me", headers=_admin(key)).get_json()
    assert me["user_id"] == user_id and me["name"] == "alice"
    assert me["usage"] == {"file_count": 2, "bytes_used": 60, "quota_bytes": 1000}
    client.delete(f"/files/{first['file_id']}", headers=_admin(key))
    assert client.get("/me", headers=_admin(key)).get_json()["usage"]["bytes_used"] == 50


def test_quota_exceeded_is_507_and_stores_nothing(auth_app: Flask, backend: Backend) -> None:
    client = auth_app.test_client()
    _, key = _new_user(client, quota_bytes="100")
    assert _upload(client, key, b"a" * 60).status_code == 201
    over = _upload(client, key, b"b" * 60)
    assert over.status_code == 507 and error_code(over) == "QUOTA_EXCEEDED"
    early = client.post(
        "/files/upload?file_name=big", data=b"c" * 41, headers=_admin(key)
    )  # refused from Content-Length, before reading
    assert early.status_code == 507
    files = client.get("/files", headers=_admin(key)).get_json()["files"]
    assert [f["file_size"] for f in files] == [60]
    assert len(list(backend.blobs.iter_blobs("blobs/"))) == 1
    assert client.get("/me", headers=_admin(key)).get_json()["usage"]["bytes_used"] == 60


def test_replace_over_quota_keeps_old_content(auth_app: Flask) -> None:
    client = auth_app.test_client()
    _, key = _new_user(client, quota_bytes=100)
    file_id = _upload(client, key, b"a" * 40).get_json()["file_id"]
    response = client.put(f"/files/{file_id}", data=b"b" * 70, headers=_admin(key))
    assert response.status_code == 507
    assert client.get(f"/files/{file_id}", headers=_admin(key)).data == b"a" * 40


def test_quota_race_never_overshoots(concurrent_backend: Backend) -> None:
    app = _app(concurrent_backend)
    client = app.test_client()
    _, key = _new_user(client, quota_bytes=100)

    def one(_: int) -> int:
        return int(_upload(app.test_client(), key, b"q" * 10).status_code)

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(one, range(20)))
    assert set(statuses) <= {201, 507}
    if not concurrent_backend.atomic_metadata:
        # FerretDB loses racing $inc updates (see Backend.atomic_metadata): it may admit
        # too much. What must still hold: fsck brings the counters back to the truth.
        fsck(concurrent_backend.blobs, concurrent_backend.meta, repair=True, grace_s=3600)
        usage = client.get("/me", headers=_admin(key)).get_json()["usage"]
        assert usage["bytes_used"] == 10 * statuses.count(201) == 10 * usage["file_count"]
        return
    usage = client.get("/me", headers=_admin(key)).get_json()["usage"]
    assert usage["bytes_used"] <= 100
    assert usage["bytes_used"] == 10 * statuses.count(201) == 10 * usage["file_count"]
    assert (
        fsck(concurrent_backend.blobs, concurrent_backend.meta, grace_s=3600).usage_mismatches == []
    )


def test_rotation_kills_the_old_key_at_once(auth_app: Flask) -> None:
    client = auth_app.test_client()
    user_id, old = _new_user(client)
    response = client.post(f"/admin/users/{user_id}/keys", headers=_admin())
    assert response.status_code == 201
    new = response.get_json()["api_key"]
    assert new != old
    assert client.get("/files", headers=_admin(old)).status_code == 401
    assert client.get("/files", headers=_admin(new)).status_code == 200
    missing = client.post("/admin/users/u_nobody/keys", headers=_admin())
    assert missing.status_code == 404 and error_code(missing) == "USER_NOT_FOUND"


def test_deleting_a_user_removes_their_files_and_blobs(auth_app: Flask, backend: Backend) -> None:
    client = auth_app.test_client()
    alice_id, alice = _new_user(client, "alice")
    _, bob = _new_user(client, "bob")
    for i in range(3):
        _upload(client, alice, f"a{i}".encode())
    bobs = _upload(client, bob, b"bob's").get_json()["file_id"]
    response = client.delete(f"/admin/users/{alice_id}", headers=_admin())
    assert response.status_code == 200 and response.get_json()["files_deleted"] == 3
    assert client.get("/files", headers=_admin(alice)).status_code == 401
    assert [b.key.split("/")[1] for b in backend.blobs.iter_blobs("blobs/")] == [bobs]
    assert client.get(f"/files/{bobs}", headers=_admin(bob)).data == b"bob's"
    assert client.delete(f"/admin/users/{alice_id}", headers=_admin()).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": 5},
        {"name": "x", "quota_bytes": -1},
        {"name": "x", "quota_bytes": "lots"},
        {"nom": "x"},
    ],
)
def test_bad_user_requests_are_400(auth_app: Flask, body: dict[str, Any]) -> None:
    response = auth_app.test_client().post("/admin/users", json=body, headers=_admin())
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"


def test_rate_limit_is_429_with_retry_after(backend: Backend) -> None:
    client = _app(backend, rate_limit_per_window=5, rate_limit_window_s=60).test_client()
    _, key = _new_user(client)
    statuses = [client.get("/files", headers=_admin(key)).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = client.get("/files", headers=_admin(key))
    assert error_code(limited) == "RATE_LIMITED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    # Limits are per key: another user is unaffected.
    _, other = _new_user(client, "other")
    assert client.get("/files", headers=_admin(other)).status_code == 200


class _CountedHits:
    """The backend's rate-limit store, counting its round trips."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls = 0

    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        self.calls += 1
        return int(self.store.hit(bucket, window_start, window_s, n))


def _frozen_clock(
    monkeypatch: pytest.MonkeyPatch, at: float, module: Any = ratelimit, clock: str = "time"
) -> list[float]:
    """``module``'s ``time.<clock>()`` reads ``now[0]``; move it by changing that."""
    now = [at]
    monkeypatch.setattr(module, "time", SimpleNamespace(**{clock: lambda: now[0]}))
    return now


def _succeeds(call: Callable[[], object], refusal: type[Exception]) -> bool:
    try:
        call()
    except refusal:
        return False
    return True


def _allowed(limiter: RateLimiter, bucket: str) -> bool:
    return _succeeds(lambda: limiter.check(bucket), RateLimited)


def test_rate_limit_counts_requests_in_leases(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generous limit costs the shared store one write per lease, not per request."""
    _frozen_clock(monkeypatch, 1_000_000_000.0)
    store = _CountedHits(backend.meta)
    limiter = RateLimiter(store, limit=3000, window_s=60)
    bucket = f"user:{uuid.uuid4().hex}"
    assert all(_allowed(limiter, bucket) for _ in range(64))
    assert store.calls == 4  # leases of 16
    # The shared count already holds every request let through.
    assert backend.meta.hit(bucket, 1_000_000_000 - 1_000_000_000 % 60, 60, 0) >= 64


def test_rate_limit_leases_never_let_more_than_the_limit_through(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (two limiters, one store) share one limit: together they never
    pass it, and leases cost at most one lease each of refusals that come early."""
    clock = _frozen_clock(monkeypatch, 2_000_000_000.0)
    limit = 200
    limiters = [RateLimiter(backend.meta, limit, 60), RateLimiter(backend.meta, limit, 60)]
    bucket = f"user:{uuid.uuid4().hex}"
    rng = random.Random(6)
    allowed = sum(_allowed(rng.choice(limiters), bucket) for _ in range(2 * limit))
    assert limit - 2 * ratelimit.MAX_LEASE <= allowed <= limit
    assert not any(_allowed(limiter, bucket) for limiter in limiters)
    # A lease ends with its window: the next window starts from nothing.
    clock[0] += 60
    assert all(_allowed(limiter, bucket) for limiter in limiters)


class _SlowCounter:
    """An atomic shared counter that answers slowly, so requests pile up on it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        time.sleep(0.005)
        with self._lock:
            self.calls += 1
            self.counts[bucket] = self.counts.get(bucket, 0) + n
            return self.counts[bucket]


def test_rate_limit_leases_taken_at_once_keep_every_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests that find the lease spent at the same moment each take one; the
    tokens of all of them stay with the process, none is dropped."""
    _frozen_clock(monkeypatch, 1_200_000_000.0)
    store = _SlowCounter()
    limiter = RateLimiter(store, limit=3000, window_s=60)
    with ThreadPoolExecutor(8) as pool:
        allowed = sum(pool.map(lambda _: _allowed(limiter, "user:u"), range(400)))
    assert allowed == 400
    counted = store.counts["user:u"]
    assert 400 <= counted < 400 + 8 * ratelimit.MAX_LEASE
    # Every token counted beyond those 400 is still this process's to use.
    calls = store.calls
    assert all(_allowed(limiter, "user:u") for _ in range(counted - 400))
    assert store.calls == calls
    assert _allowed(limiter, "user:u") and store.calls == calls + 1


def test_first_counts_of_a_window_may_race(backend: Backend) -> None:
    """Workers that count a new window's first requests at the same moment all
    succeed: none gets an error from the race to create the window's record."""
    buckets = [f"ip:{uuid.uuid4().hex}" for _ in range(10)]
    for bucket in buckets:
        barrier = threading.Barrier(8)

        def first_hit(_: int, bucket: str = bucket, barrier: threading.Barrier = barrier) -> int:
            barrier.wait(timeout=10)
            return int(backend.meta.hit(bucket, 0, 60))

        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(first_hit, range(8)))
        assert min(counts) >= 1
        if backend.atomic_metadata:
            assert sorted(counts) == list(range(1, 9))


def test_small_rate_limits_are_counted_one_request_at_a_time(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frozen_clock(monkeypatch, 1_500_000_000.0)
    store = _CountedHits(backend.meta)
    limiters = [RateLimiter(store, 31, 60), RateLimiter(store, 31, 60)]
    bucket = f"ip:{uuid.uuid4().hex}"
    allowed = sum(_allowed(limiters[n % 2], bucket) for n in range(40))
    assert allowed == 31 and store.calls == 40


def test_no_key_ever_reaches_the_log(auth_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = auth_app.test_client()
    # Everything, our loggers included, at the most verbose level.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="filedrop"):
        _, key = _new_user(client)
        _upload(client, key, b"logged?").close()
        # The access line is written when the server closes the response, as gunicorn does.
        client.get("/files", headers=_admin(key)).close()
        client.get("/files", headers=_admin(key + "x")).close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/files" in text  # the access log did run
    assert key not in text and ADMIN not in text


def test_admin_status(auth_app: Flask, backend: Backend) -> None:
    client = auth_app.test_client()
    _, key = _new_user(client)
    _upload(client, key, b"12345")
    status = client.get("/admin/status", headers=_admin()).get_json()
    assert status["checks"]["database"]["ok"] and status["checks"]["storage"]["ok"]
    assert status["totals"] == {"users": 1, "files": 1, "bytes": 5}
    assert status["version"] and status["uptime_s"] >= 0 and len(status["load_average"]) == 3
    if backend.blobs.name == "local":
        assert 0 < status["disk"]["free_bytes"] <= status["disk"]["total_bytes"]
        assert status["disk"]["path"].startswith(backend.settings.data_dir)
    else:
        assert "disk" not in status  # S3: the bytes are on another machine


def test_create_user_cli_prints_a_working_key(auth_app: Flask) -> None:
    result = auth_app.test_cli_runner().invoke(args=["create-user", "carol", "--quota", "1MiB"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.splitlines() if ": " in line)
    key = lines["api key (shown once)"]
    assert lines["s3 access key id"].startswith("FD")
    assert len(lines["s3 secret access key (shown once)"]) == 40
    me = auth_app.test_client().get("/me", headers=_admin(key)).get_json()
    assert me["name"] == "carol" and me["usage"]["quota_bytes"] == 1024**2


def test_auth_disabled_acts_as_one_local_user(client: FlaskClient) -> None:
    me = client.get("/me")
    assert me.status_code == 200 and me.get_json()["user_id"] == "local"


def test_reserve_follows_a_quota_changed_since_the_last_reservation(backend: Backend) -> None:
    """A store may remember a user's quota between reservations (the Mongo store does,
    to save a read); a quota that changed meanwhile still holds exactly, both ways."""
    meta: Any = backend.meta

    def recreate(quota: int) -> None:
        meta.delete_user("quota-u")
        meta.create_user(UserRecord("quota-u", "q", "hash-quota-u", quota, 0, 0, utcnow()))

    recreate(1000)
    assert meta.reserve("quota-u", 100, 1)  # remembers 1000
    recreate(150)
    assert not meta.reserve("quota-u", 151, 1)
    assert meta.reserve("quota-u", 150, 1)
    assert not meta.reserve("quota-u", 1, 1)
    recreate(500)
    assert meta.reserve("quota-u", 400, 1)
    user = meta.get_user("quota-u")
    assert (user.bytes_used, user.file_count) == (400, 1)


class _KeyStore:
    """Users by key hash, counting lookups: the store side of key caching."""

    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.keys: dict[str, KeyRecord] = {}  # by access key id: S3 keys
        self.lookups = 0

    def add(self, user_id: str, key: str) -> None:
        self.users[user_id] = UserRecord(user_id, user_id, hash_key(key), 100, 0, 0, utcnow())

    def find_by_key_hash(self, digest: str) -> UserRecord | None:
        self.lookups += 1
        return next((u for u in self.users.values() if u.key_hash == digest), None)

    def set_key_hash(self, user_id: str, digest: str) -> bool:
        user = self.users.get(user_id)
        if user is not None:
            self.users[user_id] = dataclasses.replace(user, key_hash=digest)
        return user is not None

    def delete_user(self, user_id: str) -> UserRecord | None:
        return self.users.pop(user_id, None)

    def delete_folders(self, owner: str, path: str, recursive: bool) -> int:
        return 0

    # Keys with records of their own: none here, every key is a user's own.
    def get_user(self, user_id: str) -> UserRecord | None:
        return self.users.get(user_id)

    def find_key_by_hash(self, digest: str) -> None:
        return None

    def insert_key(self, key: KeyRecord) -> None:
        self.keys[key.access_key_id] = key

    def find_key_by_access_key(self, access_key_id: str) -> KeyRecord | None:
        self.lookups += 1
        return self.keys.get(access_key_id)

    def delete_keys(self, owner: str) -> int:
        gone = [k for k, record in self.keys.items() if record.owner == owner]
        for access_key_id in gone:
            del self.keys[access_key_id]
        return len(gone)


def _workers(store: _KeyStore, cache_s: float, n: int = 2) -> list[UserService]:
    """``n`` processes' user services on one store."""
    files = cast(FileService, SimpleNamespace(delete_all=lambda owner: 0))
    keys = KeyService(cast(KeyStore, store), SecretBox(lambda: "users-tests-server-key-0123456789"))
    return [
        UserService(
            cast(UserStore, store), cast(FolderStore, store), files, keys, 100, key_cache_s=cache_s
        )
        for _ in range(n)
    ]


def _monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return _frozen_clock(monkeypatch, 1000.0, users, "monotonic")


def _accepts(service: UserService, key: str) -> bool:
    return _succeeds(lambda: service.authenticate(key), Unauthorized)


def test_a_key_is_looked_up_once_per_auth_cache_s(monkeypatch: pytest.MonkeyPatch) -> None:
    now = _monotonic_clock(monkeypatch)
    store = _KeyStore()
    store.add("u1", "key-1")
    (worker,) = _workers(store, cache_s=5, n=1)
    assert all(worker.authenticate("key-1").user.user_id == "u1" for _ in range(10))
    assert store.lookups == 1
    now[0] += 5
    assert worker.authenticate("key-1").user.user_id == "u1"
    assert store.lookups == 2
    # A wrong key is never remembered: each attempt asks the store.
    assert not _accepts(worker, "key-x") and not _accepts(worker, "key-x")
    assert store.lookups == 4
    (uncached,) = _workers(store, cache_s=0, n=1)
    for _ in range(3):
        uncached.authenticate("key-1")
    assert store.lookups == 7


@pytest.mark.parametrize("revoke", ["rotate", "delete"])
def test_a_revoked_key_stops_at_once_here_and_within_auth_cache_s_elsewhere(
    monkeypatch: pytest.MonkeyPatch, revoke: str
) -> None:
    now = _monotonic_clock(monkeypatch)
    store = _KeyStore()
    store.add("u1", "key-1")
    store.add("u2", "key-2")
    here, elsewhere = _workers(store, cache_s=5)
    for worker in (here, elsewhere):
        assert _accepts(worker, "key-1") and _accepts(worker, "key-2")
    if revoke == "rotate":
        here.rotate_key("u1")
    else:
        here.delete("u1")
    assert not _accepts(here, "key-1")
    assert _accepts(here, "key-2")  # other users' keys stay cached
    assert _accepts(elsewhere, "key-1")  # another process: until its entry expires
    now[0] += 5
    assert not _accepts(elsewhere, "key-1")


def test_a_lookup_racing_a_revocation_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key read from the store just before it was revoked must not be remembered
    after the revocation dropped it."""
    _monotonic_clock(monkeypatch)
    store = _KeyStore()
    store.add("u1", "key-1")
    (worker,) = _workers(store, cache_s=5, n=1)
    lookup = store.find_by_key_hash

    def revoked_meanwhile(digest: str) -> UserRecord | None:
        found = lookup(digest)  # the old key's user, read before the rotation lands
        worker.rotate_key("u1")
        return found

    monkeypatch.setattr(store, "find_by_key_hash", revoked_meanwhile)
    assert _accepts(worker, "key-1")  # the request already under way
    monkeypatch.setattr(store, "find_by_key_hash", lookup)
    assert not _accepts(worker, "key-1")


def test_an_s3_key_is_cached_and_revoked_like_a_bearer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    now = _monotonic_clock(monkeypatch)
    store = _KeyStore()
    store.add("u1", "key-1")
    here, elsewhere = _workers(store, cache_s=5)
    made = here.keys.create("u1", "s3")
    access_key_id = made.record.access_key_id

    def accepts(worker: UserService) -> bool:
        return _succeeds(lambda: worker.authenticate_s3(access_key_id), Unauthorized)

    for _ in range(5):
        caller, secret = here.authenticate_s3(access_key_id)
        assert caller.user.user_id == "u1" and secret == made.secret_access_key
    assert store.lookups == 1  # looked up and decrypted once
    assert accepts(elsewhere) and store.lookups == 2
    here.rotate_key("u1")
    assert not accepts(here)  # at once here
    assert accepts(elsewhere)  # another process: until its entry expires
    now[0] += 5
    assert not accepts(elsewhere)
