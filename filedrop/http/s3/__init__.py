"""The S3-compatible API at ``/s3``: path-style ``/s3/{bucket}/{key}``, SigV4 only.

A user's buckets are their top-level folders; an object is a file (same id, bytes,
quota and links as over REST). Every write goes through the same services as REST.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request

from ..context import assign_request_id
from . import auth
from .errors import s3_error
from .xml import error_response

log = logging.getLogger("filedrop.s3")
bp = Blueprint("s3", __name__, url_prefix="/s3")
bp.before_request(auth.authenticate)


@bp.errorhandler(Exception)
def _s3_error(exc: Exception) -> Response:
    error = s3_error(exc)
    if error.s3_code == "InternalError":
        log.exception("unhandled error in the S3 API")
    request_id = g.get("request_id") or assign_request_id()
    return error_response(error, request.path, request_id, request.method == "HEAD")


from . import buckets, objects  # noqa: E402,F401  (registers the routes on bp)
