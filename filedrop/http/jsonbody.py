"""Small JSON request bodies (renames, admin calls): bounded, and always an object."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from ..errors import InvalidRequest
from .bodies import RequestBody

MAX_JSON_BYTES = 64 * 1024


def read_json_object(example: str | None = None) -> dict[str, Any]:
    """The request's JSON object body, bounded in size; its keys are the model's to check
    (:func:`filedrop.http.parsing.parse_json`).

    ``example``, a body this endpoint takes, ends the message when the body is not
    a JSON object, so a client learns what to send instead.
    """
    expected = f": send a JSON object such as {example}" if example else ""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise InvalidRequest("The JSON body is too large")
    raw = RequestBody.of(request).read_whole(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise InvalidRequest("The JSON body is too large")
    try:
        body = json.loads(raw)
    # RecursionError: "[[[[…" nested deeper than json can follow fits well within the limit.
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest(f"The body is not valid JSON{expected}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"The JSON body must be an object{expected}")
    return body
