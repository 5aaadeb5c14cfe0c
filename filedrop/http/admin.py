"""User management for the admin token and the caller's own account."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

from .. import __version__
from ..errors import FileDropError
from .context import current_owner, get_service, get_users
from .models.requests import NewUserRequest
from .models.responses import (
    AdminStatus,
    NewKey,
    NewUser,
    StatusBackends,
    StatusCheck,
    StatusChecks,
    StatusDisk,
    StatusTotals,
    StatusTotalsUnknown,
    User,
    UserDeleted,
    UserEnvelope,
    UserList,
)
from .parsing import parse_json

bp = Blueprint("admin", __name__, url_prefix="/admin")
me_bp = Blueprint("me", __name__)


@bp.post("/users")
def create_user() -> tuple[Response, int, dict[str, str]]:
    asked = parse_json(NewUserRequest)
    user, key = get_users().create(asked.name, asked.quota_bytes)
    headers = {"Location": f"/admin/users/{user.user_id}", "Cache-Control": "no-store"}
    return jsonify(NewUser(user=User.of(user), api_key=key).to_json()), 201, headers


@bp.get("/users")
def list_users() -> Response:
    return jsonify(UserList(users=[User.of(u) for u in get_users().list()]).to_json())


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    return jsonify(UserEnvelope(user=User.of(get_users().get(user_id))).to_json())


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    deleted = get_users().delete(user_id)
    body = UserDeleted(message="User deleted", user_id=user_id, files_deleted=deleted)
    return jsonify(body.to_json())


@bp.post("/users/<user_id>/keys")
def rotate_key(user_id: str) -> tuple[Response, int, dict[str, str]]:
    key = get_users().rotate_key(user_id)
    body = NewKey(user_id=user_id, api_key=key)
    return jsonify(body.to_json()), 201, {"Cache-Control": "no-store"}


@bp.get("/status")
def status() -> Response:
    service = get_service()
    totals: StatusTotals | StatusTotalsUnknown
    try:
        users = get_users().list()
        totals = StatusTotals(
            users=len(users),
            files=sum(u.file_count for u in users),
            bytes=sum(u.bytes_used for u in users),
        )
    except FileDropError as exc:
        totals = StatusTotalsUnknown(error=exc.code)
    body = AdminStatus(
        version=__version__,
        uptime_s=round(time.time() - current_app.extensions["filedrop.started"], 1),
        backend=StatusBackends(metadata=service.meta.name, blobs=service.blobs.name),
        checks=StatusChecks(
            database=_timed(service.meta.check), storage=_timed(service.blobs.check)
        ),
        load_average=list(os.getloadavg()),
        memory_rss_bytes=_rss_bytes(),
        totals=totals,
    )
    disk = service.blobs.disk_usage()
    if disk is not None:
        body.disk = StatusDisk.model_validate(disk, from_attributes=True)
    return jsonify(body.to_json())


@me_bp.get("/me")
def me() -> Response:
    return jsonify(User.of(get_users().get(current_owner())).to_json())


def _timed(check: Callable[[], object]) -> StatusCheck:
    started = time.perf_counter()
    error: str | None = None
    try:
        check()
    except FileDropError as exc:
        error = exc.code
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if error is None:
        return StatusCheck(ok=True, latency_ms=latency_ms)
    return StatusCheck(ok=False, latency_ms=latency_ms, error=error)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status_file:
            for line in status_file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
