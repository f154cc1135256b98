"""A heavy rendering is serialized piecewise on the reader thread (render.dumps_piecewise) so that no
single call holds the GIL for long; its bytes must be exactly orjson's for every shape."""

from __future__ import annotations

import copy

import orjson
import pytest

from cove.server.engine.render import dumps_piecewise

SHAPES = [
    None, "x", 1, 2.5, True, [], {}, [[]], [{}], {"a": []},
    {"items": [{"id": str(i), "title": f'post "{i}" é\n', "blog": {"name": "b"}} for i in range(40)],
     "nextToken": None},
    {"listPosts": {"items": [{"blog": {"posts": {"items": [{"id": f"{i}-{j}", "n": None, "tags": ["a", "b"]}
                                                          for j in range(20)], "nextToken": "t"}}}
                             for i in range(30)], "nextToken": "abc"}},
    [{"a": [{"b": list(range(40))}]}, {"c": [1.5, -2, False, None]}],
    {"only": [{"deep": [{"deeper": [1, 2, 3]}]}]},
]


@pytest.mark.parametrize("value", SHAPES)
def test_piecewise_bytes_are_orjsons(value: object) -> None:
    expected = orjson.dumps(value)
    assert dumps_piecewise(copy.deepcopy(value)) == expected
    assert orjson.loads(dumps_piecewise(copy.deepcopy(value))) == value


def test_the_value_is_left_as_it_was_even_where_lists_are_shared() -> None:
    # A record's array field is one list object wherever the record is rendered in the answer.
    tags = ["a", "b", "c"]
    many = list(range(40))
    value = {"items": [{"id": str(i), "tags": tags, "many": many} for i in range(40)], "more": [tags, many]}
    expected = orjson.dumps(value)
    assert dumps_piecewise(value) == expected
    assert orjson.dumps(value) == expected and tags == ["a", "b", "c"] and many == list(range(40))
