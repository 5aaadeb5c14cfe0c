"""GET /buckets: the caller's buckets (S3's view of their top-level folders) and usage.

Creating and deleting a bucket over REST is POST and DELETE /folders on ``/NAME``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .context import current_caller, current_owner, get_buckets

bp = Blueprint("buckets", __name__)


@bp.get("/buckets")
def list_buckets() -> Response:
    caller = current_caller()
    owner = current_owner()
    buckets = get_buckets()
    names = buckets.names(owner, caller.bucket if caller else None)
    return jsonify({"buckets": [buckets.usage(owner, name).public() for name in names]})
