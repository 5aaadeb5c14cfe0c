"""Who is calling: bearer keys, the admin token, and per-caller rate limits.

Runs before every request. Public endpoints (health, docs, share downloads)
need no key but are still rate limited by client address.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from ..errors import Forbidden, Unauthorized
from ..services.ratelimit import RateLimiter
from ..services.users import IMPLICIT_USER, is_admin_token
from .context import get_settings, get_users
from .scope import enforce_key_limits

# Probes, docs and the web app's page answer even when the database (which counts
# requests) is down.
_UNMETERED_BLUEPRINTS = {"health", "docs", "web"}
_PUBLIC_BLUEPRINTS = {"links_public"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _authenticate() -> None:
    g.owner = None
    g.caller = None
    endpoint = request.endpoint
    limiter: RateLimiter = current_app.extensions["filedrop.ratelimit"]
    settings = get_settings()
    if endpoint is None or request.blueprint in _UNMETERED_BLUEPRINTS:
        return
    if request.blueprint == "s3":
        return  # SigV4, checked by the S3 API itself
    if request.blueprint == "metrics" and settings.metrics == "public":
        return
    if request.blueprint in _PUBLIC_BLUEPRINTS:
        limiter.check(f"ip:{request.remote_addr}")
        return
    token = bearer_token()
    if request.blueprint in ("admin", "metrics"):
        # /metrics can also be opened to all: say so where it is refused.
        hint = " (or set METRICS=public to serve /metrics without it)"
        _require_admin(
            token,
            settings.admin_token,
            settings.auth_enabled,
            hint if request.blueprint == "metrics" else "",
        )
        g.owner = "admin"
        limiter.check("admin")
        return
    if not settings.auth_enabled:
        g.owner = IMPLICIT_USER
        return
    if is_admin_token(token, settings.admin_token):
        raise Forbidden("The admin token manages users; use a user's key for files")
    caller = get_users().authenticate(token)
    g.owner = caller.user.user_id
    g.caller = caller  # read once per request; the upload's quota pre-check reuses it
    limiter.check(f"user:{caller.user.user_id}")
    enforce_key_limits(caller)


def _require_admin(token: str | None, admin_token: str, auth_enabled: bool, hint: str) -> None:
    if not admin_token:
        raise Forbidden(f"The admin API is off: set FILEDROP_ADMIN_TOKEN to use it{hint}")
    if is_admin_token(token, admin_token):
        return
    if token and auth_enabled:
        get_users().authenticate(token)  # 401 for a bad key, and for a user's key:
        if hint:
            raise Forbidden(f"Only the admin token may read /metrics{hint}")
        raise Forbidden("Only the admin token may manage users")
    raise Unauthorized(f"Send Authorization: Bearer <admin token>{hint}")


def init_app(app: Flask) -> None:
    app.before_request(_authenticate)
