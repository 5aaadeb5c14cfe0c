"""Liveness and readiness probes (SPEC §6)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..errors import FileDropError
from .context import get_service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    service = get_service()
    checks: dict[str, str] = {}
    failed: FileDropError | None = None
    for name, check in (("database", service.meta.check), ("storage", service.blobs.check)):
        try:
            check()
            checks[name] = "ok"
        except FileDropError as exc:
            checks[name] = exc.code
            failed = failed or exc
    if failed is None:
        return jsonify({"status": "ready", "checks": checks}), 200
    body = {"status": "unavailable", "checks": checks, "error": {"code": failed.code}}
    return jsonify(body), 503
