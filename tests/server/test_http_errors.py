"""Request-level errors, API keys and limits: each gets AppSync's shape and a clear message."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import Sandbox

LIST = "query { listTodos { items { id } } }"


def assert_unauthorized(r: httpx.Response, words: str) -> None:
    assert r.status_code == 401
    assert r.headers["x-amzn-errortype"] == "UnauthorizedException"
    (err,) = r.json()["errors"]
    assert err["errorType"] == "UnauthorizedException" and words in err["message"]


def test_missing_unknown_and_hostile_api_keys(sandbox: Sandbox) -> None:
    assert_unauthorized(sandbox.post(LIST, headers={"x-api-key": None}), "Valid authorization header not provided")
    for bad in ["da2-nope", "", sandbox.api_key + "x", sandbox.api_key.upper(), "' OR 1=1 --", "da2-" + "a" * 5000]:
        assert_unauthorized(sandbox.post(LIST, api_key=bad), "not authorized")
    # an Authorization header with no mode to accept it is refused, not ignored
    r = sandbox.post(LIST, headers={"x-api-key": None, "authorization": "Bearer something"})
    assert_unauthorized(r, "Valid authorization header not provided")


def test_expired_and_revoked_keys(sandbox_factory) -> None:
    box = sandbox_factory()
    run = [sys.executable, "-m", "cove", "keys", "--data-dir", str(box.data_dir)]
    short = subprocess.run([*run, "create", "--expires-in", "1s"], capture_output=True, text=True, check=True)
    key = short.stdout.strip()
    assert key.startswith("da2-")
    assert box.post(LIST, api_key=key).status_code == 200
    time.sleep(1.2)
    assert_unauthorized(box.post(LIST, api_key=key), "expired")
    other = subprocess.run([*run, "create"], capture_output=True, text=True, check=True).stdout.strip()
    assert box.post(LIST, api_key=other).status_code == 200
    subprocess.run([*run, "revoke", other], check=True, capture_output=True)
    listing = subprocess.run([*run, "list"], capture_output=True, text=True, check=True).stdout
    assert f"{other}\trevoked" in listing and f"{key}\texpired" in listing
    time.sleep(5.2)  # revocations reach running servers within the key cache's 5 s
    assert_unauthorized(box.post(LIST, api_key=other), "not authorized")


@pytest.mark.parametrize("body, words", [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"{}", "no 'query'"),
    (b'{"query": 5}', "no 'query'"),
    (b'{"query": "{ __typename }", "variables": [1]}', "'variables' must be a JSON object"),
    (b'{"query": "{ __typename }", "operationName": 3}', "'operationName' must be a string"),
])
def test_malformed_requests_get_400(sandbox: Sandbox, body: bytes, words: str) -> None:
    r = sandbox.post("", raw=body)
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "MalformedHttpRequestException"
    assert words in r.json()["errors"][0]["message"]


def test_body_size_limit(sandbox: Sandbox) -> None:
    huge = json.dumps({"query": LIST, "variables": {"pad": "x" * 1_100_000}}).encode()
    r = sandbox.post("", raw=huge)
    assert r.status_code == 413 and r.headers["x-amzn-errortype"] == "PayloadTooLargeException"
    assert "limit" in r.json()["errors"][0]["message"]
    assert sandbox.post(LIST).status_code == 200  # the server is fine afterwards


def test_syntax_and_validation_errors(sandbox: Sandbox) -> None:
    body = sandbox.gql("query { listTodos { items { id }")
    assert body["data"] is None and body["errors"][0]["message"].startswith("Invalid Syntax")
    assert body["errors"][0]["locations"][0]["line"] == 1
    body = sandbox.gql("query { listTodos { items { nope } } }")
    assert body["data"] is None
    assert "Validation error" in body["errors"][0]["message"] and "nope" in body["errors"][0]["message"]
    body = sandbox.gql("query ($id: ID!) { getTodo(id: $id) { id } }", {})
    assert body["data"] is None and "$id" in body["errors"][0]["message"]


@pytest.mark.parametrize("value, scalar", [
    ({"due": "2024-02-30"}, "AWSDate"),
    ({"due": 20240101}, "AWSDate"),
    ({"priority": "urgent"}, "TodoPriority"),
    ({"tags": [1, 2]}, "String"),
    ({"done": "yes"}, "Boolean"),
])
def test_scalar_validation_of_inputs(sandbox: Sandbox, value: dict, scalar: str) -> None:
    q = "mutation ($input: CreateTodoInput!) { createTodo(input: $input) { id } }"
    body = sandbox.gql(q, {"input": {"content": "scalar check", **value}})
    assert body["data"] is None, body
    assert "input" in body["errors"][0]["message"]
    assert sandbox.gql("query { listTodos(filter: {content: {eq: \"scalar check\"}}) { items { id } } }") == \
        {"data": {"listTodos": {"items": []}}}


def test_depth_alias_and_root_field_limits(sandbox: Sandbox) -> None:
    deep = "query { listTodoLists { items { todos { items { list { todos { items { list { todos { items { " \
           "list { todos { items { list { todos { items { id } } } } } } } } } } } } } } } } }"
    body = sandbox.gql(deep)
    assert body["data"] is None and body["errors"][0]["errorType"] == "QueryDepthLimitExceeded"
    many = "query { " + " ".join(f"a{i}: __typename" for i in range(60)) + " }"
    body = sandbox.gql(many)
    assert body["data"] is None and body["errors"][0]["errorType"] == "AliasLimitExceeded"
    roots = "query { " + " ".join(f"r{i}: listTodos(limit: 1) {{ nextToken }}" for i in range(25)) + " }"
    body = sandbox.gql(roots)
    assert body["data"] is None and "root fields" in body["errors"][0]["message"]


def test_subscriptions_are_refused_over_http(sandbox: Sandbox) -> None:
    body = sandbox.gql("subscription { onCreateTodo { id } }")
    assert body["data"] is None and "WebSocket" in body["errors"][0]["message"]


def test_cors_preflight_and_routes(sandbox: Sandbox) -> None:
    r = httpx.options(sandbox.url, headers={"origin": "http://app.local", "access-control-request-method": "POST",
                                            "access-control-request-headers": "content-type,x-api-key,x-amz-user-agent"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-api-key" in r.headers["access-control-allow-headers"]
    assert httpx.get(sandbox.url).status_code == 405
    assert httpx.post(sandbox.url.replace("/graphql", "/nope"), content=b"{}").status_code == 404
