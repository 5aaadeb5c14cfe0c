"""User management for the admin token and the caller's own account."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

from .. import __version__
from ..errors import FileDropError, Forbidden
from .context import current_caller, current_owner, get_service, get_users
from .models.requests import NewApiKeyRequest, NewUserRequest
from .models.responses import (
    AdminStatus,
    ApiKey,
    ApiKeyDeleted,
    ApiKeyList,
    NewApiKey,
    NewKey,
    NewUser,
    StatusBackends,
    StatusCheck,
    StatusChecks,
    StatusDisk,
    StatusTotals,
    StatusTotalsUnknown,
    Usage,
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
    return jsonify(NewUser.made(user, key).to_json()), 201, headers


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
    return jsonify(NewKey.made(user_id, key).to_json()), 201, {"Cache-Control": "no-store"}


@bp.get("/status")
def status() -> Response:
    service = get_service()
    totals: StatusTotals | StatusTotalsUnknown
    try:
        users = get_users().list()
        usage = [Usage.of(user) for user in users]  # drift below zero shows as 0
        totals = StatusTotals(
            users=len(users),
            files=sum(u.file_count for u in usage),
            bytes=sum(u.bytes_used for u in usage),
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
        body.disk = StatusDisk.of(disk)
    return jsonify(body.to_json())


@me_bp.get("/me")
def me() -> Response:
    return jsonify(User.of(get_users().get(current_owner())).to_json())


@me_bp.post("/me/keys")
def create_key() -> tuple[Response, int, dict[str, str]]:
    asked = parse_json(NewApiKeyRequest)
    caller = current_caller()
    if caller is not None and caller.key is not None and (caller.bucket or caller.read_only):
        raise Forbidden("A bucket-scoped or read-only key cannot make keys")
    key = get_users().keys.create(current_owner(), asked.name, asked.bucket, asked.read_only)
    headers = {"Location": f"/me/keys/{key.record.key_id}", "Cache-Control": "no-store"}
    return jsonify(NewApiKey.made(key).to_json()), 201, headers


@me_bp.get("/me/keys")
def list_keys() -> Response:
    keys = get_users().keys.list(current_owner())
    return jsonify(ApiKeyList(keys=[ApiKey.of(key) for key in keys]).to_json())


@me_bp.delete("/me/keys/<key_id>")
def delete_key(key_id: str) -> Response:
    removed = get_users().delete_key(current_owner(), key_id)
    return jsonify(ApiKeyDeleted(message="Key deleted", key_id=removed.key_id).to_json())


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
