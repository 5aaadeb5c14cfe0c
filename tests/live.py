"""A real gunicorn serving ``app:app`` from the repository root, for tests that need
the production server: ``gunicorn.conf.py`` (its worker class and hooks), real
sockets, a worker process of its own. The test client would hide all three."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import requests

from tests import servers

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "PYENV_VERSION")


@dataclass
class Gunicorn:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_group(self.proc)


def real_server_settings(s3: servers.S3Server, db: servers.FerretDB, prefix: str) -> dict[str, str]:
    """The app's settings for these real servers, with a bucket and a database of
    its own (both named ``prefix`` and a random suffix); the bucket is made here."""
    suffix = uuid.uuid4().hex[:12]
    bucket = f"{prefix}-{suffix}"
    s3.client().create_bucket(Bucket=bucket)
    return {
        "MONGO_URI": db.uri,
        "MONGO_DB": f"{prefix.replace('-', '_')}_{suffix}",
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_ACCESS_KEY_ID": s3.access_key,
        "S3_SECRET_ACCESS_KEY": s3.secret_key,
        "S3_REGION": s3.region,
        "S3_BUCKET": bucket,
        "FILEDROP_SECRET_KEY": "live-test-server-key-" + suffix * 3,
    }


def keyed_settings(
    s3: servers.S3Server, db: servers.FerretDB, prefix: str, **extra: str
) -> tuple[dict[str, str], str]:
    """:func:`real_server_settings` with API keys on, as deployed, and ``extra``; and
    the admin token those settings accept."""
    admin = secrets.token_urlsafe(24)
    settings = {
        **real_server_settings(s3, db, prefix),
        "FILEDROP_AUTH": "enabled",
        "FILEDROP_ADMIN_TOKEN": admin,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return settings, admin


def create_user(url: str, admin: str, name: str) -> tuple[str, str]:
    """A user made through the admin API at ``url``: its id and API key."""
    made = requests.post(
        f"{url}/admin/users",
        json={"name": name},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["user"]["user_id"], made.json()["api_key"]


def start_gunicorn(settings: dict[str, str], log_path: Path, args: list[str]) -> Gunicorn:
    """``gunicorn ARGS app:app`` on a free loopback port, with only ``settings`` (and
    the interpreter's own variables) in its environment; returns once it is ready."""
    port = servers.free_ports(1)[0]
    command = [sys.executable, "-m", "gunicorn", *args, "-b", f"127.0.0.1:{port}"]
    # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared by every run.
    command += ["--no-control-socket", "app:app"]
    return _start(command, settings, log_path, port, with_workers=True)


def start_dev_server(settings: dict[str, str], log_path: Path) -> Gunicorn:
    """``python app.py``, the README's local command, like :func:`start_gunicorn`
    (one process, no workers: its ``workers()`` is empty)."""
    port = servers.free_ports(1)[0]
    command = [sys.executable, "app.py"]
    return _start(command, {**settings, "PORT": str(port)}, log_path, port, with_workers=False)


def _start(
    command: list[str], settings: dict[str, str], log_path: Path, port: int, with_workers: bool
) -> Gunicorn:
    env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
    env.update(settings)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: master and workers die together
        )
    app = Gunicorn(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(app, with_workers)
    except BaseException:
        app.stop()
        raise
    return app


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat_line = Path(f"/proc/{entry}/stat").read_text()
                # Field 4 (ppid) follows the ")" that closes the command name.
                if int(stat_line.rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry))
    return found


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the master, and any worker it left
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT_S)


def _wait_ready(app: Gunicorn, with_workers: bool) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            break
        try:
            response = requests.get(f"{app.url}/readyz", timeout=2)
            if response.status_code == 200 and (app.workers() or not with_workers):
                return
            last = f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.2)
    tail = app.log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{app.proc.args} not ready ({last}); exit {app.proc.poll()}; log:\n{tail}")


class CuttingProxy:
    """A TCP proxy to ``port`` that closes both ends of the connection once it has
    forwarded ``limit`` bytes of request *body* (counted after the first blank line
    of each connection). Responses flow back unchanged."""

    def __init__(self, port: int, limit: int) -> None:
        self._target = ("127.0.0.1", port)
        self._limit = limit
        self.body_forwarded = 0
        self.cut = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            for target in (self._requests, self._responses):
                thread = threading.Thread(target=target, args=(client, upstream), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        head = b""
        in_body = False
        try:
            while data := client.recv(64 * 1024):
                if not in_body:
                    head += data
                    if b"\r\n\r\n" not in head:
                        upstream.sendall(data)
                        continue
                    in_body = True
                    header_end = head.index(b"\r\n\r\n") + 4
                    body_part = head[header_end:]
                    upstream.sendall(data[: len(data) - len(body_part)])
                    data = body_part
                room = self._limit - self.body_forwarded
                upstream.sendall(data[:room])
                self.body_forwarded += min(room, len(data))
                if self.body_forwarded >= self._limit:
                    self.cut.set()
                    break
        except OSError:
            pass
        for sock in (upstream, client):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _responses(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while data := upstream.recv(64 * 1024):
                client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._listener.close()
