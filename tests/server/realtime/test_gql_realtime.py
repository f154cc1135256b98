"""gql's AppSyncWebsocketsTransport (a second real client; it uses the `?header=&payload=` handshake)
against `cove sandbox`, over ws:// and over wss:// with `--tls`."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import Sandbox, start_sandbox
from gql import Client, GraphQLRequest, gql
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportQueryError
from realtime_support import ws_url
from paths import TESTS

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

SCHEMA = TESTS / "schemas" / "realtime_schema.py"
ON_CREATE = """
subscription ($filter: ModelSubscriptionTodoFilterInput) {
  onCreateTodo(filter: $filter) { id content priority }
}
"""


@pytest.fixture(scope="module", params=["ws", "wss"])
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Sandbox]:
    extra = ("--tls",) if request.param == "wss" else ()
    sandbox = start_sandbox(tmp_path_factory.mktemp("gql"), SCHEMA, "--no-watch", *extra, backend=backend)
    yield sandbox
    sandbox.stop()


def transport(box: Sandbox, api_key: str | None = None) -> AppSyncWebsocketsTransport:
    url = box.outputs["data"]["url"]
    context: ssl.SSLContext | bool = False
    if url.startswith("https://"):
        context = ssl.create_default_context(cafile=box.outputs["custom"]["cove"]["ca_file"])
    auth = AppSyncApiKeyAuthentication(host=urlsplit(url).netloc, api_key=api_key or box.api_key)
    return AppSyncWebsocketsTransport(url=ws_url(box), auth=auth, ssl=context)


async def create(box: Sandbox, content: str, **extra: Any) -> None:
    url = box.outputs["data"]["url"]
    verify: Any = True
    if url.startswith("https://"):
        verify = ssl.create_default_context(cafile=box.outputs["custom"]["cove"]["ca_file"])
    async with httpx.AsyncClient(verify=verify, timeout=30) as http:
        r = await http.post(url, headers={"x-api-key": box.api_key}, json={
            "query": "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id content priority } }",
            "variables": {"i": {"content": content, **extra}}})
        assert r.status_code == 200 and "errors" not in r.json(), r.text


async def test_gql_subscription_receives_filtered_events(box: Sandbox) -> None:
    t = "t" + uuid.uuid4().hex[:8]
    received: list[dict[str, Any]] = []

    async def produce() -> None:
        # gql does not report start_ack: keep creating until the subscription sees one
        while len(received) < 2:
            await create(box, t + " low", priority="low")
            await create(box, t + " high", priority="high")
            await asyncio.sleep(0.2)

    async with Client(transport=transport(box)) as session:
        producer = asyncio.create_task(produce())
        try:
            async with asyncio.timeout(20):
                request = GraphQLRequest(ON_CREATE, variable_values={
                    "filter": {"content": {"beginsWith": t}, "priority": {"eq": "high"}}})
                async for result in session.subscribe(request):
                    received.append(result["onCreateTodo"])
                    if len(received) == 2:
                        break
        finally:
            await producer
    assert all(r["content"] == t + " high" and r["priority"] == "high" for r in received)


async def test_gql_with_a_bad_key_fails_to_connect(box: Sandbox) -> None:
    with pytest.raises(Exception) as info:  # gql raises its own transport error for connection_error
        async with Client(transport=transport(box, "da2-" + "z" * 26)) as session:
            async for _ in session.subscribe(gql(ON_CREATE)):
                break
    assert "Unauthorized" in str(info.value) or "401" in str(info.value) or "invalid API key" in str(info.value)


async def test_gql_validation_errors_reach_the_caller(box: Sandbox) -> None:
    async with Client(transport=transport(box)) as session:
        with pytest.raises(TransportQueryError, match="nope"):
            async for _ in session.subscribe(gql("subscription { onCreateTodo { id nope } }")):
                break
