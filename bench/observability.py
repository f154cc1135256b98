"""What logging and metrics add to each request, measured in-process (no network, no load generator).

    .venv/bin/python bench/observability.py                # the pieces, and whole requests
    PYTHONPATH=<old checkout>/src .venv/bin/python bench/observability.py --requests-only   # before
    .venv/bin/python bench/observability.py --requests-only [--observed]

Times, per request: the request id, an access-log line (text and JSON, written to /dev/null in the
batches the server uses), recording the request in the Prometheus metrics; then whole `getTodo`
requests through the ASGI app (all of Cove's server code, without uvicorn and sockets), without and
with the access log and metrics. ``--requests-only`` runs just the latter, so it also runs on code from
before observability existed.
"""

from __future__ import annotations

import asyncio
import time
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

N = 200_000
REQUESTS = 20_000


def per_call(fn: Callable[[], object], n: int = N) -> float:
    """Microseconds per call, best of three runs."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


async def access_log_cost(log_format: str) -> float:
    from cove.server.observability import AccessLog

    with open("/dev/null", "wb") as sink:
        log = AccessLog(log_format, sink)
        rid = b"0123456789abcdef0123456789abcdef"

        async def burst() -> float:
            # The server writes a line per request and flushes once per loop turn: 32 lines a turn here,
            # as with 32 busy connections.
            start = time.perf_counter()
            for _ in range(N // 32):
                for _ in range(32):
                    log.write("POST", "/graphql", "getTodo", None, 200, 0.0012, "api_key", rid,
                              ("127.0.0.1", 5000), "http")
                await asyncio.sleep(0)
            return (time.perf_counter() - start) / (N // 32 * 32) * 1e6

        baseline_start = time.perf_counter()
        for _ in range(N // 32):
            await asyncio.sleep(0)
        loop_turns = (time.perf_counter() - baseline_start) / (N // 32 * 32) * 1e6
        return min([await burst() for _ in range(3)]) - loop_turns


async def request_cost(observed: bool) -> float:
    """Microseconds of server CPU per cached `getTodo` through the ASGI app (best of three)."""
    import orjson

    from cove.schema.loader import SchemaSource
    from cove.server.app import CoveApp
    from cove.server.api_key_lifetime import ensure_api_key
    from cove.store import open_backend

    with tempfile.TemporaryDirectory() as folder, open("/dev/null", "wb") as sink:
        schema = SchemaSource(None).load().schema
        backend = open_backend(Path(folder))
        await backend.migrator.apply_schema(schema)
        key = (await ensure_api_key(backend.keys, schema)).encode()
        app = CoveApp(schema, backend)
        if observed:
            from cove.server.metrics import Metrics
            from cove.server.observability import AccessLog

            app.access_log = AccessLog("json", sink)
            app.metrics = Metrics()
        created = await call(app, key, {"query": 'mutation { createTodo(input: {content: "x"}) { id } }'})
        todo_id = orjson.loads(created)["data"]["createTodo"]["id"]
        body = orjson.dumps({"query": "query ($id: ID!) { getTodo(id: $id) { id content done priority due tags "
                                      "listId createdAt updatedAt } }", "variables": {"id": todo_id}})
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(REQUESTS):
                await call(app, key, body)
            best = min(best, time.perf_counter() - start)
        await backend.close()
        return best / REQUESTS * 1e6


async def call(app: Any, key: bytes, body: Any) -> bytes:
    import orjson

    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    scope = {"type": "http", "method": "POST", "path": "/graphql", "query_string": b"", "scheme": "http",
             "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"x-api-key", key)]}
    out: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            out.append(message["body"])

    await app(scope, receive, send)
    return out[0]


def main() -> None:
    if "--requests-only" in sys.argv:
        observed = "--observed" in sys.argv  # with the access log (JSON) and metrics
        print(f"whole getTodo request{', observed' if observed else ''}  {asyncio.run(request_cost(observed)):6.2f} µs")
        return
    from cove.server.metrics import Metrics
    from cove.server.observability import request_id

    headers_with_id = [(b"host", b"x"), (b"content-type", b"application/json"), (b"x-request-id", b"trace-42")]
    headers_without = [(b"host", b"x"), (b"content-type", b"application/json"), (b"x-api-key", b"da2-x")]
    metrics = Metrics()
    rows = [
        ("request id, made", per_call(lambda: request_id(headers_without))),
        ("request id, from x-request-id", per_call(lambda: request_id(headers_with_id))),
        ("access log line, text", asyncio.run(access_log_cost("text"))),
        ("access log line, json", asyncio.run(access_log_cost("json"))),
        ("metrics: count + latency", per_call(lambda: metrics.observe("getTodo", "api_key", "success", 0.0012))),
    ]
    rows += [
        ("whole getTodo request, plain", asyncio.run(request_cost(False))),
        ("whole getTodo request, observed", asyncio.run(request_cost(True))),
    ]
    print(f"{'per request':<32} {'µs':>6}")
    for name, micros in rows:
        print(f"{name:<32} {micros:6.2f}")


if __name__ == "__main__":
    main()
