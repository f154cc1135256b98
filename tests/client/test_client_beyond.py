"""Issue 14 through the Python client (sync and async) against a real ``cove sandbox``: count,
aggregates, sort by any field, batches and transactions, under an API key and as signed-in owners
(a second user's rows are never counted, summed, found or touched)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from authkit import PASSWORD, sign_in
from conftest import Sandbox, start_sandbox
from paths import TESTS

import cove
from cove.client import AsyncClient, Client

pytestmark = pytest.mark.anyio

SCHEMA = TESTS / "schemas" / "beyond_schema.py"
AnyClient = Client | AsyncClient


async def resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def collect(iterator: Any) -> list[Any]:
    if hasattr(iterator, "__aiter__"):
        return [x async for x in iterator]
    return list(iterator)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, dict[str, str]]]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("beyond"), SCHEMA)
    tokens = {}
    for email in ("alice@example.com", "bob@example.com"):
        subprocess.run([sys.executable, "-m", "cove", "users", "--data-dir", str(sandbox.data_dir), "add", email,
                        "--password", PASSWORD], check=True, capture_output=True, text=True)
        tokens[email] = sign_in(sandbox, email)["IdToken"]
    yield sandbox, tokens
    sandbox.stop()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, outputs: Path, **options: Any) -> AnyClient:
    if kind == "sync":
        return cove.generate_client(config=outputs, **options)
    return cove.generate_async_client(config=outputs, **options)


@pytest.fixture
async def client(box: tuple[Sandbox, dict[str, str]], kind: str) -> AsyncIterator[AnyClient]:
    c = make(kind, box[0].outputs_path, auth_mode="api_key")
    yield c
    await resolve(c.aclose() if isinstance(c, AsyncClient) else c.close())


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def test_count_and_aggregate(client: AnyClient) -> None:
    t = tag()
    Item = client.models.Item
    for title, qty, price, category in [(t, 1, 1.0, "tool"), (t, 5, 2.0, "tool"), (t, None, 4.5, "food")]:
        assert (await resolve(Item.create({"title": title, "qty": qty, "price": price, "category": category}))).ok
    mine = {"title": {"eq": t}}
    assert (await resolve(Item.count(filter=mine))).data == 3
    assert (await resolve(Item.count(filter={"title": {"eq": "nobody"}}))).data == 0
    assert (await resolve(Item.aggregate("sum", "qty", filter=mine))).data == 6
    assert (await resolve(Item.aggregate("avg", "price", filter=mine))).data == pytest.approx(2.5)
    assert (await resolve(Item.aggregate("max", "category", filter=mine))).data == "tool"
    grouped = await resolve(Item.aggregate("count", filter=mine, group_by="category"))
    assert grouped.data == {"food": 1, "tool": 2}
    assert (await resolve(Item.aggregate("sum", "qty", filter=mine, group_by="qty"))).data == {None: None, 1: 1, 5: 5}
    with pytest.raises(ValueError, match="sum needs a numeric field"):
        await resolve(Item.aggregate("sum", "title"))
    with pytest.raises(ValueError, match="function must be one of"):
        await resolve(Item.aggregate("median", "qty"))
    with pytest.raises(ValueError, match="cannot group by 'tags'"):
        await resolve(Item.aggregate("count", group_by="tags"))
    too_many = await resolve(Item.aggregate("count", filter=mine, group_by="price", max_groups=2))
    assert too_many.data is None and too_many.errors[0].error_type == "InvalidArgumentsError"


async def test_sort_by_any_field(client: AnyClient) -> None:
    t = tag()
    Item = client.models.Item
    for qty, due in [(3, "2026-01-02"), (None, "2026-01-01"), (3, None), (1, "2026-01-03")]:
        await resolve(Item.create({"title": t, "qty": qty, "due": due}))
    mine = {"title": {"eq": t}}
    ordered = await collect(Item.list_all(filter=mine, sort_by=["qty", "due"], sort_direction="DESC", limit=1))
    assert [(i.qty, i.due) for i in ordered] == [(3, "2026-01-02"), (3, None), (1, "2026-01-03"), (None, "2026-01-01")]
    page = await resolve(Item.list(filter=mine, sort_by="due", limit=2))
    assert [i.due for i in page.data] == [None, "2026-01-01"] and page.next_token
    rest = await resolve(Item.list(filter=mine, sort_by="due", limit=2, next_token=page.next_token))
    assert [i.due for i in rest.data] == ["2026-01-02", "2026-01-03"]


async def test_sort_direction_is_checked(client: AnyClient) -> None:
    Item = client.models.Item
    with pytest.raises(ValueError, match="sort_direction must be 'ASC' or 'DESC', got 'sideways'"):
        await resolve(Item.list(sort_direction="sideways"))
    with pytest.raises(ValueError, match="sort_direction must be 'ASC' or 'DESC'"):
        await resolve(Item.list(sort_by="qty", sort_direction="desc"))
    with pytest.raises(ValueError, match="Item has neither"):
        await resolve(Item.list(sort_direction="DESC"))
    with pytest.raises(ValueError, match="cannot sort by 'tags'"):
        await resolve(Item.list(sort_by="tags"))
    with pytest.raises(ValueError, match="cannot sort by 'nope'"):
        await resolve(Item.list(sort_by=["qty", "nope"]))


async def test_batches(client: AnyClient) -> None:
    t = tag()
    Item = client.models.Item
    created = await resolve(Item.batch_create([{"id": f"{t}-{i}", "title": t, "qty": i} for i in range(3)]
                                              + [{"id": f"{t}-0", "title": "duplicate"}]))
    assert [r.ok for r in created] == [True, True, True, False]
    assert [r.data.qty for r in created[:3]] == [0, 1, 2] and created[3].data is None
    assert created[3].errors[0].error_type == "DynamoDB:ConditionalCheckFailedException"
    got = await resolve(Item.batch_get([{"id": f"{t}-2"}, {"id": "missing"}, {"id": f"{t}-0"}]))
    assert [r.id if r else None for r in got.data] == [f"{t}-2", None, f"{t}-0"]
    deleted = await resolve(Item.batch_delete([{"id": f"{t}-0"}, {"id": "missing"}]))
    assert deleted[0].data.id == f"{t}-0" and not deleted[1].ok
    assert (await resolve(Item.count(filter={"title": {"eq": t}}))).data == 2
    with pytest.raises(ValueError, match="1 to 100 items"):
        await resolve(Item.batch_get([{"id": "x"}] * 101))


async def test_transaction_all_or_nothing(client: AnyClient, kind: str) -> None:
    t = tag()
    Item = client.models.Item
    target = (await resolve(Item.create({"title": t, "qty": 1}))).data
    items = [Item.create_item({"title": t, "qty": 100 + i}) for i in range(56)]
    items.append(Item.update_item({"id": target.id, "qty": 2}, condition={"qty": {"eq": 99}}))
    items.append(Item.create_item({"title": t, "qty": 0}))
    failed = await resolve(client.transact(items))
    assert failed.data == [] and not failed.ok
    error = failed.errors[0]
    assert error.error_type == "DynamoDB:TransactionCanceledException"
    reasons = [r["type"] for r in error.error_info["cancellationReasons"]]
    assert reasons[56] == "ConditionalCheckFailed" and reasons.count("None") == 57
    assert (await resolve(Item.count(filter={"title": {"eq": t}}))).data == 1
    items[56] = Item.update_item({"id": target.id, "qty": 2}, condition={"qty": {"eq": 1}})
    done = await resolve(client.transact(items))
    assert done.ok and len(done.data) == 58 and done.data[56].qty == 2
    assert (await resolve(Item.count(filter={"title": {"eq": t}}))).data == 58
    twice = await resolve(client.transact([Item.update_item({"id": target.id, "qty": 3}),
                                           Item.delete_item({"id": target.id})]))
    assert twice.errors[0].error_type == "ValidationException"
    with pytest.raises(TypeError, match="create_item"):
        await resolve(client.transact([{"createItem": {}}]))  # type: ignore[list-item]


async def test_search(client: AnyClient) -> None:
    t = tag()
    Item = client.models.Item
    first = (await resolve(Item.create({"title": f"{t} blue whale", "notes": "the largest animal"}))).data
    second = (await resolve(Item.create({"title": f"{t} whale shark", "notes": "whale whale"}))).data
    found = await resolve(Item.search(f"{t} whale", limit=1))
    assert [i.id for i in found.data] == [second.id] and found.next_token
    rest = await resolve(Item.search(f"{t} whale", limit=1, next_token=found.next_token))
    assert [i.id for i in rest.data] == [first.id]
    only = await resolve(Item.search(f"{t} animal", filter={"title": {"contains": "blue"}}))
    assert [i.id for i in only.data] == [first.id]
    bad = await resolve(Item.search("!!!"))
    assert bad.data == [] and "no words" in bad.errors[0].message
    with pytest.raises(ValueError, match="AdminItem is not searchable"):
        await resolve(client.models.AdminItem.search("x"))


async def test_owners_see_and_touch_only_their_rows(box: tuple[Sandbox, dict[str, str]], kind: str) -> None:
    sandbox, tokens = box
    alice = make(kind, sandbox.outputs_path, auth_mode="user_pool", auth_token=tokens["alice@example.com"])
    bob = make(kind, sandbox.outputs_path, auth_mode="user_pool", auth_token=tokens["bob@example.com"])
    try:
        t = tag()
        for qty in (1, 2):
            assert (await resolve(alice.models.OwnerItem.create({"title": t, "qty": qty}))).ok
        bobs = (await resolve(bob.models.OwnerItem.create({"title": t, "qty": 50}))).data
        mine = {"title": {"eq": t}}
        assert (await resolve(alice.models.OwnerItem.count(filter=mine))).data == 2
        assert (await resolve(bob.models.OwnerItem.count(filter=mine))).data == 1
        assert (await resolve(alice.models.OwnerItem.aggregate("sum", "qty", filter=mine))).data == 3
        ordered = await resolve(alice.models.OwnerItem.list(filter=mine, sort_by="qty", sort_direction="DESC"))
        assert [i.qty for i in ordered.data] == [2, 1]
        got = await resolve(alice.models.OwnerItem.batch_get([{"id": bobs.id}]))
        assert got.data == [None]
        stolen = await resolve(alice.transact([alice.models.OwnerItem.create_item({"title": t, "qty": 7}),
                                               alice.models.OwnerItem.update_item({"id": bobs.id, "qty": 0})]))
        assert not stolen.ok and stolen.errors[0].error_type == "Unauthorized"
        assert (await resolve(bob.models.OwnerItem.get({"id": bobs.id}))).data.qty == 50
        assert (await resolve(alice.models.OwnerItem.count(filter=mine))).data == 2
        found = await resolve(alice.models.OwnerItem.search(t))
        assert sorted(i.qty for i in found.data) == [1, 2]
        deleted = await resolve(alice.models.OwnerItem.batch_delete([{"id": bobs.id}]))
        assert deleted[0].errors[0].error_type == "Unauthorized"
    finally:
        for c in (alice, bob):
            await resolve(c.aclose() if isinstance(c, AsyncClient) else c.close())


def test_subscribers_hear_a_transaction_after_its_commit_and_never_a_cancelled_one(
        box: tuple[Sandbox, dict[str, str]]) -> None:
    """Over the real-time WebSocket: a cancelled transaction (its 57th item's condition fails) sends
    no event; a committed one sends one per item, each as its own mutation's would."""
    sandbox, _ = box
    t = tag()
    with cove.generate_client(config=sandbox.outputs_path, auth_mode="api_key") as client:
        Item = client.models.Item
        target = Item.create({"title": f"{t} target", "qty": 1}).data
        assert target is not None
        with Item.on_create(filter={"title": {"beginsWith": t}}) as created, \
                Item.on_update(filter={"title": {"beginsWith": t}}) as updated:
            items = [Item.create_item({"title": f"{t} {i}"}) for i in range(56)]
            items.append(Item.update_item({"id": target.id, "qty": 2}, condition={"qty": {"eq": 99}}))
            items += [Item.create_item({"title": f"{t} late {i}"}) for i in range(3)]
            assert client.transact(items).errors[0].error_type == "DynamoDB:TransactionCanceledException"
            with pytest.raises(TimeoutError):
                created.receive(timeout=1.0)
            with pytest.raises(TimeoutError):
                updated.receive(timeout=0.2)
            done = client.transact([Item.create_item({"title": f"{t} one"}),
                                    Item.update_item({"id": target.id, "qty": 3}, condition={"qty": {"eq": 1}})])
            assert done.ok
            assert created.receive(timeout=10).title == f"{t} one"
            assert updated.receive(timeout=10).qty == 3
            with pytest.raises(TimeoutError):
                created.receive(timeout=0.4)
