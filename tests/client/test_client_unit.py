"""Unit tests of the Python client: documents, variables, options, headers, errors, records.

`httpx.MockTransport` appears only to capture request shapes and to prove that nothing was sent;
response handling and retries run against a scripted HTTP server on a real socket, and the real
Cove server is exercised in test_client_e2e.py.
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import parse, print_ast

import cove
from cove.client import (
    USE_CLIENT_DEFAULT,
    AsyncClient,
    Client,
    ConfigurationError,
    GraphQLError,
    GraphQLResponseError,
    NoApiKeyError,
    NoAuthorizationHeaderError,
    NoCredentialsError,
    NoValidAuthTokensError,
    Record,
    ResponseError,
    Result,
    TransportError,
    paginate,
)
from cove.client._config import reset_config
from cove.client._options import RequestOptions

# ------------------------------------------------------------------------------------------------
# Schemas (MIS as Amplify Gen 2 writes it)


def field(name: str, type: Any, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "isArray": False, "type": type, "isRequired": required, "attributes": [], **extra}


def timestamps() -> dict[str, Any]:
    return {"createdAt": field("createdAt", "AWSDateTime", isReadOnly=True),
            "updatedAt": field("updatedAt", "AWSDateTime", isReadOnly=True)}


def model(name: str, fields: dict[str, Any], *, plural: str | None = None, attributes: list[Any] | None = None,
          pk: str = "id", sk: tuple[str, ...] = (), custom: bool = False) -> dict[str, Any]:
    return {"name": name, "pluralName": plural or name + "s", "syncable": True, "fields": fields,
            "attributes": attributes if attributes is not None else [{"type": "model", "properties": {}}],
            "primaryKeyInfo": {"isCustomPrimaryKey": custom, "primaryKeyFieldName": pk,
                               "sortKeyFieldNames": list(sk)}}


PUBLIC = {"type": "auth", "properties": {"rules": [{"allow": "public", "provider": "apiKey",
                                                     "operations": ["create", "update", "delete", "read"]}]}}
OWNER = {"type": "auth", "properties": {"rules": [
    {"provider": "userPools", "ownerField": "owner", "allow": "owner", "identityClaim": "cognito:username",
     "operations": ["create", "update", "delete", "read"]},
    {"allow": "private", "provider": "userPools", "operations": ["read"]}]}}

# The exact configuration real-clients.md §1 fed aws-amplify 6.22.1.
TODO_OUTPUTS: dict[str, Any] = {
    "version": "1.3",
    "data": {
        "url": "http://127.0.0.1:8788/graphql", "aws_region": "us-east-1", "api_key": "da2-test",
        "default_authorization_type": "API_KEY", "authorization_types": ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM"],
        "model_introspection": {"version": 1, "enums": {}, "nonModels": {}, "models": {
            "Todo": model("Todo", {"id": field("id", "ID", True), "content": field("content", "String"),
                                   "done": field("done", "Boolean"), **timestamps()},
                          attributes=[{"type": "model", "properties": {}}, PUBLIC]),
            "Note": model("Note", {"id": field("id", "ID", True), "body": field("body", "String"),
                                   "owner": field("owner", "String"), **timestamps()},
                          attributes=[{"type": "model", "properties": {}}, OWNER]),
        }},
    },
}

RICH_MIS: dict[str, Any] = {
    "version": 1,
    "enums": {"PostStatus": {"name": "PostStatus", "values": ["draft", "live"]}},
    "nonModels": {
        "Location": {"name": "Location", "fields": {
            "lat": field("lat", "Float"), "lng": field("lng", "Float"),
            "tags": field("tags", "String", isArray=True),
            "address": field("address", {"nonModel": "Address"})}},
        "Address": {"name": "Address", "fields": {"street": field("street", "String"),
                                                  "city": field("city", "String")}},
    },
    "models": {
        "Blog": model("Blog", {
            "id": field("id", "ID", True), "name": field("name", "String", True),
            "posts": field("posts", {"model": "Post"}, isArray=True, isArrayNullable=True,
                           association={"connectionType": "HAS_MANY", "associatedWith": ["blogId"]}),
            **timestamps()}, attributes=[{"type": "model", "properties": {}}, PUBLIC]),
        "Post": model("Post", {
            "id": field("id", "ID", True), "blogId": field("blogId", "ID"),
            "title": field("title", "String", True), "status": field("status", {"enum": "PostStatus"}),
            "location": field("location", {"nonModel": "Location"}),
            "blog": field("blog", {"model": "Blog"},
                          association={"connectionType": "BELONGS_TO", "targetNames": ["blogId"]}),
            **timestamps()}, attributes=[
                {"type": "model", "properties": {}},
                {"type": "key", "properties": {"name": "postsByBlogIdAndTitle", "queryField": "listPostByBlogIdAndTitle",
                                               "fields": ["blogId", "title"]}},
                {"type": "key", "properties": {"name": "postsByStatus", "queryField": "listPostByStatus",
                                               "fields": ["status"]}},
                {"type": "key", "properties": {"name": "gsi-Blog.posts", "fields": ["blogId"]}},
                OWNER]),
        "Order": model("Order", {
            "customerId": field("customerId", "String", True), "placedAt": field("placedAt", "AWSDateTime", True),
            "total": field("total", "Float"), **timestamps()},
            attributes=[{"type": "model", "properties": {}},
                        {"type": "key", "properties": {"fields": ["customerId", "placedAt"]}}, OWNER],
            pk="customerId", sk=("placedAt",), custom=True),
        "Score": model("Score", {
            "game": field("game", "String", True), "season": field("season", "Int", True),
            "player": field("player", "String", True), "points": field("points", "Int"), **timestamps()},
            pk="game", sk=("season", "player"), custom=True),
        "Archive": model("Archive", {"id": field("id", "ID", True), "note": field("note", "String"), **timestamps()},
                         attributes=[{"type": "model", "properties": {"mutations": {"delete": None},
                                                                      "subscriptions": None}}, PUBLIC]),
        "Frozen": model("Frozen", {"id": field("id", "ID", True)},
                        attributes=[{"type": "model", "properties": {"queries": None}}, PUBLIC]),
        "User": model("User", {
            "id": field("id", "ID", True), "name": field("name", "String"),
            "profile": field("profile", {"model": "Profile"},
                             association={"connectionType": "HAS_ONE", "associatedWith": ["userId"],
                                          "targetNames": []}), **timestamps()}),
        "Profile": model("Profile", {
            "id": field("id", "ID", True), "userId": field("userId", "ID"), "bio": field("bio", "String"),
            "user": field("user", {"model": "User"},
                          association={"connectionType": "BELONGS_TO", "targetNames": ["userId"]}),
            **timestamps()}),
    },
}
RICH_OUTPUTS: dict[str, Any] = {
    "version": "1.4",
    "data": {"url": "http://127.0.0.1:8788/graphql", "aws_region": "us-east-1", "api_key": "da2-rich",
             "default_authorization_type": "API_KEY", "authorization_types": ["AWS_IAM"],
             "model_introspection": RICH_MIS},
}


def printed(collapsed: str) -> str:
    """How a document looks on the wire (graphql-js 15 print: pretty, trailing newline)."""
    return print_ast(parse(collapsed)) + "\n"


# ------------------------------------------------------------------------------------------------
# Capturing requests


class Capture:
    """Records requests; answers each with `reply(request)` (default: an empty GraphQL result)."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply or (lambda req: httpx.Response(200, json={"data": {"x": None}}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(self.last.content)
        return body


def sync_client(capture: Capture, outputs: dict[str, Any] = TODO_OUTPUTS, **options: Any) -> Client:
    return cove.generate_client(config=outputs, transport=httpx.MockTransport(capture), **options)


def async_client(capture: Capture, outputs: dict[str, Any] = TODO_OUTPUTS, **options: Any) -> AsyncClient:
    return cove.generate_async_client(config=outputs, transport=httpx.MockTransport(capture), **options)


@pytest.fixture(autouse=True)
def _no_global_config() -> Iterator[None]:
    reset_config()
    yield
    reset_config()


# ------------------------------------------------------------------------------------------------
# configure / generate_client


def test_configure_from_path_and_dict(tmp_path: Path) -> None:
    path = tmp_path / "amplify_outputs.json"
    path.write_text(json.dumps(TODO_OUTPUTS))
    config = cove.configure(path)
    assert config.url == "http://127.0.0.1:8788/graphql"
    assert config.region == "us-east-1" and config.api_key == "da2-test"
    assert config.default_auth_mode == "api_key"
    assert config.authorization_modes == ("api_key", "user_pool", "iam")
    assert "Todo" in (config.model_introspection or {})["models"]
    client = cove.generate_client()
    assert isinstance(client, Client) and client.config is config
    assert "Todo" in client.models
    cove.configure(str(path))
    cove.configure(TODO_OUTPUTS)
    assert isinstance(cove.generate_async_client(), AsyncClient)


@pytest.mark.parametrize("aws, mode", [("AMAZON_COGNITO_USER_POOLS", "user_pool"), ("API_KEY", "api_key"),
                                       ("AWS_IAM", "iam"), ("AWS_LAMBDA", "lambda"), ("OPENID_CONNECT", "oidc")])
def test_default_authorization_type_mapping(aws: str, mode: str) -> None:
    outputs = {"version": "1", "data": {**TODO_OUTPUTS["data"], "default_authorization_type": aws}}
    assert cove.configure(outputs).default_auth_mode == mode


def test_generate_client_before_configure() -> None:
    with pytest.raises(ConfigurationError, match=r"call cove\.configure\(\.\.\.\) first"):
        cove.generate_client()
    with pytest.raises(ConfigurationError, match=r"call cove\.configure\(\.\.\.\) first"):
        cove.generate_async_client()


@pytest.mark.parametrize("outputs, message", [
    ({"version": "1.3"}, "no 'data' section"),
    ({"version": "1.3", "data": {"aws_region": "us-east-1"}}, "data.url"),
    ({"version": "1.3", "data": {"url": ""}}, "data.url"),
    ({"data": {"url": "http://x/graphql", "default_authorization_type": "BOGUS"}}, "BOGUS"),
])
def test_configure_validation(outputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        cove.configure(outputs)


def test_configure_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        cove.configure(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        cove.configure(bad)


def test_config_option_avoids_the_global() -> None:
    client = cove.generate_client(config=RICH_OUTPUTS)
    assert client.config.api_key == "da2-rich"
    with pytest.raises(ConfigurationError):
        cove.generate_client()  # the global stays unset


def test_unknown_auth_mode() -> None:
    with pytest.raises(ConfigurationError, match="unknown auth_mode 'bogus'"):
        cove.generate_client(config=TODO_OUTPUTS, auth_mode="bogus")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Documents: exactly what aws-amplify 6.22.1 sent (real-clients.md §1)

TODO_SEL = "{\n    id\n    content\n    done\n    createdAt\n    updatedAt\n  }\n}\n"
AMPLIFY_LIST = ("query ($filter: ModelTodoFilterInput, $limit: Int, $nextToken: String) {\n"
                "  listTodos(filter: $filter, limit: $limit, nextToken: $nextToken) {\n"
                "    items {\n      id\n      content\n      done\n      createdAt\n      updatedAt\n    }\n"
                "    nextToken\n    __typename\n  }\n}\n")
AMPLIFY_CREATE = "mutation ($input: CreateTodoInput!) {\n  createTodo(input: $input) " + TODO_SEL
AMPLIFY_GET = "query ($id: ID!) {\n  getTodo(id: $id) " + TODO_SEL
AMPLIFY_UPDATE = "mutation ($input: UpdateTodoInput!) {\n  updateTodo(input: $input) " + TODO_SEL
AMPLIFY_DELETE = "mutation ($input: DeleteTodoInput!) {\n  deleteTodo(input: $input) " + TODO_SEL


def test_documents_and_variables_match_aws_amplify() -> None:
    cap = Capture()
    todo = sync_client(cap).models.Todo
    todo.list()
    assert cap.body == {"query": AMPLIFY_LIST, "variables": {}}
    todo.list(filter={"done": {"eq": False}}, next_token="abc", limit=5)
    assert cap.body == {"query": AMPLIFY_LIST,
                        "variables": {"filter": {"done": {"eq": False}}, "nextToken": "abc", "limit": 5}}
    assert list(cap.body["variables"]) == ["filter", "nextToken", "limit"]  # Amplify's key order
    todo.create({"content": "buy milk", "done": False})
    assert cap.body == {"query": AMPLIFY_CREATE, "variables": {"input": {"content": "buy milk", "done": False}}}
    todo.get({"id": "t1"})
    assert cap.body == {"query": AMPLIFY_GET, "variables": {"id": "t1"}}
    todo.get({"id": "t1"}, selection_set=["id", "content"])
    assert cap.body == {"query": "query ($id: ID!) {\n  getTodo(id: $id) {\n    id\n    content\n  }\n}\n",
                        "variables": {"id": "t1"}}
    todo.update({"id": "t1", "content": "changed"})
    assert cap.body == {"query": AMPLIFY_UPDATE, "variables": {"input": {"id": "t1", "content": "changed"}}}
    todo.delete({"id": "t1"})
    assert cap.body == {"query": AMPLIFY_DELETE, "variables": {"input": {"id": "t1"}}}


def test_owner_model_selection_and_body_keys() -> None:
    cap = Capture()
    sync_client(cap).models.Note.create({"body": "n"}, auth_mode="user_pool", auth_token="jwt")
    assert cap.body == {
        "query": printed("mutation ($input: CreateNoteInput!) { createNote(input: $input) "
                         "{ id body owner createdAt updatedAt } }"),
        "variables": {"input": {"body": "n"}}}
    # the body is exactly {"query", "variables"}: no operationName
    assert cap.last.content.startswith(b'{"query":"mutation ($input')


def test_raw_graphql_is_reprinted_like_amplify() -> None:
    cap = Capture(lambda r: httpx.Response(200, json={"data": {"__typename": "Query"}}))
    result = sync_client(cap).graphql("query Q { __typename }")
    assert cap.last.content == b'{"query":"query Q {\\n  __typename\\n}\\n","variables":{}}'
    assert result.data == {"__typename": "Query"} and result.errors == []
    sync_client(cap).graphql("query Q($a: Int) { x(a: $a) }", {"a": 1})
    assert cap.body["variables"] == {"a": 1}
    with pytest.raises(ValueError, match="invalid GraphQL document"):
        sync_client(cap).graphql("query {")
    # A subscription goes over the real-time WebSocket, never over HTTP (nothing listens here).
    client = sync_client(cap)
    client.realtime.options.ack_timeout = 0.3
    with pytest.raises(cove.client.SubscriptionError, match="not acknowledged"):
        client.graphql("subscription { onCreateTodo { id } }")
    assert len(cap.requests) == 2


def test_request_headers() -> None:
    cap = Capture()
    sync_client(cap).models.Todo.list()
    h = cap.last.headers
    assert cap.last.method == "POST" and str(cap.last.url) == "http://127.0.0.1:8788/graphql"
    assert h["content-type"] == "application/json; charset=UTF-8"
    assert h["x-amz-user-agent"] == f"cove-python/{cove.__version__} api/1"
    assert h["x-api-key"] == "da2-test"
    assert "authorization" not in h


def test_list_variable_rules() -> None:
    cap = Capture()
    todo = sync_client(cap).models.Todo
    todo.list(limit=0, next_token="", filter={})
    assert cap.body["variables"] == {"filter": {}}  # limit 0 and empty token dropped; {} is sent (JS truthy)
    todo.list(filter=None, limit=None)
    assert cap.body["variables"] == {}
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        todo.list(customerId="c")


def test_document_printing_is_cached() -> None:
    client = sync_client(Capture())
    docs = client._documents
    a = docs.document("Todo", "list", None, None)
    assert docs.document("Todo", "list", None, None) is a
    assert docs.document.cache_info().hits >= 1


# -- richer schemas ---------------------------------------------------------------------------------

POST_SEL = ("id blogId title status location { lat lng tags address { street city } } createdAt updatedAt owner")


def test_default_selection_expands_custom_types_adds_owner_skips_relations() -> None:
    cap = Capture()
    client = sync_client(cap, RICH_OUTPUTS)
    client.models.Post.get({"id": "p1"})
    assert cap.body["query"] == printed(f"query ($id: ID!) {{ getPost(id: $id) {{ {POST_SEL} }} }}")
    client.models.Blog.get({"id": "b1"})
    assert cap.body["query"] == printed("query ($id: ID!) { getBlog(id: $id) { id name createdAt updatedAt } }")


def test_custom_selection_sets() -> None:
    cap = Capture()
    client = sync_client(cap, RICH_OUTPUTS)
    client.models.Blog.get({"id": "b"}, selection_set=["id", "posts.*"])
    assert cap.body["query"] == printed(
        f"query ($id: ID!) {{ getBlog(id: $id) {{ id posts {{ items {{ {POST_SEL} }} }} }} }}")
    client.models.Post.list(selection_set=["title", "blog.name", "blog.id", "location.address.city", "owner"])
    assert cap.body["query"] == printed(
        "query ($filter: ModelPostFilterInput, $limit: Int, $nextToken: String) { listPosts(filter: $filter, "
        "limit: $limit, nextToken: $nextToken) { items { title blog { name id } location { address { city } } "
        "owner } nextToken __typename } }")
    client.models.Blog.get({"id": "b"}, selection_set=["posts.blog.posts.title"])
    assert cap.body["query"] == printed(
        "query ($id: ID!) { getBlog(id: $id) { posts { items { blog { posts { items { title } } } } } } }")


@pytest.mark.parametrize("selection, message", [
    (["nope"], "nope is not a field of model Post"),
    (["blog"], r"blog must declare a wildcard \(\*\) or a field of model Blog"),
    (["location"], r"location must declare a wildcard \(\*\) or a field of custom type Location"),
    (["location.zip"], "zip is not a field of custom type Location"),
    (["blog.nope"], "nope is not a field of model Blog"),
])
def test_selection_set_errors(selection: list[str], message: str) -> None:
    cap = Capture()
    with pytest.raises(ValueError, match=message):
        sync_client(cap, RICH_OUTPUTS).models.Post.get({"id": "p"}, selection_set=selection)
    assert cap.requests == []


def test_composite_key_documents_and_variables() -> None:
    cap = Capture()
    order = sync_client(cap, RICH_OUTPUTS).models.Order
    sel = "customerId placedAt total createdAt updatedAt owner"
    order.get({"customerId": "c1", "placedAt": "2025-01-01T00:00:00Z", "total": 3})
    assert cap.body == {
        "query": printed(f"query ($customerId: String!, $placedAt: AWSDateTime!) {{ getOrder(customerId: "
                         f"$customerId, placedAt: $placedAt) {{ {sel} }} }}"),
        "variables": {"customerId": "c1", "placedAt": "2025-01-01T00:00:00Z"}}
    order.list(customerId="c1", placedAt={"ge": "2025"}, sort_direction="DESC", limit=2)
    assert cap.body == {
        "query": printed(
            "query ($customerId: String, $sortDirection: ModelSortDirection, $placedAt: "
            "ModelStringKeyConditionInput, $filter: ModelOrderFilterInput, $limit: Int, $nextToken: String) "
            "{ listOrders(customerId: $customerId, sortDirection: $sortDirection, placedAt: $placedAt, "
            f"filter: $filter, limit: $limit, nextToken: $nextToken) {{ items {{ {sel} }} nextToken __typename }} }}"),
        "variables": {"sortDirection": "DESC", "customerId": "c1", "placedAt": {"ge": "2025"}, "limit": 2}}
    order.delete({"customerId": "c1", "placedAt": "p"})
    assert cap.body["variables"] == {"input": {"customerId": "c1", "placedAt": "p"}}
    with pytest.raises(ValueError, match="needs the identifier field"):
        order.get({"customerId": "c1"})

    score = sync_client(cap, RICH_OUTPUTS).models.Score
    score.list(game="g", seasonPlayer={"beginsWith": {"season": 2024}})
    q = cap.body["query"]
    assert "$seasonPlayer: ModelScorePrimaryCompositeKeyConditionInput" in q
    assert cap.body["variables"] == {"game": "g", "seasonPlayer": {"beginsWith": {"season": 2024}}}
    score.get({"game": "g", "season": 1, "player": "p"})
    assert cap.body["query"].startswith("query ($game: String!, $season: Int!, $player: String!) {\n"
                                        "  getScore(game: $game, season: $season, player: $player)")


def test_index_query_methods() -> None:
    cap = Capture()
    post = sync_client(cap, RICH_OUTPUTS).models.Post
    assert post.index_queries == ("listPostByBlogIdAndTitle", "listPostByStatus")  # gsi without queryField: none
    post.listPostByBlogIdAndTitle({"blogId": "b1", "title": {"beginsWith": "A"}}, sort_direction="ASC", limit=3)
    assert cap.body == {
        "query": printed(
            "query ($blogId: ID!, $title: ModelStringKeyConditionInput, $filter: ModelPostFilterInput, "
            "$sortDirection: ModelSortDirection, $limit: Int, $nextToken: String) { listPostByBlogIdAndTitle("
            "blogId: $blogId, title: $title, filter: $filter, sortDirection: $sortDirection, limit: $limit, "
            f"nextToken: $nextToken) {{ items {{ {POST_SEL} }} nextToken __typename }} }}"),
        "variables": {"blogId": "b1", "title": {"beginsWith": "A"}, "sortDirection": "ASC", "limit": 3}}
    post.listPostByStatus(status="live")
    assert cap.body["query"].startswith("query ($status: PostStatus!, $filter: ModelPostFilterInput,")
    assert cap.body["variables"] == {"status": "live"}
    with pytest.raises(ValueError, match="needs the partition key 'status'"):
        post.listPostByStatus()
    with pytest.raises(AttributeError, match="no operation or index query 'listPostByNothing'"):
        post.listPostByNothing  # noqa: B018


def test_disabled_operations_are_absent() -> None:
    client = sync_client(Capture(), RICH_OUTPUTS)
    archive = client.models.Archive
    with pytest.raises(AttributeError, match=r"Archive.delete\(\) is not available"):
        archive.delete  # noqa: B018
    assert not hasattr(archive, "delete") and hasattr(archive, "create") and hasattr(archive, "list")
    assert "delete" not in dir(archive)
    frozen = client.models.Frozen
    for name in ("get", "list", "list_all"):
        assert not hasattr(frozen, name)
    assert hasattr(frozen, "create")
    aarchive = async_client(Capture(), RICH_OUTPUTS).models.Archive
    assert not hasattr(aarchive, "delete")
    with pytest.raises(AttributeError, match="no model 'Nope'"):
        client.models.Nope  # noqa: B018


def test_enums() -> None:
    client = sync_client(Capture(), RICH_OUTPUTS)
    assert client.enums.PostStatus.values() == ["draft", "live"]
    assert list(client.enums) == ["PostStatus"]
    with pytest.raises(AttributeError, match="no enum 'Nope'"):
        client.enums.Nope  # noqa: B018


def test_mutation_input_normalisation() -> None:
    cap = Capture()
    client = sync_client(cap, RICH_OUTPUTS)
    blog = Record({"id": "b1", "name": "x"})
    client.models.Post.create({"title": "t", "blog": blog})
    assert cap.body["variables"] == {"input": {"title": "t", "blogId": "b1"}}
    client.models.Profile.create({"bio": "hi", "user": {"id": "u1", "name": "n"}})
    assert cap.body["variables"] == {"input": {"bio": "hi", "userId": "u1"}}
    # update drops read-only fields and implicit owner fields
    client.models.Post.update({"id": "p", "title": "t2", "createdAt": "x", "updatedAt": "y", "owner": "o"})
    assert cap.body["variables"] == {"input": {"id": "p", "title": "t2"}}
    # but an explicit owner field (Note) is kept
    client2 = sync_client(cap)
    client2.models.Note.update({"id": "n", "owner": "o", "createdAt": "x"}, auth_mode="lambda", auth_token="t")
    assert cap.body["variables"] == {"input": {"id": "n", "owner": "o"}}
    with pytest.raises(TypeError, match="takes a dict"):
        client.models.Post.create("title")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Options: precedence, headers, auth


def test_option_precedence_request_over_client_over_config() -> None:
    cap = Capture()
    client = sync_client(cap, api_key="da2-client")
    client.models.Todo.list()
    assert cap.last.headers["x-api-key"] == "da2-client"
    client.models.Todo.list(api_key="da2-request")
    assert cap.last.headers["x-api-key"] == "da2-request"
    client.models.Todo.list(api_key=None)  # None resets to the configured key
    assert cap.last.headers["x-api-key"] == "da2-test"
    client.models.Todo.list(api_key=USE_CLIENT_DEFAULT)
    assert cap.last.headers["x-api-key"] == "da2-client"

    lam = sync_client(cap, auth_mode="lambda", auth_token="client-token")
    lam.models.Todo.list()
    assert cap.last.headers["authorization"] == "client-token" and "x-api-key" not in cap.last.headers
    lam.models.Todo.list(auth_token="request-token")
    assert cap.last.headers["authorization"] == "request-token"
    lam.models.Todo.list(auth_mode="apiKey")  # camelCase accepted; request mode wins
    assert cap.last.headers["x-api-key"] == "da2-test"
    assert cap.last.headers["authorization"] == "client-token"  # auth_token is sent in every mode
    lam.models.Todo.list(auth_mode="none", auth_token=None)
    assert "authorization" not in cap.last.headers and "x-api-key" not in cap.last.headers


def test_auth_token_overrides_computed_authorization() -> None:
    cap = Capture()
    client = sync_client(cap)
    client.models.Todo.list(auth_mode="userPool", auth_token="id-token")
    assert cap.last.headers["authorization"] == "id-token"
    client.models.Todo.list(auth_mode="oidc", auth_token="oidc-token")
    assert cap.last.headers["authorization"] == "oidc-token"


def test_per_request_headers_replace_client_headers() -> None:
    cap = Capture()
    client = sync_client(cap, headers={"x-client-h": "v2", "x-api-key": "from-client-headers"})
    client.models.Todo.list()
    assert cap.last.headers["x-client-h"] == "v2"
    assert cap.last.headers["x-api-key"] == "from-client-headers"  # custom headers win over auth headers
    client.models.Todo.list(headers={"x-custom-h": "v1"})
    assert cap.last.headers["x-custom-h"] == "v1"
    assert "x-client-h" not in cap.last.headers  # replaced, not merged
    assert cap.last.headers["x-api-key"] == "da2-test"
    client.models.Todo.list(headers=None)
    assert "x-client-h" not in cap.last.headers
    client.models.Todo.list(headers={"X-Amz-User-Agent": "mine"})
    assert cap.last.headers.get_list("x-amz-user-agent") == ["mine"]


def test_sync_header_function() -> None:
    cap = Capture()
    seen: list[dict[str, Any]] = []

    def headers(request: Any) -> dict[str, str]:
        seen.append(dict(request))
        return {"x-trace": str(len(seen))}

    client = sync_client(cap, headers=headers)
    client.models.Todo.get({"id": "t1"})
    assert cap.last.headers["x-trace"] == "1"
    (info,) = seen
    assert info["method"] == "POST" and info["url"] == "http://127.0.0.1:8788/graphql"
    assert info["queryString"] == info["query_string"] == AMPLIFY_GET
    assert info["headers"]["content-type"] == "application/json; charset=UTF-8"


def test_async_header_function_on_sync_client_is_refused_before_sending() -> None:
    cap = Capture()

    async def headers(request: Any) -> dict[str, str]:
        return {"x": "y"}

    with pytest.raises(ConfigurationError, match="async"):
        sync_client(cap, headers=headers).models.Todo.list()
    assert cap.requests == []


@pytest.mark.anyio
async def test_async_client_header_functions_sync_and_async() -> None:
    cap = Capture()

    async def async_headers(request: Any) -> dict[str, str]:
        return {"x-async": request["queryString"][:5]}

    async with async_client(cap, headers=async_headers) as client:
        await client.models.Todo.list()
        assert cap.last.headers["x-async"] == "query"
        await client.models.Todo.list(headers=lambda request: {"x-sync": "1"})
        assert cap.last.headers["x-sync"] == "1" and "x-async" not in cap.last.headers
        assert cap.body["query"] == AMPLIFY_LIST


@pytest.mark.parametrize("options, error, message", [
    ({"auth_mode": "api_key", "api_key": None}, NoApiKeyError, "No api-key configured"),
    ({"auth_mode": "lambda"}, NoAuthorizationHeaderError, "No auth token specified"),
    ({"auth_mode": "user_pool"}, NoValidAuthTokensError, "No federated jwt"),
    ({"auth_mode": "oidc"}, NoValidAuthTokensError, "No federated jwt"),
    ({"auth_mode": "iam"}, NoCredentialsError, "No credentials"),
    ({"auth_mode": "identityPool"}, NoCredentialsError, "No credentials"),
])
def test_missing_credentials_raise_before_sending(options: dict[str, Any], error: type[Exception],
                                                  message: str) -> None:
    data = {k: v for k, v in TODO_OUTPUTS["data"].items() if k != "api_key"}
    outputs = {"version": "1", "data": data}
    cap = Capture()
    with pytest.raises(error, match=message):
        sync_client(cap, outputs).models.Todo.list(**options)
    with pytest.raises(error, match=message):
        sync_client(cap, outputs, **options).graphql("query { __typename }")
    assert cap.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode, error", [("api_key", NoApiKeyError), ("lambda", NoAuthorizationHeaderError),
                                         ("user_pool", NoValidAuthTokensError), ("iam", NoCredentialsError)])
async def test_missing_credentials_raise_before_sending_async(mode: str, error: type[Exception]) -> None:
    data = {k: v for k, v in TODO_OUTPUTS["data"].items() if k != "api_key"}
    outputs = {"version": "1", "data": data}
    cap = Capture()
    async with async_client(cap, outputs) as client:
        with pytest.raises(error):
            await client.models.Todo.create({"content": "x"}, auth_mode=mode)  # type: ignore[arg-type]
    assert cap.requests == []


def test_lambda_accepts_authorization_from_custom_headers() -> None:
    cap = Capture()
    sync_client(cap, auth_mode="lambda", headers={"Authorization": "custom"}).models.Todo.list()
    assert cap.last.headers.get_list("authorization") == ["custom"]


def test_endpoint_option() -> None:
    with pytest.raises(ConfigurationError, match="explicit auth_mode when endpoint"):
        cove.generate_client(config=TODO_OUTPUTS, endpoint="http://other/graphql")
    with pytest.raises(ConfigurationError, match="explicit api_key"):
        cove.generate_client(config=TODO_OUTPUTS, endpoint="http://other/graphql", auth_mode="api_key")
    cap = Capture()
    client = sync_client(cap, endpoint="http://other:1/graphql", auth_mode="apiKey", api_key="da2-other")
    client.models.Todo.list()  # models keep working on a custom endpoint
    assert str(cap.last.url) == "http://other:1/graphql" and cap.last.headers["x-api-key"] == "da2-other"
    assert cap.body["query"] == AMPLIFY_LIST
    # per request
    plain = sync_client(cap)
    with pytest.raises(ConfigurationError, match="explicit auth_mode"):
        plain.models.Todo.list(endpoint="http://other:1/graphql")
    with pytest.raises(ConfigurationError, match="explicit api_key"):
        plain.models.Todo.list(endpoint="http://other:1/graphql", auth_mode="api_key")
    plain.models.Todo.list(endpoint="http://other:2/graphql", auth_mode="none")
    assert str(cap.last.url) == "http://other:2/graphql" and "x-api-key" not in cap.last.headers
    client.models.Todo.list(endpoint=None)  # back to the configured URL (the client's key still applies)
    assert str(cap.last.url) == "http://127.0.0.1:8788/graphql" and cap.last.headers["x-api-key"] == "da2-other"


def test_custom_auth_provider() -> None:
    from cove.client import AuthProvider, AuthRequest

    class Signer(AuthProvider):
        def auth_headers(self, request: AuthRequest) -> dict[str, str]:
            assert request.body.startswith(b'{"query"')
            return {"authorization": f"signed {len(request.body)}", "x-amz-date": "20260101T000000Z"}

    cap = Capture()
    sync_client(cap, auth_mode="iam", auth_providers={"identity_pool": Signer()}).models.Todo.list()
    assert cap.last.headers["authorization"].startswith("signed ")
    assert cap.last.headers["x-amz-date"] == "20260101T000000Z"


# ------------------------------------------------------------------------------------------------
# Lazy loaders (request shape)


def test_lazy_loaders_build_amplify_requests() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        q = orjson.loads(request.content)["query"]
        if "getPost" in q:
            return httpx.Response(200, json={"data": {"getPost": {"id": "p1", "blogId": "b1", "title": "t"}}})
        if "getBlog" in q:
            return httpx.Response(200, json={"data": {"getBlog": {"id": "b1", "name": "blog"}}})
        if "listPosts" in q:
            return httpx.Response(200, json={"data": {"listPosts": {
                "items": [{"id": "p1", "blogId": "b1", "title": "t"}], "nextToken": "n", "__typename": "X"}}})
        if "listProfiles" in q:
            return httpx.Response(200, json={"data": {"listProfiles": {"items": [{"id": "pr", "bio": "b"}],
                                                                         "nextToken": None}}})
        raise AssertionError(q)

    cap = Capture(reply)
    client = sync_client(cap, RICH_OUTPUTS, auth_mode="lambda", auth_token="t0")
    post = client.models.Post.get({"id": "p1"}, auth_token="t1").data
    assert post is not None and post.relationships == ("blog",)
    blog = post.blog().data
    assert cap.body == {"query": printed("query ($id: ID!) { getBlog(id: $id) { id name createdAt updatedAt } }"),
                        "variables": {"id": "b1"}}
    assert cap.last.headers["authorization"] == "t1"  # inherits the parent call's auth_token
    assert blog.name == "blog"
    posts = blog.posts(limit=5, auth_token="t2")
    assert cap.body["variables"] == {"filter": {"and": [{"blogId": {"eq": "b1"}}]}, "limit": 5}
    assert cap.body["query"].startswith("query ($filter: ModelPostFilterInput, $limit: Int, $nextToken: String)")
    assert cap.last.headers["authorization"] == "t2"
    assert posts.data == [{"id": "p1", "blogId": "b1", "title": "t"}] and posts.next_token == "n"
    # with a custom selection set there are no loaders
    custom = client.models.Post.get({"id": "p1"}, selection_set=["id", "blogId"]).data
    assert custom is not None and custom.relationships == ()
    with pytest.raises(AttributeError):
        custom.blog  # noqa: B018
    # an empty foreign key answers without a request
    n = len(cap.requests)
    orphan = client.models.Post._ops.record({"id": "p2", "blogId": None}, True, RequestOptions())
    assert orphan.blog().data is None and len(cap.requests) == n
    # hasOne → the first item
    user = client.models.User._ops.record({"id": "u1", "name": "n"}, True, RequestOptions())
    profile = user.profile()
    assert profile.data == {"id": "pr", "bio": "b"}
    assert cap.body["variables"] == {"filter": {"and": [{"userId": {"eq": "u1"}}]}}


def test_each_record_of_a_page_loads_its_own_relations_without_the_pages_headers() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if "listPosts" in body["query"]:
            return httpx.Response(200, json={"data": {"listPosts": {"items": [
                {"id": "p1", "blogId": "b1", "title": "one"}, {"id": "p2", "blogId": "b2", "title": "two"}],
                "nextToken": None}}})
        blog_id = body["variables"]["id"]
        return httpx.Response(200, json={"data": {"getBlog": {"id": blog_id, "name": f"blog {blog_id}"}}})

    cap = Capture(reply)
    client = sync_client(cap, RICH_OUTPUTS, auth_mode="lambda", auth_token="t0")
    first, second = client.models.Post.list(headers={"x-page": "1"}, auth_token="t1").data
    assert cap.last.headers["x-page"] == "1"
    assert first.relationships == second.relationships == ("blog",)
    # read in the other order than the page's: each loader is bound to its own record
    assert second.blog().data.name == "blog b2" and cap.body["variables"] == {"id": "b2"}
    assert "x-page" not in cap.last.headers                # a loader does not inherit headers...
    assert cap.last.headers["authorization"] == "t1"      # ...but does inherit the auth options
    assert first.blog().data.name == "blog b1" and cap.body["variables"] == {"id": "b1"}
    assert second.blog is second.blog and "blog" in dir(second) and "blog" not in second   # a loader, not data


# ------------------------------------------------------------------------------------------------
# Responses: a scripted HTTP server on a real socket


class Scripted:
    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                scripted.requests.append((dict(self.headers), body))
                status, headers, content = (scripted.replies.pop(0) if scripted.replies
                                            else (200, {}, b'{"data":{"x":1}}'))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/graphql"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def outputs(self) -> dict[str, Any]:
        return {"version": "1", "data": {**TODO_OUTPUTS["data"], "url": self.url}}

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.append((status, {"content-type": "application/json", **(headers or {})}, content))


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    return delays


UNAUTHORIZED = {"errors": [{"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}]}


def test_http_401_with_errors_is_returned(scripted: Scripted) -> None:
    scripted.reply(401, UNAUTHORIZED, {"x-amzn-ErrorType": "UnauthorizedException"})
    scripted.reply(401, {"errors": [{"message": "Valid authorization header not provided."}]},
                   {"x-amzn-ErrorType": "UnauthorizedException:http://internal.amazon.com/coral/"})
    scripted.reply(401, UNAUTHORIZED)
    with cove.generate_client(config=scripted.outputs()) as client:
        single = client.models.Todo.get({"id": "x"})
        assert single.data is None and not single.ok
        (err,) = single.errors
        assert err.error_type == "UnauthorizedException" and err["errorType"] == "UnauthorizedException"
        assert err.message == "You are not authorized to make this call."
        many = client.models.Todo.list()
        assert many.data == [] and many.errors[0].error_type == "UnauthorizedException"  # from the header
        raw = client.graphql("query { __typename }")
        assert raw.data is None and raw.errors[0].error_type == "UnauthorizedException"
    assert len(scripted.requests) == 3  # 4xx is never retried


def test_graphql_errors_with_partial_data_are_returned(scripted: Scripted) -> None:
    error = {"path": ["getTodo"], "data": None, "errorType": "Unauthorized", "errorInfo": None,
             "locations": [{"line": 2, "column": 3, "sourceName": None}],
             "message": "Not Authorized to access getTodo on type Query"}
    scripted.reply(200, {"data": {"getTodo": None}, "errors": [error]})
    scripted.reply(200, {"data": {"getTodo": {"id": "1", "content": "c"}}, "errors": [error]})
    scripted.reply(200, {"data": {"listTodos": {"items": [{"id": "1"}, None], "nextToken": "t"}},
                         "errors": [error]})
    client = cove.generate_client(config=scripted.outputs())
    r = client.models.Todo.get({"id": "1"})
    assert r.data is None
    (e,) = r.errors
    assert isinstance(e, GraphQLError) and e == error
    assert (e.message, e.error_type, e.error_info, e.path, e.data) == (
        error["message"], "Unauthorized", None, ["getTodo"], None)
    assert e.locations == [{"line": 2, "column": 3, "sourceName": None}] and e.extensions is None
    r = client.models.Todo.get({"id": "1"})
    assert r.data == {"id": "1", "content": "c"} and r.errors
    r2 = client.models.Todo.list()
    assert r2.data == [{"id": "1"}] and r2.next_token == "t" and r2.errors
    client.close()


def test_non_graphql_answers_raise_response_error(scripted: Scripted, no_sleep: list[float]) -> None:
    scripted.reply(403, {"message": "Forbidden"}, {"x-amzn-ErrorType": "ForbiddenException"})
    scripted.reply(200, b"<html>hello</html>", {"content-type": "text/html"})
    scripted.reply(200, [1, 2])
    for _ in range(3):
        scripted.reply(502, b"Bad Gateway", {"content-type": "text/plain"})
    client = cove.generate_client(config=scripted.outputs())
    with pytest.raises(ResponseError) as info:
        client.models.Todo.list()
    assert (info.value.status_code, info.value.error_type, info.value.message) == (403, "ForbiddenException", "Forbidden")
    with pytest.raises(ResponseError, match="not a GraphQL JSON object"):
        client.models.Todo.list()
    with pytest.raises(ResponseError):
        client.graphql("{ __typename }")
    with pytest.raises(ResponseError) as info:
        client.models.Todo.list()
    assert info.value.status_code == 502 and info.value.message == "Bad Gateway"
    assert len(scripted.requests) == 6 and len(no_sleep) == 2  # 3 attempts on 5xx


def test_retries_5xx_429_and_throttling(scripted: Scripted, no_sleep: list[float]) -> None:
    scripted.reply(500, {"message": "boom"})
    scripted.reply(429, {"message": "slow down"})
    scripted.reply(200, {"data": {"listTodos": {"items": [], "nextToken": None}}})
    client = cove.generate_client(config=scripted.outputs())
    assert client.models.Todo.list().data == []
    assert len(scripted.requests) == 3 and len(no_sleep) == 2
    assert 0.2 <= no_sleep[0] <= 0.3 and 0.4 <= no_sleep[1] <= 0.5  # jittered exponential backoff
    scripted.reply(400, {"message": "rate"}, {"x-amzn-ErrorType": "ThrottlingException"})
    scripted.reply(200, {"data": {"listTodos": {"items": [], "nextToken": None}}})
    assert client.models.Todo.list().errors == []
    assert len(scripted.requests) == 5
    # every attempt carries the same body
    assert len({body for _, body in scripted.requests[:3]}) == 1


def test_connection_errors_are_retried_then_raised(no_sleep: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outputs = {"version": "1", "data": {**TODO_OUTPUTS["data"], "url": f"http://127.0.0.1:{port}/graphql"}}
    client = cove.generate_client(config=outputs)
    with pytest.raises(TransportError, match="ConnectError") as info:
        client.models.Todo.list()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(no_sleep) == 2
    single = cove.generate_client(config=outputs, max_attempts=1)
    with pytest.raises(TransportError):
        single.graphql("{ __typename }")
    assert len(no_sleep) == 2


@pytest.mark.anyio
async def test_async_client_against_scripted_server(scripted: Scripted) -> None:
    scripted.reply(401, UNAUTHORIZED)
    scripted.reply(200, {"data": {"createTodo": {"id": "1", "content": "c", "done": False}}})
    async with cove.generate_async_client(config=scripted.outputs()) as client:
        r = await client.models.Todo.list()
        assert r.data == [] and r.errors[0].error_type == "UnauthorizedException"
        created = await client.models.Todo.create({"content": "c"})
        assert created.data == {"id": "1", "content": "c", "done": False}
    headers, body = scripted.requests[-1]
    assert orjson.loads(body) == {"query": AMPLIFY_CREATE, "variables": {"input": {"content": "c"}}}
    assert headers["x-api-key"] == "da2-test"


# ------------------------------------------------------------------------------------------------
# Records, results, paging


def test_records() -> None:
    r = Record({"id": "1", "content": "c", "tags": ["a"], "loc": {"lat": 1.0, "addr": {"city": "x"}},
                "items": [{"k": 1}]}, typename="Todo")
    assert r.content == "c" and r["content"] == "c" and r.loc.addr.city == "x"
    assert isinstance(r.loc, Record) and isinstance(r["items"][0], Record)
    assert r == {"id": "1", "content": "c", "tags": ["a"], "loc": {"lat": 1.0, "addr": {"city": "x"}},
                 "items": [{"k": 1}]}
    assert {"id": "1"} != r and r != {"id": "1"}
    assert repr(Record({"id": "1", "done": False}, typename="Todo")) == "Todo(id='1', done=False)"
    assert dict(r)["id"] == "1" and r.to_dict()["loc"] == {"lat": 1.0, "addr": {"city": "x"}}
    assert type(r.to_dict()["loc"]) is dict
    assert r.typename == "Todo" and len(r) == 5 and "content" in r and "nope" not in r
    with pytest.raises(AttributeError, match="read-only"):
        r.content = "x"
    with pytest.raises(TypeError):
        r["content"] = "x"
    with pytest.raises(AttributeError, match="Todo record has no field 'nope'"):
        r.nope  # noqa: B018
    with pytest.raises(KeyError):
        r["nope"]
    assert pickle.loads(pickle.dumps(r)) == r
    assert json.loads(orjson.dumps(r, default=dict)) == r.to_dict()
    assert "content" in dir(r)


def test_records_from_responses_are_typed_and_flattened() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"getBlog": {
            "id": "b", "name": "n", "posts": {"items": [{"id": "p", "location": {"lat": 1, "address": {"city": "c"}}}]}}}})

    client = sync_client(Capture(reply), RICH_OUTPUTS)
    blog = client.models.Blog.get({"id": "b"}, selection_set=["id", "name", "posts.*"]).data
    assert blog is not None and repr(blog).startswith("Blog(")
    assert blog.posts == [{"id": "p", "location": {"lat": 1, "address": {"city": "c"}}}]  # items flattened
    assert blog.posts[0].typename == "Post" and blog.posts[0].location.typename == "Location"
    assert blog.posts[0].location.address.city == "c"


def test_paginate_follows_next_token() -> None:
    pages: dict[str | None, Result[list[int]]] = {None: Result(data=[1, 2], next_token="a"), "a": Result(data=[], next_token="b"),
             "b": Result(data=[3], next_token=None)}
    calls: list[Any] = []

    def fetch(*, next_token: str | None = None, limit: int | None = None) -> Result[list[int]]:
        calls.append((next_token, limit))
        return pages[next_token]

    assert list(paginate(fetch, limit=2)) == [1, 2, 3]
    assert calls == [(None, 2), ("a", 2), ("b", 2)]

    def failing(*, next_token: str | None = None) -> Result[list[int]]:
        return Result(data=[9], errors=[GraphQLError({"message": "bad", "errorType": "X"})], next_token="z")

    it = paginate(failing)
    assert next(it) == 9
    with pytest.raises(GraphQLResponseError, match="bad") as info:
        next(it)
    assert info.value.errors[0].error_type == "X"


def test_list_all_pages_through_model_lists() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        token = orjson.loads(request.content)["variables"].get("nextToken")
        page = {None: ([{"id": "1"}], "t1"), "t1": ([{"id": "2"}, {"id": "3"}], None)}[token]
        return httpx.Response(200, json={"data": {"listTodos": {"items": page[0], "nextToken": page[1]}}})

    cap = Capture(reply)
    todos = sync_client(cap).models.Todo.list_all(filter={"done": {"eq": False}}, limit=2)
    assert [t.id for t in todos] == ["1", "2", "3"]
    assert [orjson.loads(r.content)["variables"] for r in cap.requests] == [
        {"filter": {"done": {"eq": False}}, "limit": 2},
        {"filter": {"done": {"eq": False}}, "nextToken": "t1", "limit": 2}]


@pytest.mark.anyio
async def test_async_list_all() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        token = orjson.loads(request.content)["variables"].get("nextToken")
        page = {None: ([{"id": "1"}], "t1"), "t1": ([{"id": "2"}], None)}[token]
        return httpx.Response(200, json={"data": {"listTodos": {"items": page[0], "nextToken": page[1]}}})

    async with async_client(Capture(reply)) as client:
        assert [t.id async for t in client.models.Todo.list_all()] == ["1", "2"]


def test_a_mutation_is_not_resent_after_it_may_have_run(scripted: Scripted, no_sleep: list[float]) -> None:
    client = cove.generate_client(config=scripted.outputs())
    scripted.reply(500, {"message": "boom"})          # the server may have created the record
    with pytest.raises(ResponseError):
        client.models.Todo.create({"content": "once"})
    assert len(scripted.requests) == 1 and no_sleep == []
    scripted.reply(429, {"message": "slow down"})      # refused before running: safe to send again
    scripted.reply(200, {"data": {"createTodo": {"id": "1", "content": "once", "done": False}}})
    assert client.models.Todo.create({"content": "once"}).data.id == "1"
    assert len(scripted.requests) == 3
    scripted.reply(503, {"message": "busy"})           # a raw mutation document counts too
    with pytest.raises(ResponseError):
        client.graphql('mutation { deleteTodo(input: {id: "1"}) { id } }')
    assert len(scripted.requests) == 4


@pytest.mark.anyio
async def test_the_async_client_does_not_resend_a_mutation_either(scripted: Scripted) -> None:
    scripted.reply(502, {"message": "bad gateway"})
    async with cove.generate_async_client(config=scripted.outputs()) as client:
        with pytest.raises(ResponseError):
            await client.models.Todo.delete({"id": "1"})
    assert len(scripted.requests) == 1
