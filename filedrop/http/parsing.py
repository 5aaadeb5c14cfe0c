"""Client input into typed models: the one place a malformed value becomes an error.

Unknown keys in a JSON body are refused first. Then the first error in field
order wins: a domain rule's own (``INVALID_FOLDER`` for a bad folder, see
:func:`filedrop.http.models.base.domain_rule`) as it was raised, or what pydantic
found itself (a wrong type, a missing field, a value out of range) as ``400
INVALID_REQUEST``, worded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import FileDropError, InvalidRequest
from .bodies import has_body
from .jsonbody import read_json_object
from .models.base import DOMAIN_ERROR

Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], values: Mapping[str, Any]) -> Model:
    """``values`` (a JSON object, form fields or query parameters) as ``model``."""
    unknown = set(values) - set(model.model_fields)
    if unknown and model.model_config.get("extra") == "forbid":
        raise InvalidRequest(f"Unknown fields: {', '.join(sorted(unknown))}")
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise _error(exc.errors()[0]) from None


def parse_json(model: type[Model], optional: bool = False, example: str | None = None) -> Model:
    """The request's JSON object body as ``model``; with ``optional``, no body is ``{}``.
    ``example`` ends the message when the body is not a JSON object."""
    if optional and not has_body(request):
        return parse(model, {})
    return parse(model, read_json_object(example))


def parse_query(model: type[Model]) -> Model:
    """The query parameters as ``model`` (the first value of each)."""
    return parse(model, request.args.to_dict())


def _error(error: ErrorDetails) -> FileDropError:
    if error["type"] == DOMAIN_ERROR:
        found: FileDropError = error["ctx"]["error"]
        return found
    return InvalidRequest(_message(error))


def _message(error: ErrorDetails) -> str:
    # The field, and the item of a list; not the union member pydantic tried.
    loc = error["loc"] or ("The body",)
    field = "".join([str(loc[0]), *(f"[{part}]" for part in loc[1:] if isinstance(part, int))])
    if error["type"] == "missing":
        return f"{field} is required"
    message = error["msg"]
    return f"{field}: {message[0].lower()}{message[1:]}"
