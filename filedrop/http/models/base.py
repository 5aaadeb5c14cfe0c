"""What every model of the API is built on: request and response bases, domain rules
as validators, and the models' JSON Schemas as the OpenAPI document's components.

A field that a domain rule checks (a folder path, a quota) runs that rule
through :func:`domain_rule`, so the rule stays in its module and its error
keeps its code; :mod:`filedrop.http.parsing` raises it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import PydanticCustomError, core_schema

from ...errors import FileDropError

REF_TEMPLATE = "#/components/schemas/{model}"
DOMAIN_ERROR = "domain_rule"


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


class RequestModel(BaseModel):
    """A body or query the API parses: described in the document as it is parsed."""


class ResponseModel(BaseModel):
    """A body the API sends: described in the document as it is sent."""

    def to_json(self) -> dict[str, Any]:
        """The body; a field left unset (an optional part) is left out."""
        return self.model_dump(mode="json", exclude_unset=True)


class RecordView(ResponseModel):
    """A body made of a record's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        return cls.model_validate(record)


def domain_rule(rule: Callable[[Any], Any]) -> BeforeValidator:
    """``rule`` as a field validator: its error is collected with pydantic's own (the
    first in field order wins), and :func:`filedrop.http.parsing.parse` raises it as is."""

    def check(value: Any) -> Any:
        try:
            return rule(value)
        except FileDropError as exc:
            raise domain_error(exc) from None

    return BeforeValidator(check)


def domain_error(exc: FileDropError) -> PydanticCustomError:
    """``exc`` as a validation error that :func:`filedrop.http.parsing.parse` raises as is
    (for a rule of the whole model, in a model validator)."""
    return PydanticCustomError(DOMAIN_ERROR, "{message}", {"message": exc.message, "error": exc})


# -- the document's schemas ------------------------------------------------------


class _Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema (OpenAPI 3.1's dialect) without a title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        # An optional field's default of None means "absent", which is not a value to show.
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema

    def handle_ref_overrides(self, json_schema: JsonSchemaValue) -> JsonSchemaValue:
        # A $ref to a schema written by hand (FileName, FolderPath, ErrorCode) is not
        # one of pydantic's definitions: nothing to compare it with.
        if json_schema.get("$ref") not in self.json_to_defs_refs:
            return json_schema
        return super().handle_ref_overrides(json_schema)


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schemas of ``models`` and of the models they contain, by class name.

    Requests are described as they are parsed, responses as they are sent."""
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "serialization" if issubclass(model, ResponseModel) else "validation")
        for model in models
    ]
    _, document = models_json_schema(pairs, ref_template=REF_TEMPLATE, schema_generator=_Schemas)
    schemas: dict[str, Any] = document.get("$defs", {})
    for schema in schemas.values():
        schema.pop("title", None)
    return schemas


def query_parameters(model: type[RequestModel]) -> list[dict[str, Any]]:
    """``model``'s fields as the OpenAPI parameters of a query string."""
    schema = component_schemas([model])[model.__name__]
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query"}
        if name in schema.get("required", ()):
            parameter["required"] = True
        if "description" in field_schema:
            parameter["description"] = field_schema.pop("description")
        parameters.append({**parameter, "schema": field_schema})
    return parameters
