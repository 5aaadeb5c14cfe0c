#!/usr/bin/env python3
"""Where a gunicorn worker's CPU goes on 4 KiB requests, layer by layer.

Starts the same stack as ``bench.py --start-servers`` (SeaweedFS + FerretDB +
gunicorn, API keys on), then for each of upload, download and metadata read runs
``--clients`` clients for ``--seconds`` while py-spy samples every worker. Each
sample is put in one layer by the frames on its stack (first match wins, in the
order of ``LAYERS``); the table shows each layer's share of the worker's busy
samples, and CPU time per request from /proc, as the bench counts it::

    python bench/profile.py --seconds 5 [--app-dir DIR] [--keep-profiles DIR]

py-spy (requirements-dev.txt) must be allowed to read the workers' memory
(same user; ptrace_scope 0 or 1 with a child process of ours).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

# (layer, substrings of a frame that put a sample there): the first layer with a frame
# on the sample's stack wins. Auth and rate limits come first, so their database calls
# count as theirs; the stopwatch around store calls (filedrop/metrics.py) is "metrics"
# only when neither the store nor its client library is running beneath it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("rate-limit counting", ("filedrop/services/ratelimit.py",)),
    ("auth lookup", ("filedrop/http/auth.py",)),
    ("boto3 call (botocore)", ("botocore/", "boto3/", "urllib3/", "filedrop/storage/blobs/s3.py")),
    ("metadata calls (pymongo)", ("pymongo/", "bson/", "filedrop/storage/mongo/")),
    ("metadata calls (SQLite)", ("filedrop/storage/sqlite/",)),
    ("local blob store", ("filedrop/storage/blobs/local.py",)),
    ("access log + JSON log line", ("filedrop/http/access_log.py", "filedrop/logs.py")),
    ("metrics", ("prometheus_client/", "filedrop/metrics.py")),
    ("JSON responses", ("flask/json/", "json/encoder.py", "json/__init__.py")),
    ("file service + route code", ("filedrop/",)),
    ("Flask routing + request parsing", ("flask/", "werkzeug/")),
    ("gunicorn + gevent (HTTP, sockets)", ("gunicorn/", "gevent/")),
]
OPS = ("upload", "download", "metadata")


def layer_of(stack: str) -> str:
    for name, marks in LAYERS:
        if any(mark in stack for mark in marks):
            return name
    return "other"


def read_samples(path: Path) -> Counter[str]:
    """py-spy's raw (collapsed) output: 'frame;frame;... count' per line, by layer."""
    layers: Counter[str] = Counter()
    if not path.exists():
        return layers
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            layers[layer_of(stack)] += int(count)
    return layers


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="per operation")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--app-dir", default=str(bench.ROOT))
    p.add_argument("--embedded", action="store_true", help="profile embedded mode instead")
    p.add_argument("--keep-profiles", type=Path, help="copy py-spy's raw files here")
    args = p.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("py-spy is not installed: pip install -r requirements-dev.txt")
    bench_args = bench.parse_args(["--start-servers", "--app-dir", args.app_dir])
    started = bench.Started()
    work = Path(tempfile.mkdtemp(prefix="filedrop-profile-"))
    try:
        bench.start_servers(bench_args, started)
        url, key, pids = bench_args.url, bench_args.api_key, list(bench_args.worker_pid)
        meter = bench.stack_meter(bench_args, started)
        if args.embedded:
            (url, gunicorn), key = bench.start_embedded(bench_args, started, args.app_dir), None
            pids = gunicorn[1:]
            meter = bench.CpuMeter({"worker": gunicorn})
        fd = bench.FileDrop(url, key)
        payload = os.urandom(4096)
        ids: list[str] = [fd.upload(f"warm-{i}.bin", payload) for i in range(200)]
        lock = threading.Lock()

        def upload(i: int) -> None:
            file_id = fd.upload(f"p-{i}.bin", payload)
            with lock:
                ids.append(file_id)

        def download(i: int) -> None:
            fd.download(random.choice(ids))

        def metadata(i: int) -> None:
            fd.metadata(random.choice(ids))

        print(f"load average before: {os.getloadavg()}", flush=True)
        tables: dict[str, tuple[Counter[str], dict[str, float], float]] = {}
        for name, op in (("upload", upload), ("download", download), ("metadata", metadata)):
            outs = [work / f"{name}-{pid}.txt" for pid in pids]
            record = ["py-spy", "record", "--rate", str(args.rate), "--format", "raw"]
            record += ["--duration", str(int(args.seconds + 1)), "--nonblocking"]
            spies = [
                subprocess.Popen(
                    [*record, "--pid", str(pid), "--output", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid, out in zip(pids, outs, strict=True)
            ]
            result = bench.measured(meter, op, args.clients, 10**9, args.seconds)
            for spy in spies:
                spy.wait(timeout=60)
            samples: Counter[str] = Counter()
            for out in outs:
                samples.update(read_samples(out))
            tables[name] = (samples, result["cpu_ms"], result["rps"])
        print(f"load average after: {os.getloadavg()}")
        report(tables, args.clients)
        if args.keep_profiles:
            args.keep_profiles.mkdir(parents=True, exist_ok=True)
            for out in work.iterdir():
                shutil.copy(out, args.keep_profiles / out.name)
    finally:
        started.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(tables: dict[str, tuple[Counter[str], dict[str, float], float]], clients: int) -> None:
    names = [name for name, _ in LAYERS] + ["other"]
    print(f"\nworker CPU by layer, 4 KiB requests, {clients} clients (share of busy samples)")
    print(f"{'layer':<36}" + "".join(f"{op:>12}" for op in tables))
    for layer in names:
        cells = []
        for samples, _, _ in tables.values():
            total = sum(samples.values()) or 1
            cells.append(f"{100 * samples[layer] / total:>11.0f}%")
        if any(samples[layer] for samples, _, _ in tables.values()):
            print(f"{layer:<36}" + "".join(cells))
    print(
        f"{'worker CPU per request (ms)':<36}"
        + "".join(f"{cpu.get('worker', 0):>12.2f}" for _, cpu, _ in tables.values())
    )
    print(f"{'requests/s':<36}" + "".join(f"{rps:>12.0f}" for _, _, rps in tables.values()))
    for op, (_, cpu, _) in tables.items():
        print(f"  {op}: {bench.cpu_text(cpu)}")


if __name__ == "__main__":
    sys.exit(main())
