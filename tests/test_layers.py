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


def test_services_and_storage_never_import_flask() -> None:
    # A fresh interpreter (this one has Flask loaded by other tests), importing one
    # module at a time so the failure names the first that brought the web along.
    check = (
        "import importlib, sys\n"
        f"for module in {BELOW_HTTP!r}:\n"
        "    importlib.import_module(module)\n"
        "    web = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug'))\n"
        "    assert not web, f'{module} imports {web[:3]}'\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
