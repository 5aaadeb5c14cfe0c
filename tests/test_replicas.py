"""Many instances, one MongoDB and one S3: two gunicorn masters of their own (own
ports, own worker processes, nothing shared but the servers) serve as one. A file,
a resumable upload, a rate limit and a revoked key look the same from either, and
fsck finds nothing to fix afterwards."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import pytest
import requests

from filedrop.backends import make_blob_store, make_metadata_store
from filedrop.config import Settings
from filedrop.services.fsck import fsck
from tests import servers
from tests.helpers import pattern
from tests.live import Gunicorn, create_user, keyed_settings, start_gunicorn

pytestmark = pytest.mark.live

_NAME = "filename " + base64.b64encode(b"resumed.bin").decode()
RATE_LIMIT = 40  # per key per window: small enough to reach, large enough for leases
TIMEOUT_S = 30


@dataclass
class Pair:
    """Two app instances on the same servers, and the admin token both accept."""

    one: Gunicorn
    two: Gunicorn
    admin: str
    settings: dict[str, str]

    def new_key(self, name: str) -> tuple[str, str]:
        return create_user(self.one.url, self.admin, name)


def call(app: Gunicorn, key: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{app.url}{path}", headers=headers, timeout=TIMEOUT_S, **kwargs
    )


@pytest.fixture(scope="module")
def pair(
    seaweedfs: servers.S3Server,
    ferretdb: servers.FerretDB,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    settings, admin = keyed_settings(
        seaweedfs,
        ferretdb,
        "fd-replicas",
        RATE_LIMIT_REQUESTS=str(RATE_LIMIT),
        RATE_LIMIT_WINDOW_S="3600",  # no window ends mid-test (windows are fixed)
    )
    work = tmp_path_factory.mktemp("replicas")
    one = start_gunicorn(settings, work / "one.log", ["-w", "2"])
    try:
        two = start_gunicorn(settings, work / "two.log", ["-w", "2"])
        try:
            assert one.url != two.url
            assert not {*one.workers(), one.proc.pid} & {*two.workers(), two.proc.pid}
            yield Pair(one, two, admin, settings)
        finally:
            two.stop()
    finally:
        one.stop()


def test_a_file_uploaded_on_one_is_read_renamed_and_deleted_on_the_other(pair: Pair) -> None:
    _, key = pair.new_key("files")
    content = pattern(6 * 1024**2 + 3, seed=21)  # past one S3 part: a multipart upload
    stored = call(
        pair.one,
        key,
        "POST",
        "/files/upload",
        params={"file_name": "shared.bin"},
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201, stored.text
    path = f"/files/{stored.json()['file_id']}"

    read = call(pair.two, key, "GET", path)
    assert read.status_code == 200 and read.content == content
    renamed = call(pair.two, key, "PUT", path, json={"file_name": "renamed.bin"})
    assert renamed.status_code == 200, renamed.text
    assert call(pair.one, key, "GET", f"{path}/metadata").json()["file_name"] == "renamed.bin"
    assert call(pair.two, key, "DELETE", path).status_code == 200
    gone = call(pair.one, key, "GET", path)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "FILE_NOT_FOUND"


def test_a_tus_upload_started_on_one_completes_on_the_other(pair: Pair) -> None:
    _, key = pair.new_key("tus")
    content = pattern(5 * 1024**2 + 1000, seed=22)  # one full S3 part, then the tail
    tus = {"Tus-Resumable": "1.0.0"}
    made = call(
        pair.one,
        key,
        "POST",
        "/uploads/",
        headers={**tus, "Upload-Length": str(len(content)), "Upload-Metadata": _NAME},
    )
    assert made.status_code == 201, made.text
    upload = made.headers["Location"]
    patch = {**tus, "Content-Type": "application/offset+octet-stream"}
    half = 5 * 1024**2
    first = call(
        pair.one, key, "PATCH", upload, data=content[:half], headers={**patch, "Upload-Offset": "0"}
    )
    assert first.status_code == 204, first.text

    offset = call(pair.two, key, "HEAD", upload, headers=tus).headers["Upload-Offset"]
    assert offset == str(half)
    rest = call(
        pair.two,
        key,
        "PATCH",
        upload,
        data=content[half:],
        headers={**patch, "Upload-Offset": offset},
    )
    assert rest.status_code == 204, rest.text
    file_id = rest.headers["X-File-Id"]
    assert call(pair.one, key, "GET", f"/files/{file_id}").content == content


def test_a_rate_limit_is_counted_across_both(pair: Pair) -> None:
    _, key = pair.new_key("limits")
    allowed = {pair.one.url: 0, pair.two.url: 0}
    refused = dict.fromkeys(allowed, 0)
    for turn in range(2 * RATE_LIMIT):  # one at a time: FerretDB loses concurrent counts
        app = (pair.one, pair.two)[turn % 2]
        status = call(app, key, "GET", "/files").status_code
        assert status in (200, 429)
        (allowed if status == 200 else refused)[app.url] += 1
    # Counted per instance, each would let RATE_LIMIT through: 2 * RATE_LIMIT in all.
    assert sum(allowed.values()) <= RATE_LIMIT, allowed
    # Leases a worker took but never used are lost to the others: a few, not more.
    assert sum(allowed.values()) >= RATE_LIMIT - 8, allowed
    assert all(refused.values()), refused


def _revocation_bound_s() -> float:
    """How long a key revoked on one instance may still work on another: the
    lifetime of an authentication cache if the settings have one (an ``AUTH_CACHE*``
    setting, in seconds), else 0: keys are looked up on every request."""
    for setting in fields(Settings):
        if setting.metadata["env"].startswith("AUTH_CACHE"):
            return float(getattr(Settings(), setting.name))
    return 0.0


def test_a_key_revoked_on_one_is_refused_by_the_other(pair: Pair) -> None:
    user_id, old_key = pair.new_key("revoked")
    assert call(pair.two, old_key, "GET", "/files").status_code == 200  # known (and cached)
    rotated = requests.post(
        f"{pair.one.url}/admin/users/{user_id}/keys",
        headers={"Authorization": f"Bearer {pair.admin}"},
        timeout=TIMEOUT_S,
    )
    assert rotated.status_code == 201, rotated.text
    deadline = time.monotonic() + _revocation_bound_s()
    while True:
        status = call(pair.two, old_key, "GET", "/files").status_code
        if status == 401 or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert status == 401
    assert call(pair.two, rotated.json()["api_key"], "GET", "/files").status_code == 200


def test_fsck_is_clean_after_both_worked(pair: Pair) -> None:
    """Last in this module, so it checks what all the tests above left behind."""
    settings = Settings.from_env(pair.settings, dotenv_path=None)
    report = fsck(make_blob_store(settings), make_metadata_store(settings), grace_s=0)
    assert report.clean, report.as_dict()
