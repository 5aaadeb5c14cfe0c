"""Starting FILE DROP, as a person does: every entry point refuses a bad setting
with one line and a non-zero status, CLI commands say in one line when MongoDB
or S3 is down, and where the data lives does not depend on the current directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from filedrop import config, create_app
from filedrop.config import Settings
from tests import live, servers

pytestmark = pytest.mark.live

REPO = live.REPO_ROOT

# Each a mistake people make, and the setting the one line must name.
BAD_SETTINGS: dict[str, tuple[dict[str, str], str]] = {
    "s3-without-mongo": ({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "MONGO_URI"),
    "mongo-uri-no-scheme": ({"MONGO_URI": "localhost:27017"}, "MONGO_URI"),
    "mongo-uri-no-host": ({"MONGO_URI": "mongodb://"}, "MONGO_URI"),
    "size": ({"MAX_FILE_SIZE": "5 gigs"}, "MAX_FILE_SIZE"),
    "enum": ({"METRICS": "sometimes"}, "METRICS"),
}

# What a person types, run from ``cwd``: "repo" or "elsewhere" (a temp directory).
ENTRY_POINTS: dict[str, tuple[list[str], str]] = {
    "python app.py": ([sys.executable, "app.py"], "repo"),
    "gunicorn": (
        [sys.executable, "-m", "gunicorn", "-w", "2", "--no-control-socket", "app:app"],
        "repo",
    ),
    "flask fsck": ([sys.executable, "-m", "flask", "--app", "app", "fsck"], "repo"),
    "filedrop fsck": ([sys.executable, "-m", "filedrop", "fsck"], "elsewhere"),
    "filedrop serve": ([sys.executable, "-m", "filedrop", "serve"], "elsewhere"),
}


def run(
    command: list[str], settings: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``command`` with only ``settings`` (and the interpreter's own variables); the
    repository is importable from anywhere, as after ``pip install -e .``."""
    env = {k: v for k, v in os.environ.items() if k in live._KEEP_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(settings)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """A non-zero exit, no traceback, and exactly one line holding all ``words``."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if all(word in line for word in words)]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_from_every_entry_point(
    entry: str, case: str, tmp_path: Path
) -> None:
    command, where = ENTRY_POINTS[entry]
    settings, named = BAD_SETTINGS[case]
    port = str(servers.free_ports(1)[0])
    cwd = REPO if where == "repo" else tmp_path
    result = run(command, {**settings, "DATA_DIR": str(tmp_path / "data"), "PORT": port}, cwd)
    line = assert_one_line(result, named)
    assert line.startswith("filedrop: "), line
    # gunicorn's master refuses before it binds the port or starts a worker.
    assert "Listening at" not in result.stderr and "Booting worker" not in result.stderr


@pytest.mark.parametrize(
    ("entry", "name", "value"),
    [
        ("filedrop serve", "WEB_CONCURRENCY", "abc"),
        # Plain gunicorn parses a non-number itself as it is imported, before any
        # config file runs: its traceback is not ours to shorten.
        ("gunicorn", "WEB_CONCURRENCY", "0"),
        ("filedrop serve", "WEB_CONCURRENCY", "0"),
        ("gunicorn", "GUNICORN_THREADS", "-2"),
        ("filedrop serve", "GUNICORN_THREADS", "many"),
    ],
)
def test_a_bad_gunicorn_count_is_one_line(
    entry: str, name: str, value: str, tmp_path: Path
) -> None:
    """The counts gunicorn's settings read from the environment are checked like
    FILE DROP's own: one line naming the variable, before a worker starts."""
    command, where = ENTRY_POINTS[entry]
    port = str(servers.free_ports(1)[0])
    cwd = REPO if where == "repo" else tmp_path
    result = run(command, {name: value, "DATA_DIR": str(tmp_path / "data"), "PORT": port}, cwd)
    line = assert_one_line(result, name, repr(value))
    assert line.startswith("filedrop: "), line
    assert "Listening at" not in result.stderr and "Booting worker" not in result.stderr


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_data_dir_that_cannot_be_made_is_one_line(entry: str, tmp_path: Path) -> None:
    """Embedded mode keeps everything in DATA_DIR: one it cannot create (here beneath
    a plain file) stops every entry point with one line, never a traceback."""
    command, where = ENTRY_POINTS[entry]
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"
    port = str(servers.free_ports(1)[0])
    cwd = REPO if where == "repo" else tmp_path
    result = run(command, {"DATA_DIR": str(data_dir), "PORT": port}, cwd)
    line = assert_one_line(result, "DATA_DIR", str(data_dir))
    assert line.startswith("filedrop: "), line
    assert "Listening at" not in result.stderr and "Booting worker" not in result.stderr


SERVER_KEY = "setup-tests-server-key-0123456789abcdef"  # keys on with MongoDB need one


def test_a_cli_command_says_in_one_line_that_mongodb_is_down(tmp_path: Path) -> None:
    down = servers.free_ports(1)[0]
    settings = {
        "MONGO_URI": f"mongodb://127.0.0.1:{down}",
        "MONGO_TIMEOUT_MS": "200",
        "FILEDROP_SECRET_KEY": SERVER_KEY,
    }
    for command in (["flask", "--app", "app", "fsck"], ["filedrop", "purge"]):
        result = run([sys.executable, "-m", *command], settings, REPO)
        assert_one_line(result, "DATABASE_UNAVAILABLE: ")


def test_a_cli_command_says_in_one_line_that_s3_is_down(tmp_path: Path) -> None:
    mongo_down, s3_down = servers.free_ports(2)
    settings = {
        "MONGO_URI": f"mongodb://127.0.0.1:{mongo_down}",
        "MONGO_TIMEOUT_MS": "200",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_down}",
        "S3_ACCESS_KEY_ID": "key",
        "S3_SECRET_ACCESS_KEY": "secret",
        "S3_TIMEOUT_S": "0.5",
        "FILEDROP_SECRET_KEY": SERVER_KEY,
    }
    result = run([sys.executable, "-m", "filedrop", "create-bucket"], settings, tmp_path)
    assert_one_line(result, "STORAGE_UNAVAILABLE: ")


def test_the_cli_finds_the_same_store_from_any_directory(tmp_path: Path) -> None:
    """A checkout's ``.env`` and ``data/`` are its own, wherever a command runs."""
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    shutil.copytree(REPO / "filedrop", checkout / "filedrop", ignore=_PYCACHE)
    shutil.copy(REPO / "app.py", checkout)
    elsewhere.mkdir()
    (checkout / ".env").write_text("DATA_DIR=./store\n")
    sqlite = checkout / "store" / "filedrop.sqlite3"
    made = run([sys.executable, "-m", "flask", "--app", "app", "create-user", "ann"], {}, checkout)
    assert made.returncode == 0, made.stderr
    fsck = [sys.executable, "-m", "flask", "--app", str(checkout / "app.py"), "fsck"]
    for result in (
        run(fsck, {}, elsewhere),
        run([sys.executable, "-m", "filedrop", "fsck"], {"PYTHONPATH": str(checkout)}, elsewhere),
    ):
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"fsck: metadata in sqlite database {sqlite}," in result.stderr, result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == []  # no empty store made here
    assert sqlite.is_file()


_PYCACHE = shutil.ignore_patterns("__pycache__")


def test_data_dir_default_does_not_follow_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}, dotenv_path=None).data_dir == str(REPO / "data")
    assert Settings.from_env({"DATA_DIR": "rel"}, dotenv_path=None).data_dir == str(
        tmp_path / "rel"
    )


def test_an_installed_package_keeps_data_in_the_platform_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No checkout beside the package: nothing depends on the current directory either."""
    monkeypatch.setattr(config, "checkout_dir", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == str(tmp_path / "share" / "filedrop")
    assert config.default_dotenv() == tmp_path / ".env"


def test_dev_server_says_where_it_serves_and_logs_each_request_once(tmp_path: Path) -> None:
    app = live.start_dev_server({"DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        for _ in range(2):
            assert requests.get(f"{app.url}/healthz", timeout=5).status_code == 200
        time.sleep(0.3)  # the access line is written once the response is closed
    finally:
        app.stop()
    log = app.log_path.read_text()
    assert f"serving on {app.url} (Ctrl+C to stop)" in log.splitlines(), log
    assert sum("/healthz" in line for line in log.splitlines()) == 2, log


def test_dev_server_on_a_busy_port_says_so_and_never_that_it_serves(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = {"DATA_DIR": str(tmp_path / "data"), "PORT": str(port)}
        result = run([sys.executable, "app.py"], settings, REPO)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "serving on" not in output, output
    assert f"Port {port} is in use" in output, output


def test_create_bucket_in_embedded_mode_says_what_it_did(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=str(tmp_path / "data")))
    result = app.test_cli_runner().invoke(args=["create-bucket"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"embedded mode has no bucket: data directory {tmp_path / 'data'} ready"
    )


def test_the_api_description_holds_in_embedded_mode(tmp_path: Path) -> None:
    client = create_app(Settings(data_dir=str(tmp_path / "data"))).test_client()
    description = client.get("/openapi.json").get_json()["info"]["description"]
    first_paragraph = description.split("\n\n")[0]
    assert "embedded mode" in first_paragraph and "SQLite" in first_paragraph


def test_gunicorns_master_checks_settings_without_loading_the_app() -> None:
    """gevent patches the standard library in each worker: the master, which reads
    filedrop/gunicorn_conf.py, must not import Flask, the storage clients or gevent."""
    probe = (
        "import sys, filedrop.gunicorn_conf; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'werkzeug', 'pymongo', 'boto3', 'botocore', 'gevent'}))"
    )
    result = run([sys.executable, "-c", probe], {}, REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
