"""What custom query and mutation handlers (`a.query().handler(fn)`) get besides the event.

A handler gets AppSync's Lambda resolver event and, if it takes a second argument, a context like
Lambda's with two extras: ``context.client`` and ``context.async_client``, Cove clients for this same
API that run in-process (no socket, no credentials) with trusted IAM access, as an Amplify function
calls the data API with its IAM role. Mutations made through them notify subscribers as usual.

Where handlers run is `workers.py`'s business: a plain function in a worker thread, an ``async def``
on the server's event loop. The engine and its store belong to the loop's thread, so the clients
hand each request to it: the sync client from a worker thread waits for the loop to run it, the
async client awaits it on the loop. Called inline (``Engine.execute``, tests and embedding), the sync
client runs the engine directly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson

from cove.identity.lambda_authorizer import LambdaContext

from .identity import Identity


def _trusted_identity() -> Identity:
    return Identity("iam", iam_kind="trusted", claims={
        "accountId": "000000000000", "userArn": "arn:aws:iam::000000000000:role/cove-handler",
        "username": "cove-handler"})


def _request(body: bytes) -> tuple[str, Any, str | None]:
    request = orjson.loads(body)
    return request.get("query", ""), request.get("variables"), request.get("operationName")


class _Transport(httpx.BaseTransport):
    """The sync client's transport: one GraphQL request, run by the engine on the loop's thread."""

    def __init__(self, engine: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self.engine = engine
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        query, variables, name = _request(request.read())
        if self.loop is None:   # inline: this thread owns the engine
            result = self.engine.execute(query, variables, name, _trusted_identity())
        else:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                raise RuntimeError("context.client blocks, so an async handler must use context.async_client")
            future = asyncio.run_coroutine_threadsafe(
                self.engine.execute_async(query, variables, name, _trusted_identity()), self.loop)
            result = future.result()
        return httpx.Response(200, content=orjson.dumps(result), headers={"content-type": "application/json"})


class _AsyncTransport(httpx.AsyncBaseTransport):
    """The async client's transport: awaited on the server's loop, where async handlers run."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        query, variables, name = _request(await request.aread())
        result = await self.engine.execute_async(query, variables, name, _trusted_identity())
        return httpx.Response(200, content=orjson.dumps(result), headers={"content-type": "application/json"})


class HandlerContext(LambdaContext):
    """Lambda's context object, plus in-process clients for this API (built on first use)."""

    def __init__(self, name: str, engine: Any, timeout: float, loop: asyncio.AbstractEventLoop | None) -> None:
        super().__init__(name, time.monotonic() + (timeout or 30.0))
        self._engine = engine
        self._loop = loop
        self._client: Any = None
        self._async_client: Any = None

    def _config(self) -> dict[str, Any]:
        from cove.outputs import build_outputs

        return build_outputs(self._engine.schema, url="http://cove.in-process/graphql", api_key=None)

    @property
    def client(self) -> Any:
        """A sync `cove.client.Client` for this API, with full (trusted IAM) access."""
        from cove.client import generate_client

        if self._client is None:
            self._client = generate_client(config=self._config(), auth_mode="none",
                                                transport=_Transport(self._engine, self._loop), max_attempts=1)
        return self._client

    @property
    def async_client(self) -> Any:
        """The async twin of :attr:`client`, for ``async def`` handlers."""
        from cove.client import generate_async_client

        if self._async_client is None:
            self._async_client = generate_async_client(
                config=self._config(), auth_mode="none", transport=_AsyncTransport(self._engine), max_attempts=1)
        return self._async_client
