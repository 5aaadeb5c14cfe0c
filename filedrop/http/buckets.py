"""GET /buckets: the caller's buckets (S3's view of their top-level folders) and usage.

Creating and deleting a bucket over REST is POST and DELETE /folders on ``/NAME``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .context import current_caller, current_owner, get_buckets
from .models.responses import Bucket, BucketList

bp = Blueprint("buckets", __name__)


@bp.get("/buckets")
def list_buckets() -> Response:
    caller = current_caller()
    owner = current_owner()
    buckets = get_buckets()
    names = buckets.names(owner, caller.bucket if caller else None)
    listed = BucketList(buckets=[Bucket.of(buckets.usage(owner, name)) for name in names])
    return jsonify(listed.to_json())
