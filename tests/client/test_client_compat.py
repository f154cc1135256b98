"""Differential test: the Python client puts on the wire exactly what the stock aws-amplify client does.

The same operations run through aws-amplify 6.22.1 (tests/compat/amplify_driver.mjs, under Node)
and through `cove.generate_client()` / `cove.generate_async_client()`, all against one real
`cove sandbox`; the HTTP request bodies (printed documents and variables) must be identical, and so
must the headers, apart from the user agent's product name.
See tests/compat/README.md for the Node set-up (`npm ci` in tests/compat).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import Sandbox

import cove
from cove.client import AsyncClient, Client
from paths import TESTS

pytestmark = pytest.mark.compat

COMPAT_DIR = TESTS / "compat"
DRIVER = COMPAT_DIR / "amplify_driver.mjs"
# Headers httpx adds by itself (Node's fetch adds its own equivalents, which the driver does not report).
TRANSPORT_HEADERS = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}


def amplify_steps(ids: dict[str, str]) -> list[dict[str, Any]]:
    t, t2, lst = ids["todo"], ids["todo2"], ids["list"]
    return [
        {"op": "create", "model": "TodoList", "input": {"id": lst, "name": "groceries"}},
        {"op": "create", "model": "Todo", "input": {"id": t, "content": "c1", "priority": "high", "tags": ["a"],
                                                     "listId": lst}},
        {"op": "create", "model": "Todo", "input": {"id": t2, "content": "c2",
                                                     "list": {"id": lst, "name": "groceries"}}},
        {"op": "get", "model": "Todo", "id": t},
        {"op": "get", "model": "Todo", "id": t, "options": {"selectionSet": ["id", "content", "list.*"]}},
        {"op": "update", "model": "Todo", "input": {"id": t, "content": "u", "done": True}},
        {"op": "list", "model": "Todo", "filter": {"content": {"beginsWith": "c"}}, "limit": 2},
        {"op": "list", "model": "Todo", "limit": 0, "filter": {}},
        {"op": "lazy", "model": "Todo", "id": t, "field": "list"},
        {"op": "lazy", "model": "TodoList", "id": lst, "field": "todos"},
        {"op": "get", "model": "TodoList", "id": lst, "options": {"selectionSet": ["id", "todos.*"]}},
        {"op": "graphql", "query": "query Q { __typename }"},
        {"op": "delete", "model": "Todo", "id": t2},
    ]


def run_sync(c: Client, ids: dict[str, str]) -> None:
    t, t2, lst = ids["todo"], ids["todo2"], ids["list"]
    todos, lists = c.models.Todo, c.models.TodoList
    lists.create({"id": lst, "name": "groceries"})
    todos.create({"id": t, "content": "c1", "priority": "high", "tags": ["a"], "listId": lst})
    todos.create({"id": t2, "content": "c2", "list": {"id": lst, "name": "groceries"}})
    todos.get({"id": t})
    todos.get({"id": t}, selection_set=["id", "content", "list.*"])
    todos.update({"id": t, "content": "u", "done": True})
    todos.list(filter={"content": {"beginsWith": "c"}}, limit=2)
    todos.list(limit=0, filter={})
    todo = todos.get({"id": t}).data
    assert todo is not None
    todo.list()
    todo_list = lists.get({"id": lst}).data
    assert todo_list is not None
    todo_list.todos()
    lists.get({"id": lst}, selection_set=["id", "todos.*"])
    c.graphql("query Q { __typename }")
    todos.delete({"id": t2})


async def run_async(c: AsyncClient, ids: dict[str, str]) -> None:
    t, t2, lst = ids["todo"], ids["todo2"], ids["list"]
    todos, lists = c.models.Todo, c.models.TodoList
    await lists.create({"id": lst, "name": "groceries"})
    await todos.create({"id": t, "content": "c1", "priority": "high", "tags": ["a"], "listId": lst})
    await todos.create({"id": t2, "content": "c2", "list": {"id": lst, "name": "groceries"}})
    await todos.get({"id": t})
    await todos.get({"id": t}, selection_set=["id", "content", "list.*"])
    await todos.update({"id": t, "content": "u", "done": True})
    await todos.list(filter={"content": {"beginsWith": "c"}}, limit=2)
    await todos.list(limit=0, filter={})
    todo = (await todos.get({"id": t})).data
    assert todo is not None
    await todo.list()
    todo_list = (await lists.get({"id": lst})).data
    assert todo_list is not None
    await todo_list.todos()
    await lists.get({"id": lst}, selection_set=["id", "todos.*"])
    await c.graphql("query Q { __typename }")
    await todos.delete({"id": t2})


def amplify_wire(outputs_path: Path, steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    node = shutil.which("node")
    assert node, "Node 20+ is needed for the compat tests (see tests/compat/README.md)"
    assert (COMPAT_DIR / "node_modules" / "aws-amplify").is_dir(), "run `npm ci` in tests/compat"
    proc = subprocess.run([node, str(DRIVER), str(outputs_path)], input="".join(json.dumps(s) + "\n" for s in steps),
                          capture_output=True, text=True, timeout=120, cwd=COMPAT_DIR, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    wire = []
    for line in proc.stdout.splitlines():
        for exchange in json.loads(line).get("wire", []):
            request = exchange["request"]
            wire.append((request["body"], {k.lower(): v for k, v in request["headers"].items()}))
    return wire


class Recording(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.wire: list[tuple[dict[str, Any], dict[str, str]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k not in TRANSPORT_HEADERS}
        self.wire.append((orjson.loads(request.content), headers))
        return super().handle_request(request)


class AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.wire: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k not in TRANSPORT_HEADERS}
        self.wire.append((orjson.loads(request.content), headers))
        return await super().handle_async_request(request)


def assert_same_wire(ours: list[tuple[dict[str, Any], dict[str, str]]],
                     theirs: list[tuple[dict[str, Any], dict[str, str]]]) -> None:
    assert [body for body, _ in ours] == [body for body, _ in theirs]
    for (_, mine), (_, amplify) in zip(ours, theirs, strict=True):
        assert mine.pop("x-amz-user-agent").endswith(" api/1")
        assert amplify.pop("x-amz-user-agent").startswith("aws-amplify/")
        assert mine == amplify


def test_sync_client_sends_what_aws_amplify_sends(sandbox: Sandbox) -> None:
    ids = {k: f"{k}-{uuid.uuid4()}" for k in ("todo", "todo2", "list")}
    theirs = amplify_wire(sandbox.outputs_path, amplify_steps(ids))
    assert len(theirs) == 15
    transport = Recording()
    with cove.generate_client(config=sandbox.outputs_path, transport=transport) as c:
        run_sync(c, ids)
    assert_same_wire(transport.wire, theirs)


@pytest.mark.anyio
async def test_async_client_sends_what_aws_amplify_sends(sandbox: Sandbox) -> None:
    ids = {k: f"{k}-{uuid.uuid4()}" for k in ("todo", "todo2", "list")}
    theirs = amplify_wire(sandbox.outputs_path, amplify_steps(ids))
    transport = AsyncRecording()
    async with cove.generate_async_client(config=sandbox.outputs_path, transport=transport) as c:
        await run_async(c, ids)
    assert_same_wire(transport.wire, theirs)
