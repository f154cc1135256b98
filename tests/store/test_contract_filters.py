"""The store contract for filters: each backend's SQL and `cove.wire.filters.matches` (Python) agree.

Both must select exactly the same records for every filter. A seeded generator builds a few hundred
records (with missing fields, empty strings and lists, non-ASCII text, JSON-special characters) over
tests/schemas/filters_schema.py, and thousands of filters over every operator the generated
`Model*Input` types offer (plus a few store-level extras), nested with and/or/not and null operands.
For each filter the ids the backend's `records.list` returns must equal the ids `matches` accepts; a
sample is also checked as an update condition. Malformed filters must be rejected by both sides.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cove.wire.filters import FilterError, matches
from cove.schema.loader import SchemaSource
from cove.schema.model import Model, Schema
from cove.store.base import Backend, ConditionalCheckFailed, InvalidFilter, ListRequest

from .conftest import BACKENDS, TEXT_HOLDS_NUL, open_for_test

pytestmark = pytest.mark.anyio

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "filters_schema.py"
SEED = 20240611
N_RECORDS = 300
N_FILTERS = 4000
N_UPDATE_CHECKS = 400

# ---------------------------------------------------------------------------------------------------------
# Value pools. Small pools make equality and ordering hit often; the characters cover ASCII case,
# '[' (which sorts between upper and lower case and starts every JSON array), JSON escapes, multi-byte
# UTF-8 (2, 3 and 4 bytes) and the empty string.

CHARS = ["a", "b", "c", "A", "Z", "[", "]", '"', "\\", " ", ",", "é", "中", "😀", "0", "9"]
WORDS = ["", "a", "ab", "abc", "b", "ba", "A", "Ab", "Z", "[", '["a"]', "é", "éa", "中文", "😀", "a😀", "0", "10", "9"]
# NUL is a legal character in a GraphQL / JSON string, and SQLite's text functions stop at it.
NUL_WORDS = ["\x00", "a\x00", "a\x00b", "\x00a"]

ENUM = ["ALPHA", "BETA", "GAMMA", "DELTA"]
IDS_EXTRA = ["", "c", "c1", "c10", "c2", "C1", "x-9"]
DAYS = ["2024-01-01", "2024-01-02", "2024-02-29", "2023-12-31", "2024-01-01Z", "2024-01-01+01:00"]
DATETIMES = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000Z", "2024-01-01T12:30:00Z",
             "2024-01-01T12:30:00+02:00", "2024-06-30T23:59:59.999Z", "2023-12-31T23:59:59Z"]
TIMES = ["00:00", "00:00:00", "12:30:00", "12:30:00.123", "23:59:59Z", "08:15+01:00"]
EMAILS = ["a@b.c", "A@b.c", "ab@example.com", "zed@example.org", "a.b@c.d"]
JSONS = ['{"a":1}', '{"a":2}', '{"b":[1,2]}', "[1,2]", "[]", '"x"', "1", "null", "true", '{"k":"é"}']
PHONES = ["+1 555 0100", "+44 20 7946 0000", "555-0100-12", "+15550100"]
URLS = ["https://a.example", "https://a.example/x", "http://b.example", "mailto:a@b.c", "ftp://[::1]:21/"]
IPS = ["10.0.0.1", "10.0.0.10", "192.168.1.1", "::1", "2001:db8::1", "10.0.0.0/8"]
INTS = [-(2**31), -100, -3, -2, -1, 0, 1, 2, 3, 10, 100, 2**31 - 1]
TIMESTAMPS = [0, 1, 1_700_000_000, 1_700_000_001, 1_800_000_000, -5, 2**40]
FLOATS = [-1e300, -2.5, -1.0, -0.0, 0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 1e10, 1e300]


def rand_text(rng: random.Random, nul: bool = True) -> str:
    """A short string, sometimes holding NUL characters (`nul=False` to leave them out)."""
    if nul and rng.random() < 0.03:
        return rng.choice(NUL_WORDS)
    if rng.random() < 0.5:
        return rng.choice(WORDS)
    chars = CHARS + ["\x00"] if nul else CHARS
    return "".join(rng.choice(chars) for _ in range(rng.randint(0, 4)))


def rand_element(rng: random.Random) -> str:
    return rand_text(rng)


# Field kinds: how to make a stored value, and what filter operators / operands apply.
# kind -> (value maker, operand maker)
def _pool(values: list[Any]) -> Any:
    return lambda rng: rng.choice(values)


STRING_KINDS: dict[str, Any] = {
    "name": rand_text,
    "id": None,  # filled in per record
    "code": lambda rng: rng.choice(IDS_EXTRA) if rng.random() < 0.5 else rand_text(rng),
    "day": _pool(DAYS),
    "at": _pool(DATETIMES),
    "tm": _pool(TIMES),
    "email": _pool(EMAILS),
    "meta": _pool(JSONS),
    "phone": _pool(PHONES),
    "site": _pool(URLS),
    "ip": _pool(IPS),
    "createdAt": _pool(DATETIMES),
    "updatedAt": _pool(DATETIMES),
}
INT_FIELDS = {"count": _pool(INTS), "ts": _pool(TIMESTAMPS)}
FLOAT_FIELDS = {"score": _pool(FLOATS)}
BOOL_FIELDS = {"flag": lambda rng: rng.random() < 0.5}
ENUM_FIELDS = {"kind": _pool(ENUM)}
LIST_FIELDS = {
    "tags": lambda rng: [None if rng.random() < 0.05 else rand_element(rng) for _ in range(rng.randint(0, 4))],
    "kinds": lambda rng: [rng.choice(ENUM) for _ in range(rng.randint(0, 3))],
    "nums": lambda rng: [rng.choice(INTS[2:10]) for _ in range(rng.randint(0, 4))],
}
REQUIRED = {"id", "createdAt", "updatedAt"}

ATTRIBUTE_TYPES = ["binary", "binarySet", "bool", "list", "map", "number", "numberSet", "string",
                   "stringSet", "_null"]
COMPARE = ["eq", "ne", "le", "lt", "ge", "gt"]


def make_record(rng: random.Random, i: int, text_nul: bool = True) -> dict[str, Any]:
    """A record; ``text_nul=False`` keeps NUL out of text fields (a backend whose text cannot hold it
    refuses such a record: test_contract.py checks that), while list elements may still hold it."""
    rec: dict[str, Any] = {"id": f"r{i:03d}" if rng.random() < 0.8 else f"{rand_text(rng, text_nul)}#{i}"}
    makers = {**STRING_KINDS, **INT_FIELDS, **FLOAT_FIELDS, **BOOL_FIELDS, **ENUM_FIELDS, **LIST_FIELDS}
    if not text_nul:
        makers["name"] = lambda rng: rand_text(rng, nul=False)
        makers["code"] = lambda rng: rng.choice(IDS_EXTRA) if rng.random() < 0.5 else rand_text(rng, nul=False)
    for name, make in makers.items():
        if make is None:
            continue
        if name not in REQUIRED and rng.random() < 0.2:
            continue  # missing attribute
        rec[name] = make(rng)
    return rec


# ---------------------------------------------------------------------------------------------------------
# Filter generation


class FilterGen:
    def __init__(self, rng: random.Random, records: list[dict[str, Any]]) -> None:
        self.rng = rng
        self.records = records

    def sample(self, field: str) -> Any:
        """An operand for `field`: usually a value some record has, sometimes a fresh one."""
        rng = self.rng
        if rng.random() < 0.7:
            present = [r[field] for r in rng.sample(self.records, 8) if r.get(field) is not None]
            if present:
                return rng.choice(present)
        if field == "id":
            return f"r{rng.randint(0, N_RECORDS + 5):03d}" if rng.random() < 0.7 else rand_text(rng)
        for table in (STRING_KINDS, INT_FIELDS, FLOAT_FIELDS, BOOL_FIELDS, ENUM_FIELDS, LIST_FIELDS):
            if field in table:
                return table[field](rng)
        raise AssertionError(field)

    def element(self, field: str) -> Any:
        """An element operand for a list field (contains / notContains / ordering on the list)."""
        rng = self.rng
        lst = self.sample(field)
        if lst and rng.random() < 0.8:
            return rng.choice(lst)
        if field == "kinds":
            return rng.choice(ENUM)
        if field == "nums":
            return rng.choice(INTS)
        return rand_element(rng)

    def maybe_none(self, value: Any, p: float = 0.05) -> Any:
        return None if self.rng.random() < p else value

    def between(self, make: Any) -> list[Any]:
        rng = self.rng
        lo, hi = make(), make()
        if rng.random() < 0.7 and _orderable(lo, hi) and lo > hi:
            lo, hi = hi, lo
        pair = [lo, hi]
        if rng.random() < 0.05:
            pair[rng.randint(0, 1)] = None  # `[String]` admits a null element
        return pair

    def size(self) -> dict[str, Any]:
        rng = self.rng
        ops = rng.sample(COMPARE + ["between"], rng.randint(1, 2))
        out: dict[str, Any] = {}
        for op in ops:
            if op == "between":
                out[op] = self.between(lambda: rng.randint(0, 6))
            else:
                out[op] = self.maybe_none(rng.randint(0, 6))
        return out

    def field_condition(self) -> tuple[str, Any]:
        rng = self.rng
        kind = rng.choice(["string", "string", "string", "int", "float", "bool", "enum", "list", "list", "list"])
        make: Callable[[], Any]
        if kind == "string":
            field = rng.choice(list(STRING_KINDS))
            make = lambda: self.sample(field)
            ops = COMPARE + ["contains", "notContains", "between", "beginsWith", "attributeExists",
                             "attributeType", "size"]
        elif kind == "int":
            field = rng.choice(list(INT_FIELDS))
            make = lambda: self.sample(field)
            ops = COMPARE + ["between", "attributeExists", "attributeType"]
        elif kind == "float":
            field = "score"
            make = lambda: self.sample(field)
            ops = COMPARE + ["between", "attributeExists", "attributeType"]
        elif kind == "bool":
            field = "flag"
            make = lambda: self.sample(field)
            ops = ["eq", "ne", "attributeExists", "attributeType"]
        elif kind == "enum":
            field = "kind"
            make = lambda: self.sample(field)
            ops = ["eq", "ne"]
            if rng.random() < 0.2:  # store-level extras (not offered by ModelKindInput)
                ops = ops + ["attributeExists", "attributeType"]
        else:
            field = rng.choice(list(LIST_FIELDS))
            if field == "kinds":
                # ModelKindListInput: eq/ne take a whole list, contains/notContains an element.
                ops = ["eq", "ne", "contains", "notContains"]
                if rng.random() < 0.2:
                    ops = ops + ["attributeExists", "attributeType", "size"]
            else:
                # tags: ModelStringInput, nums: ModelIntInput -- operands are single elements.
                ops = COMPARE + ["between", "attributeExists", "attributeType"]
                if field == "tags":
                    ops = ops + ["contains", "notContains", "beginsWith", "size"]
                elif rng.random() < 0.3:  # store-level extras on an Int list
                    ops = ops + ["contains", "notContains", "size"]
            make = lambda: self.element(field)

        cond: dict[str, Any] = {}
        for op in rng.sample(ops, min(len(ops), rng.choice([1, 1, 1, 2, 3]))):
            if op == "between":
                cond[op] = self.between(make)
            elif op == "attributeExists":
                cond[op] = rng.random() < 0.5
            elif op == "attributeType":
                cond[op] = rng.choice(ATTRIBUTE_TYPES)
            elif op == "size":
                cond[op] = self.size()
            elif field == "kinds" and op in ("eq", "ne"):
                cond[op] = self.sample(field)
            else:
                cond[op] = make()
            if rng.random() < 0.04:
                cond[op] = None  # a null operand: ignored, except eq/ne which test for null
        if rng.random() < 0.02:
            return field, rng.choice([None, {}])
        return field, cond

    def filter(self, depth: int = 0) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            roll = rng.random()
            if depth < 3 and roll < 0.12:
                out["and"] = self.logical(depth)
            elif depth < 3 and roll < 0.24:
                out["or"] = self.logical(depth)
            elif depth < 3 and roll < 0.34:
                out["not"] = self.filter(depth + 1) if rng.random() > 0.03 else rng.choice([{}, None])
            else:
                field, cond = self.field_condition()
                out[field] = cond
        return out

    def logical(self, depth: int) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.2:
            return self.filter(depth + 1)  # a single object instead of a list
        if roll < 0.25:
            return rng.choice([[], None, [{}], [None]])
        items: list[Any] = [self.filter(depth + 1) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.05:
            items.append(rng.choice([None, {}]))
        return items


def _orderable(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, num) and isinstance(b, num))


# ---------------------------------------------------------------------------------------------------------
# Hand-picked filters that must always be covered (each probes a place where SQL and Python could part)

EDGE_FILTERS: list[dict[str, Any]] = [
    {"tags": {"between": ["A", "z"]}},          # a JSON array's text starts with '[' (between 'A' and 'z')
    {"tags": {"between": ["[", "[zzz"]}},
    {"tags": {"gt": "A"}},
    {"tags": {"le": "z"}},
    {"tags": {"eq": '["a"]'}},
    {"tags": {"beginsWith": "["}},
    {"tags": {"contains": "["}},
    {"tags": {"contains": ""}},
    {"tags": {"size": {"eq": 0}}},
    {"kinds": {"eq": []}},
    {"kinds": {"ne": []}},
    {"kinds": {"eq": ["ALPHA"]}},
    {"kinds": {"contains": "ALPHA"}, "not": {"kinds": {"eq": ["ALPHA"]}}},
    {"nums": {"between": [-10, 10]}},
    {"nums": {"contains": 2}},
    {"nums": {"eq": 2}},
    {"nums": {"ne": 2}},
    {"name": {"between": [None, "b"]}},
    {"not": {"name": {"between": [None, "b"]}}},
    {"not": {"name": {"between": ["a", None]}}},
    {"not": {"count": {"between": [None, 3]}}},
    {"not": {"name": {"size": {"between": [None, 3]}}}},
    {"not": {"tags": {"size": {"between": [1, None]}}}},
    {"not": {"tags": {"between": [None, "z"]}}},
    {"name": {"contains": ""}},
    {"name": {"notContains": ""}},
    {"name": {"beginsWith": ""}},
    {"name": {"size": {}}},
    {"name": {"size": {"eq": None}}},
    {"name": {"size": {"ne": None}}},
    {"name": {"lt": "["}},
    {"name": {"gt": "Z", "lt": "a"}},
    {"name": {"ge": "😀"}},
    {"name": {"le": "中"}},
    {"name": {"size": {"eq": 4}}},
    {"name": {"eq": ""}},
    {"meta": {"contains": '"'}},
    {"meta": {"eq": "null"}},
    {"meta": {"attributeType": "string"}},
    {"meta": {"attributeType": "map"}},
    {"flag": {"eq": False}},
    {"flag": {"ne": True}},
    {"flag": {"attributeType": "bool"}},
    {"flag": {"attributeType": "number"}},
    {"score": {"eq": 0}},
    {"score": {"eq": -0.0}},
    {"score": {"between": [-1, 1]}},
    {"score": {"gt": 2}},
    {"count": {"eq": 2.0}},
    {"count": {"between": [3, -3]}},
    {"count": {"attributeType": "number"}},
    {"ts": {"gt": 2**31}},
    {"kind": {"eq": None}},
    {"kind": {"ne": None}},
    {"kind": {"ne": "ALPHA"}},
    {"kind": {"attributeType": "string"}},
    {"id": {"beginsWith": "r0"}},
    {"id": {"attributeType": "_null"}},
    {"code": {"attributeType": "_null"}},
    {"code": {"attributeExists": False}},
    {"not": {}},
    {"not": {"and": []}},
    {"not": {"or": [{}]}},
    {"not": {"name": {}}},
    {"or": []},
    {"or": [None]},
    {"and": {}},
    {"and": {"name": {"attributeExists": True}}},
    {"or": {"count": {"gt": 0}}},
    {"or": [{"count": {"gt": 0}}, {}]},
    {"name": None},
    {"name": {"eq": None, "ne": None}},
    {"not": {"not": {"tags": {"contains": "a"}}}},
    {"name": {"beginsWith": "a\x00"}},
    {"name": {"beginsWith": "\x00"}},
    {"name": {"beginsWith": "a"}},
    {"name": {"contains": "\x00"}},
    {"name": {"notContains": "\x00a"}},
    {"name": {"size": {"eq": 2}}},
    {"name": {"gt": "a\x00"}},
    {"name": {"eq": "a\x00b"}},
]

# Malformed filters: both sides must refuse them.
BAD_FILTERS: list[dict[str, Any]] = [
    {"name": {"between": ["a"]}},
    {"name": {"between": ["a", "b", "c"]}},
    {"count": {"between": []}},
    {"not": {"count": {"between": [1]}}},
    {"or": [{"name": {"eq": "a"}}, {"name": {"between": ["a"]}}]},
    {"name": {"size": {"between": [1]}}},
]


# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> Schema:
    return SchemaSource(str(SCHEMA_PATH)).load().schema


World = tuple[Backend, Model, list[dict[str, Any]]]


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, anyio_backend: str, schema: Schema,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    rng = random.Random(SEED)
    backend = open_for_test(str(request.param), tmp_path_factory.mktemp("crosscheck"))
    await backend.migrator.apply_schema(schema)
    model = schema.models["Item"]
    # Filter operands hold NUL on every backend (generated below), so a backend whose text cannot hold
    # it must still give them their exact meaning.
    records = [make_record(rng, i, TEXT_HOLDS_NUL[str(request.param)]) for i in range(N_RECORDS)]
    for rec in records:
        stored = await backend.records.create(model, rec, None)
        for k, v in rec.items():  # the store must hand back the same Python values
            assert type(stored[k]) is type(v) and stored[k] == v, (k, v, stored[k])
    yield backend, model, records
    await backend.close()


def list_fields(model: Model) -> frozenset[str]:
    return frozenset(f.name for f in model.stored_fields() if f.is_array)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


async def _sql_ids(backend: Backend, model: Model, flt: dict[str, Any]) -> set[str]:
    page = await backend.records.list(ListRequest(model, filter=flt, limit=N_RECORDS + 100))
    assert page.next_token is None
    return {r["id"] for r in page.items}


def _py_ids(records: list[dict[str, Any]], flt: dict[str, Any], lists: frozenset[str]) -> set[str]:
    return {r["id"] for r in records if matches(flt, r, lists)}


def _report(flt: dict[str, Any], records: list[dict[str, Any]], sql: set[str], py: set[str]) -> str:
    by_id = {r["id"]: r for r in records}
    lines = [f"FILTER {_show(flt)}"]
    for rid in sorted(sql - py)[:5]:
        lines.append(f"  SQL=match, Python=no match: {_show(by_id[rid])}")
    for rid in sorted(py - sql)[:5]:
        lines.append(f"  SQL=no match, Python=match: {_show(by_id[rid])}")
    lines.append(f"  ({len(sql - py)} only in SQL, {len(py - sql)} only in Python)")
    return "\n".join(lines)


async def _check(backend: Backend, model: Model, records: list[dict[str, Any]],
           filters: list[dict[str, Any]]) -> tuple[list[str], int]:
    lists = list_fields(model)
    failures: list[str] = []
    nonempty = 0
    for flt in filters:
        py = _py_ids(records, flt, lists)
        sql = await _sql_ids(backend, model, flt)
        nonempty += 0 < len(py) < len(records)
        if sql != py:
            failures.append(_report(flt, records, sql, py))
    return failures, nonempty


async def test_edge_filters_agree(world: World) -> None:
    backend, model, records = world
    failures, _ = await _check(backend, model, records, EDGE_FILTERS)
    if failures:
        print("\n\n".join(failures))
    assert not failures, f"{len(failures)} of {len(EDGE_FILTERS)} edge filters disagree:\n" + "\n\n".join(failures)


async def test_random_filters_agree(world: World) -> None:
    backend, model, records = world
    gen = FilterGen(random.Random(SEED + 1), records)
    filters = [gen.filter() for _ in range(N_FILTERS)]
    failures, nonempty = await _check(backend, model, records, filters)
    if failures:
        print("\n\n".join(failures))
    assert not failures, (f"{len(failures)} of {len(filters)} random filters disagree; first ones:\n"
                          + "\n\n".join(failures[:10]))
    # The generator must be discriminating: most filters select some records but not all.
    assert nonempty > len(filters) // 3, nonempty


async def test_update_condition_agrees(world: World) -> None:
    """The same compiler guards conditional updates: success iff `matches` accepts the stored record."""
    backend, model, records = world
    lists = list_fields(model)
    rng = random.Random(SEED + 2)
    gen = FilterGen(rng, records)
    failures = []
    for _ in range(N_UPDATE_CHECKS):
        flt = gen.filter()
        rec = rng.choice(records)
        expected = matches(flt, rec, lists)
        try:
            # A no-op change, so the data set stays as generated.
            await backend.records.update(model, {"id": rec["id"]}, {"updatedAt": rec["updatedAt"]}, flt)
            got = True
        except ConditionalCheckFailed:
            got = False
        if got != expected:
            failures.append(f"FILTER {_show(flt)}\n  record {_show(rec)}\n  SQL update condition={got}, "
                            f"Python={expected}")
    assert not failures, "\n\n".join(failures[:10])


@pytest.mark.parametrize("flt", BAD_FILTERS, ids=lambda f: _show(f))
async def test_malformed_filters_rejected_by_both(world: World, flt: dict[str, Any]) -> None:
    backend, model, records = world
    with pytest.raises(FilterError):
        matches(flt, records[0], list_fields(model))
    with pytest.raises(InvalidFilter):
        await backend.records.list(ListRequest(model, filter=flt, limit=10))


async def test_nul_in_list_elements_agree(backend_name: str, schema: Schema, tmp_path: Path) -> None:
    backend = open_for_test(backend_name, tmp_path / "nul")
    await backend.migrator.apply_schema(schema)
    model = schema.models["Item"]
    records = [{"id": "a", "tags": ["a\x00b"], "createdAt": "t", "updatedAt": "t"},
               {"id": "b", "tags": ["a"], "createdAt": "t", "updatedAt": "t"},
               {"id": "c", "tags": ['x","a', "\\", 'a"'], "createdAt": "t", "updatedAt": "t"}]
    for rec in records:
        await backend.records.create(model, rec, None)
    failures, _ = await _check(backend, model, records, [{"tags": {"contains": "a\x00b"}},
                                                 {"tags": {"notContains": "a\x00b"}},
                                                 {"tags": {"contains": "a"}},
                                                 {"tags": {"contains": '"a'}},
                                                 {"tags": {"contains": "\\"}},
                                                 {"tags": {"notContains": "a"}}])
    await backend.close()
    assert not failures, "\n\n".join(failures)
