"""Numbers and booleans in request bodies are JSON's own types: a string is never coerced.

Pydantic's lax mode would take ``"tokens": "12"`` as 12 and ``"pinned": "yes"`` as true. Every
integer, number and boolean property of every request body in the OpenAPI document is checked,
so a new field with the lax types fails here. Money (`Decimal`) is the one exception, stated in
the schema itself: a JSON number or a decimal string, the form the answers write it in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from convobase.app import create_app
from tests.conftest import make_settings

STRICT_TYPES = {"integer", "number", "boolean"}
# A value of each kind that lax mode would accept from a string.
AS_STRING = {"integer": "12", "number": "0.5", "boolean": "true"}


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if "type" in schema else set()
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found |= _types(option)
    return found


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"].rsplit("/", 1)[-1]] if "$ref" in value else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def request_number_fields(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Component -> {property: JSON type} for every number-like field a request body reaches."""
    components = document["components"]["schemas"]
    pending = [
        ref
        for operations in document["paths"].values()
        for operation in operations.values()
        for ref in _refs(operation.get("requestBody", {}))
    ]
    seen: dict[str, dict[str, str]] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        schema = components[name]
        fields = {}
        for prop, prop_schema in schema.get("properties", {}).items():
            types = _types(prop_schema)
            kinds = types & STRICT_TYPES
            if kinds and "string" not in types:
                fields[prop] = sorted(kinds)[0]
        seen[name] = fields
        pending.extend(_refs(schema))
    return {name: fields for name, fields in seen.items() if fields}


def _models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        model = stack.pop()
        for sub in model.__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("convobase."):
                found.setdefault(sub.__name__, sub)
    return found


def test_request_numbers_and_booleans_are_never_taken_from_strings(tmp_path: Any) -> None:
    document = create_app(make_settings(tmp_path)).openapi()
    fields = request_number_fields(document)
    # The discovery works: the reservation's tokens (a 201 for "tokens": "12") is among them.
    assert fields["ReservationIn"] == {"tokens": "integer"}
    assert fields["ConversationCreate"]["pinned"] == "boolean"
    models = _models()
    lax = []
    for name, props in sorted(fields.items()):
        model = models[name]
        for prop, kind in props.items():
            try:
                model.model_validate({prop: AS_STRING[kind]})
            except ValidationError as exc:
                if any(error["loc"][:1] == (prop,) for error in exc.errors()):
                    continue
            lax.append(f"{name}.{prop}")
    assert lax == [], f"taken from a string: {lax}"
