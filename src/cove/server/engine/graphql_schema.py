"""Build the graphql-core schema Cove validates documents against, with AppSync scalar checks."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, build_schema
from graphql.language import ValueNode
from graphql.utilities import value_from_ast_untyped

from cove.wire.scalars import ScalarError, parse_scalar
from cove.schema.model import AWS_SCALARS, Schema
from cove.schema.sdl import to_sdl


def _scalar_functions(name: str) -> tuple[Any, Any]:
    def parse_value(value: Any) -> Any:
        try:
            return parse_scalar(name, value)
        except ScalarError as exc:
            raise GraphQLError(str(exc)) from None

    def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
        return parse_value(value_from_ast_untyped(node, variables))

    return parse_value, parse_literal


def build_graphql_schema(schema: Schema) -> tuple[GraphQLSchema, str]:
    sdl = to_sdl(schema)
    gql = build_schema(sdl)
    for name in AWS_SCALARS:
        scalar = gql.get_type(name)
        assert isinstance(scalar, GraphQLScalarType)
        parse_value, parse_literal = _scalar_functions(name)
        # graphql-core 3.3 reads the coerce_* names; keep the older parse_* names in step.
        scalar.parse_value = scalar.coerce_input_value = parse_value  # type: ignore[method-assign]
        scalar.parse_literal = parse_literal  # type: ignore[method-assign]
        scalar.serialize = scalar.coerce_output_value = _identity  # type: ignore[method-assign]
    return gql, sdl


def _identity(value: Any) -> Any:
    return value
