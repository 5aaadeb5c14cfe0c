"""A live FILE DROP with keys on, for the S3 API tests: embedded mode under the dev
server, or gunicorn on real S3 and FerretDB; users made through the admin API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from tests import servers
from tests.live import Gunicorn, real_server_settings, start_dev_server, start_gunicorn

ADMIN = "s3-tests-admin-token-0123456789"
EMBEDDED = "embedded"
GUNICORN_REAL = ["seaweedfs+ferretdb", "minio+ferretdb"]


@dataclass
class User:
    user_id: str
    api_key: str
    access_key_id: str
    secret_access_key: str


@dataclass
class LiveS3:
    """The server, and how to reach its S3 API and REST API."""

    server: Gunicorn
    name: str

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/s3"

    def new_user(self, name: str = "alice") -> User:
        response = requests.post(
            f"{self.server.url}/admin/users",
            json={"name": name},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return User(
            body["user"]["user_id"],
            body["api_key"],
            body["access_key_id"],
            body["secret_access_key"],
        )

    def new_key(self, user: User, **fields: Any) -> User:
        response = requests.post(
            f"{self.server.url}/me/keys",
            json={"name": "k", **fields},
            headers={"Authorization": f"Bearer {user.api_key}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return User(user.user_id, body["api_key"], body["access_key_id"], body["secret_access_key"])

    def client(self, user: User, **config: Any) -> Any:
        return s3_client(self.endpoint, user.access_key_id, user.secret_access_key, **config)

    def rest(self, user: User, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {user.api_key}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.server.url}{path}", headers=headers, timeout=30, **kwargs
        )


def s3_client(endpoint: str, access_key: str, secret: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            **config,
        ),
    )


def serve(request: Any, work: Path) -> Iterator[LiveS3]:
    """A module fixture's body: FILE DROP for ``request.param`` (EMBEDDED or one of
    GUNICORN_REAL), on the session's real servers where it needs them."""
    real = None
    if request.param != EMBEDDED:
        s3 = request.getfixturevalue("seaweedfs" if "seaweedfs" in request.param else "minio")
        real = (s3, request.getfixturevalue("ferretdb"))
    server = start(request.param, work, real)
    yield server
    server.server.stop()


def start(name: str, work: Path, real: tuple[servers.S3Server, servers.FerretDB] | None) -> LiveS3:
    settings = {
        "FILEDROP_AUTH": "enabled",
        "FILEDROP_ADMIN_TOKEN": ADMIN,
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_REQUESTS": "0",
        "S3_PART_SIZE": "5MiB",
    }
    if real is None:
        settings.update(DATA_DIR=str(work / "data"), MONGO_URI="")
        server = start_dev_server(settings, work / "server.log")
    else:
        settings.update(real_server_settings(*real, prefix="s3api"))
        settings["FILEDROP_SECRET_KEY"] = secrets.token_urlsafe(32)
        server = start_gunicorn(settings, work / "server.log", ["-w", "2"])
    return LiveS3(server, name)
