"""The Python client against a real `cove sandbox` over real sockets, sync and async.

Each test runs twice: once with `cove.generate_client()` and once with
`cove.generate_async_client()`. The sync client is driven from inside a running event loop on
purpose: it must not need (or start) one of its own.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import Sandbox, free_port

import cove
from cove.client import AsyncClient, Client, GraphQLResponseError, Record, Result

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

AnyClient = Client | AsyncClient


async def resolve(value: Any) -> Any:
    """Await the async client's results; pass the sync client's through."""
    return await value if inspect.isawaitable(value) else value


async def collect(iterator: Any) -> list[Any]:
    if hasattr(iterator, "__aiter__"):
        return [x async for x in iterator]
    return list(iterator)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(sandbox: Sandbox, kind: str) -> AsyncIterator[AnyClient]:
    if kind == "sync":
        with cove.generate_client(config=sandbox.outputs_path) as c:
            yield c
    else:
        async with cove.generate_async_client(config=sandbox.outputs_path) as ac:
            yield ac


def make(kind: str, **options: Any) -> AnyClient:
    return cove.generate_client(**options) if kind == "sync" else cove.generate_async_client(**options)


async def close(c: AnyClient) -> None:
    if isinstance(c, AsyncClient):
        await c.aclose()
    else:
        c.close()


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------------------------


async def test_configure_globally_and_generate(sandbox: Sandbox, kind: str) -> None:
    from cove.client._config import reset_config

    cove.configure(sandbox.outputs_path)
    try:
        c = make(kind)
        r = await resolve(c.models.Todo.list(limit=1))
        assert r.errors == [] and isinstance(r.data, list)
        await close(c)
    finally:
        reset_config()


async def test_create_get_update_delete(client: AnyClient) -> None:
    todos = client.models.Todo
    content = tag()
    created = await resolve(todos.create({"content": content, "priority": "high", "tags": ["a", "b"],
                                          "due": "2026-12-01"}))
    assert created.errors == []
    todo = created.data
    assert isinstance(todo, Record) and todo.typename == "Todo"
    assert todo.content == content and todo["priority"] == "high" and todo.tags == ["a", "b"]
    assert todo.done is False  # the schema's default
    assert todo.due == "2026-12-01" and todo.listId is None
    assert todo.createdAt and todo.createdAt == todo.updatedAt
    assert set(todo) == {"id", "content", "done", "priority", "due", "tags", "listId", "createdAt", "updatedAt"}

    got = await resolve(todos.get({"id": todo.id}))
    assert got.errors == [] and got.data == todo

    updated = await resolve(todos.update({"id": todo.id, "done": True, "priority": "low"}))
    assert updated.errors == []
    assert updated.data.done is True and updated.data.priority == "low" and updated.data.content == content
    assert updated.data.updatedAt >= todo.updatedAt

    # a fetched record can be sent back: read-only fields are dropped
    again = await resolve(todos.update({**updated.data, "content": content + "!"}))
    assert again.errors == [] and again.data.content == content + "!"

    deleted = await resolve(todos.delete({"id": todo.id}))
    assert deleted.errors == [] and deleted.data.id == todo.id
    gone = await resolve(todos.get({"id": todo.id}))
    assert gone.data is None and gone.errors == []


async def test_list_filter_limit_and_paging(client: AnyClient) -> None:
    todos = client.models.Todo
    run = tag()
    for i in range(5):
        r = await resolve(todos.create({"content": f"{run}-{i}", "done": i % 2 == 0}))
        assert r.errors == []
    flt = {"content": {"beginsWith": run}}

    everything = await resolve(todos.list(filter=flt))
    assert sorted(t.content for t in everything.data) == [f"{run}-{i}" for i in range(5)]
    assert everything.next_token is None

    done = await resolve(todos.list(filter={"and": [flt, {"done": {"eq": True}}]}))
    assert sorted(t.content for t in done.data) == [f"{run}-0", f"{run}-2", f"{run}-4"]

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await resolve(todos.list(filter=flt, limit=2, next_token=token))
        assert page.errors == [] and len(page.data) <= 2
        seen += [t.content for t in page.data]
        pages += 1
        token = page.next_token
        if token is None:
            break
        assert pages < 20
    assert sorted(seen) == [f"{run}-{i}" for i in range(5)] and pages >= 3

    first = await resolve(todos.list(filter=flt, limit=2))
    assert len(first.data) == 2 and first.next_token

    all_items = await collect(todos.list_all(filter=flt, limit=2))
    assert sorted(t.content for t in all_items) == [f"{run}-{i}" for i in range(5)]
    assert all(isinstance(t, Record) for t in all_items)


async def test_selection_sets(client: AnyClient) -> None:
    todos, lists = client.models.Todo, client.models.TodoList
    todo_list = (await resolve(lists.create({"name": tag()}))).data
    content = tag()
    todo = (await resolve(todos.create({"content": content, "listId": todo_list.id}))).data

    narrow = await resolve(todos.get({"id": todo.id}, selection_set=["id", "content"]))
    assert narrow.data == {"id": todo.id, "content": content}
    assert narrow.data.relationships == ()  # no lazy loaders with a custom selection set

    listed = await resolve(todos.list(filter={"content": {"eq": content}}, selection_set=["content", "list.name"]))
    assert listed.data == [{"content": content, "list": {"name": todo_list.name}}]
    assert listed.data[0].list.typename == "TodoList"

    nested = await resolve(lists.get({"id": todo_list.id}, selection_set=["id", "name", "todos.*"]))
    assert nested.errors == []
    (child,) = nested.data.todos  # hasMany items flattened into a list
    assert child.id == todo.id and child.content == content and child.done is False

    with pytest.raises(ValueError, match="nope is not a field of model Todo"):
        await resolve(todos.get({"id": todo.id}, selection_set=["nope"]))


async def test_enums(client: AnyClient) -> None:
    assert client.enums.TodoPriority.values() == ["low", "medium", "high"]


async def test_raw_graphql_and_returned_errors(client: AnyClient) -> None:
    content = tag()
    created = await resolve(client.graphql(
        "mutation Make($input: CreateTodoInput!) { createTodo(input: $input) { id content } }",
        {"input": {"content": content}}))
    assert isinstance(created, Result) and created.errors == []
    todo_id = created.data["createTodo"]["id"]
    assert created.data == {"createTodo": {"id": todo_id, "content": content}}

    # A failed condition is a GraphQL error: returned, never raised; nothing changed.
    failed = await resolve(client.graphql(
        "mutation ($input: UpdateTodoInput!, $condition: ModelTodoConditionInput) "
        "{ updateTodo(input: $input, condition: $condition) { id content } }",
        {"input": {"id": todo_id, "content": "changed"}, "condition": {"content": {"eq": "something else"}}}))
    assert failed.data == {"updateTodo": None}
    (err,) = failed.errors
    assert err.error_type == "DynamoDB:ConditionalCheckFailedException" and err.path == ["updateTodo"]
    still = await resolve(client.models.Todo.get({"id": todo_id}))
    assert still.data.content == content

    invalid = await resolve(client.graphql("query { listTodos { items { nope } } }"))
    assert invalid.data is None and invalid.errors and "nope" in invalid.errors[0].message

    bad_filter = await resolve(client.models.Todo.list(filter={"nope": {"eq": 1}}))
    assert bad_filter.data == [] and bad_filter.errors


async def test_per_request_auth_options(sandbox: Sandbox, client: AnyClient) -> None:
    todos = client.models.Todo
    wrong = await resolve(todos.list(api_key="da2-wrong"))
    assert wrong.data == []
    (err,) = wrong.errors
    assert err.error_type == "UnauthorizedException" and err.message

    single = await resolve(todos.get({"id": "whatever"}, api_key="da2-wrong"))
    assert single.data is None and single.errors[0].error_type == "UnauthorizedException"
    raw = await resolve(client.graphql("query { __typename }", api_key="da2-wrong"))
    assert raw.errors[0].error_type == "UnauthorizedException"

    none = await resolve(todos.list(auth_mode="none"))
    assert none.data == [] and none.errors[0].error_type == "UnauthorizedException"
    ok = await resolve(todos.list(auth_mode="apiKey", api_key=sandbox.api_key, limit=1))
    assert ok.errors == []

    # custom headers override the computed auth header ...
    overridden = await resolve(todos.list(headers={"x-api-key": "da2-wrong"}))
    assert overridden.errors[0].error_type == "UnauthorizedException"

    # ... and a headers function can supply it
    def headers(request: Any) -> dict[str, str]:
        assert request["queryString"].startswith("query ($filter: ModelTodoFilterInput")
        return {"x-api-key": sandbox.api_key}

    fixed = await resolve(todos.list(api_key="da2-wrong", headers=headers, limit=1))
    assert fixed.errors == []


async def test_async_headers_function(sandbox: Sandbox) -> None:
    async def headers(request: Any) -> dict[str, str]:
        return {"x-api-key": sandbox.api_key}

    async with cove.generate_async_client(config=sandbox.outputs_path, api_key="da2-wrong",
                                          headers=headers) as c:
        r = await c.models.Todo.list(limit=1)
        assert r.errors == []


async def test_client_level_options(sandbox: Sandbox, kind: str) -> None:
    c = make(kind, config=sandbox.outputs_path, api_key="da2-wrong")
    try:
        r = await resolve(c.models.Todo.list())
        assert r.errors[0].error_type == "UnauthorizedException"
        r = await resolve(c.models.Todo.list(api_key=sandbox.api_key, limit=1))
        assert r.errors == []
    finally:
        await close(c)


async def test_endpoint_option(sandbox: Sandbox, kind: str) -> None:
    # The outputs file points at a dead port; only the endpoint reaches the server.
    outputs = sandbox.outputs
    outputs["data"]["url"] = f"http://127.0.0.1:{free_port()}/graphql"
    c = make(kind, config=outputs, endpoint=sandbox.url, auth_mode="api_key", api_key=sandbox.api_key)
    try:
        content = tag()
        created = await resolve(c.models.Todo.create({"content": content}))  # models work there
        assert created.errors == [] and created.data.content == content
        raw = await resolve(c.graphql("query ($id: ID!) { getTodo(id: $id) { content } }", {"id": created.data.id}))
        assert raw.data == {"getTodo": {"content": content}}
    finally:
        await close(c)

    plain = make(kind, config=outputs, max_attempts=1)
    try:
        r = await resolve(plain.models.Todo.list(endpoint=sandbox.url, auth_mode="apiKey",
                                                 api_key=sandbox.api_key, limit=1))
        assert r.errors == []
    finally:
        await close(plain)


async def test_lazy_loaders(client: AnyClient) -> None:
    lists, todos = client.models.TodoList, client.models.Todo
    todo_list = (await resolve(lists.create({"name": tag()}))).data
    assert todo_list.relationships == ("todos",)
    # a related record given for a belongsTo field becomes its foreign key
    first = (await resolve(todos.create({"content": tag(), "list": todo_list}))).data
    assert first.listId == todo_list.id
    second = (await resolve(todos.create({"content": tag(), "listId": todo_list.id}))).data
    orphan = (await resolve(todos.create({"content": tag()}))).data

    parent = await resolve(first.list())
    assert isinstance(parent, Result) and parent.errors == []
    assert parent.data == todo_list and parent.data.typename == "TodoList"
    assert (await resolve(orphan.list())).data is None

    children = await resolve(todo_list.todos())
    assert children.errors == []
    assert sorted(t.id for t in children.data) == sorted([first.id, second.id])

    # the related records have loaders too
    back = await resolve(children.data[0].list())
    assert back.data.id == todo_list.id

    page = await resolve(todo_list.todos(limit=1))
    collected = list(page.data)
    while page.next_token:
        page = await resolve(todo_list.todos(limit=1, next_token=page.next_token))
        collected += page.data
    assert sorted(t.id for t in collected) == sorted([first.id, second.id])

    # loaders inherit the parent call's auth options unless overridden
    fetched = (await resolve(todos.get({"id": first.id}))).data
    denied = await resolve(fetched.list(api_key="da2-wrong"))
    assert denied.data is None and denied.errors[0].error_type == "UnauthorizedException"


async def test_paging_iterator_raises_on_page_errors(client: AnyClient) -> None:
    with pytest.raises(GraphQLResponseError) as info:
        await collect(client.models.Todo.list_all(api_key="da2-wrong"))
    assert info.value.errors[0].error_type == "UnauthorizedException"
