"""A response whose data does not match the schema raises ResponseShapeError naming the type and the
field (item 3 of the typed-client issue), for untyped and typed clients alike; custom operations of a
foreign (Amplify Gen 2) schema put Amplify's documents on the wire and come back as typed records.

Responses come from a scripted HTTP server on a real socket: a real server that breaks its own
schema cannot be had otherwise. `httpx.MockTransport` only captures the documents sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse, print_ast

import cove
from cove.client import GraphQLError, ResponseShapeError
from cove.codegen import write_python_client
from paths import ROOT

BLOG = json.loads((ROOT / "tests" / "fixtures" / "amplify_outputs_gen2_blog.json").read_text())


class Server:
    """Answers every POST with the next queued JSON body (HTTP 200)."""

    def __init__(self) -> None:
        self.replies: list[Any] = []
        self.bodies: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                content = json.dumps(server.replies.pop(0)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/graphql"

    def outputs(self) -> dict[str, Any]:
        return {**BLOG, "data": {**BLOG["data"], "url": self.url, "default_authorization_type": "API_KEY"}}


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.http.shutdown()
    s.http.server_close()


POST = {"id": "p1", "title": "Hello", "content": None, "status": "DRAFT", "tags": ["a", None], "rating": 4,
        "views": 10, "published": True, "publishedAt": "2024-01-01T00:00:00.000Z",
        "location": {"lat": 1.5, "long": 2, "label": None}, "metadata": '{"k":1}', "blogId": "b1",
        "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z", "owner": "ann"}


def post(**changes: Any) -> dict[str, Any]:
    return {**POST, **changes}


def test_a_well_formed_record_passes(server: Server) -> None:
    server.replies.append({"data": {"getPost": post()}})
    client = cove.generate_client(config=server.outputs())
    p = client.models.Post.get({"id": "p1"}).data
    assert p.rating == 4 and p.location.long == 2 and p.tags == ["a", None]


@pytest.mark.parametrize(("changes", "message"), [
    ({"published": "yes"}, "Post.published should be a Boolean, got 'yes' (str) (at getPost.published)"),
    ({"views": 1.5}, "Post.views should be an Int, got 1.5 (float)"),
    ({"views": True}, "Post.views should be an Int, got True (bool)"),
    ({"rating": "4"}, "Post.rating should be a Float, got '4' (str)"),
    ({"title": 7}, "Post.title should be a String, got 7 (int)"),
    ({"status": "DELETED"}, "Post.status should be one of the PostStatus values (DRAFT, PUBLISHED, ARCHIVED), got 'DELETED'"),
    ({"tags": "a,b"}, "Post.tags should be a list of String, got 'a,b' (str)"),
    ({"tags": ["a", 3]}, "Post.tags should be a String (a list element), got 3 (int) (at getPost.tags[1])"),
    ({"location": [1, 2]}, "Post.location should be a Location object, got [1, 2] (list)"),
    ({"location": {"lat": "north", "long": 2}}, "Location.lat should be a Float, got 'north' (str) (at getPost.location.lat)"),
    ({"title": None}, "Post.title should be a String, got None (NoneType)"),
    ({"createdAt": None}, "Post.createdAt should be an AWSDateTime, got None"),
    ({"location": {"lat": None, "long": 2}}, "Location.lat should be a Float, got None (NoneType) (at getPost.location.lat)"),
])
def test_a_field_of_the_wrong_shape_names_the_type_and_field(server: Server, changes: dict[str, Any],
                                                             message: str) -> None:
    server.replies.append({"data": {"getPost": post(**changes)}})
    client = cove.generate_client(config=server.outputs())
    with pytest.raises(ResponseShapeError) as info:
        client.models.Post.get({"id": "p1"})
    assert message in str(info.value)
    field = message.split(" should")[0]
    assert f"{info.value.type_name}.{info.value.field}" == field


def test_nulls_explained_by_graphql_errors_are_let_through(server: Server) -> None:
    error = {"message": "Not Authorized to access title on type Post", "errorType": "Unauthorized", "path": ["getPost", "title"]}
    server.replies.append({"data": {"getPost": post(title=None)}, "errors": [error]})
    client = cove.generate_client(config=server.outputs())
    result = client.models.Post.get({"id": "p1"})
    assert result.data.title is None and result.errors == [GraphQLError(error)]


def test_lists_and_roots_of_the_wrong_shape(server: Server) -> None:
    client = cove.generate_client(config=server.outputs())
    server.replies.append({"data": {"listPosts": {"items": [post(), post(views="many")], "nextToken": None}}})
    with pytest.raises(ResponseShapeError, match=r"Post.views should be an Int.*\(at listPosts.items\[1\].views\)"):
        client.models.Post.list()
    server.replies.append({"data": {"listPosts": [post()]}})
    with pytest.raises(ResponseShapeError, match="Post should be a ModelPostConnection object, got .* \\(at listPosts\\)"):
        client.models.Post.list()
    server.replies.append({"data": {"listPosts": {"items": ["p1"], "nextToken": None}}})
    with pytest.raises(ResponseShapeError, match=r"Post should be a Post object, got 'p1' \(str\) \(at listPosts.items\[0\]\)"):
        client.models.Post.list()
    server.replies.append({"data": {"getPost": "p1"}})
    with pytest.raises(ResponseShapeError, match=r"Post should be a Post object, got 'p1' \(str\) \(at getPost\)"):
        client.models.Post.get({"id": "p1"})
    server.replies.append({"data": {"listPosts": {"items": [None, post()], "nextToken": None}},
                           "errors": [{"message": "Not Authorized", "path": ["listPosts", "items", 0]}]})
    result = client.models.Post.list()
    assert [p.id for p in result.data] == ["p1"] and result.errors


def test_custom_operation_results_are_checked(server: Server) -> None:
    client = cove.generate_client(config=server.outputs())
    server.replies.append({"data": {"getPostStats": {"postCount": "3", "averageRating": None, "topTags": []}}})
    with pytest.raises(ResponseShapeError, match=r"PostStats.postCount should be an Int, got '3'.*\(at getPostStats.postCount\)"):
        client.queries.getPostStats({"blogId": "b1"})
    server.replies.append({"data": {"echo": 5}})
    with pytest.raises(ResponseShapeError, match=r"echo should be a String, got 5 \(int\) \(at echo\)"):
        client.queries.echo({"content": "x"})
    server.replies.append({"data": {"searchPosts": [post(), None, post(id="p2")]}})
    assert [p.id for p in client.queries.searchPosts({"term": "x", "statuses": ["DRAFT"]}).data] == ["p1", "p2"]


def test_custom_operations_of_a_foreign_schema_send_amplifys_documents() -> None:
    sent: list[dict[str, Any]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"data": None})

    outputs = {**BLOG, "data": {**BLOG["data"], "default_authorization_type": "API_KEY"}}
    client = cove.generate_client(config=outputs, transport=httpx.MockTransport(capture))
    client.mutations.placeOrder({"customerId": "c1", "currency": "EUR", "lines": [{"sku": "a", "quantity": 1, "unitPrice": 2.0}]})
    client.queries.searchPosts({"term": "x", "statuses": ["DRAFT"]})
    client.queries.serverTime()
    client.queries.getPostStats({"blogId": "b1"})

    def printed(doc: str) -> str:
        return print_ast(parse(doc)) + "\n"

    assert sent[0] == {"query": printed(
        "mutation ($customerId: ID!, $lines: [OrderLineInput!]!, $shipTo: AddressInput, $currency: Currency!) {"
        " placeOrder(customerId: $customerId, lines: $lines, shipTo: $shipTo, currency: $currency) {"
        " customerId placedAt total items { sku quantity unitPrice } currency"
        " shippingAddress { street city country location { lat long label } } createdAt updatedAt } }"),
        "variables": {"customerId": "c1", "currency": "EUR", "lines": [{"sku": "a", "quantity": 1, "unitPrice": 2.0}]}}
    assert sent[1]["query"].startswith("query ($term: String!, $statuses: [PostStatus!], $limit: Int) {\n  searchPosts(")
    assert sent[2] == {"query": "{\n  serverTime\n}\n", "variables": {}}
    assert sent[3]["query"] == printed(
        "query ($blogId: ID!) { getPostStats(blogId: $blogId) { postCount averageRating topTags } }")


def test_typed_records_of_a_foreign_schema(server: Server, tmp_path: Path) -> None:
    import importlib.util

    write_python_client(tmp_path / "blog_client.py", BLOG["data"]["model_introspection"])
    spec = importlib.util.spec_from_file_location("blog_client_shapes", tmp_path / "blog_client.py")
    assert spec is not None and spec.loader is not None
    blog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(blog)
    client = blog.generate_client(config=server.outputs())
    server.replies.append({"data": {"likePost": post()}})
    liked = client.mutations.likePost({"postId": "p1"}).data
    assert type(liked) is blog.Post and type(liked.location) is blog.Location
    assert callable(liked.blog) and callable(liked.comments)
    server.replies.append({"data": {"getBlog": {"id": "b1", "name": "B", "description": None, "owner": "ann",
                                                "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}}})
    b = liked.blog().data
    assert type(b) is blog.Blog and b.name == "B"
    assert server.bodies[-1]["variables"] == {"id": "b1"}
