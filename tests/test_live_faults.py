"""Nothing lost or torn on the production server: gunicorn as ``gunicorn.conf.py`` configures it
(gevent workers), API keys on, SeaweedFS + FerretDB. Kill the database or the
object store under it: every request gets a JSON 503 in bounded time, nothing is
half made, and the same workers serve again once the server is back. Kill the
object store mid-download: the worker breaks the connection at once, so the
client sees a short body, never one that passes for the whole file. Cut a tus
upload's connection mid-PATCH: the worker keeps every byte that reached it, and
the client resumes from there.

tests/test_consistency.py kills servers under the in-process app; this checks
what the test client can't: the worker class, its sockets, and the connection
pools in a long-lived worker process.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from tests import servers
from tests.helpers import Generated
from tests.live import CuttingProxy, Gunicorn, create_user, keyed_settings, start_gunicorn
from tests.sigv4_helpers import signed_headers

pytestmark = pytest.mark.live

ANSWER_WITHIN_S = 20.0  # a dead server must cost a timeout, never a hang
BROKEN_WITHIN_S = 4.0  # under gunicorn.conf.py's keepalive of 5 s
MiB = 1024**2
PART_SIZE = 8 * MiB  # the default S3_PART_SIZE


@dataclass
class Live:
    app: Gunicorn
    key: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        started = time.monotonic()
        response = requests.request(
            method, f"{self.app.url}{path}", headers=headers, timeout=ANSWER_WITHIN_S, **kwargs
        )
        assert time.monotonic() - started < ANSWER_WITHIN_S
        return response

    def upload(self, content: bytes) -> requests.Response:
        return self.call(
            "POST",
            "/files/upload",
            data=content,
            headers={"X-File-Name": "f.bin", "Content-Type": "application/octet-stream"},
        )

    def file_ids(self) -> set[str]:
        response = self.call("GET", "/files", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return {f["file_id"] for f in response.json()["files"]}


@pytest.fixture(scope="module")
def live(
    seaweedfs: servers.S3Server,
    ferretdb: servers.FerretDB,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    settings, admin = keyed_settings(
        seaweedfs, ferretdb, "fd-live", MONGO_TIMEOUT_MS="2000", S3_TIMEOUT_S="2"
    )
    work = tmp_path_factory.mktemp("live-faults")
    app = start_gunicorn(settings, work / "gunicorn.log", [])
    try:
        _, key = create_user(app.url, admin, "faults")
        assert "Using worker: gevent" in app.log_path.read_text()
        yield Live(app, key)
    finally:
        app.stop()


def _assert_503(response: requests.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) > 0


def _ensure_up(server: Any) -> None:
    if not server.running:
        server.start()


def test_database_down_is_503_then_the_same_workers_recover(
    live: Live, ferretdb: servers.FerretDB
) -> None:
    stored = live.upload(b"before")
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    workers = live.app.workers()
    ferretdb.kill()
    try:
        # Every worker, whichever takes the request: a few of each kind.
        for _ in range(3):
            _assert_503(live.call("GET", f"/files/{file_id}"), "DATABASE_UNAVAILABLE")
            _assert_503(live.upload(b"during"), "DATABASE_UNAVAILABLE")
        assert live.call("GET", "/readyz").status_code == 503
    finally:
        _ensure_up(ferretdb)
    assert live.call("GET", f"/files/{file_id}").content == b"before"
    after = live.upload(b"after")
    assert after.status_code == 201, after.text
    assert live.file_ids() == {file_id, after.json()["file_id"]}
    assert live.app.workers() == workers  # recovered, not restarted


def test_object_store_down_is_503_and_nothing_half_made(
    live: Live, seaweedfs: servers.S3Server
) -> None:
    before = live.file_ids()
    stored = live.upload(b"kept")
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    big = hashlib.shake_256(b"seed").digest(12 * 1024 * 1024)  # multipart in S3
    workers = live.app.workers()
    seaweedfs.kill()
    try:
        for _ in range(3):
            _assert_503(live.call("GET", f"/files/{file_id}"), "STORAGE_UNAVAILABLE")
            _assert_503(live.upload(b"small"), "STORAGE_UNAVAILABLE")
            _assert_503(live.upload(big), "STORAGE_UNAVAILABLE")
        # Metadata lives elsewhere and still answers; no failed upload left a record.
        assert live.file_ids() == before | {file_id}
    finally:
        _ensure_up(seaweedfs)
    assert live.call("GET", f"/files/{file_id}").content == b"kept"
    again = live.upload(big)
    assert again.status_code == 201, again.text
    assert live.call("GET", f"/files/{again.json()['file_id']}").content == big
    assert live.app.workers() == workers


def test_tus_upload_resumes_after_its_connection_is_cut(live: Live) -> None:
    auth = {"Authorization": f"Bearer {live.key}"}
    size = 2 * PART_SIZE + 3 * MiB + 1
    content = Generated(size, seed=5)
    created = TusClient(f"{live.app.url}/uploads/", headers=auth).uploader(
        file_stream=content, metadata={"filename": "cut.bin"}
    )
    created.set_url(created.create_url())
    path = "/uploads/" + str(created.url).rsplit("/uploads/", 1)[1]
    cut_at = PART_SIZE + 2 * MiB + 12345  # past one whole part, into the staged bytes
    proxy = CuttingProxy(int(live.app.url.rsplit(":", 1)[1]), cut_at)
    try:
        through_proxy = TusClient(f"{proxy.base}/uploads/", headers=auth).uploader(
            file_stream=content, url=proxy.base + path
        )
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            through_proxy.upload()  # one PATCH of the whole file, cut after cut_at bytes
        assert proxy.cut.is_set() and proxy.body_forwarded == cut_at
    finally:
        proxy.close()
    resumed = TusClient(f"{live.app.url}/uploads/", headers=auth).uploader(
        file_stream=content, url=live.app.url + path
    )
    assert resumed.offset == cut_at  # every byte that reached the worker was kept
    resumed.upload()
    file_id = resumed.request.response_headers["x-file-id"]
    meta = live.call("GET", f"/files/{file_id}/metadata").json()
    assert (meta["sha256"], meta["file_size"]) == (content.sha256(), size)
    downloaded = live.call("GET", f"/files/{file_id}")
    assert hashlib.sha256(downloaded.content).hexdigest() == content.sha256()


def test_object_store_killed_mid_download_never_passes_for_the_whole_file(
    live: Live, seaweedfs: servers.S3Server
) -> None:
    """Once the headers are out a 503 is too late: the worker must break the
    connection, promptly, so that the client sees fewer bytes than Content-Length
    and can't take the start of the file for all of it."""
    size = 64 * MiB  # more than every socket buffer between SeaweedFS and the client
    content = Generated(size, seed=9)
    stored = live.call(
        "POST",
        "/files/upload",
        data=content,
        headers={"X-File-Name": "big.bin", "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    workers = live.app.workers()
    response = requests.get(
        f"{live.app.url}/files/{file_id}",
        headers={"Authorization": f"Bearer {live.key}"},
        stream=True,
        timeout=2 * ANSWER_WITHIN_S,  # a hang would show as a read timeout past the bound
    )
    try:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == size
        received = len(response.raw.read(MiB))
        seaweedfs.kill()
        killed = time.monotonic()
        with pytest.raises(requests.RequestException) as broken:
            for chunk in response.iter_content(MiB):
                received += len(chunk)
        assert not isinstance(broken.value, requests.Timeout), broken.value
        # Broken by the worker, not ended by gunicorn's keep-alive timeout (5 s) after
        # a body silently cut short, which a chunked response would even pass off as whole.
        assert time.monotonic() - killed < BROKEN_WITHIN_S
        assert received < size
    finally:
        response.close()
        _ensure_up(seaweedfs)
    again = live.call("GET", f"/files/{file_id}")
    assert hashlib.sha256(again.content).hexdigest() == content.sha256()
    assert live.app.workers() == workers


# -- the S3 API ------------------------------------------------------------------


@dataclass
class LiveS3:
    live: Live
    credentials: Credentials
    client: Any

    def put_cut_by_a_kill(self, path: str, size: int, kill: Callable[[], None]) -> tuple[int, str]:
        """PUT ``size`` bytes to ``path`` (signed, UNSIGNED-PAYLOAD), running ``kill``
        once a third of them went out: the answer's status and body."""
        url = self.live.app.url
        headers = signed_headers(self.credentials, "PUT", url + path, payload="UNSIGNED-PAYLOAD")
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=ANSWER_WITHIN_S)
        try:
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            for name, value in {**headers, "Content-Length": str(size)}.items():
                conn.putheader(name, value)
            conn.endheaders()
            block = hashlib.shake_256(path.encode()).digest(MiB)
            with contextlib.suppress(OSError):  # the worker may answer before the end
                for sent in range(0, size, MiB):
                    if sent == size // 3 // MiB * MiB:
                        kill()
                    conn.send(block[: min(MiB, size - sent)])
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live_s3(live: Live) -> LiveS3:
    made = live.call("POST", "/me/keys", json={"name": "s3-faults"})
    assert made.status_code == 201, made.text
    credentials = Credentials(made.json()["access_key_id"], made.json()["secret_access_key"])
    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1},
        read_timeout=ANSWER_WITHIN_S,
        request_checksum_calculation="when_required",
    )
    client = boto3.client(
        "s3",
        endpoint_url=f"{live.app.url}/s3",
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        region_name="us-east-1",
        config=config,
    )
    client.create_bucket(Bucket="faults")
    return LiveS3(live, credentials, client)


def _assert_s3_503(status: int, body: str) -> None:
    assert status == 503, body
    assert "<Code>ServiceUnavailable</Code>" in body, body


@pytest.mark.parametrize("server", ["seaweedfs", "ferretdb"])
def test_s3_api_server_killed_mid_put_is_503_xml_nothing_half_made(
    live_s3: LiveS3, server: str, request: pytest.FixtureRequest
) -> None:
    victim = request.getfixturevalue(server)
    s3 = live_s3.client
    s3.put_object(Bucket="faults", Key="kept", Body=b"kept")
    upload_id = s3.create_multipart_upload(Bucket="faults", Key="parts")["UploadId"]
    workers = live_s3.live.app.workers()
    size = 3 * PART_SIZE  # PutObject goes multipart to storage; the part streams
    try:
        _assert_s3_503(*live_s3.put_cut_by_a_kill(f"/s3/faults/{server}", size, victim.kill))
        _ensure_up(victim)
        part = f"/s3/faults/parts?partNumber=1&uploadId={upload_id}"
        _assert_s3_503(*live_s3.put_cut_by_a_kill(part, size, victim.kill))
        with pytest.raises(ClientError) as exc:  # and a read while it is down
            s3.get_object(Bucket="faults", Key="kept")
        assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
    finally:
        _ensure_up(victim)
    listed = s3.list_objects_v2(Bucket="faults")["Contents"]
    assert [o["Key"] for o in listed] == ["kept"]  # no object half made
    assert s3.list_parts(Bucket="faults", Key="parts", UploadId=upload_id).get("Parts", []) == []
    s3.upload_part(Bucket="faults", Key="parts", UploadId=upload_id, PartNumber=1, Body=b"p")
    s3.abort_multipart_upload(Bucket="faults", Key="parts", UploadId=upload_id)
    assert s3.get_object(Bucket="faults", Key="kept")["Body"].read() == b"kept"
    assert live_s3.live.app.workers() == workers


def test_s3_api_object_store_killed_mid_get_breaks_the_connection(
    live_s3: LiveS3, seaweedfs: servers.S3Server
) -> None:
    size = 64 * MiB
    content = Generated(size, seed=11)
    live_s3.client.upload_fileobj(content, "faults", "big")
    body = live_s3.client.get_object(Bucket="faults", Key="big")["Body"]
    received = len(body.read(MiB))
    try:
        seaweedfs.kill()
        with pytest.raises((BotoCoreError, OSError)):
            for chunk in body.iter_chunks(MiB):
                received += len(chunk)
        assert received < size
    finally:
        body.close()
        _ensure_up(seaweedfs)
    again = live_s3.client.get_object(Bucket="faults", Key="big")["Body"].read()
    assert hashlib.sha256(again).hexdigest() == content.sha256()
    live_s3.client.delete_object(Bucket="faults", Key="big")
