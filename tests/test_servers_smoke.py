"""Smoke tests for tests/servers.py: each real server starts, answers, and
comes back after a crash (SIGKILL) on the same port with its data intact.

Each test starts its own server, because killing one shared with other tests
would be rude. A missing binary skips (conftest turns skips into failures
under FILEDROP_REQUIRE_SERVERS=1). Run with -s to see the timings.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pymongo
import pytest
from botocore.exceptions import EndpointConnectionError

from tests import servers
from tests.helpers import require_binaries

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent


def _make(cls: type[servers.ServerProcess], work_dir: Path) -> servers.ServerProcess:
    require_binaries(cls)
    return cls(work_dir)


@pytest.mark.parametrize("cls", [servers.SeaweedS3, servers.MinioS3], ids=["seaweedfs", "minio"])
def test_s3_server_survives_kill_and_restart(cls: type[servers.S3Server], tmp_path: Path) -> None:
    server = _make(cls, tmp_path)
    assert isinstance(server, servers.S3Server)
    try:
        server.start()
        print(f"\n{server.name}: ready in {server.startup_seconds:.2f} s")
        s3 = server.client()
        s3.create_bucket(Bucket="smoke")
        s3.put_object(Bucket="smoke", Key="k", Body=b"hello")
        ports = dict(server.ports)

        server.kill()
        assert not server.running
        began = time.monotonic()
        with pytest.raises(EndpointConnectionError):
            s3.get_object(Bucket="smoke", Key="k")
        print(
            f"{server.name}: killed -> EndpointConnectionError in {time.monotonic() - began:.2f} s"
        )

        server.start()
        print(f"{server.name}: restarted in {server.startup_seconds:.2f} s")
        assert server.ports == ports
        # The same client recovers, and the object survived the crash.
        assert s3.get_object(Bucket="smoke", Key="k")["Body"].read() == b"hello"
    finally:
        server.close()
    assert not server.running


def test_ferretdb_survives_kill_and_restart(tmp_path: Path) -> None:
    server = _make(servers.FerretDB, tmp_path)
    assert isinstance(server, servers.FerretDB)
    try:
        server.start()
        print(f"\nferretdb: ready in {server.startup_seconds:.2f} s")
        client = server.client(serverSelectionTimeoutMS=500)  # fail fast
        files = client["smoke"]["files"]
        files.insert_one({"_id": "k", "v": 1})

        server.kill()
        for _ in range(2):  # first call: dead pooled socket; then selection
            began = time.monotonic()
            with pytest.raises(pymongo.errors.AutoReconnect) as failure:
                files.find_one({"_id": "k"})
            elapsed = time.monotonic() - began
            print(f"ferretdb: killed -> {failure.type.__name__} in {elapsed:.2f} s")

        server.start()
        print(f"ferretdb: restarted in {server.startup_seconds:.2f} s")
        # The same MongoClient recovers, and the document survived the crash.
        assert files.find_one({"_id": "k"}) == {"_id": "k", "v": 1}
        client.close()
    finally:
        server.close()
    assert not server.running


def test_ferretdb_finds_updates_and_deletes_by_id_through_its_index(tmp_path: Path) -> None:
    """Our FerretDB build is patched (scripts/build-servers.sh) so that its SQLite
    backend looks `_id` up through the index; v1.24.2 as released scans the table,
    which made every metadata read and write grow with the number of files."""
    server = _make(servers.FerretDB, tmp_path)
    assert isinstance(server, servers.FerretDB)
    try:
        server.start()
        client = server.client()
        db = client["smoke"]
        db["files"].insert_many([{"_id": f"f{i}", "n": i} for i in range(50)])
        # FerretDB explains only reads; updates and deletes share the patched expression.
        plan = db.command("explain", {"find": "files", "filter": {"_id": "f7"}})
        steps = plan["queryPlanner"]["Plan"]
        assert any("USING INDEX" in step and "__id_" in step for step in steps), steps
        # And lookups, updates and deletes still select the right documents.
        assert db["files"].find_one({"_id": "f7"}) == {"_id": "f7", "n": 7}
        db["files"].update_one({"_id": "f7"}, {"$set": {"n": 70}})
        db["files"].delete_one({"_id": "f8"})
        assert db["files"].find_one({"_id": "f7"})["n"] == 70
        assert db["files"].find_one({"_id": "f8"}) is None
        assert db["files"].count_documents({}) == 49
        client.close()
    finally:
        server.close()


def test_stack_script_takes_everything_down_on_sigterm(tmp_path: Path) -> None:
    """scripts/stack.py -- CMD, stopped by SIGTERM (a CI timeout, a kill): gunicorn runs
    in its own session, so unless stack.py cleans up it keeps serving."""
    require_binaries(servers.SeaweedS3, servers.FerretDB)
    ready = tmp_path / "base_url"
    stack = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "stack.py"),
            "--data",
            str(tmp_path / "data"),
            "--",
            "sh",
            "-c",
            f'echo "$BASE_URL" > {ready} && exec sleep 120',
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 90
        while not (ready.exists() and ready.read_text().strip()):
            assert stack.poll() is None, "stack.py ended before running its command"
            assert time.monotonic() < deadline, "stack.py did not start within 90 s"
            time.sleep(0.2)
        url = ready.read_text().strip()
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            assert response.status == 200

        stack.send_signal(signal.SIGTERM)
        assert stack.wait(timeout=30) != 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
    finally:
        if stack.poll() is None:
            stack.kill()
