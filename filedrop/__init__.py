"""FILE DROP: a file service on S3-compatible storage and MongoDB.

:func:`create_app` (in :mod:`filedrop.factory`) is the application factory;
:mod:`filedrop.wsgi` calls it for gunicorn. Importing the package itself loads
no Flask, so ``filedrop.config`` can check settings in gunicorn's master.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .factory import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .factory import create_app

        return create_app
    raise AttributeError(f"module 'filedrop' has no attribute {name!r}")


__all__ = ["__version__", "create_app"]
