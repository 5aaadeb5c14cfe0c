"""User management for the admin token and the caller's own account."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from .. import __version__
from ..config import parse_size
from ..errors import FileDropError, Forbidden, InvalidRequest
from ..services.keys import NewKey
from .context import current_caller, current_owner, get_service, get_users
from .jsonbody import read_json_object

bp = Blueprint("admin", __name__, url_prefix="/admin")
me_bp = Blueprint("me", __name__)


@bp.post("/users")
def create_user() -> tuple[Response, int, dict[str, str]]:
    body = read_json_object(allowed={"name", "quota_bytes"})
    quota = _quota(body.get("quota_bytes"))
    user, key = get_users().create(body.get("name"), quota)  # type: ignore[arg-type]
    headers = {"Location": f"/admin/users/{user.user_id}", "Cache-Control": "no-store"}
    return jsonify({"user": user.public(), **_secrets(key)}), 201, headers


@bp.get("/users")
def list_users() -> Response:
    return jsonify({"users": [u.public() for u in get_users().list()]})


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    return jsonify({"user": get_users().get(user_id).public()})


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    deleted = get_users().delete(user_id)
    return jsonify({"message": "User deleted", "user_id": user_id, "files_deleted": deleted})


@bp.post("/users/<user_id>/keys")
def rotate_key(user_id: str) -> tuple[Response, int, dict[str, str]]:
    key = get_users().rotate_key(user_id)
    body = {"user_id": user_id, **_secrets(key)}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


def _secrets(key: NewKey) -> dict[str, str]:
    """A new key's secrets, as the response that shows them once carries them."""
    return {
        "key_id": key.record.key_id,
        "api_key": key.api_key,
        "access_key_id": key.record.access_key_id,
        "secret_access_key": key.secret_access_key,
    }


@bp.get("/status")
def status() -> Response:
    service = get_service()
    checks = {
        "database": _timed(service.meta.check),
        "storage": _timed(service.blobs.check),
    }
    body: dict[str, Any] = {
        "version": __version__,
        "uptime_s": round(time.time() - current_app.extensions["filedrop.started"], 1),
        "backend": {"metadata": service.meta.name, "blobs": service.blobs.name},
        "checks": checks,
        "load_average": list(os.getloadavg()),
        "memory_rss_bytes": _rss_bytes(),
    }
    try:
        users = get_users().list()
        body["totals"] = {
            "users": len(users),
            "files": sum(u.file_count for u in users),
            "bytes": sum(u.bytes_used for u in users),
        }
    except FileDropError as exc:
        body["totals"] = {"error": exc.code}
    disk = service.blobs.disk_usage()
    if disk is not None:
        body["disk"] = asdict(disk)
    return jsonify(body)


@me_bp.get("/me")
def me() -> Response:
    return jsonify(get_users().get(current_owner()).public())


@me_bp.post("/me/keys")
def create_key() -> tuple[Response, int, dict[str, str]]:
    body = read_json_object(allowed={"name", "bucket", "read_only"})
    caller = current_caller()
    if caller is not None and caller.key is not None and (caller.bucket or caller.read_only):
        raise Forbidden("A bucket-scoped or read-only key cannot make keys")
    key = get_users().keys.create(
        current_owner(), body.get("name"), body.get("bucket"), body.get("read_only", False)
    )
    headers = {"Location": f"/me/keys/{key.record.key_id}", "Cache-Control": "no-store"}
    return jsonify(key.public()), 201, headers


@me_bp.get("/me/keys")
def list_keys() -> Response:
    return jsonify({"keys": [key.public() for key in get_users().keys.list(current_owner())]})


@me_bp.delete("/me/keys/<key_id>")
def delete_key(key_id: str) -> Response:
    removed = get_users().delete_key(current_owner(), key_id)
    return jsonify({"message": "Key deleted", "key_id": removed.key_id})


def _quota(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidRequest("quota_bytes must be a number of bytes or a size like '5GiB'")
    try:
        value = parse_size(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if value < 0:
        raise InvalidRequest("quota_bytes must not be negative")
    return value


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
        result: dict[str, Any] = {"ok": True}
    except FileDropError as exc:
        result = {"ok": False, "error": exc.code}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status_file:
            for line in status_file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
