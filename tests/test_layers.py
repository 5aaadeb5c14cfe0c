"""The layers stay apart: domain, services and storage load without the web framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

BELOW_HTTP = [
    "filedrop.errors",
    "filedrop.service",
    "filedrop.users",
    "filedrop.links",
    "filedrop.folders",
    "filedrop.uploads",
    "filedrop.fsck",
    "filedrop.expiry",
    "filedrop.ratelimit",
    "filedrop.backends",
    "filedrop.storage.sqlite",
    "filedrop.storage.mongo",
    "filedrop.storage.s3",
    "filedrop.storage.local",
]


@pytest.mark.parametrize("module", BELOW_HTTP)
def test_services_and_storage_never_import_flask(module: str) -> None:
    # A fresh interpreter: this one has Flask loaded by the other tests.
    check = (
        f"import sys, {module}; "
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')); "
        "assert not web, web"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
