"""The store contract for issue 14, on every backend: lists sorted by any field (paged by keyset tokens,
with repeated and null values), aggregates (grouped, filtered, typed) and transactions (all or nothing,
a reason per item)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from typing import Any

import pytest

from cove.schema.model import Schema
from cove.store.base import (
    AggregateRequest,
    Backend,
    InvalidFilter,
    InvalidNextToken,
    ListRequest,
    SearchRequest,
    SortKey,
    TooManyGroups,
    TransactionCanceled,
    TransactItem,
)

pytestmark = pytest.mark.anyio

T = "2024-01-01T00:00:00.000Z"


def post(i: int, **values: Any) -> dict[str, Any]:
    return {"id": f"p{i:03d}", "createdAt": T, "updatedAt": T, **values}


async def seed(backend: Backend, schema: Schema, n: int = 60) -> list[dict[str, Any]]:
    """Posts whose rank repeats and is sometimes null, titles with NUL and non-ASCII, scores with nulls."""
    rng = random.Random(14)
    Post = schema.models["Post"]
    titles = ["a", "B", "b", "é", nul("a\x00z", backend), None, "😀", ""]
    out = []
    for i in range(n):
        values = post(i, rank=rng.choice([None, 1, 2, 2, 3, -5]), title=rng.choice(titles),
                      score=rng.choice([None, 0.5, 1.5, -2.0]), draft=rng.choice([True, False, None]),
                      blogId=rng.choice(["b1", "b2", None]))
        out.append(await backend.records.create(Post, values, None))
    return out


def nul(text: str, backend: Backend) -> str:
    """``text``, with its NUL characters where the database's text holds them (PostgreSQL's does not)."""
    return text if backend.description.startswith("SQLite") else text.replace("\x00", "")


def python_order(records: list[dict[str, Any]], sort: list[tuple[str, bool]]) -> list[str]:
    """The expected order: null smallest, text by UTF-8 bytes, then id in the last field's direction."""
    def key_part(value: Any) -> tuple[int, Any]:
        if value is None:
            return (0, 0)
        return (1, value.encode() if isinstance(value, str) else value)

    ordered = list(records)
    ordered.sort(key=lambda r: r["id"], reverse=sort[-1][1])
    for name, desc in reversed(sort):
        ordered.sort(key=lambda r: key_part(r[name]), reverse=desc)
    return [r["id"] for r in ordered]


async def pages(backend: Backend, request: ListRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await backend.records.list(request)
        items += page.items
        assert len(page.items) <= request.limit
        if page.next_token is None:
            return items
        request = replace(request, next_token=page.next_token)


@pytest.mark.parametrize("sort", [
    [("rank", False)], [("rank", True)], [("title", False)], [("title", True)], [("score", True)],
    [("rank", False), ("title", True)], [("draft", True), ("rank", False), ("score", True)],
    [("blogId", False), ("rank", True)],
])
@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_sorted_pages_visit_every_record_once_in_order(backend: Backend, schema: Schema,
                                                             sort: list[tuple[str, bool]], limit: int) -> None:
    records = await seed(backend, schema)
    Post = schema.models["Post"]
    request = ListRequest(Post, limit=limit, sort=tuple(SortKey(n, d) for n, d in sort))
    got = [r["id"] for r in await pages(backend, request)]
    assert got == python_order(records, sort)


async def test_sorted_list_with_a_filter_and_a_partition(backend: Backend, schema: Schema) -> None:
    records = await seed(backend, schema)
    Post = schema.models["Post"]
    flt = {"rank": {"ge": 2}}
    request = ListRequest(Post, filter=flt, limit=3, sort=(SortKey("score", True),))
    expected = python_order([r for r in records if r["rank"] is not None and r["rank"] >= 2], [("score", True)])
    assert [r["id"] for r in await pages(backend, request)] == expected


async def test_sort_tokens_are_bound_to_their_order(backend: Backend, schema: Schema) -> None:
    await seed(backend, schema, 10)
    Post = schema.models["Post"]
    first = await backend.records.list(ListRequest(Post, limit=3, sort=(SortKey("rank"),)))
    assert first.next_token
    for other in [(SortKey("rank", True),), (SortKey("title"),), ()]:
        with pytest.raises(InvalidNextToken):
            await backend.records.list(ListRequest(Post, limit=3, next_token=first.next_token, sort=other))


@pytest.mark.parametrize("field", ["tags", "meta", "nope", "blog"])
async def test_sort_by_a_field_without_an_order_is_refused(backend: Backend, schema: Schema, field: str) -> None:
    with pytest.raises(InvalidFilter, match="cannot be sorted by"):
        await backend.records.list(ListRequest(schema.models["Post"], sort=(SortKey(field),)))


async def test_sort_on_a_composite_key_model(backend: Backend, schema: Schema) -> None:
    Order = schema.models["Order"]
    for i, total in enumerate([5.0, None, 5.0, 1.0, None, 9.5]):
        await backend.records.create(Order, {"customerId": f"c{i % 2}", "placedAt": f"2024-01-0{i + 1}T00:00:00Z",
                                             "total": total, "createdAt": T, "updatedAt": T}, None)
    got = await pages(backend, ListRequest(Order, limit=2, sort=(SortKey("total", True),)))
    assert [(o["total"], o["customerId"], o["placedAt"][:10]) for o in got] == [
        (9.5, "c1", "2024-01-06"), (5.0, "c0", "2024-01-03"), (5.0, "c0", "2024-01-01"),
        (1.0, "c1", "2024-01-04"), (None, "c1", "2024-01-02"), (None, "c0", "2024-01-05")]


# -- aggregates -----------------------------------------------------------------------------------

async def test_aggregates_match_python(backend: Backend, schema: Schema) -> None:
    records = await seed(backend, schema)
    Post = schema.models["Post"]
    agg = backend.records.aggregate
    ranks = [r["rank"] for r in records if r["rank"] is not None]
    scores = [r["score"] for r in records if r["score"] is not None]
    assert (await agg(AggregateRequest(Post, "count")))[0].value == len(records)
    assert (await agg(AggregateRequest(Post, "count", "rank")))[0].value == len(ranks)
    total = (await agg(AggregateRequest(Post, "sum", "rank")))[0].value
    assert total == sum(ranks) and type(total) is int
    assert (await agg(AggregateRequest(Post, "sum", "score")))[0].value == pytest.approx(sum(scores))
    assert (await agg(AggregateRequest(Post, "avg", "rank")))[0].value == pytest.approx(sum(ranks) / len(ranks))
    assert (await agg(AggregateRequest(Post, "min", "rank")))[0].value == min(ranks)
    assert (await agg(AggregateRequest(Post, "max", "title")))[0].value == max(
        (r["title"] for r in records if r["title"] is not None), key=str.encode)
    assert (await agg(AggregateRequest(Post, "max", "draft")))[0].value is True
    flt = {"draft": {"eq": True}}
    expected = sum(1 for r in records if r["draft"] is True)
    assert (await agg(AggregateRequest(Post, "count", filter=flt)))[0].value == expected
    # nothing matches: count 0, the others null
    nothing = {"rank": {"gt": 1000}}
    assert (await agg(AggregateRequest(Post, "count", filter=nothing)))[0].value == 0
    assert (await agg(AggregateRequest(Post, "sum", "rank", filter=nothing)))[0].value is None
    assert (await agg(AggregateRequest(Post, "avg", "score", filter=nothing)))[0].value is None


async def test_grouped_aggregates(backend: Backend, schema: Schema) -> None:
    records = await seed(backend, schema)
    Post = schema.models["Post"]
    groups = await backend.records.aggregate(AggregateRequest(Post, "sum", "rank", group_by="blogId"))
    expected = []
    for key, rows in itertools.groupby(sorted(records, key=lambda r: (r["blogId"] is not None, r["blogId"] or "")),
                                       key=lambda r: r["blogId"]):
        ranks = [r["rank"] for r in rows if r["rank"] is not None]
        expected.append((key, sum(ranks) if ranks else None))
    assert [(g.key, g.value) for g in groups] == expected
    by_draft = await backend.records.aggregate(AggregateRequest(Post, "count", group_by="draft"))
    assert [g.key for g in by_draft] == [None, False, True]
    assert sum(g.value for g in by_draft) == len(records)
    with pytest.raises(TooManyGroups):
        await backend.records.aggregate(AggregateRequest(Post, "count", group_by="rank", max_groups=3))


@pytest.mark.parametrize("request_args, message", [
    (("sum", "title"), "needs a numeric field"),
    (("avg", "draft"), "needs a numeric field"),
    (("min", "tags"), "one scalar or enum value"),
    (("max", None), "needs a field"),
    (("median", "rank"), "unknown aggregate function"),
    (("count", "nope"), "not a stored field"),
])
async def test_bad_aggregates_are_refused(backend: Backend, schema: Schema, request_args: tuple[Any, ...],
                                          message: str) -> None:
    with pytest.raises(InvalidFilter, match=message):
        await backend.records.aggregate(AggregateRequest(schema.models["Post"], *request_args))


async def test_bad_grouping_is_refused(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    with pytest.raises(InvalidFilter, match="cannot be grouped"):
        await backend.records.aggregate(AggregateRequest(Post, "count", group_by="meta"))
    with pytest.raises(InvalidFilter, match="max_groups"):
        await backend.records.aggregate(AggregateRequest(Post, "count", group_by="rank", max_groups=0))


# -- transactions ---------------------------------------------------------------------------------

async def test_transaction_writes_all(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    await backend.records.create(Post, post(1, rank=1), None)
    await backend.records.create(Post, post(2, rank=2), None)
    written = await backend.records.transact([
        TransactItem("create", Post, values=post(3, title="new")),
        TransactItem("update", Post, key={"id": "p001"}, values={"rank": 10}, condition={"rank": {"eq": 1}}),
        TransactItem("delete", Post, key={"id": "p002"}),
    ])
    assert [w["id"] for w in written] == ["p003", "p001", "p002"]
    assert written[1]["rank"] == 10 and written[2]["rank"] == 2
    assert (await backend.records.get(Post, {"id": "p001"}))["rank"] == 10
    assert await backend.records.get(Post, {"id": "p002"}) is None
    assert await backend.records.get(Post, {"id": "p003"}) is not None


async def test_a_failing_item_cancels_everything_with_a_reason_each(backend: Backend, schema: Schema) -> None:
    Post = schema.models["Post"]
    await backend.records.create(Post, post(1, rank=1), None)
    await backend.records.create(Post, post(2, rank=2), None)
    items = [TransactItem("create", Post, values=post(100 + i)) for i in range(56)]
    items.append(TransactItem("update", Post, key={"id": "p001"}, values={"rank": 5}, condition={"rank": {"eq": 99}}))
    items += [TransactItem("delete", Post, key={"id": "p002"}),
              TransactItem("create", Post, values=post(1)),      # exists already
              TransactItem("create", Post, values=post(200), condition={"rank": {"attributeExists": True}}),
              TransactItem("delete", Post, key={"id": "gone"}, failed=True)]
    with pytest.raises(TransactionCanceled) as caught:
        await backend.records.transact(items)
    reasons = caught.value.reasons
    assert reasons[56] == "ConditionalCheckFailed" and reasons[:56] == ["None"] * 56
    assert reasons[57:] == ["None", "ConditionalCheckFailed", "ConditionalCheckFailed", "ConditionalCheckFailed"]
    assert caught.value.error_type == "DynamoDB:TransactionCanceledException"
    assert "[None, None" in str(caught.value)
    assert (await backend.records.aggregate(AggregateRequest(Post, "count")))[0].value == 2
    assert (await backend.records.get(Post, {"id": "p001"}))["rank"] == 1
    assert await backend.records.get(Post, {"id": "p002"}) is not None
    # the store is usable afterwards
    await backend.records.transact([TransactItem("delete", Post, key={"id": "p002"})])
    assert await backend.records.get(Post, {"id": "p002"}) is None


# -- full-text search -----------------------------------------------------------------------------

def search_schema(searchable: tuple[str, ...] = ("title", "body"), extra: dict[str, Any] | None = None) -> Schema:
    from cove import a, define_data

    fields = {"title": a.string(), "body": a.string(), "kind": a.enum(["note", "post"]), "rank": a.integer(),
              **(extra or {})}
    model = a.model(fields)
    if searchable:
        model = model.searchable(list(searchable))
    return define_data(schema=a.schema({"Article": model}).authorization(
        lambda allow: [allow.public_api_key()])).schema


@pytest.fixture
async def searchable(anyio_backend: str, backend_name: str, tmp_path: Any) -> Any:
    from .conftest import open_for_test

    opened = open_for_test(backend_name, tmp_path / "search")
    schema = search_schema()
    await opened.migrator.apply_schema(schema)
    yield opened, schema
    await opened.close()


def article(i: int, title: str | None, body: str | None, **values: Any) -> dict[str, Any]:
    return {"id": f"a{i:03d}", "createdAt": T, "updatedAt": T, "title": title, "body": body, **values}


async def search_ids(backend: Backend, request: SearchRequest) -> list[str]:
    out: list[str] = []
    while True:
        page = await backend.records.search(request)
        out += [r["id"] for r in page.items]
        if page.next_token is None:
            return out
        request = replace(request, next_token=page.next_token)


async def test_search_finds_every_word_ranked_and_follows_writes(searchable: Any) -> None:
    backend, schema = searchable
    Article = schema.models["Article"]
    records = backend.records
    await records.create(Article, article(1, "Café au lait", "A recipe with milk and coffee", rank=1), None)
    await records.create(Article, article(2, "Coffee", "coffee coffee coffee beans", rank=2), None)
    await records.create(Article, article(3, "Tea", None, rank=3), None)
    await records.create(Article, article(4, None, nul("Green TEA and coffee\x00", backend), kind="note"), None)
    assert (await records.search(SearchRequest(Article, "coffee"))).items[0]["id"] == "a002"   # the most mentions
    assert set(await search_ids(backend, SearchRequest(Article, "coffee"))) == {"a001", "a002", "a004"}
    assert await search_ids(backend, SearchRequest(Article, "CAFE")) == ["a001"]     # accents and case folded
    assert await search_ids(backend, SearchRequest(Article, "tea coffee")) == ["a004"]  # every word
    # no query syntax: quotes and stars are not operators, OR is a word to find
    assert await search_ids(backend, SearchRequest(Article, 'coffee" tea* (NEAR')) == []
    assert await search_ids(backend, SearchRequest(Article, 'coffee" tea*')) == ["a004"]
    assert await search_ids(backend, SearchRequest(Article, "coffee OR tea")) == []
    assert await search_ids(backend, SearchRequest(Article, "coffee", filter={"rank": {"ge": 2}})) == ["a002"]
    await records.update(Article, {"id": "a003"}, {"body": "now with coffee"}, None)
    await records.update(Article, {"id": "a002"}, {"title": "Beans"}, None)
    await records.delete(Article, {"id": "a004"}, None)
    assert set(await search_ids(backend, SearchRequest(Article, "coffee"))) == {"a001", "a002", "a003"}
    assert await search_ids(backend, SearchRequest(Article, "green")) == []
    await records.transact([TransactItem("create", Article, values=article(5, "coffee again", None)),
                            TransactItem("delete", Article, key={"id": "a001"})])
    assert set(await search_ids(backend, SearchRequest(Article, "coffee"))) == {"a002", "a003", "a005"}
    # an import (bulk insert) and a reset go through the same index
    await backend.transfer.insert_records([(Article, article(6, "imported coffee", None))])
    assert "a006" in await search_ids(backend, SearchRequest(Article, "imported"))
    await backend.transfer.delete_all_records()
    assert await search_ids(backend, SearchRequest(Article, "coffee")) == []


async def test_search_pages_with_tokens_bound_to_the_query(searchable: Any) -> None:
    backend, schema = searchable
    Article = schema.models["Article"]
    for i in range(25):
        await backend.records.create(Article, article(i, "word " * (1 + i % 4), f"body {i}"), None)
    whole = await search_ids(backend, SearchRequest(Article, "word", limit=100))
    assert len(whole) == 25
    assert await search_ids(backend, SearchRequest(Article, "word", limit=4)) == whole
    first = await backend.records.search(SearchRequest(Article, "word", limit=4))
    with pytest.raises(InvalidNextToken):
        await backend.records.search(SearchRequest(Article, "body", limit=4, next_token=first.next_token))


async def test_filtered_search_finds_matches_beyond_the_best_few(searchable: Any) -> None:
    """A filtered search looks at the best few matches first; one whose match ranks last is found too."""
    backend, schema = searchable
    Article = schema.models["Article"]
    for i in range(60):
        # more mentions rank higher: the one record the filter keeps ranks last
        await backend.records.create(Article, article(i, "kiwi " * (1 + (i % 5)), None, rank=i), None)
    await backend.records.create(Article, article(99, "kiwi", "nothing else", rank=1000), None)
    got = await search_ids(backend, SearchRequest(Article, "kiwi", filter={"rank": {"ge": 1000}}, limit=1))
    assert got == ["a099"]
    got = await search_ids(backend, SearchRequest(Article, "kiwi", filter={"rank": {"ge": 30}}, limit=2))
    assert sorted(got) == sorted([f"a{i:03d}" for i in range(30, 60)] + ["a099"])


@pytest.mark.parametrize("query, message", [("", "no words"), ("  ?!  ", "no words"),
                                            (" ".join(["w"] * 33), "at most 32 words")])
async def test_bad_search_queries(searchable: Any, query: str, message: str) -> None:
    backend, schema = searchable
    with pytest.raises(InvalidFilter, match=message):
        await backend.records.search(SearchRequest(schema.models["Article"], query))


async def test_search_index_follows_the_schema(anyio_backend: str, backend_name: str, tmp_path: Any) -> None:
    from .conftest import open_for_test

    backend = open_for_test(backend_name, tmp_path / "migrating")
    try:
        plain = search_schema(searchable=())
        await backend.migrator.apply_schema(plain)
        Article = plain.models["Article"]
        await backend.records.create(Article, article(1, "alpha", "beta"), None)
        with pytest.raises(InvalidFilter, match="not searchable"):
            await backend.records.search(SearchRequest(Article, "alpha"))
        # made searchable: existing records are indexed
        titled = search_schema(searchable=("title",))
        pending = await backend.migrator.pending_statements(titled)
        assert any("Article__search" in sql for sql in pending)        # cove migrate --dry-run shows it
        assert any(sql.startswith("INSERT INTO") for sql in pending)   # the refill too
        await backend.migrator.apply_schema(titled)
        Article = titled.models["Article"]
        assert await search_ids(backend, SearchRequest(Article, "alpha")) == ["a001"]
        assert await search_ids(backend, SearchRequest(Article, "beta")) == []
        # another field added to the search, and a new column: rebuilt
        both = search_schema(extra={"note": a_string()})
        await backend.migrator.apply_schema(both)
        Article = both.models["Article"]
        assert await search_ids(backend, SearchRequest(Article, "beta")) == ["a001"]
        await backend.records.create(Article, article(2, "gamma", "beta"), None)
        assert sorted(await search_ids(backend, SearchRequest(Article, "beta"))) == ["a001", "a002"]
        # once applied, nothing is pending and a second start changes nothing
        assert await backend.migrator.pending_statements(both) == []
        before = len(await backend.migrator.history())
        await backend.migrator.apply_schema(both)
        history = await backend.migrator.history()
        assert len(history) == before and "search index of Article rebuilt" in history[-1].summary
        # a searchable column removed (allowed): the index is rebuilt without it
        without_body = search_schema(searchable=("title",))
        await backend.migrator.apply_schema(without_body, allow_destructive=True)
        Article = without_body.models["Article"]
        assert await search_ids(backend, SearchRequest(Article, "gamma")) == ["a002"]
        await backend.records.delete(Article, {"id": "a002"}, None)
        assert await search_ids(backend, SearchRequest(Article, "gamma")) == []
    finally:
        await backend.close()


def a_string() -> Any:
    from cove import a

    return a.string()


async def test_crossed_transactions_both_commit_without_waiting_on_each_other(backend: Backend, schema: Schema) -> None:
    """Two transactions writing the same records in opposite orders, many times at once: each one
    commits whole (no deadlock, which PostgreSQL would break after a second by failing one), and the
    counts add up."""
    import anyio

    Post = schema.models["Post"]
    ids = [f"p{i:03d}" for i in range(4)]
    for i in range(4):
        await backend.records.create(Post, post(i, rank=0), None)

    async def bump(order: list[str], times: int) -> None:
        for _ in range(times):
            current = {k: (await backend.records.get(Post, {"id": k}))["rank"] for k in order}
            try:
                await backend.records.transact([
                    TransactItem("update", Post, key={"id": k}, values={"rank": current[k] + 1},
                                 condition={"rank": {"eq": current[k]}}) for k in order])
            except TransactionCanceled as exc:   # another bump came between the read and the write
                assert set(exc.reasons) <= {"None", "ConditionalCheckFailed", "TransactionConflict"}, exc.reasons

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for n in range(6):
                tg.start_soon(bump, ids if n % 2 else ids[::-1], 15)
    ranks = [(await backend.records.get(Post, {"id": k}))["rank"] for k in ids]
    assert len(set(ranks)) == 1 and ranks[0] > 0, ranks   # every transaction wrote all four or none
