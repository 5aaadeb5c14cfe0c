"""The layers stay apart: domain, services and storage load without the web framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# Every module of these packages, found by walking them, so a new module is covered
# the day it is added.
PACKAGES_BELOW_HTTP = ["filedrop.services", "filedrop.storage"]
MODULES_BELOW_HTTP = ["filedrop.errors", "filedrop.ids", "filedrop.validation", "filedrop.backends"]


def test_services_and_storage_never_import_flask() -> None:
    # A fresh interpreter (this one has Flask loaded by other tests), importing one
    # module at a time so the failure names the first that brought the web along.
    check = (
        "import importlib, pkgutil, sys\n"
        f"modules = {MODULES_BELOW_HTTP!r}\n"
        f"for package in {PACKAGES_BELOW_HTTP!r}:\n"
        "    path = importlib.import_module(package).__path__\n"
        "    modules += [m.name for m in pkgutil.walk_packages(path, package + '.')]\n"
        "assert 'filedrop.services.uploads' in modules, modules  # the walk found them\n"
        "for module in modules:\n"
        "    importlib.import_module(module)\n"
        "    web = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug'))\n"
        "    assert not web, f'{module} imports {web[:3]}'\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
