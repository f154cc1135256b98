"""Values between Python and columns: JSON for lists and custom types, and what a stored type means.

These are the dialect-neutral parts; a ``Dialect`` adds its driver's own conversions (SQLite's 0/1
booleans, integral floats) on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from cove.schema.model import Field


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def storage_signature(field: Field) -> str:
    """What must stay the same for stored data to keep its meaning, e.g. ``[String!]`` or ``Int!``."""
    return field.graphql_type if field.relation is None else ""


def is_json(field: Field) -> bool:
    """Stored as JSON text: lists and custom types."""
    return field.is_array or field.type.kind == "custom"


def encoder(field: Field) -> Callable[[Any], Any] | None:
    """Python value -> column value (None when no conversion is needed)."""
    return dumps if is_json(field) else None


def decoder(field: Field) -> Callable[[Any], Any] | None:
    """Column value -> Python value (None when no conversion is needed)."""
    return orjson.loads if is_json(field) else None


def attribute_category(field: Field) -> str:
    """DynamoDB attribute type a stored value of this field has (for `attributeType`)."""
    if field.is_array:
        return "list"
    if field.type.kind == "custom":
        return "map"
    if field.type.kind == "scalar":
        if field.type.name in ("Int", "Float", "AWSTimestamp"):
            return "number"
        if field.type.name == "Boolean":
            return "bool"
    return "string"
