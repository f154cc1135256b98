"""Custom query and mutation handlers (`a.query().handler(fn)`): calling them, and their data access.

A handler gets AppSync's Lambda resolver event and, if it takes a second argument, a context like
Lambda's with two extras: ``context.client`` and ``context.async_client``, Cove clients for this same
API that run in-process (no socket, no credentials) with trusted IAM access, as an Amplify function
calls the data API with its IAM role. Mutations made through them notify subscribers as usual.

Handlers run on the request path. A sync handler is called on the server's event loop thread. An
async one runs on a private loop in a worker thread while the server's thread executes, on its
behalf, every GraphQL request the handler's client makes: the engine, the store and the real-time
hub are only ever touched from the server's own thread.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import httpx
import orjson

from cove.identity.lambda_authorizer import LambdaContext, takes_context

from .identity import Identity

TIMEOUT_SECONDS = 30.0
_DONE = object()
_local = threading.local()   # .jobs: the queue a worker thread hands engine calls to


def _trusted_identity() -> Identity:
    return Identity("iam", iam_kind="trusted", claims={
        "accountId": "000000000000", "userArn": "arn:aws:iam::000000000000:role/cove-handler",
        "username": "cove-handler"})


class _EngineCalls:
    """Runs a GraphQL request body on the engine, on the server's thread (see the module doc)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __call__(self, body: bytes) -> bytes:
        jobs = getattr(_local, "jobs", None)
        if jobs is None:  # already on the server's thread: a sync handler
            return self._execute(body)
        done: Future[bytes] = Future()
        jobs.put((self._execute, body, done))
        return done.result()

    def _execute(self, body: bytes) -> bytes:
        request = orjson.loads(body)
        result = self.engine.execute(request.get("query", ""), request.get("variables"),
                                     request.get("operationName"), _trusted_identity())
        return orjson.dumps(result)


class _Transport(httpx.BaseTransport):
    def __init__(self, calls: _EngineCalls) -> None:
        self.calls = calls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.calls(request.read()), headers={"content-type": "application/json"})


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, calls: _EngineCalls) -> None:
        self.calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.calls(await request.aread()),
                              headers={"content-type": "application/json"})


class HandlerContext(LambdaContext):
    """Lambda's context object, plus in-process clients for this API (built on first use)."""

    def __init__(self, name: str, engine: Any) -> None:
        super().__init__(name, time.monotonic() + TIMEOUT_SECONDS)
        self._engine = engine
        self._async_client: Any = None

    def _config(self) -> dict[str, Any]:
        from cove.outputs import build_outputs

        return build_outputs(self._engine.schema, url="http://cove.in-process/graphql", api_key=None)

    @property
    def client(self) -> Any:
        """A sync `cove.client.Client` for this API, with full (trusted IAM) access."""
        import cove

        cached = getattr(self._engine, "_handler_client", None)
        if cached is None:
            cached = cove.generate_client(config=self._config(), auth_mode="none",
                                          transport=_Transport(_EngineCalls(self._engine)), max_attempts=1)
            self._engine._handler_client = cached
        return cached

    @property
    def async_client(self) -> Any:
        """The async twin of :attr:`client`, for async handlers (one per call: each runs on its own loop)."""
        import cove

        if self._async_client is None:
            self._async_client = cove.generate_async_client(
                config=self._config(), auth_mode="none", transport=_AsyncTransport(_EngineCalls(self._engine)),
                max_attempts=1)
        return self._async_client


def call_handler(handler: Callable[..., Any], event: dict[str, Any], engine: Any) -> Any:
    """Call a handler as `handler(event)` or `handler(event, context)`, sync or async."""
    args: tuple[Any, ...] = (event,)
    if takes_context(handler):
        args = (event, HandlerContext(event["fieldName"], engine))
    if not inspect.iscoroutinefunction(handler):
        result = handler(*args)
        if not inspect.isawaitable(result):
            return result
        return _run_async(lambda: result)
    return _run_async(lambda: handler(*args))


def _run_async(make: Callable[[], Any]) -> Any:
    """Run a coroutine on a worker thread's loop; meanwhile run its engine calls here."""
    jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def worker() -> None:
        _local.jobs = jobs
        try:
            outcome["value"] = asyncio.run(_awaited(make()))
        except BaseException as exc:  # handed to the server's thread, which raises it
            outcome["error"] = exc
        finally:
            jobs.put(_DONE)

    threading.Thread(target=worker, name="cove-handler", daemon=True).start()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        try:
            job = jobs.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            # Like Lambda's timeout; the worker is abandoned (a daemon thread, its calls never run).
            raise TimeoutError(f"the handler did not finish within {TIMEOUT_SECONDS:.0f} seconds") from None
        if job is _DONE:
            break
        run, body, done = job
        try:
            done.set_result(run(body))
        except BaseException as exc:
            done.set_exception(exc)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _awaited(value: Any) -> Any:
    return await value
