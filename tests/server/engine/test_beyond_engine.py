"""Issue 14's GraphQL fields in process, on the real engine and each store (SQLite, PostgreSQL): ``count<Models>``,
``aggregate<Models>``, ``list<Models>(sortBy:)`` and ``transactWrite``, under an API key and under
owner, group and field-level rules (a second user's rows are never counted, summed, found or touched)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.server.engine import Engine
from cove.server.events import MutationEvent
from cove.server.identity import Identity
from cove.store import open_backend
from paths import TESTS
from pg_support import fresh_postgres_url

SCHEMA = TESTS / "schemas" / "beyond_schema.py"

ALICE = Identity("userPool", claims={"sub": "sub-alice", "username": "alice"})
BOB = Identity("userPool", claims={"sub": "sub-bob", "username": "bob", "cognito:groups": ["TeamB"]})
ADMIN = Identity("userPool", claims={"sub": "sub-admin", "username": "admin", "cognito:groups": ["Admins"]})
HR = Identity("userPool", claims={"sub": "sub-hr", "username": "hr", "cognito:groups": ["HR"]})
KEY = Identity("apiKey")


class World:
    def __init__(self, engine: Engine, events: list[MutationEvent], loop: asyncio.AbstractEventLoop | None) -> None:
        self.engine = engine
        self.events = events
        self.loop = loop    # PostgreSQL's: its pool belongs to one loop

    def run(self, doc: str, variables: dict[str, Any] | None = None, who: Identity = KEY) -> tuple[Any, list[Any]]:
        if self.loop is None:
            body = self.engine.execute(doc, variables or {}, None, who)
        else:
            body = self.loop.run_until_complete(self.engine.execute_async(doc, variables or {}, None, who))
        data = body["data"]
        return (next(iter(data.values())) if data else None), body.get("errors", [])

    def ok(self, doc: str, variables: dict[str, Any] | None = None, who: Identity = KEY) -> Any:
        value, errors = self.run(doc, variables, who)
        assert not errors, errors
        return value

    def create(self, model: str, who: Identity = KEY, **values: Any) -> dict[str, Any]:
        return self.ok(f"mutation ($input: Create{model}Input!) {{ create{model}(input: $input) {{ id }} }}",
                       {"input": values}, who)  # type: ignore[no-any-return]

    def count(self, plural: str, flt: dict[str, Any] | None = None, who: Identity = KEY) -> tuple[Any, list[Any]]:
        model = plural[:-1]
        return self.run(f"query ($f: Model{model}FilterInput) {{ count{plural}(filter: $f) }}", {"f": flt}, who)

    def aggregate(self, plural: str, who: Identity = KEY, **args: Any) -> tuple[Any, list[Any]]:
        model = plural[:-1]
        doc = (f"query ($fn: ModelAggregateFunction!, $field: Model{model}OrderableField, "
               f"$group: Model{model}OrderableField, $f: Model{model}FilterInput, $max: Int) "
               f"{{ aggregate{plural}(function: $fn, field: $field, groupBy: $group, filter: $f, maxGroups: $max) "
               "{ key value } }")
        variables = {"fn": args.get("fn"), "field": args.get("field"), "group": args.get("group"),
                     "f": args.get("flt"), "max": args.get("max")}
        groups, errors = self.run(doc, variables, who)
        if groups is None:
            return None, errors
        return [(None if g["key"] is None else json.loads(g["key"]),
                 None if g["value"] is None else json.loads(g["value"])) for g in groups], errors


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    spec = importlib.util.spec_from_file_location("beyond_schema", SCHEMA)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loop = asyncio.new_event_loop() if request.param == "postgres" else None
    backend = open_backend(fresh_postgres_url("beyond") if loop is not None else tmp_path)
    if loop is not None:
        loop.run_until_complete(backend.open())
        loop.run_until_complete(backend.migrator.apply_schema(module.data.schema))
    else:
        asyncio.run(backend.migrator.apply_schema(module.data.schema))
    events: list[MutationEvent] = []
    engine = Engine(module.data.schema, backend.records, publisher=events.append)
    yield World(engine, events, loop)
    if loop is not None:
        loop.run_until_complete(backend.close())
        loop.close()


def seed_items(world: World) -> list[dict[str, Any]]:
    rows = [("b", 3, 1.5, "tool", "2026-01-02"), ("a", 1, None, "food", None), ("c", 3, 2.0, "tool", "2026-01-01"),
            ("a", None, 0.5, None, "2026-01-03"), ("d", 7, 4.0, "toy", None)]
    out = []
    for title, qty, price, category, due in rows:
        world.create("Item", title=title, qty=qty, price=price, category=category, due=due)
        out.append({"title": title, "qty": qty, "price": price, "category": category, "due": due})
    return out


# -- count and aggregates -------------------------------------------------------------------------

def test_count_and_aggregates_under_an_api_key(world: World) -> None:
    seed_items(world)
    assert world.count("Items") == (5, [])
    assert world.count("Items", {"category": {"eq": "tool"}}) == (2, [])
    assert world.count("Items", {"title": {"eq": "zzz"}}) == (0, [])
    assert world.aggregate("Items", fn="sum", field="qty") == ([(None, 14)], [])
    assert world.aggregate("Items", fn="avg", field="price") == ([(None, 2.0)], [])
    assert world.aggregate("Items", fn="min", field="due") == ([(None, "2026-01-01")], [])
    assert world.aggregate("Items", fn="max", field="title", flt={"qty": {"lt": 5}}) == ([(None, "c")], [])
    assert world.aggregate("Items", fn="count", group="category") == (
        [(None, 1), ("food", 1), ("tool", 2), ("toy", 1)], [])
    assert world.aggregate("Items", fn="sum", field="qty", group="title") == (
        [("a", 1), ("b", 3), ("c", 3), ("d", 7)], [])


@pytest.mark.parametrize("args, message", [
    ({"fn": "sum", "field": "title"}, "sum needs a numeric field"),
    ({"fn": "max"}, "max needs a field"),
    ({"fn": "count", "group": "title", "max": 2}, "more than 2 groups"),
    ({"fn": "count", "group": "title", "max": 100000}, "max_groups must be between"),
])
def test_bad_aggregates_get_clear_errors(world: World, args: dict[str, Any], message: str) -> None:
    seed_items(world)
    groups, errors = world.aggregate("Items", **args)
    assert groups is None and message in errors[0]["message"]
    assert errors[0]["errorType"] in ("Unrecognized Filter", "InvalidArgumentsError")


def test_unknown_fields_are_refused_by_the_schema(world: World) -> None:
    _, errors = world.aggregate("Items", fn="sum", field="tags")        # a list: not orderable
    assert "tags" in errors[0]["message"]
    _, errors = world.aggregate("Items", fn="median", field="qty")
    assert "median" in errors[0]["message"]


def test_counts_and_sums_cover_only_the_callers_rows(world: World) -> None:
    for who, qty in [(ALICE, 1), (ALICE, 2), (BOB, 100)]:
        world.create("OwnerItem", who, title="t", qty=qty)
    assert world.count("OwnerItems", who=ALICE) == (2, [])
    assert world.count("OwnerItems", who=BOB) == (1, [])
    assert world.aggregate("OwnerItems", ALICE, fn="sum", field="qty") == ([(None, 3)], [])
    assert world.aggregate("OwnerItems", BOB, fn="max", field="qty") == ([(None, 100)], [])
    # grouped by owner: only one's own group exists
    assert world.aggregate("OwnerItems", ALICE, fn="count", group="owner") == ([("sub-alice::alice", 2)], [])
    value, errors = world.count("OwnerItems", who=KEY)
    assert value is None and errors[0]["errorType"] == "Unauthorized"


def test_group_rules_apply_to_counts(world: World) -> None:
    world.create("TeamItem", BOB, title="b1", qty=5, team="TeamB")
    world.create("TeamItem", ADMIN, title="a1", qty=7, team="Admins")
    assert world.count("TeamItems", who=BOB) == (1, [])
    assert world.aggregate("TeamItems", ADMIN, fn="sum", field="qty") == ([(None, 7)], [])
    # a caller in no group is refused, as the list is
    list_errors = world.run("query { listTeamItems { items { id } } }", who=ALICE)[1]
    assert world.count("TeamItems", who=ALICE)[1][0]["errorType"] == list_errors[0]["errorType"] == "Unauthorized"
    world.create("AdminItem", ADMIN, title="x", qty=1)
    assert world.count("AdminItems", who=ADMIN) == (1, [])
    assert world.count("AdminItems", who=BOB)[1][0]["errorType"] == "Unauthorized"


def test_field_rules_refuse_what_the_caller_may_not_read(world: World) -> None:
    world.create("Pay", HR, name="alice", amount=10, secret=1, owner="sub-alice::alice")
    world.create("Pay", HR, name="bob", amount=20, secret=2, owner="sub-bob::bob")
    # everyone signed in reads the records; `secret` only HR, `amount` its owner and HR
    assert world.count("Pays", who=BOB) == (2, [])
    _, errors = world.aggregate("Pays", BOB, fn="sum", field="secret")
    assert errors[0]["errorType"] == "Unauthorized" and "secret" in errors[0]["message"]
    _, errors = world.count("Pays", {"secret": {"gt": 0}}, who=BOB)
    assert errors[0]["errorType"] == "Unauthorized"
    # `amount`: summed over the records where the caller may read it
    assert world.aggregate("Pays", BOB, fn="sum", field="amount") == ([(None, 20)], [])
    assert world.aggregate("Pays", ALICE, fn="sum", field="amount") == ([(None, 10)], [])
    assert world.aggregate("Pays", HR, fn="sum", field="amount") == ([(None, 30)], [])
    assert world.aggregate("Pays", HR, fn="sum", field="secret") == ([(None, 3)], [])


# -- sort by any field ----------------------------------------------------------------------------

LIST_SORTED = ("query ($sort: [ModelItemSortInput!], $limit: Int, $token: String) "
               "{ listItems(sortBy: $sort, limit: $limit, nextToken: $token) { items { title qty due } nextToken } }")


def sorted_pages(world: World, sort: list[dict[str, Any]], limit: int, who: Identity = KEY) -> list[Any]:
    out, token = [], None
    while True:
        page = world.ok(LIST_SORTED, {"sort": sort, "limit": limit, "token": token}, who)
        out += page["items"]
        token = page["nextToken"]
        if token is None:
            return out


def test_sort_by_any_field_pages_with_ties_and_nulls(world: World) -> None:
    seed_items(world)
    by_qty_desc = sorted_pages(world, [{"field": "qty", "direction": "DESC"}, {"field": "title"}], 1)
    assert [(i["qty"], i["title"]) for i in by_qty_desc] == [(7, "d"), (3, "b"), (3, "c"), (1, "a"), (None, "a")]
    by_due = sorted_pages(world, [{"field": "due"}], 2)
    assert [i["due"] for i in by_due] == [None, None, "2026-01-01", "2026-01-02", "2026-01-03"]


def test_sort_errors(world: World) -> None:
    seed_items(world)
    _, errors = world.run("query { listItems(sortBy: [{field: tags}]) { items { id } } }")
    assert errors and "tags" in errors[0]["message"]
    _, errors = world.run("query { listItems(sortBy: [{field: qty, direction: SIDEWAYS}]) { items { id } } }")
    assert errors and "SIDEWAYS" in errors[0]["message"]
    _, errors = world.run("query { listItems(sortBy: [{field: qty}, {field: qty}]) { items { id } } }")
    assert "names a field twice" in errors[0]["message"]
    _, errors = world.run("query { listItems(sortDirection: DESC) { items { id } } }")
    assert errors   # Item has no sort key: no sortDirection argument at all
    page = world.ok(LIST_SORTED, {"sort": [{"field": "qty"}], "limit": 2})
    _, errors = world.run(LIST_SORTED, {"sort": [{"field": "title"}], "limit": 2, "token": page["nextToken"]})
    assert errors[0]["errorType"] == "InvalidArgumentsError"


def test_sort_under_rules(world: World) -> None:
    for who, qty in [(ALICE, 3), (ALICE, 1), (BOB, 2)]:
        world.create("OwnerItem", who, title="t", qty=qty)
    doc = "query ($s: [ModelOwnerItemSortInput!]) { listOwnerItems(sortBy: $s) { items { qty } } }"
    assert world.ok(doc, {"s": [{"field": "qty"}]}, ALICE)["items"] == [{"qty": 1}, {"qty": 3}]
    world.create("Pay", HR, name="a", amount=10, secret=5)
    world.create("Pay", HR, name="b", amount=20, secret=2)
    pays = "query ($s: [ModelPaySortInput!]) { listPays(sortBy: $s) { items { name } } }"
    _, errors = world.run(pays, {"s": [{"field": "secret"}]}, BOB)
    assert errors[0]["errorType"] == "Unauthorized"
    assert world.ok(pays, {"s": [{"field": "secret", "direction": "DESC"}]}, HR)["items"] == [{"name": "a"}, {"name": "b"}]


# -- transactions ---------------------------------------------------------------------------------

TRANSACT = ("mutation ($items: [TransactWriteItemInput!]!) { transactWrite(items: $items) "
            "{ createItem { id title } updateItem { id qty } deleteItem { id } createOwnerItem { id owner } "
            "updateOwnerItem { id title } deleteOwnerItem { id } } }")


def test_transaction_writes_everything_and_then_publishes(world: World) -> None:
    a = world.create("Item", title="a", qty=1)
    b = world.create("Item", title="b", qty=2)
    world.events.clear()
    results = world.ok(TRANSACT, {"items": [
        {"createItem": {"input": {"id": "new", "title": "n"}}},
        {"updateItem": {"input": {"id": a["id"], "qty": 10}, "condition": {"qty": {"eq": 1}}}},
        {"deleteItem": {"input": {"id": b["id"]}}},
    ]})
    assert results[0]["createItem"] == {"id": "new", "title": "n"} and results[0]["updateItem"] is None
    assert results[1]["updateItem"] == {"id": a["id"], "qty": 10}
    assert results[2]["deleteItem"] == {"id": b["id"]}
    assert [(e.field, e.model) for e in world.events] == [("createItem", "Item"), ("updateItem", "Item"),
                                                          ("deleteItem", "Item")]
    assert world.count("Items") == (2, [])


def test_the_57th_items_failing_condition_writes_nothing_and_sends_nothing(world: World) -> None:
    target = world.create("Item", title="target", qty=1)
    world.events.clear()
    items: list[dict[str, Any]] = [{"createItem": {"input": {"title": f"t{i}"}}} for i in range(56)]
    items.append({"updateItem": {"input": {"id": target["id"], "qty": 2}, "condition": {"qty": {"eq": 99}}}})
    items += [{"createItem": {"input": {"title": f"late{i}"}}} for i in range(43)]
    assert len(items) == 100
    value, errors = world.run(TRANSACT, {"items": items})
    assert value is None
    (error,) = errors
    assert error["errorType"] == "DynamoDB:TransactionCanceledException"
    reasons = error["errorInfo"]["cancellationReasons"]
    assert len(reasons) == 100 and reasons[56] == {"type": "ConditionalCheckFailed",
                                                   "message": "The conditional request failed"}
    assert all(r == {"type": "None", "message": None} for i, r in enumerate(reasons) if i != 56)
    assert error["message"].startswith("Transaction cancelled, please refer cancellation reasons")
    assert world.count("Items") == (1, [])
    assert world.events == []


def test_transaction_limits_and_shape(world: World) -> None:
    value, errors = world.run(TRANSACT, {"items": [{"createItem": {"input": {"title": "x"}}}] * 101})
    assert errors[0]["errorType"] == "ValidationException" and "1 to 100" in errors[0]["message"]
    _, errors = world.run(TRANSACT, {"items": []})
    assert errors[0]["errorType"] == "ValidationException"
    _, errors = world.run(TRANSACT, {"items": [{"createItem": {"input": {"title": "x"}},
                                                "deleteItem": {"input": {"id": "y"}}}]})
    assert "exactly one operation" in errors[0]["message"]
    _, errors = world.run(TRANSACT, {"items": [{"createItem": {"input": {"id": "same"}}},
                                                {"deleteItem": {"input": {"id": "same"}}}]})
    assert "multiple operations on one item" in errors[0]["message"]
    # a missing record is that item's reason
    _, errors = world.run(TRANSACT, {"items": [{"createItem": {"input": {"title": "x"}}},
                                                {"deleteItem": {"input": {"id": "missing"}}}]})
    assert [r["type"] for r in errors[0]["errorInfo"]["cancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert world.count("Items") == (0, [])


def test_one_denied_item_aborts_the_transaction(world: World) -> None:
    bobs = world.create("OwnerItem", BOB, title="bob's", qty=1)
    world.events.clear()
    _, errors = world.run(TRANSACT, {"items": [
        {"createOwnerItem": {"input": {"title": "mine"}}},
        {"updateOwnerItem": {"input": {"id": bobs["id"], "title": "stolen"}}},
    ]}, ALICE)
    assert errors[0]["errorType"] == "Unauthorized" and "transaction item 1" in errors[0]["message"]
    assert world.count("OwnerItems", who=ALICE) == (0, [])
    assert world.events == []
    # an item on a model the caller may not write at all
    _, errors = world.run(TRANSACT, {"items": [{"createOwnerItem": {"input": {"title": "mine"}}},
                                                {"createItem": {"input": {"title": "x"}}}]}, ALICE)
    assert errors[0]["errorType"] == "Unauthorized"
    # an owner may not create a record for someone else inside a transaction either
    _, errors = world.run(TRANSACT, {"items": [{"createOwnerItem": {"input": {"title": "x", "owner": "sub-bob::bob"}}}]},
                          ALICE)
    assert errors[0]["errorType"] == "Unauthorized"
    # their own writes go through, and the owner is filled in
    results = world.ok(TRANSACT, {"items": [{"createOwnerItem": {"input": {"title": "mine"}}}]}, ALICE)
    assert results[0]["createOwnerItem"]["owner"] == "sub-alice::alice"
    assert world.count("OwnerItems", who=BOB) == (1, [])


# -- full-text search -----------------------------------------------------------------------------

def search(world: World, plural: str, query: str, who: Identity = KEY, **args: Any) -> tuple[Any, list[Any]]:
    model = plural[:-1]
    doc = (f"query ($q: String!, $f: Model{model}FilterInput, $limit: Int, $token: String) "
           f"{{ search{plural}(query: $q, filter: $f, limit: $limit, nextToken: $token) {{ items {{ id }} nextToken }} }}")
    return world.run(doc, {"q": query, "f": args.get("flt"), "limit": args.get("limit"), "token": args.get("token")},
                     who)


def test_search_under_an_api_key(world: World) -> None:
    a = world.create("Item", title="Red apple pie", notes="with cinnamon", qty=1)
    b = world.create("Item", title="Apple", notes="apple apple", qty=5)
    world.create("Item", title="Pear", notes=None, qty=1)
    page, errors = search(world, "Items", "apple")
    assert not errors and [i["id"] for i in page["items"]] == [b["id"], a["id"]]
    page, _ = search(world, "Items", "APPLE cinnamon")
    assert [i["id"] for i in page["items"]] == [a["id"]]
    page, _ = search(world, "Items", "apple", flt={"qty": {"eq": 1}})
    assert [i["id"] for i in page["items"]] == [a["id"]]
    first, _ = search(world, "Items", "apple", limit=1)
    assert first["nextToken"]
    rest, _ = search(world, "Items", "apple", limit=1, token=first["nextToken"])
    assert [i["id"] for i in rest["items"]] == [a["id"]]
    _, errors = search(world, "Items", "  ")
    assert "no words" in errors[0]["message"]
    _, errors = search(world, "Items", "apple", limit=0)
    assert errors[0]["errorType"] == "InvalidArgumentsError"
    _, errors = world.run("query { searchAdminItems(query: \"x\") { items { id } } }")
    assert errors and "searchAdminItems" in errors[0]["message"]   # not searchable: no such field


def test_search_finds_only_the_callers_rows(world: World) -> None:
    mine = world.create("OwnerItem", ALICE, title="secret plan", qty=1)
    world.create("OwnerItem", BOB, title="secret plan B", qty=2)
    page, errors = search(world, "OwnerItems", "secret plan", ALICE)
    assert not errors and [i["id"] for i in page["items"]] == [mine["id"]]
    page, _ = search(world, "OwnerItems", "plan", BOB)
    assert len(page["items"]) == 1 and page["items"][0]["id"] != mine["id"]
    assert search(world, "OwnerItems", "plan", KEY)[1][0]["errorType"] == "Unauthorized"


def test_search_covers_only_fields_the_caller_may_read(world: World) -> None:
    alices = world.create("Pay", HR, name="alice", review="excellent work", owner="sub-alice::alice")
    world.create("Pay", HR, name="bob", review="excellent too", owner="sub-bob::bob")
    # `review` is readable by its owner and HR: the others' records are not searched at all
    page, _ = search(world, "Pays", "excellent", ALICE)
    assert [i["id"] for i in page["items"]] == [alices["id"]]
    page, _ = search(world, "Pays", "excellent", HR)
    assert len(page["items"]) == 2


def test_group_rules_apply_to_sort_search_and_transactions(world: World) -> None:
    b1 = world.create("TeamItem", BOB, title="blue box", qty=5, team="TeamB")
    b2 = world.create("TeamItem", BOB, title="red box", qty=1, team="TeamB")
    admins = world.create("TeamItem", ADMIN, title="green box", qty=3, team="Admins")
    doc = "query ($s: [ModelTeamItemSortInput!]) { listTeamItems(sortBy: $s) { items { id } } }"
    assert world.ok(doc, {"s": [{"field": "qty"}]}, BOB)["items"] == [{"id": b2["id"]}, {"id": b1["id"]}]
    page, errors = search(world, "TeamItems", "box", BOB)
    assert not errors and {i["id"] for i in page["items"]} == {b1["id"], b2["id"]}
    page, _ = search(world, "TeamItems", "box", ADMIN)
    assert [i["id"] for i in page["items"]] == [admins["id"]]
    transact = ("mutation ($items: [TransactWriteItemInput!]!) { transactWrite(items: $items) "
                "{ createTeamItem { id } updateTeamItem { id qty } } }")
    done = world.ok(transact, {"items": [{"createTeamItem": {"input": {"title": "new", "team": "TeamB"}}},
                                          {"updateTeamItem": {"input": {"id": b1["id"], "qty": 6}}}]}, BOB)
    assert done[1]["updateTeamItem"] == {"id": b1["id"], "qty": 6}
    # another group's record, or a record handed to another group: the whole transaction is refused
    for items in ([{"updateTeamItem": {"input": {"id": admins["id"], "qty": 0}}}],
                  [{"createTeamItem": {"input": {"title": "x", "team": "TeamB"}}},
                   {"createTeamItem": {"input": {"title": "y", "team": "Admins"}}}]):
        _, errors = world.run(transact, {"items": items}, BOB)
        assert errors[0]["errorType"] == "Unauthorized"
    assert world.count("TeamItems", who=BOB) == (3, [])
    assert world.count("TeamItems", who=ADMIN) == (1, [])
