"""Unit tests for cove.wire.filters (no server needed)."""

from __future__ import annotations

import pytest

from cove.wire.filters import FilterError, compile_filter, matches

REC = {
    "id": "t1",
    "content": "Buy milk",
    "uni": "héllo",
    "done": False,
    "flag": True,
    "priority": 3,
    "score": 2.5,
    "zero": 0,
    "tags": ["a", "b", "c"],
    "nums": [1, 2, 3],
    "empty": "",
    "emptyList": [],
    "meta": {"k": 1, "j": 2},
    "nothing": None,
}
LISTS = frozenset({"tags", "nums", "emptyList", "missingList"})


def check(flt: dict | None) -> bool:
    return matches(flt, REC, LISTS)


# (filter, expected)
CASES = [
    # --- empty / trivial
    (None, True),
    ({}, True),
    ({"content": {}}, True),
    ({"content": None}, True),
    ({"missing": {}}, True),
    # --- eq / ne
    ({"content": {"eq": "Buy milk"}}, True),
    ({"content": {"eq": "buy milk"}}, False),
    ({"content": {"eq": None}}, False),
    ({"missing": {"eq": None}}, True),
    ({"nothing": {"eq": None}}, True),
    ({"missing": {"eq": "x"}}, False),
    ({"content": {"ne": "x"}}, True),
    ({"content": {"ne": "Buy milk"}}, False),
    ({"content": {"ne": None}}, True),
    ({"missing": {"ne": None}}, False),
    ({"nothing": {"ne": None}}, False),
    ({"missing": {"ne": "x"}}, True),
    ({"priority": {"eq": 3}}, True),
    ({"priority": {"eq": 3.0}}, True),
    ({"priority": {"eq": "3"}}, False),
    ({"priority": {"ne": "3"}}, True),
    ({"score": {"eq": 2.5}}, True),
    ({"done": {"eq": False}}, True),
    ({"done": {"eq": True}}, False),
    ({"done": {"ne": True}}, True),
    ({"flag": {"eq": True}}, True),
    ({"flag": {"eq": 1}}, False),
    ({"flag": {"ne": 1}}, True),
    ({"done": {"eq": 0}}, False),
    ({"zero": {"eq": False}}, False),
    ({"zero": {"ne": False}}, True),
    ({"priority": {"eq": True}}, False),
    ({"tags": {"eq": ["a", "b", "c"]}}, True),
    ({"tags": {"eq": ["a", "b"]}}, False),
    ({"tags": {"eq": ["c", "b", "a"]}}, False),
    ({"tags": {"ne": ["a", "b"]}}, True),
    ({"nums": {"eq": [1, 2, 3]}}, True),
    ({"nums": {"eq": [True, 2, 3]}}, False),
    ({"meta": {"eq": {"j": 2, "k": 1}}}, True),
    ({"meta": {"eq": {"k": 1}}}, False),
    # --- ordering
    ({"priority": {"lt": 4}}, True),
    ({"priority": {"lt": 3}}, False),
    ({"priority": {"le": 3}}, True),
    ({"priority": {"le": 2}}, False),
    ({"priority": {"gt": 2}}, True),
    ({"priority": {"gt": 3}}, False),
    ({"priority": {"ge": 3}}, True),
    ({"priority": {"ge": 3.5}}, False),
    ({"score": {"gt": 2}}, True),
    ({"score": {"lt": 2.6}}, True),
    ({"content": {"gt": "Buy"}}, True),
    ({"content": {"lt": "Buy"}}, False),
    ({"content": {"lt": "buy"}}, True),  # 'B' (66) < 'b' (98): code-point order
    ({"content": {"ge": "Buy milk"}}, True),
    ({"content": {"le": "Buy milk"}}, True),
    ({"uni": {"gt": "hz"}}, True),  # 'é' (U+00E9) sorts after 'z'
    ({"missing": {"lt": 10}}, False),
    ({"missing": {"ge": ""}}, False),
    ({"priority": {"lt": "9"}}, False),  # number vs string: never ordered
    ({"content": {"lt": 9}}, False),
    ({"flag": {"gt": False}}, False),  # booleans are not ordered
    ({"flag": {"ge": 0}}, False),
    ({"priority": {"gt": False}}, False),
    ({"tags": {"gt": "a"}}, False),
    # --- between
    ({"priority": {"between": [1, 3]}}, True),
    ({"priority": {"between": [3, 3]}}, True),
    ({"priority": {"between": [4, 9]}}, False),
    ({"priority": {"between": [3.5, 1]}}, False),
    ({"score": {"between": [2, 3]}}, True),
    ({"content": {"between": ["A", "C"]}}, True),
    ({"content": {"between": ["C", "Z"]}}, False),
    ({"content": {"between": [1, 9]}}, False),
    ({"priority": {"between": ["1", 9]}}, False),
    ({"priority": {"between": [None, 9]}}, False),
    ({"missing": {"between": [0, 9]}}, False),
    # --- beginsWith
    ({"content": {"beginsWith": "Buy"}}, True),
    ({"content": {"beginsWith": ""}}, True),
    ({"content": {"beginsWith": "buy"}}, False),
    ({"content": {"beginsWith": "milk"}}, False),
    ({"priority": {"beginsWith": "3"}}, False),
    ({"missing": {"beginsWith": ""}}, False),
    ({"tags": {"beginsWith": "a"}}, False),
    ({"content": {"beginsWith": 3}}, False),
    # --- contains / notContains on strings
    ({"content": {"contains": "milk"}}, True),
    ({"content": {"contains": "Milk"}}, False),
    ({"content": {"contains": ""}}, True),
    ({"missing": {"contains": "x"}}, False),
    ({"priority": {"contains": "3"}}, False),
    ({"content": {"contains": 3}}, False),
    ({"content": {"notContains": "milk"}}, False),
    ({"content": {"notContains": "eggs"}}, True),
    ({"missing": {"notContains": "x"}}, True),
    ({"nothing": {"notContains": "x"}}, True),
    ({"priority": {"notContains": "3"}}, True),
    # --- contains / notContains on list fields
    ({"tags": {"contains": "b"}}, True),
    ({"tags": {"contains": "z"}}, False),
    ({"tags": {"contains": "a,b"}}, False),
    ({"nums": {"contains": 2}}, True),
    ({"nums": {"contains": 2.0}}, True),
    ({"nums": {"contains": True}}, False),
    ({"nums": {"contains": "2"}}, False),
    ({"emptyList": {"contains": "a"}}, False),
    ({"missingList": {"contains": "a"}}, False),
    ({"tags": {"notContains": "b"}}, False),
    ({"tags": {"notContains": "z"}}, True),
    ({"emptyList": {"notContains": "a"}}, True),
    ({"missingList": {"notContains": "a"}}, True),
    # a list value in a field not declared as a list is not searched; a str in a list field is not either
    ({"meta": {"contains": "k"}}, False),
    # --- attributeExists
    ({"content": {"attributeExists": True}}, True),
    ({"content": {"attributeExists": False}}, False),
    ({"missing": {"attributeExists": True}}, False),
    ({"missing": {"attributeExists": False}}, True),
    ({"nothing": {"attributeExists": False}}, True),
    ({"empty": {"attributeExists": True}}, True),
    ({"done": {"attributeExists": True}}, True),
    ({"emptyList": {"attributeExists": True}}, True),
    # --- attributeType
    ({"content": {"attributeType": "string"}}, True),
    ({"content": {"attributeType": "number"}}, False),
    ({"priority": {"attributeType": "number"}}, True),
    ({"score": {"attributeType": "number"}}, True),
    ({"done": {"attributeType": "bool"}}, True),
    ({"done": {"attributeType": "number"}}, False),
    ({"zero": {"attributeType": "bool"}}, False),
    ({"tags": {"attributeType": "list"}}, True),
    ({"tags": {"attributeType": "stringSet"}}, False),
    ({"nums": {"attributeType": "numberSet"}}, False),
    ({"meta": {"attributeType": "map"}}, True),
    ({"meta": {"attributeType": "list"}}, False),
    ({"content": {"attributeType": "binary"}}, False),
    ({"content": {"attributeType": "binarySet"}}, False),
    ({"missing": {"attributeType": "_null"}}, True),
    ({"nothing": {"attributeType": "_null"}}, True),
    ({"content": {"attributeType": "_null"}}, False),
    ({"missing": {"attributeType": "string"}}, False),
    # --- size
    ({"content": {"size": {"eq": 8}}}, True),
    ({"content": {"size": {"eq": 7}}}, False),
    ({"uni": {"size": {"eq": 6}}}, True),  # 'é' is two UTF-8 bytes
    ({"uni": {"size": {"eq": 5}}}, False),
    ({"empty": {"size": {"eq": 0}}}, True),
    ({"content": {"size": {"ne": 8}}}, False),
    ({"content": {"size": {"ne": 1}}}, True),
    ({"content": {"size": {"lt": 9}}}, True),
    ({"content": {"size": {"lt": 8}}}, False),
    ({"content": {"size": {"le": 8}}}, True),
    ({"content": {"size": {"gt": 7}}}, True),
    ({"content": {"size": {"gt": 8}}}, False),
    ({"content": {"size": {"ge": 8}}}, True),
    ({"content": {"size": {"between": [1, 8]}}}, True),
    ({"content": {"size": {"between": [9, 20]}}}, False),
    ({"content": {"size": {"gt": 1, "lt": 10}}}, True),
    ({"content": {"size": {"gt": 1, "lt": 5}}}, False),
    ({"tags": {"size": {"eq": 3}}}, True),
    ({"emptyList": {"size": {"eq": 0}}}, True),
    ({"meta": {"size": {"eq": 2}}}, True),
    ({"missing": {"size": {"eq": 0}}}, False),
    ({"missing": {"size": {"ne": 0}}}, False),
    ({"missing": {"size": {"ge": 0}}}, False),
    ({"priority": {"size": {"ge": 0}}}, False),  # numbers have no size
    ({"done": {"size": {"ge": 0}}}, False),
    ({"content": {"size": {}}}, True),  # empty size: only "has a size"
    ({"missing": {"size": {}}}, False),
    ({"priority": {"size": {}}}, False),
    ({"content": {"size": {"eq": "8"}}}, False),
    ({"content": {"size": {"eq": None}}}, False),
    ({"content": {"size": {"ne": None}}}, True),
    ({"content": {"size": {"lt": None}}}, True),
    # --- in / notIn
    ({"content": {"in": ["x", "Buy milk"]}}, True),
    ({"content": {"in": ["x", "y"]}}, False),
    ({"content": {"in": []}}, False),
    ({"content": {"in": "Buy milk"}}, True),  # a single value is coerced to a one-item list
    ({"priority": {"in": [1, 3]}}, True),
    ({"priority": {"in": [3.0]}}, True),
    ({"flag": {"in": [1]}}, False),
    ({"flag": {"in": [True]}}, True),
    ({"missing": {"in": ["x"]}}, False),
    ({"missing": {"in": [None]}}, False),
    ({"content": {"notIn": ["x", "Buy milk"]}}, False),
    ({"content": {"notIn": ["x", "y"]}}, True),
    ({"content": {"notIn": []}}, True),
    ({"missing": {"notIn": ["x"]}}, True),
    ({"flag": {"notIn": [1]}}, True),
    # --- None operands other than eq/ne impose no constraint
    ({"content": {"lt": None}}, True),
    ({"missing": {"gt": None}}, True),
    ({"content": {"contains": None}}, True),
    ({"content": {"notContains": None}}, True),
    ({"content": {"beginsWith": None}}, True),
    ({"content": {"between": None}}, True),
    ({"content": {"attributeExists": None}}, True),
    ({"content": {"attributeType": None}}, True),
    ({"content": {"size": None}}, True),
    ({"content": {"in": None}}, True),
    ({"content": {"notIn": None}}, True),
    # --- several operators on one field are AND-ed
    ({"priority": {"gt": 1, "lt": 5}}, True),
    ({"priority": {"gt": 1, "lt": 3}}, False),
    ({"content": {"beginsWith": "Buy", "contains": "milk", "attributeExists": True}}, True),
    ({"content": {"beginsWith": "Buy", "contains": "eggs"}}, False),
    # --- several fields are AND-ed
    ({"content": {"contains": "milk"}, "done": {"eq": False}}, True),
    ({"content": {"contains": "milk"}, "done": {"eq": True}}, False),
    # --- and
    ({"and": [{"priority": {"eq": 3}}, {"done": {"eq": False}}]}, True),
    ({"and": [{"priority": {"eq": 3}}, {"done": {"eq": True}}]}, False),
    ({"and": {"priority": {"eq": 3}}}, True),
    ({"and": {"priority": {"eq": 4}}}, False),
    ({"and": []}, True),
    ({"and": None}, True),
    ({"and": [None, {"priority": {"eq": 3}}]}, True),
    ({"and": [{}]}, True),
    ({"and": [{"priority": {"eq": 3}}], "content": {"eq": "nope"}}, False),
    # --- or
    ({"or": [{"priority": {"eq": 1}}, {"done": {"eq": False}}]}, True),
    ({"or": [{"priority": {"eq": 1}}, {"done": {"eq": True}}]}, False),
    ({"or": {"priority": {"eq": 3}}}, True),
    ({"or": {"priority": {"eq": 1}}}, False),
    ({"or": []}, True),
    ({"or": None}, True),
    ({"or": [None]}, True),
    ({"or": [{}, {"priority": {"eq": 1}}]}, True),
    ({"or": [{"priority": {"eq": 3}}], "content": {"eq": "nope"}}, False),
    ({"or": [{"missing": {"attributeExists": True}}, {"missing": {"eq": "x"}}]}, False),
    # --- not
    ({"not": {"priority": {"eq": 3}}}, False),
    ({"not": {"priority": {"eq": 1}}}, True),
    ({"not": None}, True),
    ({"not": {}}, False),
    ({"not": {"not": {"priority": {"eq": 3}}}}, True),
    ({"not": {"missing": {"eq": "x"}}}, True),
    ({"not": {"missing": {"attributeExists": True}}}, True),
    ({"not": {"or": [{"priority": {"eq": 1}}, {"priority": {"eq": 2}}]}}, True),
    ({"not": {"and": [{"priority": {"eq": 3}}, {"done": {"eq": False}}]}}, False),
    # --- nesting
    (
        {
            "or": [
                {"and": [{"priority": {"gt": 5}}, {"done": {"eq": False}}]},
                {"and": [{"content": {"beginsWith": "Buy"}}, {"not": {"tags": {"contains": "z"}}}]},
            ]
        },
        True,
    ),
    (
        {
            "or": [
                {"and": [{"priority": {"gt": 5}}, {"done": {"eq": False}}]},
                {"and": [{"content": {"beginsWith": "Buy"}}, {"not": {"tags": {"contains": "a"}}}]},
            ]
        },
        False,
    ),
    (
        {
            "and": [
                {"or": [{"missing": {"eq": None}}, {"missing": {"gt": 1}}]},
                {"not": {"done": {"eq": True}}},
            ]
        },
        True,
    ),
    ({"not": {"or": [{"and": []}, {"priority": {"eq": 1}}]}}, False),
]


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_matches(flt: dict | None, expected: bool) -> None:
    assert check(flt) is expected


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_compiled_predicate_agrees(flt: dict | None, expected: bool) -> None:
    predicate = compile_filter(flt, LISTS)
    assert predicate(REC) is expected
    assert predicate(REC) is expected  # reusable


def test_list_fields_decide_contains_semantics() -> None:
    record = {"tags": ["milk", "eggs"], "note": "milk"}
    assert matches({"tags": {"contains": "milk"}}, record, frozenset({"tags"}))
    # Not declared as a list: only string substring semantics apply, and a list is not a string.
    assert not matches({"tags": {"contains": "milk"}}, record)
    assert matches({"tags": {"notContains": "milk"}}, record)
    # A string value in a declared list field is not searched as a substring.
    assert not matches({"note": {"contains": "mil"}}, record, frozenset({"note"}))
    assert matches({"note": {"contains": "mil"}}, record)


def test_empty_record() -> None:
    assert matches({"a": {"eq": None}, "b": {"ne": "x"}, "c": {"notContains": "y"}}, {})
    assert not matches({"a": {"attributeExists": True}}, {})
    assert matches({"a": {"attributeType": "_null"}, "b": {"notIn": [1]}}, {})


def test_does_not_mutate_inputs() -> None:
    flt = {"and": [{"a": {"eq": 1}}], "or": {"b": {"in": 2}}}
    record = {"a": 1, "b": 2}
    before_f, before_r = repr(flt), repr(record)
    assert matches(flt, record)
    assert repr(flt) == before_f and repr(record) == before_r


def test_filter_error_is_value_error() -> None:
    assert issubclass(FilterError, ValueError)


ERRORS = [
    ({"content": {"bogus": 1}}, "bogus"),
    ({"content": {"size": {"contains": 1}}}, "contains"),
    ({"content": {"size": {"beginsWith": "x"}}}, "beginsWith"),
    ({"content": {"between": [1]}}, "between"),
    ({"content": {"between": [1, 2, 3]}}, "between"),
    ({"content": {"between": "ab"}}, "between"),
    ({"content": {"size": {"between": [1]}}}, "between"),
    ({"content": {"attributeType": "float"}}, "attributeType"),
    ({"content": {"attributeType": 1}}, "attributeType"),
    ({"content": {"attributeExists": "yes"}}, "attributeExists"),
    ({"content": {"size": 3}}, "size"),
    ({"content": "Buy milk"}, "content"),
    ({"and": "x"}, "and"),
    ({"or": [1]}, "or"),
    ({"not": [{"content": {"eq": "x"}}]}, "not"),
    # Errors are raised regardless of short-circuiting: the first branch would already decide the answer.
    ({"or": [{"content": {"eq": "Buy milk"}}, {"content": {"bogus": 1}}]}, "bogus"),
    ({"and": [{"content": {"eq": "nope"}}, {"content": {"bogus": 1}}]}, "bogus"),
    ({"missing": {"eq": "x", "bogus": 1}}, "bogus"),
]


@pytest.mark.parametrize(("flt", "fragment"), ERRORS)
def test_malformed_filters_raise(flt: dict, fragment: str) -> None:
    with pytest.raises(FilterError, match=fragment):
        check(flt)
    with pytest.raises(FilterError, match=fragment):
        compile_filter(flt, LISTS)


def test_non_dict_filter_raises() -> None:
    with pytest.raises(FilterError):
        matches([{"a": {"eq": 1}}], {"a": 1})  # type: ignore[arg-type]
