"""The compose files: the replicas stack runs the app exactly as the single one
does, with settings the app knows, behind an nginx that streams bodies through.
(`.ci/run` validates both files with ``docker-compose config -q``.)"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from filedrop.config import Settings

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
