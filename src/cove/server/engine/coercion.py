"""Fast variable coercion, compiled once per operation.

graphql-core's ``get_variable_values`` is correct but walks types generically on every request. The
compiled coercer handles the inputs that are valid, and gives up (returns None) at the first thing
it is unsure of, in which case the caller asks graphql-core, which produces the same value or the
exact error message. So the result is always graphql-core's; only the time differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    VariableDefinitionNode,
)
from graphql.pyutils import Undefined
from graphql.utilities import type_from_ast

from cove.wire.scalars import SCALAR_PARSERS, ScalarError

Coercer = Callable[[Any], Any]


class _GiveUp(Exception):
    pass


_GIVE_UP = _GiveUp()
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _string(v: Any) -> Any:
    if type(v) is str:
        return v
    raise _GIVE_UP


def _id(v: Any) -> Any:
    if type(v) is str:
        return v
    if type(v) is int:
        return str(v)
    raise _GIVE_UP


def _int(v: Any) -> Any:
    if type(v) is int and _INT_MIN <= v <= _INT_MAX:
        return v
    raise _GIVE_UP


def _float(v: Any) -> Any:
    if type(v) is float and math.isfinite(v):
        return v
    if type(v) is int:
        return float(v)
    raise _GIVE_UP


def _boolean(v: Any) -> Any:
    if type(v) is bool:
        return v
    raise _GIVE_UP


_BUILTIN: dict[str, Coercer] = {"String": _string, "ID": _id, "Int": _int, "Float": _float, "Boolean": _boolean}


def _aws(name: str) -> Coercer:
    parse = SCALAR_PARSERS[name]

    def coerce(v: Any) -> Any:
        if v is None:
            raise _GIVE_UP
        try:
            return parse(v)
        except (ScalarError, TypeError, ValueError):
            raise _GIVE_UP from None

    return coerce


def _coercer(t: Any, memo: dict[str, Coercer]) -> Coercer:
    if isinstance(t, GraphQLNonNull):
        inner = _coercer(t.of_type, memo)

        def non_null(v: Any) -> Any:
            if v is None:
                raise _GIVE_UP
            return inner(v)

        return non_null
    if isinstance(t, GraphQLList):
        item = _coercer(t.of_type, memo)

        def as_list(v: Any) -> Any:
            if v is None:
                return None
            if type(v) is list:
                return [item(x) for x in v]
            return [item(v)]

        return as_list
    nullable = _named(t, memo)

    def maybe_null(v: Any) -> Any:
        return None if v is None else nullable(v)

    return maybe_null


def _named(t: Any, memo: dict[str, Coercer]) -> Coercer:
    if t.name in memo:
        return memo[t.name]
    if isinstance(t, GraphQLScalarType):
        fn = _BUILTIN.get(t.name) or (_aws(t.name) if t.name in SCALAR_PARSERS else None)
        if fn is None:
            def unknown(_: Any) -> Any:
                raise _GIVE_UP
            fn = unknown
        memo[t.name] = fn
        return fn
    if isinstance(t, GraphQLEnumType):
        allowed = frozenset(t.values)

        def enum(v: Any) -> Any:
            if type(v) is str and v in allowed:
                return v
            raise _GIVE_UP

        memo[t.name] = enum
        return enum
    if isinstance(t, GraphQLInputObjectType):
        fields: dict[str, Coercer] = {}
        required: list[str] = []

        def input_object(v: Any) -> Any:
            if type(v) is not dict:
                raise _GIVE_UP
            out = {}
            for key, value in v.items():
                fn = fields.get(key)
                if fn is None:
                    raise _GIVE_UP
                out[key] = fn(value)
            for key in required:
                if key not in v:
                    raise _GIVE_UP
            return out

        memo[t.name] = input_object  # before the fields: input types may be recursive
        for name, f in t.fields.items():
            if f.default_value is not Undefined or getattr(f, "default", None) is not None:
                memo[t.name] = _give_up  # defaults are rare here; let graphql-core apply them
                return _give_up
            fields[name] = _coercer(f.type, memo)
            if isinstance(f.type, GraphQLNonNull):
                required.append(name)
        return input_object
    memo[t.name] = _give_up
    return _give_up


def _give_up(_: Any) -> Any:
    raise _GIVE_UP


def compile_variables(schema: GraphQLSchema, definitions: tuple[VariableDefinitionNode, ...] | list[Any]
                      ) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A function from raw variables to coerced ones, or None where graphql-core must decide."""
    memo: dict[str, Coercer] = {}
    plan: list[tuple[str, Coercer, bool]] = []
    usable = True
    for d in definitions:
        t = type_from_ast(schema, d.type)
        if t is None or d.default_value is not None:
            usable = False
            break
        plan.append((d.variable.name.value, _coercer(t, memo), isinstance(t, GraphQLNonNull)))

    def coerce(raw: dict[str, Any]) -> dict[str, Any] | None:
        if not usable:
            return None
        out: dict[str, Any] = {}
        try:
            for name, fn, required in plan:
                if name in raw:
                    out[name] = fn(raw[name])
                elif required:
                    return None
        except (_GiveUp, RecursionError):
            return None
        return out  # like graphql-core, variables the operation does not declare are ignored

    return coerce
