"""The benchmark (bench/bench.py) is a deliverable, not a test: this only checks
that it still runs end to end on tiny sizes against the real servers it starts,
and reports every section. It asserts no speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers
from tests.helpers import require_binaries

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_every_section_on_real_servers(tmp_path: Path) -> None:
    require_binaries(servers.SeaweedS3, servers.FerretDB)
    out = tmp_path / "run.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench.py"),
            "--start-servers",
            "--big-size=6MiB",
            "--s3api-size=12MiB",
            "--redirect-size=6MiB",
            "--replica-clients=2",
            "--tus-chunk=2MiB",
            "--small-ops=20",
            "--clients=1,2",
            "--list-files=150",
            "--list-embedded",
            "--small-embedded",
            "--baseline-ref=HEAD",
            f"--json={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["error"] is None
    rows = {row["metric"]: row for row in report["results"]}

    for metric in (
        "upload 6 MiB, raw body (MB/s)",
        "upload 6 MiB, multipart form (MB/s)",
        "upload 6 MiB, tus (MB/s)",
        "download 6 MiB (MB/s)",
        "4 KiB upload, 2 clients (req/s)",
        "4 KiB download, 2 clients (req/s)",
        "4 KiB metadata, 2 clients (req/s)",
        "download 6 MiB via 307 to S3 (MB/s)",
        "4 KiB upload, 2 clients, 1 instance (req/s)",
        "4 KiB upload, 2 clients, 2 instances (req/s)",
        "4 KiB download, 2 clients, 2 instances (req/s)",
    ):
        assert rows[metric]["ratio"] > 0, metric
    for kind in ("upload raw", "upload multipart", "upload tus", "download", "download via 307"):
        assert f"worker peak RSS growth, {kind} (MiB)" in rows
    assert any(m.startswith("list ") and "embedded SQLite: p50" in m for m in rows)
    assert rows["S3 API upload 12 MiB (MB/s)"]["ratio"] > 0
    assert "worker peak RSS growth, S3 API upload (MiB)" in rows

    # Where the CPU went, per part of the stack, on both sides.
    cpu = rows["4 KiB upload, 2 clients CPU/request (ms)"]
    assert cpu["filedrop"] > 0 and cpu["boto3"] > 0
    ours, _, theirs = cpu["note"].partition("; boto3: ")
    for part in ("worker", "FerretDB", "seaweedfs", "client"):
        assert f"{part} " in ours, cpu["note"]
    assert "worker" not in theirs and "FerretDB" not in theirs, cpu["note"]

    # The same rows for a checkout of another revision, and in embedded mode, each with
    # the ratio of this tree to the baseline: what the per-request targets are read from.
    for where in ("", ", embedded"):
        for name in ("upload", "download", "metadata"):
            rate = rows[f"4 KiB {name}, 2 clients{where} (req/s)"]
            assert rate["filedrop"] > 0 and rate["baseline"] > 0 and rate["vs_baseline"] > 0
            # CPU time comes in clock ticks (10 ms): 20 requests may show none.
            cpu = rows[f"4 KiB {name}, 2 clients{where} worker CPU/request (ms)"]
            assert cpu["filedrop"] >= 0 and cpu["baseline"] >= 0 and "vs_baseline" in cpu

    # The floor under those rows: a request that reads nothing, on FILE DROP and on a
    # Flask app that does nothing else, under the same gunicorn settings.
    for metric in (
        "GET /healthz, 2 clients (req/s)",
        "GET /healthz, 2 clients, embedded (req/s)",
        "GET /healthz, 2 clients, bare Flask (req/s)",
    ):
        assert rows[metric]["filedrop"] > 0, metric
    assert rows["GET /healthz, 2 clients, bare Flask worker CPU/request (ms)"]["filedrop"] >= 0
