"""Evaluate AppSync model filters / conditions against an in-memory record (DynamoDB-style semantics).

`matches(filter, record, list_fields)` answers whether `record` satisfies a `Model<X>FilterInput`,
`Model<X>ConditionInput` or `ModelSubscription<X>FilterInput` value. `compile_filter` does the same work
once and returns a reusable predicate (useful for subscriptions, where one filter sees many events).

The whole filter is validated when it is compiled, so a malformed filter raises `FilterError` whatever the
record looks like (evaluation never depends on short-circuiting to hide an error).

Semantics, in short (`v` is `record.get(field)`; `None` and an absent key both mean "no attribute"):

* Keys of a filter object are AND-ed. `and` / `or` take a list or a single object; `None` items are dropped
  and an empty list imposes no constraint. `not` takes one object. A logical key whose value is `None` is
  ignored; `{}` and `None` match everything (so `not: {}` matches nothing).
* `{field: None}` is ignored. `{field: {}}` imposes no constraint.
* An operator whose operand is `None` is ignored, except `eq` (`v is None`) and `ne` (`v is not None`).
* Values of different kinds never compare equal (a bool is never a number; `1 == 1.0` holds); ordering
  (`lt le gt ge between`) holds only between two strings (code-point order) or two numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["MAX_FILTER_DEPTH", "MAX_FILTER_TERMS", "FilterError", "FilterTooLarge", "check_filter_size",
           "compile_filter", "matches"]

Record = Mapping[str, object]
Predicate = Callable[[Record], bool]
ValueTest = Callable[[object], bool]


class FilterError(ValueError):
    """The filter is malformed (unknown operator, wrong operand shape...)."""


class FilterTooLarge(FilterError):
    """The filter nests too deeply or holds too many terms (see ``check_filter_size``)."""


#: Levels of ``and``/``or``/``not`` a filter may nest, and terms (operators, operand list items and
#: logical branches) it may hold: SQL and Python both recurse over a filter, so both are bounded.
MAX_FILTER_DEPTH = 16
MAX_FILTER_TERMS = 1000


def check_filter_size(filter: object) -> None:
    """Raise FilterTooLarge when ``filter`` is deeper or larger than the limits (walked without recursion)."""
    terms = 0
    pending: list[tuple[object, int]] = [(filter, 0)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in ("and", "or", "not"):
                if depth + 1 > MAX_FILTER_DEPTH:
                    raise FilterTooLarge(f"The filter nests 'and', 'or' and 'not' more than {MAX_FILTER_DEPTH} "
                                         "levels deep")
                branches = value if isinstance(value, list) else [value]
                terms += len(branches)
                pending += [(branch, depth + 1) for branch in branches]
            elif isinstance(value, dict):
                terms += sum(len(v) if isinstance(v, list) else 1 for v in value.values())
            if terms > MAX_FILTER_TERMS:
                raise FilterTooLarge(f"The filter holds more than {MAX_FILTER_TERMS} conditions")


ATTRIBUTE_TYPES = frozenset(
    {"binary", "binarySet", "bool", "list", "map", "number", "numberSet", "string", "stringSet", "_null"}
)


# ---------------------------------------------------------------------------------------------------------
# Value helpers


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same(a: object, b: object) -> bool:
    """Strict equality: bools never equal numbers, containers compare element-wise with the same rule."""
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int or ta is float):
        return a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a):
        return _is_number(b) and a == b
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        )
    return False


def _orderable_with(x: object) -> Callable[[object], bool] | None:
    """A test that `v` is orderable against operand `x` (both strings or both numbers); None if never."""
    if isinstance(x, str):
        return lambda v: isinstance(v, str)
    if _is_number(x):
        return _is_number
    return None


def _never(v: object) -> bool:
    return False


def _size_of(v: object) -> int | None:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (list, dict)):
        return len(v)
    return None


# ---------------------------------------------------------------------------------------------------------
# Operator compilers: (field, operand, is_list_field) -> test on the attribute value


def _op_eq(field: str, x: object, is_list: bool) -> ValueTest:
    if x is None:
        return lambda v: v is None
    return lambda v: v is not None and _same(v, x)


def _op_ne(field: str, x: object, is_list: bool) -> ValueTest:
    if x is None:
        return lambda v: v is not None
    return lambda v: v is None or not _same(v, x)


def _op_lt(field: str, x: object, is_list: bool) -> ValueTest:
    ok = _orderable_with(x)
    return _never if ok is None else (lambda v: ok(v) and v < x)  # type: ignore[operator]


def _op_le(field: str, x: object, is_list: bool) -> ValueTest:
    ok = _orderable_with(x)
    return _never if ok is None else (lambda v: ok(v) and v <= x)  # type: ignore[operator]


def _op_gt(field: str, x: object, is_list: bool) -> ValueTest:
    ok = _orderable_with(x)
    return _never if ok is None else (lambda v: ok(v) and v > x)  # type: ignore[operator]


def _op_ge(field: str, x: object, is_list: bool) -> ValueTest:
    ok = _orderable_with(x)
    return _never if ok is None else (lambda v: ok(v) and v >= x)  # type: ignore[operator]


def _op_between(field: str, x: object, is_list: bool) -> ValueTest:
    if not isinstance(x, list) or len(x) != 2:
        raise FilterError(f"'between' on field '{field}' needs a list of exactly two values, got {x!r}")
    lo, hi = x
    ok_lo, ok_hi = _orderable_with(lo), _orderable_with(hi)
    if ok_lo is None or ok_hi is None:
        return _never
    return lambda v: ok_lo(v) and ok_hi(v) and lo <= v <= hi


def _op_begins_with(field: str, x: object, is_list: bool) -> ValueTest:
    if not isinstance(x, str):
        return _never
    return lambda v: isinstance(v, str) and v.startswith(x)


def _contains_test(x: object, is_list: bool) -> ValueTest:
    if is_list:
        return lambda v: isinstance(v, list) and any(_same(item, x) for item in v)
    if not isinstance(x, str):
        return _never
    return lambda v: isinstance(v, str) and x in v


def _op_contains(field: str, x: object, is_list: bool) -> ValueTest:
    return _contains_test(x, is_list)


def _op_not_contains(field: str, x: object, is_list: bool) -> ValueTest:
    test = _contains_test(x, is_list)
    return lambda v: v is None or not test(v)


def _op_attribute_exists(field: str, x: object, is_list: bool) -> ValueTest:
    if not isinstance(x, bool):
        raise FilterError(f"'attributeExists' on field '{field}' needs true or false, got {x!r}")
    if x:
        return lambda v: v is not None
    return lambda v: v is None


_TYPE_TESTS: dict[str, ValueTest] = {
    "_null": lambda v: v is None,
    "bool": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "list": lambda v: isinstance(v, list),
    "map": lambda v: isinstance(v, dict),
    "binary": _never,
    "binarySet": _never,
    "numberSet": _never,
    "stringSet": _never,
}


def _op_attribute_type(field: str, x: object, is_list: bool) -> ValueTest:
    test = _TYPE_TESTS.get(x) if isinstance(x, str) else None
    if test is None:
        raise FilterError(
            f"'attributeType' on field '{field}' must be one of "
            f"{', '.join(sorted(ATTRIBUTE_TYPES))}, got {x!r}"
        )
    return test


def _op_in(field: str, x: object, is_list: bool) -> ValueTest:
    options = x if isinstance(x, list) else [x]
    return lambda v: v is not None and any(_same(v, o) for o in options)


def _op_not_in(field: str, x: object, is_list: bool) -> ValueTest:
    options = x if isinstance(x, list) else [x]
    return lambda v: v is None or not any(_same(v, o) for o in options)


OperatorCompiler = Callable[[str, object, bool], ValueTest]

_SIZE_OPERATORS: dict[str, OperatorCompiler] = {
    "eq": _op_eq,
    "ne": _op_ne,
    "lt": _op_lt,
    "le": _op_le,
    "gt": _op_gt,
    "ge": _op_ge,
    "between": _op_between,
}


def _op_size(field: str, x: object, is_list: bool) -> ValueTest:
    if not isinstance(x, dict):
        raise FilterError(f"'size' on field '{field}' needs an object of operators, got {x!r}")
    tests = _compile_operators(f"size({field})", x, False, _SIZE_OPERATORS)

    def test(v: object) -> bool:
        size = _size_of(v)
        return size is not None and all(t(size) for t in tests)

    return test


_OPERATORS: dict[str, OperatorCompiler] = {
    **_SIZE_OPERATORS,
    "beginsWith": _op_begins_with,
    "contains": _op_contains,
    "notContains": _op_not_contains,
    "attributeExists": _op_attribute_exists,
    "attributeType": _op_attribute_type,
    "size": _op_size,
    "in": _op_in,
    "notIn": _op_not_in,
}


def _compile_operators(
    field: str, condition: Mapping[str, object], is_list: bool, table: Mapping[str, OperatorCompiler]
) -> list[ValueTest]:
    tests: list[ValueTest] = []
    for op, operand in condition.items():
        compiler = table.get(op)
        if compiler is None:
            raise FilterError(f"Unknown filter operator '{op}' on field '{field}'")
        if operand is None and op != "eq" and op != "ne":
            continue
        tests.append(compiler(field, operand, is_list))
    return tests


# ---------------------------------------------------------------------------------------------------------
# Logical structure


def _always(record: Record) -> bool:
    return True


def _nothing(record: Record) -> bool:
    return False


def _any_of(options: list[Predicate]) -> Predicate:
    return lambda record: any(p(record) for p in options)


def _all_of(parts: list[Predicate]) -> Predicate:
    return lambda record: all(p(record) for p in parts)


def _negation(inner: Predicate) -> Predicate:
    return lambda record: not inner(record)


def _sub_filters(key: str, value: object) -> list[Mapping[str, object]]:
    items = value if isinstance(value, list) else [value]
    subs: list[Mapping[str, object]] = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise FilterError(f"'{key}' expects filter objects, got {item!r}")
        subs.append(item)
    return subs


def _field_predicate(field: str, tests: list[ValueTest]) -> Predicate | None:
    if not tests:
        return None
    if len(tests) == 1:
        only = tests[0]
        return lambda record: only(record.get(field))

    def predicate(record: Record) -> bool:
        v = record.get(field)
        return all(t(v) for t in tests)

    return predicate


def _compile(node: Mapping[str, object], list_fields: frozenset[str]) -> Predicate | None:
    """A predicate for a filter object, or None when it imposes no constraint."""
    parts: list[Predicate] = []
    for key, value in node.items():
        if value is None:
            continue
        if key == "and":
            for sub in _sub_filters(key, value):
                p = _compile(sub, list_fields)
                if p is not None:
                    parts.append(p)
        elif key == "or":
            alternatives = [_compile(sub, list_fields) for sub in _sub_filters(key, value)]
            if not alternatives or any(p is None for p in alternatives):
                continue  # empty `or`, or one alternative matches everything
            parts.append(_any_of([p for p in alternatives if p is not None]))
        elif key == "not":
            if not isinstance(value, dict):
                raise FilterError(f"'not' expects a filter object, got {value!r}")
            inner = _compile(value, list_fields)
            parts.append(_nothing if inner is None else _negation(inner))
        else:
            if not isinstance(value, dict):
                raise FilterError(f"Condition on field '{key}' needs an object of operators, got {value!r}")
            fp = _field_predicate(key, _compile_operators(key, value, key in list_fields, _OPERATORS))
            if fp is not None:
                parts.append(fp)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _all_of(parts)


def compile_filter(
    filter: Mapping[str, object] | None, list_fields: frozenset[str] = frozenset()
) -> Predicate:
    """Validate `filter` and return a predicate `record -> bool`. Raises FilterError if it is malformed."""
    if filter is None:
        return _always
    if not isinstance(filter, dict):
        raise FilterError(f"A filter must be an object, got {filter!r}")
    check_filter_size(filter)
    predicate = _compile(filter, list_fields)
    return _always if predicate is None else predicate


def matches(
    filter: Mapping[str, object] | None, record: Record, list_fields: frozenset[str] = frozenset()
) -> bool:
    """True if `record` satisfies `filter` (see the module docstring for the exact semantics)."""
    return compile_filter(filter, list_fields)(record)
