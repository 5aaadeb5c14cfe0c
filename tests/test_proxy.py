"""Behind a reverse proxy. The compose files: the replicas stack runs the app as
the single one does, with settings the app knows, behind an nginx that streams
bodies through (`.ci/run` validates both with ``docker-compose config -q``). And
the app believes a proxy's X-Forwarded-For only when told how many there are."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from filedrop import create_app
from filedrop.config import Settings
from tests.conftest import FAST, _make_backend
from tests.helpers import error_code

ROOT = Path(__file__).resolve().parent.parent


def _app_env(compose_file: str) -> dict[str, Any]:
    env: dict[str, Any] = yaml.safe_load((ROOT / compose_file).read_text())["x-app-env"]
    return env


def test_the_replicas_run_the_app_with_the_single_stacks_settings() -> None:
    single = _app_env("docker-compose.yml")
    assert _app_env("docker-compose.replicas.yml") == single
    known = {setting.metadata["env"] for setting in fields(Settings)}
    assert set(single) <= known, set(single) - known


def test_nginx_passes_bodies_through_unbuffered() -> None:
    directives = {
        line.split("#")[0].strip() for line in (ROOT / "nginx.conf").read_text().splitlines()
    }
    for directive in (
        "client_max_body_size 0;",
        "proxy_request_buffering off;",
        "proxy_buffering off;",
        "proxy_http_version 1.1;",
    ):
        assert directive in directives, directive


@pytest.mark.parametrize("hops", [0, 1])
def test_per_address_limits_count_the_client_behind_a_trusted_proxy(
    request: pytest.FixtureRequest, hops: int
) -> None:
    backend = next(_make_backend(request, FAST))
    settings = backend.settings.with_overrides(
        trusted_proxy_hops=hops, rate_limit_per_window=1, rate_limit_window_s=3600
    )
    client = create_app(settings, blobs=backend.blobs, meta=backend.meta).test_client()

    def status(forwarded_for: str) -> int:
        # An unknown link: public, so limited per client address.
        return client.get(
            "/d/no-such-token", headers={"X-Forwarded-For": forwarded_for}
        ).status_code

    assert status("203.0.113.1") == 404
    refused = client.get("/d/no-such-token", headers={"X-Forwarded-For": "203.0.113.1"})
    assert refused.status_code == 429 and error_code(refused) == "RATE_LIMITED"
    # Another client behind the same proxy has its own limit, if the proxy is trusted;
    # without trust the header is the client's own claim and changes nothing.
    assert status("203.0.113.2") == (404 if hops else 429)
