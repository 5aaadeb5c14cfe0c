"""GET /metrics in Prometheus text format (access set by METRICS; see http/auth.py)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST

from ..metrics import Metrics

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    registry: Metrics = current_app.extensions["filedrop.metrics"]
    return Response(registry.exposition(), mimetype=CONTENT_TYPE_LATEST)
