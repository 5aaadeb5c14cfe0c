"""Liveness and readiness probes."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify

from ..errors import FileDropError, error_response
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
    response = error_response(failed.status, failed.code, failed.message, Retry_After=5)
    body = response.get_json()
    response.set_data(json.dumps({"status": "unavailable", "checks": checks, **body}))
    return response, 503
