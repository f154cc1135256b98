"""List filters end to end: a real `cove sandbox` on tests/schemas/filters_schema.py, over HTTP.

About 30 items are created through `createItem`; then `listItems(filter: $filter)` is sent for each
operator of the generated `Model*Input` types (AppSync section 5) and must return exactly the ids a
hand-written predicate picks from the seeded data. Semantics (see cove/filters.py): a missing field
fails every test except `ne`, `notContains`, `attributeExists: false`, `attributeType: _null` and
`eq: null`; ordering compares strings by code point and numbers numerically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import start_sandbox
from paths import TESTS

pytestmark = pytest.mark.both_backends

SCHEMA = TESTS / "schemas" / "filters_schema.py"

LIST = """query List($filter: ModelItemFilterInput, $limit: Int, $nextToken: String) {
  listItems(filter: $filter, limit: $limit, nextToken: $nextToken) { items { id } nextToken }
}"""
CREATE = "mutation Create($input: CreateItemInput!) { createItem(input: $input) { id } }"

# ---------------------------------------------------------------------------------------------------------
# Seed data: item-01 .. item-30, every field missing on some items.

NAMES = ["apple", "apricot", "banana", "Blueberry", "cherry", "", None, "éclair", "date", "fig",
         "grape", "kiwi", "lemon", "mango", None, "apple pie", "nectarine", "olive", "peach", "pear",
         "plum", "quince", "raspberry", "Apple", "strawberry", "tangerine", None, "ugli", "vanilla", "watermelon"]
TAGSETS: list[list[str] | None] = [[], ["red"], ["red", "green"], ["blue"], ["green", "blue", "red"], None,
                                   ["Red", "reddish"]]
KINDSETS: list[list[str] | None] = [["ALPHA"], ["ALPHA", "BETA"], [], None, ["GAMMA", "DELTA", "ALPHA"]]
NUMSETS: list[list[int] | None] = [[1, 2, 3], [], None, [5]]
KINDS = ["ALPHA", "BETA", "GAMMA", "DELTA"]


def _item(n: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": f"item-{n:02d}",
        "name": NAMES[n - 1],
        "code": None if n % 10 == 0 else f"C{n % 7}",
        "count": None if n % 9 == 0 else n - 10,
        "score": None if n % 8 == 0 else n / 4,
        "flag": None if n % 3 == 2 else n % 3 == 0,
        "day": None if n % 11 == 0 else f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        "at": None if n % 13 == 0 else f"2024-01-{n:02d}T{n % 24:02d}:00:00.000Z",
        "tm": None if n % 6 == 0 else f"{n % 24:02d}:30:00",
        "ts": None if n % 10 == 5 else 1_700_000_000 + n * 3600,
        "email": None if n % 14 == 0 else f"user{n}@{'example.com' if n % 2 else 'test.org'}",
        "meta": None if n % 5 == 4 else f'{{"n":{n}}}',
        "phone": None if n % 4 == 3 else f"+1 555 01{n:02d}",
        "site": None if n % 7 == 6 else f"https://site{n % 3}.example/p{n}",
        "ip": None if n % 9 == 4 else f"10.0.{n % 4}.{n}",
        "kind": None if n % 5 == 0 else KINDS[n % 4],
        "tags": TAGSETS[n % 7],
        "kinds": KINDSETS[n % 5],
        "nums": NUMSETS[n % 4],
    }
    return {k: v for k, v in values.items() if v is not None}


ITEMS = [_item(n) for n in range(1, 31)]
ALL = {r["id"] for r in ITEMS}


def ids(pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["id"] for r in ITEMS if pred(r)}


def has(r: dict[str, Any], f: str) -> bool:
    return r.get(f) is not None


def size(v: Any) -> int:
    return len(v.encode()) if isinstance(v, str) else len(v)


# (label, filter, expected ids)
CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # ---- ModelStringInput on String
    ("name eq", {"name": {"eq": "apple"}}, ids(lambda r: r.get("name") == "apple")),
    ("name eq is case sensitive", {"name": {"eq": "Apple"}}, {"item-24"}),
    ("name eq empty string", {"name": {"eq": ""}}, {"item-06"}),
    ("name eq null", {"name": {"eq": None}}, ids(lambda r: not has(r, "name"))),
    ("name ne", {"name": {"ne": "apple"}}, ids(lambda r: r.get("name") != "apple")),
    ("name ne null", {"name": {"ne": None}}, ids(lambda r: has(r, "name"))),
    ("name lt", {"name": {"lt": "banana"}}, ids(lambda r: has(r, "name") and r["name"] < "banana")),
    ("name le", {"name": {"le": "banana"}}, ids(lambda r: has(r, "name") and r["name"] <= "banana")),
    ("name gt", {"name": {"gt": "plum"}}, ids(lambda r: has(r, "name") and r["name"] > "plum")),
    ("name ge", {"name": {"ge": "plum"}}, ids(lambda r: has(r, "name") and r["name"] >= "plum")),
    ("name gt non-ascii", {"name": {"gt": "z"}}, {"item-08"}),  # 'é' > 'z' by code point
    ("name between", {"name": {"between": ["b", "d"]}},
     ids(lambda r: has(r, "name") and "b" <= r["name"] <= "d")),
    ("name between inverted", {"name": {"between": ["d", "b"]}}, set()),
    ("name beginsWith", {"name": {"beginsWith": "ap"}}, {"item-01", "item-02", "item-16"}),
    ("name beginsWith empty", {"name": {"beginsWith": ""}}, ids(lambda r: has(r, "name"))),
    ("name contains", {"name": {"contains": "an"}}, ids(lambda r: "an" in r.get("name", "\0"))),
    ("name notContains", {"name": {"notContains": "an"}}, ids(lambda r: "an" not in r.get("name", ""))),
    ("name attributeExists true", {"name": {"attributeExists": True}}, ids(lambda r: has(r, "name"))),
    ("name attributeExists false", {"name": {"attributeExists": False}}, {"item-07", "item-15", "item-27"}),
    ("name attributeType string", {"name": {"attributeType": "string"}}, ids(lambda r: has(r, "name"))),
    ("name attributeType _null", {"name": {"attributeType": "_null"}}, {"item-07", "item-15", "item-27"}),
    ("name attributeType number", {"name": {"attributeType": "number"}}, set()),
    ("name size eq", {"name": {"size": {"eq": 5}}}, ids(lambda r: has(r, "name") and size(r["name"]) == 5)),
    # 'éclair' is 6 characters but 7 UTF-8 bytes, like 'apricot' and 'vanilla'.
    ("name size counts bytes", {"name": {"size": {"eq": 7}}}, {"item-02", "item-08", "item-29"}),
    ("name size between", {"name": {"size": {"between": [4, 5]}}},
     ids(lambda r: has(r, "name") and 4 <= size(r["name"]) <= 5)),
    ("name size lt/ne", {"name": {"size": {"lt": 5, "ne": 0}}},
     ids(lambda r: has(r, "name") and 0 < size(r["name"]) < 5)),
    ("null operand ignored", {"name": {"attributeExists": None, "beginsWith": "ap"}},
     {"item-01", "item-02", "item-16"}),
    ("empty condition", {"name": {}}, ALL),
    # ---- ModelIDInput
    ("id eq", {"id": {"eq": "item-07"}}, {"item-07"}),
    ("id between", {"id": {"between": ["item-05", "item-08"]}}, {"item-05", "item-06", "item-07", "item-08"}),
    ("code eq", {"code": {"eq": "C3"}}, ids(lambda r: r.get("code") == "C3")),
    ("code beginsWith", {"code": {"beginsWith": "C"}}, ids(lambda r: has(r, "code"))),
    ("code attributeExists false", {"code": {"attributeExists": False}}, {"item-10", "item-20", "item-30"}),
    # ---- ModelIntInput
    ("count eq", {"count": {"eq": 0}}, {"item-10"}),
    ("count ne", {"count": {"ne": 0}}, ids(lambda r: r.get("count") != 0)),
    ("count lt", {"count": {"lt": -5}}, ids(lambda r: has(r, "count") and r["count"] < -5)),
    ("count le", {"count": {"le": -5}}, ids(lambda r: has(r, "count") and r["count"] <= -5)),
    ("count gt", {"count": {"gt": 15}}, ids(lambda r: has(r, "count") and r["count"] > 15)),
    ("count ge", {"count": {"ge": 15}}, ids(lambda r: has(r, "count") and r["count"] >= 15)),
    ("count between", {"count": {"between": [-2, 3]}}, ids(lambda r: has(r, "count") and -2 <= r["count"] <= 3)),
    ("count attributeType number", {"count": {"attributeType": "number"}}, ids(lambda r: has(r, "count"))),
    ("count attributeExists false", {"count": {"attributeExists": False}}, {"item-09", "item-18", "item-27"}),
    ("ts ge", {"ts": {"ge": 1_700_000_000 + 25 * 3600}}, ids(lambda r: has(r, "ts") and r["ts"] >= 1_700_090_000)),
    # ---- ModelFloatInput
    ("score eq", {"score": {"eq": 0.75}}, {"item-03"}),
    ("score eq integral", {"score": {"eq": 3}}, {"item-12"}),
    ("score gt", {"score": {"gt": 6.5}}, ids(lambda r: has(r, "score") and r["score"] > 6.5)),
    ("score between", {"score": {"between": [1.0, 2.0]}},
     ids(lambda r: has(r, "score") and 1.0 <= r["score"] <= 2.0)),
    ("score ne", {"score": {"ne": 0.25}}, ids(lambda r: r.get("score") != 0.25)),
    # ---- ModelBooleanInput
    ("flag eq true", {"flag": {"eq": True}}, ids(lambda r: r.get("flag") is True)),
    ("flag eq false", {"flag": {"eq": False}}, ids(lambda r: r.get("flag") is False)),
    ("flag ne true", {"flag": {"ne": True}}, ids(lambda r: r.get("flag") is not True)),
    ("flag attributeExists false", {"flag": {"attributeExists": False}}, ids(lambda r: not has(r, "flag"))),
    ("flag attributeType bool", {"flag": {"attributeType": "bool"}}, ids(lambda r: has(r, "flag"))),
    # ---- AWS scalars (ModelStringInput)
    ("day ge", {"day": {"ge": "2024-06-01"}}, ids(lambda r: has(r, "day") and r["day"] >= "2024-06-01")),
    ("day beginsWith", {"day": {"beginsWith": "2024-03"}}, ids(lambda r: r.get("day", "").startswith("2024-03"))),
    ("at gt", {"at": {"gt": "2024-01-20T00:00:00.000Z"}},
     ids(lambda r: has(r, "at") and r["at"] > "2024-01-20T00:00:00.000Z")),
    ("at lt", {"at": {"lt": "2024-01-04T00:00:00Z"}}, {"item-01", "item-02", "item-03"}),
    ("at between", {"at": {"between": ["2024-01-10T00:00:00Z", "2024-01-15T23:59:59Z"]}},
     {"item-10", "item-11", "item-12", "item-14", "item-15"}),
    ("tm beginsWith", {"tm": {"beginsWith": "1"}}, ids(lambda r: r.get("tm", "").startswith("1"))),
    ("tm lt", {"tm": {"lt": "05:00"}}, ids(lambda r: has(r, "tm") and r["tm"] < "05:00")),
    ("email contains", {"email": {"contains": "@example"}}, ids(lambda r: "@example" in r.get("email", ""))),
    ("email notContains", {"email": {"notContains": "@example"}},
     ids(lambda r: "@example" not in r.get("email", ""))),
    ("meta eq", {"meta": {"eq": '{"n":3}'}}, {"item-03"}),
    ("meta contains", {"meta": {"contains": '"n":1'}}, ids(lambda r: '"n":1' in r.get("meta", ""))),
    ("meta attributeType string", {"meta": {"attributeType": "string"}}, ids(lambda r: has(r, "meta"))),
    ("phone beginsWith", {"phone": {"beginsWith": "+1 555 011"}},
     ids(lambda r: r.get("phone", "").startswith("+1 555 011"))),
    ("site contains", {"site": {"contains": "site1."}}, ids(lambda r: "site1." in r.get("site", ""))),
    ("ip beginsWith", {"ip": {"beginsWith": "10.0.2."}}, ids(lambda r: r.get("ip", "").startswith("10.0.2."))),
    ("ip size", {"ip": {"size": {"le": 8}}}, ids(lambda r: has(r, "ip") and size(r["ip"]) <= 8)),
    # ---- enum
    ("kind eq", {"kind": {"eq": "GAMMA"}}, ids(lambda r: r.get("kind") == "GAMMA")),
    ("kind ne", {"kind": {"ne": "GAMMA"}}, ids(lambda r: r.get("kind") != "GAMMA")),
    ("kind eq null", {"kind": {"eq": None}}, ids(lambda r: not has(r, "kind"))),
    # ---- enum list
    ("kinds eq", {"kinds": {"eq": ["ALPHA", "BETA"]}}, ids(lambda r: r.get("kinds") == ["ALPHA", "BETA"])),
    ("kinds eq order matters", {"kinds": {"eq": ["BETA", "ALPHA"]}}, set()),
    ("kinds eq empty", {"kinds": {"eq": []}}, ids(lambda r: r.get("kinds") == [])),
    ("kinds ne", {"kinds": {"ne": ["ALPHA"]}}, ids(lambda r: r.get("kinds") != ["ALPHA"])),
    ("kinds contains", {"kinds": {"contains": "ALPHA"}}, ids(lambda r: "ALPHA" in r.get("kinds", []))),
    ("kinds notContains", {"kinds": {"notContains": "ALPHA"}}, ids(lambda r: "ALPHA" not in r.get("kinds", []))),
    # ---- String list (ModelStringInput)
    ("tags contains", {"tags": {"contains": "red"}}, ids(lambda r: "red" in r.get("tags", []))),
    ("tags contains is element-wise", {"tags": {"contains": "re"}}, set()),
    ("tags notContains", {"tags": {"notContains": "red"}}, ids(lambda r: "red" not in r.get("tags", []))),
    ("tags size eq 0", {"tags": {"size": {"eq": 0}}}, ids(lambda r: r.get("tags") == [])),
    ("tags size ge 2", {"tags": {"size": {"ge": 2}}}, ids(lambda r: len(r.get("tags", [])) >= 2)),
    ("tags attributeType list", {"tags": {"attributeType": "list"}}, ids(lambda r: has(r, "tags"))),
    ("tags attributeExists false", {"tags": {"attributeExists": False}}, ids(lambda r: not has(r, "tags"))),
    ("tags eq scalar never matches a list", {"tags": {"eq": "red"}}, set()),
    ("tags between never matches a list", {"tags": {"between": ["A", "z"]}}, set()),
    ("tags beginsWith never matches a list", {"tags": {"beginsWith": "["}}, set()),
    # ---- Int list (ModelIntInput: no contains/size; whole-list comparisons with a scalar)
    ("nums eq scalar", {"nums": {"eq": 5}}, set()),
    ("nums ne scalar", {"nums": {"ne": 5}}, ALL),
    ("nums attributeExists", {"nums": {"attributeExists": True}}, ids(lambda r: has(r, "nums"))),
    ("nums attributeType list", {"nums": {"attributeType": "list"}}, ids(lambda r: has(r, "nums"))),
    # ---- logical
    ("two fields are AND-ed", {"kind": {"eq": "ALPHA"}, "flag": {"eq": True}},
     ids(lambda r: r.get("kind") == "ALPHA" and r.get("flag") is True)),
    ("and list", {"and": [{"count": {"gt": 0}}, {"count": {"lt": 10}}]},
     ids(lambda r: has(r, "count") and 0 < r["count"] < 10)),
    ("and single object", {"and": {"count": {"gt": 0}}}, ids(lambda r: has(r, "count") and r["count"] > 0)),
    ("or list", {"or": [{"name": {"eq": "fig"}}, {"count": {"ge": 19}}]},
     ids(lambda r: r.get("name") == "fig" or r.get("count", -99) >= 19)),
    ("or single object", {"or": {"name": {"eq": "fig"}}}, ids(lambda r: r.get("name") == "fig")),
    ("not", {"not": {"kind": {"eq": "ALPHA"}}}, ids(lambda r: r.get("kind") != "ALPHA")),
    ("not of a missing-field test", {"not": {"count": {"gt": 0}}}, ids(lambda r: not r.get("count", 0) > 0)),
    ("nested and/or/not",
     {"or": [{"and": [{"flag": {"eq": True}}, {"not": {"tags": {"contains": "red"}}}]},
             {"not": {"or": [{"score": {"lt": 7}}, {"score": {"attributeExists": False}}]}}]},
     ids(lambda r: (r.get("flag") is True and "red" not in r.get("tags", []))
         or (has(r, "score") and r["score"] >= 7))),
    ("empty and", {"and": []}, ALL),
    ("not empty", {"not": {}}, set()),
    ("empty filter", {}, ALL),
]


def post(box: Any, client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    r = client.post(box.url, json={"query": query, "variables": variables}, headers={"x-api-key": box.api_key})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Any:
    """One seeded server per backend for the whole module: every test here only reads."""
    box = start_sandbox(tmp_path_factory.mktemp("filters"), SCHEMA, "--no-watch", backend=backend)
    try:
        with httpx.Client(timeout=10) as client:
            for item in ITEMS:
                body = post(box, client, CREATE, {"input": item})
                assert body.get("errors") is None and body["data"]["createItem"]["id"] == item["id"], body
            yield box, client
    finally:
        box.stop()


def list_ids(box: Any, client: httpx.Client, flt: dict[str, Any] | None, limit: int | None = None) -> set[str]:
    body = post(box, client, LIST, {"filter": flt, "limit": limit})
    assert body.get("errors") is None, body
    page = body["data"]["listItems"]
    assert page["nextToken"] is None
    return {item["id"] for item in page["items"]}


def test_every_operator(seeded: Any) -> None:
    box, client = seeded
    assert list_ids(box, client, None) == ALL
    failures = []
    for label, flt, expected in CASES:
        got = list_ids(box, client, flt)
        if got != expected:
            failures.append(f"{label}: filter {flt}\n   missing {sorted(expected - got)}\n"
                            f"   unexpected {sorted(got - expected)}")
    assert not failures, f"{len(failures)} of {len(CASES)} filters wrong:\n" + "\n".join(failures)


def test_cases_are_discriminating() -> None:
    """Guard against a typo in the seed making a case trivially pass: most pick some but not all."""
    partial = [label for label, _, expected in CASES if 0 < len(expected) < len(ALL)]
    assert len(partial) > 0.8 * len(CASES)


@pytest.mark.parametrize("limit", [3, 1, 7])
def test_pagination_under_filter(seeded: Any, limit: int) -> None:
    box, client = seeded
    flt = {"or": [{"count": {"gt": 0}}, {"tags": {"contains": "red"}}, {"kind": {"eq": "DELTA"}}]}
    expected = ids(lambda r: r.get("count", 0) > 0 or "red" in r.get("tags", []) or r.get("kind") == "DELTA")
    assert 10 < len(expected) < len(ALL)
    pages: list[list[str]] = []
    token = None
    while True:
        body = post(box, client, LIST, {"filter": flt, "limit": limit, "nextToken": token})
        assert body.get("errors") is None, body
        conn = body["data"]["listItems"]
        pages.append([item["id"] for item in conn["items"]])
        token = conn["nextToken"]
        if token is None:
            break
        assert len(pages) <= len(ALL) + 1, "nextToken never ends"
    # Cove pushes the filter into the query: every page but the last is full (AppSync's Scan is not).
    assert all(len(p) == limit for p in pages[:-1]), pages
    assert 1 <= len(pages[-1]) <= limit, pages
    flat = [i for p in pages for i in p]
    assert len(flat) == len(set(flat)), f"duplicates across pages: {pages}"
    assert set(flat) == expected


def test_pagination_with_no_match(seeded: Any) -> None:
    box, client = seeded
    body = post(box, client, LIST, {"filter": {"name": {"eq": "no such"}}, "limit": 3})
    assert body.get("errors") is None, body
    assert body["data"]["listItems"] == {"items": [], "nextToken": None}


def _validation_error(body: dict[str, Any]) -> str:
    assert body.get("data") is None, body
    errors = body.get("errors")
    assert errors and isinstance(errors[0].get("message"), str) and errors[0]["message"], body
    return str(errors[0]["message"])


def test_unknown_field_in_filter(seeded: Any) -> None:
    box, client = seeded
    message = _validation_error(post(box, client, LIST, {"filter": {"nope": {"eq": "x"}}}))
    assert "nope" in message
    # The same as a literal in the document.
    doc = '{ listItems(filter: {nope: {eq: "x"}}) { items { id } } }'
    assert "nope" in _validation_error(post(box, client, doc, {}))
    # An unknown operator.
    message = _validation_error(post(box, client, LIST, {"filter": {"name": {"like": "x"}}}))
    assert "like" in message


@pytest.mark.parametrize("flt", [
    {"count": {"eq": "abc"}},
    {"count": {"gt": 1.5}},
    {"count": {"lt": 2**31}},             # Int is 32-bit
    {"score": {"eq": "1.0"}},
    {"flag": {"eq": "yes"}},
    {"kind": {"eq": "OMEGA"}},
    {"kinds": {"contains": "OMEGA"}},
    {"name": {"attributeType": "text"}},
    {"name": {"size": {"eq": "3"}}},
    {"nums": {"contains": 1}},            # ModelIntInput has no contains
    {"kind": {"beginsWith": "A"}},        # ModelKindInput is eq/ne only
], ids=repr)
def test_bad_value_in_filter_variable(seeded: Any, flt: dict[str, Any]) -> None:
    box, client = seeded
    _validation_error(post(box, client, LIST, {"filter": flt}))


def test_aws_scalar_filters_are_plain_strings(seeded: Any) -> None:
    """AWSDate/AWSDateTime/... fields are filtered with ModelStringInput (as in AppSync), so an
    impossible date is a valid operand that simply matches nothing."""
    box, client = seeded
    assert list_ids(box, client, {"day": {"eq": "2024-13-45"}}) == set()
    assert list_ids(box, client, {"at": {"lt": "not a date"}}) == ALL - ids(lambda r: not has(r, "at"))


def test_malformed_between_is_unrecognized_filter(seeded: Any) -> None:
    box, client = seeded
    body = post(box, client, LIST, {"filter": {"count": {"between": [1]}}})
    assert body["data"] == {"listItems": None}, body
    assert body["errors"][0]["errorType"] == "Unrecognized Filter", body
    assert body["errors"][0]["path"] == ["listItems"]
