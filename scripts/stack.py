"""Run FILE DROP for real: SeaweedFS (or MinIO) + FerretDB + gunicorn, on 127.0.0.1.

    python scripts/stack.py                     # serve until Ctrl-C, print how to use it
    python scripts/stack.py -- CMD ARGS...      # run CMD against it, then tear down

CMD sees BASE_URL, FILEDROP_ADMIN_TOKEN and FILEDROP_API_KEY (a user made for
it) in its environment; the exit status is CMD's. The servers are the ones the
test suite uses (tests/servers.py; build them with scripts/build-servers.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}/readyz did not answer 200 within {timeout} s")


def create_user(url: str, admin_token: str, name: str = "stack-user") -> str:
    """A user made through the admin API: its API key."""
    key: str = new_user(url, admin_token, name)["api_key"]
    return key


def new_user(url: str, admin_token: str, name: str) -> dict[str, Any]:
    """A user made through the admin API: the response (user, API key, S3 key pair)."""
    request = urllib.request.Request(
        f"{url}/admin/users",
        data=json.dumps({"name": name}).encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.load(response)
    return body


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` stops gunicorn (its own session)
    and the servers; by default Python would just die and leave them running."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s3", choices=["seaweedfs", "minio"], default="seaweedfs")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")) or None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="per worker, with -k gthread")
    parser.add_argument("--worker-class", help="gunicorn -k (default: gunicorn.conf.py's)")
    parser.add_argument("--data", help="keep server data here (default: a temp dir)")
    parser.add_argument("--env", action="append", default=[], help="extra app setting K=V")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    work = Path(args.data or tempfile.mkdtemp(prefix="filedrop-stack-"))
    s3_class = servers.SeaweedS3 if args.s3 == "seaweedfs" else servers.MinioS3
    s3 = s3_class(work / args.s3)
    db = servers.FerretDB(work / "ferretdb")
    gunicorn: subprocess.Popen[bytes] | None = None
    try:
        s3.start()
        db.start()
        port = args.port or servers.free_ports(1)[0]
        url = f"http://127.0.0.1:{port}"
        admin_token = os.environ.get("FILEDROP_ADMIN_TOKEN") or secrets.token_urlsafe(24)
        env = {
            **os.environ,
            "MONGO_URI": db.uri,
            "MONGO_DB": "filedrop",
            "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_ACCESS_KEY_ID": s3.access_key,
            "S3_SECRET_ACCESS_KEY": s3.secret_key,
            "S3_REGION": s3.region,
            "S3_BUCKET": "filedrop",
            "FILEDROP_AUTH": "enabled",
            "FILEDROP_ADMIN_TOKEN": admin_token,
            "FILEDROP_SECRET_KEY": secrets.token_urlsafe(32),
        }
        env.update(dict(item.split("=", 1) for item in args.env))
        subprocess.run([sys.executable, "create_bucket.py"], cwd=ROOT, env=env, check=True)
        gunicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app:app",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(args.workers),
                "--threads",
                str(args.threads),
                *(["-k", args.worker_class] if args.worker_class else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=open(work / "gunicorn.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_ready(url, gunicorn)
        api_key = create_user(url, admin_token)
        info = {"BASE_URL": url, "FILEDROP_ADMIN_TOKEN": admin_token, "FILEDROP_API_KEY": api_key}
        if command:
            return subprocess.run(command, env={**env, **info}, check=False).returncode
        print(f"FILE DROP is serving on {url} (data and logs in {work})")
        for name, value in info.items():
            print(f"export {name}={value}")
        print(
            'try: curl -H "Authorization: Bearer $FILEDROP_API_KEY" '
            f"-F file=@README.md {url}/files/upload"
        )
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        for server in (s3, db):
            server.close()


if __name__ == "__main__":
    sys.exit(main())
