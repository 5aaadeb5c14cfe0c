"""The typed edge: client input parsed into models, failures with the API's error codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from filedrop.errors import FileDropError, InvalidFolder, InvalidRequest
from filedrop.http.models.requests import (
    CopyRequest,
    NewLinkRequest,
    NewUserRequest,
    PlacementFields,
    RenameRequest,
)
from filedrop.http.parsing import parse

pytestmark = pytest.mark.unit


def refused(model: Any, values: dict[str, Any]) -> FileDropError:
    with pytest.raises(FileDropError) as caught:
        parse(model, values)
    return caught.value


def test_unknown_fields_are_refused_before_anything_else() -> None:
    error = refused(CopyRequest, {"folder": "no-slash", "colour": "red", "size": 1})
    assert type(error) is InvalidRequest
    assert error.message == "Unknown fields: colour, size"


def test_a_domain_rule_keeps_its_own_code() -> None:
    error = refused(CopyRequest, {"folder": "no-slash"})
    assert type(error) is InvalidFolder
    assert "start with '/'" in error.message


def test_the_first_bad_field_decides_the_error() -> None:
    # on_conflict comes before folder, as it was always checked first.
    error = refused(CopyRequest, {"on_conflict": "merge", "folder": "no-slash"})
    assert type(error) is InvalidRequest and error.message.startswith("on_conflict:")


@pytest.mark.parametrize(
    ("model", "values", "named"),
    [
        (CopyRequest, {"file_name": 5}, "file_name"),
        (NewLinkRequest, {"max_downloads": True}, "max_downloads"),
        (NewLinkRequest, {"expires_in": 1.5}, "expires_in"),
        (NewUserRequest, {}, "name is required"),
    ],
)
def test_what_pydantic_finds_is_invalid_request_naming_the_field(
    model: Any, values: dict[str, Any], named: str
) -> None:
    error = refused(model, values)
    assert type(error) is InvalidRequest and named in error.message


def test_form_and_query_strings_become_typed_values() -> None:
    fields = parse(
        PlacementFields,
        {"expires_in": " 60 ", "expires_at": None, "on_conflict": "rename", "folder": "/a"},
    )
    assert (fields.expires_in, fields.on_conflict, fields.folder) == (60, "rename", "/a")
    at = parse(PlacementFields, {"expires_at": "2100-01-01T02:00:00+02:00"}).expires_at
    assert at == datetime(2100, 1, 1, tzinfo=UTC)


def test_a_json_null_expiry_clears_it_and_an_absent_one_does_not() -> None:
    assert parse(RenameRequest, {"expires_at": None}).update().sets_expiry
    assert not parse(RenameRequest, {"folder": "/a"}).update().sets_expiry
    with pytest.raises(InvalidRequest):
        parse(RenameRequest, {"expires_at": None, "expires_in": 5}).update()
