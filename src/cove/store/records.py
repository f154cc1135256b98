"""Checking a stored record against the schema, field by field (for `cove import`).

A record is what a store returns: field name -> Python value, with custom types as dicts, arrays as
lists and AWSJSON as a JSON string. Every value is checked with the same scalar parsers GraphQL
input goes through, so an imported record is one the API could have written.
"""

from __future__ import annotations

from typing import Any

from cove.wire.scalars import ScalarError, parse_scalar
from cove.schema.model import Field, Model, Schema

from .base import Record


class InvalidRecord(ValueError):
    """A record that does not fit the schema; the message names the model and field."""


class RecordValidator:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def model(self, name: Any) -> Model:
        model = self.schema.models.get(name) if isinstance(name, str) else None
        if model is None:
            known = ", ".join(sorted(self.schema.models)) or "none"
            raise InvalidRecord(f"{name!r} is not a model of the schema (models: {known})")
        return model

    def validate(self, model: Model, record: Any) -> Record:
        """The record with values normalised and defaults filled in, or InvalidRecord."""
        if not isinstance(record, dict):
            raise InvalidRecord(f"a {model.name} record must be a JSON object, got {type(record).__name__}")
        return self._fields(model.name, {f.name: f for f in model.stored_fields()}, record, model.identifier)

    def _fields(self, owner: str, fields: dict[str, Field], record: dict[str, Any],
                identifier: tuple[str, ...] | list[str] = ()) -> Record:
        unknown = sorted(set(record) - set(fields))
        if unknown:
            raise InvalidRecord(f"{owner}.{unknown[0]} is not a field of {owner}")
        out: Record = {}
        for name, f in fields.items():
            if name not in record and f.has_default:
                out[name] = f.default
                continue
            value = record.get(name)
            if value is None:
                if f.array_required or (f.required and not f.is_array) or name in identifier:
                    raise InvalidRecord(f"{owner}.{name} is required but is missing or null")
                out[name] = None
            elif f.is_array:
                if not isinstance(value, list):
                    raise InvalidRecord(f"{owner}.{name} must be a list, got {type(value).__name__}")
                out[name] = [self._element(owner, name, f, v, f"[{i}]") for i, v in enumerate(value)]
            else:
                out[name] = self._element(owner, name, f, value, "")
        return out

    def _element(self, owner: str, name: str, f: Field, value: Any, where: str) -> Any:
        label = f"{owner}.{name}{where}"
        if value is None:
            if f.required:
                raise InvalidRecord(f"{label} must not be null")
            return None
        kind, type_name = f.type.kind, f.type.name
        if kind == "scalar":
            try:
                return parse_scalar(type_name, value)
            except ScalarError as exc:
                raise InvalidRecord(f"{label}: {exc}") from None
        if kind == "enum":
            values = self.schema.enums[type_name].values
            if value not in values:
                raise InvalidRecord(f"{label}: {value!r} is not one of {', '.join(values)}")
            return value
        if kind == "custom":
            if not isinstance(value, dict):
                raise InvalidRecord(f"{label} must be an object ({type_name}), got {type(value).__name__}")
            return self._fields(f"{label}", self.schema.custom_types[type_name].fields, value)
        raise InvalidRecord(f"{label}: a {kind} value cannot be stored")
