"""The store contract: what every backend (``cove.store.base``'s protocols) must do, run on each one.

Records (CRUD, conditions, types), key conditions on primary and secondary indexes, page tokens,
get_many, list_related (against list() with extra_equals), API keys, data transfer and migrations.
Filters are cross-checked against the Python evaluator in test_contract_filters.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cove import a, define_data
from cove.schema.model import Schema
from cove.store.base import (
    Backend,
    ConditionalCheckFailed,
    DestructiveChange,
    DuplicateRecord,
    InvalidNextToken,
    KeyCondition,
    ListRequest,
    Page,
    RelatedRequest,
    TextNotStorable,
)

from .conftest import POST_FIELDS, TEXT_HOLDS_NUL, contract_schema, location_for_test, open_for_test

pytestmark = pytest.mark.anyio

T = "2024-01-01T00:00:00.000Z"


def post(i: int, **values: Any) -> dict[str, Any]:
    return {"id": f"p{i:02d}", "createdAt": T, "updatedAt": T, **values}


async def all_pages(backend: Backend, request: ListRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await backend.records.list(request)
        items += page.items
        if page.next_token is None:
            return items
        request = ListRequest(request.model, request.filter, request.limit, page.next_token, request.descending,
                              request.index, request.key_condition, request.extra_equals)


# -- records --------------------------------------------------------------------------------------

async def test_create_get_update_delete(backend: Backend, backend_name: str, schema: Schema) -> None:
    Post = schema.models["Post"]
    title = "héllo\x00 😀"
    if not TEXT_HOLDS_NUL[backend_name]:
        with pytest.raises(TextNotStorable, match=r"cannot store the NUL character \(U\+0000\) in text"):
            await backend.records.create(Post, post(1, title=title), None)
        assert await backend.records.count(Post) == 0
        title = "héllo 😀"
    values = post(1, title=title, rank=3, score=2.0, draft=True, tags=["a", "b\x00"], meta='{"k":[1]}')
    created = await backend.records.create(Post, values, None)
    assert created == {**{f.name: None for f in Post.stored_fields()}, **values}
    assert type(created["score"]) is float and created["draft"] is True
    assert await backend.records.get(Post, {"id": "p01"}) == created
    assert await backend.records.get(Post, {"id": "nope"}) is None
    updated = await backend.records.update(Post, {"id": "p01"}, {"rank": 4, "tags": None, "draft": False}, None)
    assert updated == {**created, "rank": 4, "tags": None, "draft": False}
    assert await backend.records.get(Post, {"id": "p01"}) == updated
    if not TEXT_HOLDS_NUL[backend_name]:
        with pytest.raises(TextNotStorable):
            await backend.records.update(Post, {"id": "p01"}, {"title": "a\x00", "rank": 5}, None)
        assert await backend.records.get(Post, {"id": "p01"}) == updated   # nothing written
        assert await backend.records.get(Post, {"id": "p01\x00"}) is None
    assert await backend.records.count(Post) == 1
    assert await backend.records.delete(Post, {"id": "p01"}, None) == updated
    assert await backend.records.get(Post, {"id": "p01"}) is None
    assert await backend.records.count(Post) == 0


async def test_an_existing_key_is_not_created_twice(backend: Backend, schema: Schema) -> None:
    Post, Order = schema.models["Post"], schema.models["Order"]
    await backend.records.create(Post, post(1, title="first"), None)
    with pytest.raises(ConditionalCheckFailed):
        await backend.records.create(Post, post(1, title="second"), None)
    order = {"customerId": "c", "placedAt": T, "createdAt": T, "updatedAt": T}
    await backend.records.create(Order, order, None)
    with pytest.raises(ConditionalCheckFailed):
        await backend.records.create(Order, order, None)
    assert (await backend.records.get(Post, {"id": "p01"}) or {})["title"] == "first"


async def test_conditions(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    records = backend.records
    # A create's condition is evaluated against the absent item.
    with pytest.raises(ConditionalCheckFailed):
        await records.create(Post, post(1), {"title": {"attributeExists": True}})
    await records.create(Post, post(1, rank=1, tags=["x"]), {"title": {"attributeExists": False}})
    with pytest.raises(ConditionalCheckFailed):
        await records.update(Post, {"id": "p01"}, {"rank": 2}, {"rank": {"gt": 1}})
    assert (await records.update(Post, {"id": "p01"}, {"rank": 2}, {"rank": {"eq": 1}}))["rank"] == 2
    assert (await records.update(Post, {"id": "p01"}, {"rank": 3}, {"tags": {"contains": "x"}}))["rank"] == 3
    with pytest.raises(ConditionalCheckFailed):
        await records.update(Post, {"id": "missing"}, {"rank": 2}, None)
    with pytest.raises(ConditionalCheckFailed):
        await records.delete(Post, {"id": "p01"}, {"not": {"rank": {"eq": 3}}})
    with pytest.raises(ConditionalCheckFailed):
        await records.delete(Post, {"id": "missing"}, None)
    either = {"or": [{"rank": {"eq": 3}}, {"rank": {"eq": 9}}]}
    assert (await records.delete(Post, {"id": "p01"}, either))["id"] == "p01"


async def test_lists_order_by_key_both_ways(backend: Backend, backend_name: str, schema: Schema) -> None:
    Post = schema.models["Post"]
    ids = ["b", "a", "B", "é", "a\x00", "", "10", "9", "\U0001f600", "\uffff", "a\x01"]
    if not TEXT_HOLDS_NUL[backend_name]:
        with pytest.raises(TextNotStorable):
            await backend.records.create(Post, {"id": "a\x00", "createdAt": T, "updatedAt": T}, None)
        ids.remove("a\x00")
    for i in ids:
        await backend.records.create(Post, {"id": i, "createdAt": T, "updatedAt": T}, None)
    by_bytes = sorted(ids, key=lambda s: s.encode())   # DynamoDB's order
    assert [r["id"] for r in (await backend.records.list(ListRequest(Post))).items] == by_bytes
    down = await backend.records.list(ListRequest(Post, descending=True))
    assert [r["id"] for r in down.items] == by_bytes[::-1]


# -- key conditions -------------------------------------------------------------------------------

ORDERS = [("alice", "2024-01-0%dT00:00:00.000Z" % d, float(d * 10), status)
          for d, status in [(1, "open"), (2, "shipped"), (3, "open"), (4, None), (5, "open")]]
ORDERS += [("bob", "2024-01-02T00:00:00.000Z", 5.0, "open"), ("bob", "2024-02-01T00:00:00.000Z", 25.0, "shipped")]


async def seed_orders(backend: Backend, schema: Schema) -> None:
    for customer, placed, total, status in ORDERS:
        await backend.records.create(schema.models["Order"], {"customerId": customer, "placedAt": placed,
                                                              "total": total, "status": status,
                                                              "createdAt": T, "updatedAt": T}, None)


@pytest.mark.parametrize(("condition", "days"), [
    (None, [1, 2, 3, 4, 5]),
    ({"eq": "2024-01-03T00:00:00.000Z"}, [3]),
    ({"lt": "2024-01-03T00:00:00.000Z"}, [1, 2]),
    ({"le": "2024-01-03T00:00:00.000Z"}, [1, 2, 3]),
    ({"gt": "2024-01-03T00:00:00.000Z"}, [4, 5]),
    ({"ge": "2024-01-03T00:00:00.000Z"}, [3, 4, 5]),
    ({"between": ["2024-01-02", "2024-01-04T00:00:00.000Z"]}, [2, 3, 4]),
    ({"beginsWith": "2024-01-0"}, [1, 2, 3, 4, 5]),
    ({"beginsWith": "2024-01-05"}, [5]),
])
async def test_key_condition_on_the_primary_key(backend: Backend, schema: Schema, condition: Any,
                                                days: list[int]) -> None:
    await seed_orders(backend, schema)
    Order = schema.models["Order"]
    kc = KeyCondition("customerId", "alice", ("placedAt",), condition)
    for descending in (False, True):
        page = await backend.records.list(ListRequest(Order, key_condition=kc, descending=descending))
        expected = [f"2024-01-0{d}T00:00:00.000Z" for d in days]
        assert [r["placedAt"] for r in page.items] == (expected[::-1] if descending else expected)
        assert {r["customerId"] for r in page.items} <= {"alice"}


async def test_key_condition_on_a_composite_sort_key(backend: Backend, schema: Schema) -> None:
    Reading = schema.models["Reading"]
    rows = [(day, seq) for day in ("2024-01-01", "2024-01-02", "2024-02-01") for seq in (1, 2, 10)]
    for day, seq in rows:
        await backend.records.create(Reading, {"device": "d1", "day": day, "seq": seq, "value": 1.5,
                                               "createdAt": T, "updatedAt": T}, None)
    await backend.records.create(Reading, {"device": "d2", "day": "2024-01-01", "seq": 1,
                                           "createdAt": T, "updatedAt": T}, None)

    async def keys(condition: dict[str, Any]) -> list[tuple[str, int]]:
        kc = KeyCondition("device", "d1", ("day", "seq"), condition)
        page = await backend.records.list(ListRequest(Reading, key_condition=kc))
        return [(r["day"], r["seq"]) for r in page.items]

    # Conditions apply to the `day#seq` string, as DynamoDB's composite sort key.
    assert await keys({"eq": {"day": "2024-01-02", "seq": 2}}) == [("2024-01-02", 2)]
    assert await keys({"beginsWith": {"day": "2024-01"}}) == [r for r in rows if r[0].startswith("2024-01")]
    assert await keys({"beginsWith": {"day": "2024-01-01", "seq": 1}}) == [("2024-01-01", 1), ("2024-01-01", 10)]
    assert await keys({"gt": {"day": "2024-01-02"}}) == [r for r in rows if r[0] >= "2024-01-02"]
    # As strings, 2024-01-01#10 sorts before 2024-01-01#2 and 2024-01-02#10 after 2024-01-02#1.
    assert await keys({"between": [{"day": "2024-01-01", "seq": 2}, {"day": "2024-01-02", "seq": 1}]}) == [
        ("2024-01-01", 2), ("2024-01-02", 1)]


async def test_key_condition_on_a_secondary_index(backend: Backend, schema: Schema) -> None:
    await seed_orders(backend, schema)
    Order = schema.models["Order"]
    index = Order.indexes[0]
    kc = KeyCondition("status", "open", ("total",), {"ge": 10})
    page = await backend.records.list(ListRequest(Order, index=index, key_condition=kc))
    assert [(r["customerId"], r["total"]) for r in page.items] == [("alice", 10.0), ("alice", 30.0), ("alice", 50.0)]
    everything = await all_pages(backend, ListRequest(Order, index=index, limit=2, descending=True))
    # Sparse, like a GSI: a record without the index's key is not in it; ordered by the sort key.
    assert [r["total"] for r in everything] == [50.0, 30.0, 25.0, 20.0, 10.0, 5.0]


# -- page tokens ----------------------------------------------------------------------------------

@pytest.mark.parametrize("descending", [False, True])
async def test_pages_round_trip(backend: Backend, schema: Schema, descending: bool) -> None:
    Post = schema.models["Post"]
    for i in range(11):
        await backend.records.create(Post, post(i, rank=i % 3), None)
    whole = (await backend.records.list(ListRequest(Post, descending=descending))).items
    for limit in (1, 3, 11, 12):
        assert await all_pages(backend, ListRequest(Post, limit=limit, descending=descending)) == whole
    odd = {"rank": {"ne": 0}}
    wanted = [r for r in whole if r["rank"] != 0]
    assert await all_pages(backend, ListRequest(Post, filter=odd, limit=2, descending=descending)) == wanted
    last = await backend.records.list(ListRequest(Post, limit=11))
    assert last.next_token is None


async def test_foreign_and_tampered_tokens_are_refused(backend: Backend, schema: Schema) -> None:
    Post, Blog = schema.models["Post"], schema.models["Blog"]
    for i in range(3):
        await backend.records.create(Post, post(i), None)
        await backend.records.create(Blog, {"id": f"p{i:02d}", "name": "b", "createdAt": T, "updatedAt": T}, None)
    token = (await backend.records.list(ListRequest(Post, limit=1))).next_token
    assert token is not None
    body, _, mac = token.partition(".")
    forged = "WyJwMDEiXQ." + mac   # ["p01"] with the MAC of ["p00"]
    for bad in [forged, body + "." + mac[::-1], "garbage", body, "." + mac, token + "x"]:
        with pytest.raises(InvalidNextToken):
            await backend.records.list(ListRequest(Post, limit=1, next_token=bad))
    for other in [ListRequest(Blog, limit=1, next_token=token), ListRequest(Post, limit=1, next_token=token,
                                                                               descending=True)]:
        with pytest.raises(InvalidNextToken):
            await backend.records.list(other)
    Order = schema.models["Order"]
    with pytest.raises(InvalidNextToken):
        await backend.records.list(ListRequest(Order, limit=1, index=Order.indexes[0], next_token=token))


async def test_tokens_outlive_the_connection(backend: Backend, backend_name: str, schema: Schema,
                                             tmp_path: Any) -> None:
    Post = schema.models["Post"]
    for i in range(3):
        await backend.records.create(Post, post(i), None)
    page = await backend.records.list(ListRequest(Post, limit=1))
    again = open_for_test(backend_name, tmp_path / "data")
    try:
        await again.migrator.apply_schema(schema)
        assert again.secret() == backend.secret()
        rest = await again.records.list(ListRequest(Post, next_token=page.next_token))
        assert [r["id"] for r in rest.items] == ["p01", "p02"]
    finally:
        await again.close()


# -- batched reads --------------------------------------------------------------------------------

async def test_get_many(backend: Backend, schema: Schema) -> None:
    Post, Order = schema.models["Post"], schema.models["Order"]
    for i in range(5):
        await backend.records.create(Post, post(i, rank=i), None)
    got = await backend.records.get_many(Post, [{"id": "p03"}, {"id": "zz"}, {"id": "p00"}, {"id": "p03"}])
    assert [r["id"] for r in got] == ["p03", "p00"]   # in the keys' order, each once
    assert await backend.records.get_many(Post, [{"id": "p01"}]) == [await backend.records.get(Post, {"id": "p01"})]
    assert await backend.records.get_many(Post, [{"id": "zz"}]) == []
    assert got[0] == await backend.records.get(Post, {"id": "p03"})
    assert await backend.records.get_many(Post, []) == []
    await seed_orders(backend, schema)
    keys = [{"customerId": "bob", "placedAt": "2024-02-01T00:00:00.000Z"},
            {"customerId": "alice", "placedAt": "2024-02-01T00:00:00.000Z"},
            {"customerId": "alice", "placedAt": "2024-01-03T00:00:00.000Z"}]
    assert [(r["customerId"], r["total"]) for r in await backend.records.get_many(Order, keys)] == [
        ("bob", 25.0), ("alice", 30.0)]
    many = [{"id": f"p{i:02d}"} for i in range(40_000)]   # more than one statement's worth of parameters
    assert [r["id"] for r in await backend.records.get_many(Post, many)] == [f"p{i:02d}" for i in range(5)]


async def test_list_related_equals_a_list_per_parent(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    counts = {"b1": 0, "b2": 1, "b3": 4, "b4": 7}
    n = 0
    for blog, count in counts.items():
        for j in range(count):
            await backend.records.create(Post, post(n, blogId=blog, rank=j % 3, draft=j % 2 == 0), None)
            n += 1
    await backend.records.create(Post, post(99, rank=1), None)   # no blog at all
    for parents in ([("b4",), ("b1",), ("missing",), ("b2",), ("b3",)], [("b4",)]):
        await _check_related_pages(backend, Post, parents)
    assert await backend.records.list_related(RelatedRequest(Post, ("blogId",), [])) == {}
    many = [(f"x{i}",) for i in range(31_000)] + [("b3",)]   # more than one statement's worth
    pages = await backend.records.list_related(RelatedRequest(Post, ("blogId",), many, limit=2))
    assert len(pages) == len(many) and pages[("b3",)] == await backend.records.list(
        ListRequest(Post, limit=2, extra_equals={"blogId": "b3"}))


async def _check_related_pages(backend: Backend, Post: Any, parents: list[tuple[Any, ...]]) -> None:
    for limit in (1, 2, 3, 100):
        for flt in (None, {"draft": {"eq": True}}, {"rank": {"gt": 0}}):
            for descending in (False, True):
                request = RelatedRequest(Post, ("blogId",), parents, flt, limit, descending)
                pages = await backend.records.list_related(request)
                assert list(pages) == parents
                for parent in parents:
                    alone = ListRequest(Post, filter=flt, limit=limit, descending=descending,
                                        extra_equals={"blogId": parent[0]})
                    expected = await backend.records.list(alone)
                    assert pages[parent] == expected, (parent, limit, flt, descending)
                    if expected.next_token:   # the related page's token continues like list()'s
                        alone.next_token = pages[parent].next_token
                        assert await backend.records.list(alone) == await backend.records.list(
                            ListRequest(Post, filter=flt, limit=limit, descending=descending,
                                        next_token=expected.next_token, extra_equals={"blogId": parent[0]}))


async def test_list_related_by_a_composite_reference(backend: Backend, schema: Schema) -> None:
    Line = schema.models["Line"]
    orders = [("alice", "2024-01-01"), ("alice", "2024-01-02"), ("bob", "2024-01-01")]
    for i, (customer, placed) in enumerate(orders * 2 + orders[:1]):
        await backend.records.create(Line, {"id": f"l{i}", "orderCustomer": customer, "orderPlacedAt": placed,
                                            "sku": f"s{i}", "createdAt": T, "updatedAt": T}, None)
    parents = [*orders, ("carol", "2024-01-01")]
    pages = await backend.records.list_related(RelatedRequest(Line, ("orderCustomer", "orderPlacedAt"), parents,
                                                              limit=2))
    for customer, placed in parents:
        expected = await backend.records.list(ListRequest(Line, limit=2, extra_equals={
            "orderCustomer": customer, "orderPlacedAt": placed}))
        assert pages[(customer, placed)] == expected
    assert [r["id"] for r in pages[("alice", "2024-01-01")].items] == ["l0", "l3"]
    assert pages[("alice", "2024-01-01")].next_token is not None
    assert pages[("carol", "2024-01-01")] == Page([], None)


async def test_heavy_reads_view_reads_the_same(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    for i in range(4):
        await backend.records.create(Post, post(i, blogId="b"), None)
    heavy = backend.records.for_heavy_reads()
    request = ListRequest(Post, limit=2)
    assert await heavy.list(request) == await backend.records.list(request)
    assert await heavy.get(Post, {"id": "p01"}) == await backend.records.get(Post, {"id": "p01"})
    assert await heavy.count(Post) == 4
    assert [r["id"] for r in await heavy.get_many(Post, [{"id": "p02"}])] == ["p02"]
    related = RelatedRequest(Post, ("blogId",), [("b",)], limit=3)
    assert await heavy.list_related(related) == await backend.records.list_related(related)
    await heavy.create(Post, post(9), None)   # writes still work through the view
    assert await heavy.get(Post, {"id": "p09"}) is not None


# -- API keys and the secret ----------------------------------------------------------------------

async def test_api_keys(backend: Backend) -> None:
    keys = backend.keys
    assert await keys.api_keys() == []
    first = await keys.create_api_key(expires_at=time.time() + 60, description="one")
    second = await keys.create_api_key(expires_at=time.time() + 120)
    assert first.key.startswith("da2-") and len(first.key) == 30 and first.key != second.key
    assert [k.id for k in await keys.api_keys()] == [first.id, second.id]
    assert await keys.find_api_key(first.key) == first
    assert await keys.find_api_key("da2-nope") is None
    assert await keys.revoke_api_key(first.key) and await keys.revoke_api_key(second.id)
    assert not await keys.revoke_api_key("nope")
    assert all(k.revoked for k in await keys.api_keys())
    assert await keys.set_api_key_expiry(first.id, 123.0)
    assert not await keys.set_api_key_expiry("nope", 1.0)
    assert (await keys.find_api_key(first.key) or first).expires_at == 123.0


async def test_secret_is_stable(backend: Backend) -> None:
    secret = backend.secret()
    assert isinstance(secret, bytes) and len(secret) == 32 and backend.secret() == secret


# -- data in and out ------------------------------------------------------------------------------

async def test_snapshot_reads_one_state(backend: Backend, backend_name: str, schema: Schema, tmp_path: Any) -> None:
    Post = schema.models["Post"]
    await backend.records.create(Post, post(1), None)
    writer = open_for_test(backend_name, tmp_path / "data")
    try:
        await writer.migrator.apply_schema(schema)
        async with backend.transfer.read_snapshot():
            await writer.records.create(Post, post(2), None)
            assert [r["id"] for r in (await backend.records.list(ListRequest(Post))).items] == ["p01"]
        assert await backend.records.count(Post) == 2
    finally:
        await writer.close()


async def test_insert_records_all_or_nothing(backend: Backend, schema: Schema) -> None:
    Post, Blog = schema.models["Post"], schema.models["Blog"]
    blog = {"id": "b", "name": "n", "createdAt": T, "updatedAt": T}
    assert await backend.transfer.insert_records([(Post, post(1, tags=["x"])), (Blog, blog)]) == 2
    assert (await backend.records.get(Post, {"id": "p01"}) or {})["tags"] == ["x"]
    with pytest.raises(DuplicateRecord) as caught:
        await backend.transfer.insert_records([(Post, post(2)), (Post, post(3)), (Blog, blog), (Post, post(4))])
    assert (caught.value.position, caught.value.model, caught.value.key) == (3, "Blog", {"id": "b"})
    assert await backend.records.count(Post) == 1


async def test_delete_all_records_keeps_keys(backend: Backend, schema: Schema) -> None:
    Post, Blog = schema.models["Post"], schema.models["Blog"]
    key = await backend.keys.create_api_key(expires_at=time.time() + 60)
    await backend.records.create(Post, post(1), None)
    await backend.records.create(Blog, {"id": "b", "name": "n", "createdAt": T, "updatedAt": T}, None)
    assert await backend.transfer.delete_all_records() == 2
    assert await backend.records.count(Post) == 0 and await backend.records.count(Blog) == 0
    assert await backend.keys.find_api_key(key.key) == key


# -- migrations -----------------------------------------------------------------------------------

BASE_POST = POST_FIELDS


async def test_migration_additions(backend: Backend, schema: Schema) -> None:
    assert not (await backend.migrator.apply_schema(schema)).changed   # the same schema again
    await backend.records.create(schema.models["Post"], post(1, title="kept"), None)
    bigger = contract_schema({**BASE_POST, "stars": a.integer().default(5), "note": a.string(),
                             "must": a.string().required().default("x")})
    report = await backend.migrator.apply_schema(bigger)
    assert sorted(report.added_fields) == ["Post.must", "Post.note", "Post.stars"]
    record = await backend.records.get(bigger.models["Post"], {"id": "p01"})
    assert record is not None and (record["title"], record["stars"], record["note"], record["must"]) == (
        "kept", 5, None, "x")
    with_new_model = define_data(schema=a.schema({
        "Post": a.model({**BASE_POST, "stars": a.integer().default(5), "note": a.string(),
                         "must": a.string().required().default("x")}),
        "Blog": a.model({"name": a.string().required()}),
        "Order": a.model({"customerId": a.string().required(), "placedAt": a.datetime().required(),
                          "total": a.float(), "status": a.enum(["open", "shipped"])
                          }).identifier(["customerId", "placedAt"]),
        "Line": a.model({"orderCustomer": a.string(), "orderPlacedAt": a.datetime(), "sku": a.string()}),
        "Reading": a.model({"device": a.id().required(), "day": a.date().required(), "seq": a.integer().required(),
                            "value": a.float()}).identifier(["device", "day", "seq"]),
        "Tag": a.model({"label": a.string()}),
    }).authorization(lambda allow: [allow.public_api_key()])).schema
    report = await backend.migrator.apply_schema(with_new_model)
    assert report.created_models == ["Tag"] and not report.dropped


@pytest.mark.parametrize(("post_fields", "drop_blog", "problem"), [
    ({k: v for k, v in BASE_POST.items() if k != "rank"}, False, "field Post.rank was removed"),
    ({**BASE_POST, "rank": a.string()}, False, "field Post.rank changed type from Int to String"),
    ({**BASE_POST, "tags": a.string()}, False, "field Post.tags changed type from [String] to String"),
    ({**BASE_POST, "must": a.string().required()}, False, "field Post.must is required and has no default, but 1"),
    (BASE_POST, True, "model Blog was removed (1 records would be dropped)"),
])
async def test_destructive_changes_are_refused(backend: Backend, schema: Schema, post_fields: dict[str, Any],
                                               drop_blog: bool, problem: str) -> None:
    Post, Blog = schema.models["Post"], schema.models["Blog"]
    await backend.records.create(Post, post(1, rank=7, tags=["t"]), None)
    await backend.records.create(Blog, {"id": "b", "name": "n", "createdAt": T, "updatedAt": T}, None)
    with pytest.raises(DestructiveChange) as caught:
        await backend.migrator.apply_schema(contract_schema(post_fields, drop_blog=drop_blog))
    assert problem in str(caught.value) and "--allow-destructive-changes" in str(caught.value)
    # Nothing changed: the old schema still reads the old data.
    assert not (await backend.migrator.apply_schema(schema)).changed
    assert (await backend.records.get(Post, {"id": "p01"}) or {})["rank"] == 7
    assert await backend.records.count(Blog) == 1


async def test_safe_changes_are_not_refused(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    await backend.records.create(Post, post(1, title="t"), None)
    await backend.records.create(schema.models["Blog"], {"id": "b", "name": "n", "createdAt": T, "updatedAt": T},
                                 None)
    relaxed = contract_schema(blog={"name": a.string()})   # dropping a `!` keeps every value valid
    assert not (await backend.migrator.apply_schema(relaxed)).dropped
    assert (await backend.records.get(relaxed.models["Blog"], {"id": "b"}) or {})["name"] == "n"
    with pytest.raises(DestructiveChange, match="changed type from String to String!"):
        await backend.migrator.apply_schema(schema)   # adding one back does not
    await backend.records.delete(Post, {"id": "p01"}, None)
    # A new required field without a default is fine on an empty table.
    await backend.migrator.apply_schema(contract_schema({**BASE_POST, "must": a.string().required()},
                                                        blog={"name": a.string()}))


async def test_allowed_destructive_changes(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    await backend.records.create(Post, post(1, title="t", rank=7), None)
    await backend.records.create(schema.models["Blog"], {"id": "b", "name": "n", "createdAt": T, "updatedAt": T},
                                 None)
    fields = {k: v for k, v in BASE_POST.items() if k != "title"}
    fields["rank"] = a.string()
    smaller = contract_schema(fields, drop_blog=True)
    report = await backend.migrator.apply_schema(smaller, allow_destructive=True)
    assert sorted(report.dropped) == ["Blog", "Post.rank", "Post.title"]
    record = await backend.records.get(smaller.models["Post"], {"id": "p01"})
    assert record is not None and "title" not in record and record["rank"] is None
    changed = await backend.records.update(smaller.models["Post"], {"id": "p01"}, {"rank": "high"}, None)
    assert changed["rank"] == "high"
    # The Blog table is gone: bringing the model back creates it empty.
    report = await backend.migrator.apply_schema(contract_schema(), allow_destructive=True)
    assert "Blog" in report.created_models
    assert await backend.records.count(schema.models["Blog"]) == 0


async def test_migration_history_and_dry_run(backend: Backend, schema: Schema) -> None:
    migrator = backend.migrator
    first = await migrator.history()
    assert len(first) == 1 and first[0].summary.startswith("created Blog; created Post; created Order")
    assert any('CREATE TABLE IF NOT EXISTS "Post"' in sql for sql in first[0].statements)
    assert await migrator.pending_statements(schema) == []   # nothing to do
    bigger = contract_schema({**BASE_POST, "stars": a.integer().default(5)})
    pending = await migrator.pending_statements(bigger)
    assert len(pending) == 1 and pending[0].startswith('ALTER TABLE "Post" ADD COLUMN "stars" ')
    assert pending[0].endswith(" DEFAULT 5")
    assert await migrator.pending_statements(bigger) == pending   # the dry run changed nothing
    assert (await migrator.apply_schema(bigger)).added_fields == ["Post.stars"]
    assert not (await migrator.apply_schema(bigger)).changed
    history = await migrator.history()
    assert [h.summary for h in history[1:]] == ["added Post.stars"] and history[1].statements == pending
    assert history[0].id < history[1].id and history[0].applied_at <= history[1].applied_at <= time.time()
    smaller = contract_schema({**{k: v for k, v in BASE_POST.items() if k != "rank"}, "stars": a.integer().default(5)})
    await backend.records.create(schema.models["Post"], post(1, rank=1), None)
    with pytest.raises(DestructiveChange, match="field Post.rank was removed"):
        await migrator.pending_statements(smaller)
    assert await migrator.pending_statements(smaller, allow_destructive=True) == [
        'ALTER TABLE "Post" DROP COLUMN "rank"']
    assert len(await migrator.history()) == 2


RACER = """
import asyncio, sys, time
from cove import a, define_data
from cove.store import open_backend

schema = define_data(schema=a.schema({"Tag": a.model({"label": a.string(), "weight": a.integer()})
                                      .secondary_indexes(lambda index: [index("label")])})
                     .authorization(lambda allow: [allow.public_api_key()])).schema

async def main():
    backend = open_backend(sys.argv[1])
    try:
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))   # every racer starts at once
        report = await backend.migrator.apply_schema(schema)
        print(",".join(report.created_models))
    finally:
        await backend.close()

asyncio.run(main())
"""


async def test_processes_starting_at_once_apply_a_change_once(backend_name: str, tmp_path: Path) -> None:
    location = location_for_test(backend_name, tmp_path / "racing")
    start = time.time() + 3
    racers = [subprocess.Popen([sys.executable, "-c", RACER, location, str(start)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 8, [err for _, err in results]
    assert sorted(out.strip() for out, _ in results) == [""] * 7 + ["Tag"]
    again = open_for_test(backend_name, tmp_path / "racing")
    try:
        history = await again.migrator.history()
        assert [h.summary for h in history] == ["created Tag"]
        assert any("CREATE INDEX" in sql for sql in history[0].statements)
    finally:
        await again.close()


async def test_an_indexed_field_changing_type_keeps_its_index(backend: Backend) -> None:
    def schema_with(weight: Any) -> Schema:
        return define_data(schema=a.schema({"Tag": a.model({"label": a.string(), "weight": weight})
                                            .secondary_indexes(lambda index: [index("weight")])})
                           .authorization(lambda allow: [allow.public_api_key()])).schema

    first, second = schema_with(a.integer()), schema_with(a.string())
    await backend.migrator.apply_schema(first, allow_destructive=True)
    await backend.migrator.apply_schema(second, allow_destructive=True)
    assert await backend.migrator.pending_statements(second) == []   # the index was made again
    Tag = second.models["Tag"]
    await backend.records.create(Tag, {"id": "t", "weight": "heavy", "createdAt": T, "updatedAt": T}, None)
    page = await backend.records.list(ListRequest(Tag, index=Tag.indexes[0], key_condition=KeyCondition(
        "weight", "heavy")))
    assert [r["id"] for r in page.items] == ["t"]


async def test_drop_all_leaves_nothing_of_coves(backend: Backend, backend_name: str, schema: Schema,
                                                tmp_path: Path) -> None:
    await backend.keys.create_api_key(expires_at=time.time() + 60)
    await backend.records.create(schema.models["Post"], post(1), None)
    old_secret = backend.secret()
    await backend.transfer.drop_all()
    again = open_for_test(backend_name, tmp_path / "data")   # what `sandbox --reset all` opens next
    try:
        assert (await again.migrator.apply_schema(schema)).created_models == list(schema.models)
        assert await again.records.count(schema.models["Post"]) == 0 and await again.keys.api_keys() == []
        assert [h.summary.split(";")[0] for h in await again.migrator.history()] == ["created Blog"]
        assert again.secret() != old_secret
    finally:
        await again.close()
