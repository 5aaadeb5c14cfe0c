"""Small JSON request bodies (renames, admin calls): bounded, strict about keys."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from ..errors import InvalidRequest
from .bodies import RequestBody

MAX_JSON_BYTES = 64 * 1024


def read_json_object(allowed: set[str] | None = None) -> dict[str, Any]:
    """The request's JSON object body, bounded in size (with only ``allowed`` keys, if given)."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise InvalidRequest("The JSON body is too large")
    raw = RequestBody.of(request).read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise InvalidRequest("The JSON body is too large")
    try:
        body = json.loads(raw)
    # RecursionError: "[[[[…" nested deeper than json can follow fits well within the limit.
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The JSON body must be an object")
    unknown = set(body) - allowed if allowed is not None else set()
    if unknown:
        raise InvalidRequest(f"Unknown fields: {', '.join(sorted(unknown))}")
    return body
