"""Relations are loaded before rendering, one statement per relationship per level (no N+1), and the
batched pages are the pages the per-parent list returns (same items, same order, same next tokens).

The server runs in this process on a real socket, so the test can count the SQL statements its
SQLite backend's connection runs (sqlite3's trace callback).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import free_port

from cove import a, define_data
from cove.schema.model import Schema
from cove.server.app import CoveApp
from cove.server.limits import Limits
from cove.store import open_backend
from cove.store.base import ListRequest
from cove.store.sqlite.backend import SQLiteBackend

schema = a.schema({
    "Blog": a.model({"name": a.string().required(), "posts": a.has_many("Post", "blogId")}),
    "Post": a.model({
        "title": a.string().required(),
        "blogId": a.id(),
        "blog": a.belongs_to("Blog", "blogId"),
        "comments": a.has_many("Comment", "postId"),
        "pin": a.has_one("Pin", "postId"),
    }),
    "Comment": a.model({
        "text": a.string().required(),
        "votes": a.integer(),
        "postId": a.id(),
        "post": a.belongs_to("Post", "postId"),
        "authorId": a.id(),
        "author": a.belongs_to("Author", "authorId"),
    }),
    "Author": a.model({"name": a.string().required()}),
    "Pin": a.model({"note": a.string(), "postId": a.id(), "post": a.belongs_to("Post", "postId")}),
}).authorization(lambda allow: [allow.public_api_key()])

NESTED = """query ($limit: Int) { listPosts(limit: $limit) { items { id title blog { name }
  comments { items { text author { name } } } } nextToken } }"""


class Server:
    def __init__(self, schema: Schema, backend: SQLiteBackend, key: str, url: str) -> None:
        self.schema = schema
        self.backend = backend
        self.key = key
        self.url = url
        self.statements: list[str] = []
        backend.conn.set_trace_callback(self._traced)

    def _traced(self, sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM _cove_" not in sql:  # not the API key lookups
            self.statements.append(sql)

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.statements.clear()
        r = httpx.post(self.url, json={"query": query, "variables": variables or {}},
                       headers={"x-api-key": self.key}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    compiled: Schema = define_data(schema=schema, authorization_modes={
        "default_authorization_mode": "api_key"}).schema
    backend = open_backend(tmp_path_factory.mktemp("count"))
    assert isinstance(backend, SQLiteBackend)
    asyncio.run(backend.migrator.apply_schema(compiled))
    key = asyncio.run(backend.keys.create_api_key(expires_at=time.time() + 3600)).key
    asyncio.run(_seed(backend, compiled))
    # Every request stays on the loop's own connection (no heavy-read thread), so all are traced.
    app = CoveApp(compiled, backend, Limits(inline_cost=Limits.max_cost))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Server(compiled, backend, key, f"http://127.0.0.1:{port}/graphql")
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        asyncio.run(backend.close())


async def _seed(backend: SQLiteBackend, s: Schema) -> None:
    models = s.models
    create = backend.records.create
    now = "2026-01-01T00:00:00.000Z"
    stamp = {"createdAt": now, "updatedAt": now}
    for b in range(3):
        await create(models["Blog"], {"id": f"b{b}", "name": f"blog {b}", **stamp}, None)
    for u in range(4):
        await create(models["Author"], {"id": f"u{u}", "name": f"author {u}", **stamp}, None)
    for p in range(25):
        blog = f"b{p % 3}" if p % 7 else None   # some posts have no blog
        await create(models["Post"], {"id": f"p{p:02}", "title": f"post {p}", "blogId": blog, **stamp}, None)
        if p % 4 == 0:
            await create(models["Pin"], {"id": f"pin{p:02}", "note": f"pin {p}", "postId": f"p{p:02}", **stamp}, None)
        for c in range(p % 6):   # 0 to 5 comments
            await create(models["Comment"], {"id": f"c{p:02}-{c}", "text": f"comment {c} on {p}", "votes": c,
                                             "postId": f"p{p:02}", "authorId": f"u{(p + c) % 5}", **stamp}, None)


def test_a_page_of_20_with_two_relationships_two_levels_deep_is_four_statements(server: Server) -> None:
    body = server.gql(NESTED, {"limit": 20})
    assert "errors" not in body, body
    items = body["data"]["listPosts"]["items"]
    assert len(items) == 20
    # listPosts, then one statement per relationship per level: blog, comments, comments' author.
    assert len(server.statements) == 4, server.statements
    post = next(p for p in items if p["id"] == "p05")
    assert post["blog"] == {"name": "blog 2"}
    assert post["comments"]["items"] == [
        {"text": f"comment {c} on 5", "author": None if (5 + c) % 5 == 4 else {"name": f"author {(5 + c) % 5}"}}
        for c in range(5)]
    assert next(p for p in items if p["id"] == "p07")["blog"] is None   # no blogId: no statement, no blog
    assert next(p for p in items if p["id"] == "p00")["comments"] == {"items": []}


def test_a_has_one_is_one_statement_for_the_page(server: Server) -> None:
    body = server.gql("query { listPosts(limit: 20) { items { id pin { note } } } }")
    assert len(server.statements) == 2, server.statements
    pins = {p["id"]: p["pin"] for p in body["data"]["listPosts"]["items"]}
    assert pins["p04"] == {"note": "pin 4"} and pins["p05"] is None


def _expected(server: Server, post: str, limit: int, flt: dict[str, Any] | None, descending: bool,
              token: str | None = None) -> dict[str, Any]:
    """The page the per-parent list returns (what the engine read for each post before batching)."""
    request = ListRequest(server.schema.models["Comment"], filter=flt, limit=limit, next_token=token,
                          descending=descending, extra_equals={"postId": post})
    page = asyncio.run(server.backend.records.list(request))
    return {"items": [{"id": c["id"], "votes": c["votes"]} for c in page.items], "nextToken": page.next_token}


@pytest.mark.parametrize(("limit", "flt", "direction"), [
    (2, None, None),
    (2, None, "DESC"),
    (3, {"votes": {"ge": 1}}, "ASC"),
    (1, {"text": {"contains": "on 1"}}, "DESC"),
    (100, {"votes": {"ne": 2}}, None),
])
def test_batched_pages_are_the_per_parent_pages(server: Server, limit: int, flt: dict[str, Any] | None,
                                               direction: str | None) -> None:
    query = """query ($limit: Int, $filter: ModelCommentFilterInput, $dir: ModelSortDirection) {
      listPosts(limit: 20) { items { id comments(limit: $limit, filter: $filter, sortDirection: $dir) {
        items { id votes } nextToken } } } }"""
    body = server.gql(query, {"limit": limit, "filter": flt, "dir": direction})
    assert "errors" not in body, body
    assert len(server.statements) == 2, server.statements
    for post in body["data"]["listPosts"]["items"]:
        assert post["comments"] == _expected(server, post["id"], limit, flt, direction == "DESC"), post["id"]


def test_a_nested_next_token_continues_that_parents_page(server: Server) -> None:
    query = """query ($id: ID!, $token: String, $dir: ModelSortDirection) { getPost(id: $id) {
      comments(limit: 2, nextToken: $token, sortDirection: $dir) { items { id votes } nextToken } } }"""
    for direction in ("ASC", "DESC"):
        first = server.gql(query, {"id": "p05", "dir": direction})["data"]["getPost"]["comments"]
        assert first == _expected(server, "p05", 2, None, direction == "DESC")
        second = server.gql(query, {"id": "p05", "token": first["nextToken"], "dir": direction})
        assert second["data"]["getPost"]["comments"] == _expected(server, "p05", 2, None, direction == "DESC",
                                                                  first["nextToken"])
        assert second["data"]["getPost"]["comments"]["items"][0] not in first["items"]


def test_a_nested_next_token_from_another_query_is_refused_where_it_was(server: Server) -> None:
    query = """query ($token: String) { listPosts(limit: 2) { items { id
      comments(limit: 2, nextToken: $token) { items { id } } } } }"""
    body = server.gql(query, {"token": "bm90LWEtdG9rZW4.AAAA"})
    assert body["data"]["listPosts"]["items"] == [{"id": "p00", "comments": None}, {"id": "p01", "comments": None}]
    assert [(e["path"], e["errorType"]) for e in body["errors"]] == [(["comments"], "InvalidArgumentsError")] * 2
