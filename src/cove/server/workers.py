"""Work kept off the event loop: custom query/mutation handlers, heavy renderings, new documents.

The server's engine runs a synchronous handler in a worker thread and awaits an ``async def`` one,
both under a timeout; a heavy request (one whose cost passes ``Limits.inline_cost``) reads through
the store's heavy-read view (its own thread and connection) and renders on one reader thread here, so
a request that renders thousands of rows never holds the loop for more than a thread switch. The
plain ``Engine.execute`` runs every step inline, for tests and embedding.

One reader thread, not a pool: heavy renderings queue behind each other instead of multiplying, and
the loop competes with few busy threads for the GIL. New documents are parsed and validated on
another single thread (graphql-core's validation grows quadratically with repeated fields). The
server lowers the interpreter's switch interval (``runner.py``) so that the loop gets the GIL back
within a millisecond.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cove.identity.lambda_authorizer import takes_context

from .errors import FieldError

log = logging.getLogger("cove.handlers")


@dataclass
class HandlerCall:
    """Call a custom operation's handler with an AppSync-style event (and, for a handler that takes
    two arguments, a Lambda-like context whose clients reach ``engine``: see handlers.py)."""

    field: str
    handler: Callable[..., Any]
    event: dict[str, Any]
    engine: Any = None

    def arguments(self, timeout: float, loop: asyncio.AbstractEventLoop | None) -> tuple[Any, ...]:
        if self.engine is None or not takes_context(self.handler):
            return (self.event,)
        from .handlers import HandlerContext

        return (self.event, HandlerContext(self.field, self.engine, timeout, loop))


def handler_failed(field: str, exc: BaseException) -> FieldError:
    """AppSync's shape for a Lambda that raised: errorType ``Lambda:Unhandled``, the exception's
    message; its class goes in ``errorInfo`` and the traceback only into the server log."""
    log.error("the handler of %s raised %s", field, type(exc).__name__, exc_info=exc)
    return FieldError(str(exc) or type(exc).__name__, "Lambda:Unhandled",
                      error_info={"errorType": type(exc).__name__})


def handler_timed_out(field: str, timeout: float) -> FieldError:
    log.error("the handler of %s did not finish within %g s", field, timeout)
    return FieldError(f"Execution timed out: the handler of {field} did not finish within {timeout:g} s",
                      "ExecutionTimeout")


def _is_async(handler: Any) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None))


def call_inline(step: HandlerCall) -> Any:
    """Run a step on the calling thread (``Engine.execute``)."""
    try:
        result = step.handler(*step.arguments(0, None))
    except Exception as exc:
        raise handler_failed(step.field, exc) from None
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise FieldError(f"The handler of {step.field} is asynchronous; it runs only when the server "
                         f"serves the request (Engine.execute_async)", "Lambda:Unhandled")
    return result


class Workers:
    """The threads a server process runs off-loop work on (created on first use)."""

    def __init__(self, handler_threads: int = 16) -> None:
        self.handler_threads = max(1, handler_threads)
        self._pools: dict[str, ThreadPoolExecutor] = {}  # "handler" (a pool), "reader", "prepare"
        self._lock = threading.Lock()

    async def run(self, step: HandlerCall, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout or None):
                arguments = step.arguments(timeout, loop)
                if _is_async(step.handler):
                    return await step.handler(*arguments)
                result = await loop.run_in_executor(self._pool("handler"), lambda: step.handler(*arguments))
                if inspect.isawaitable(result):  # e.g. a lambda that returns a coroutine
                    result = await result
                return result
        except TimeoutError:
            # A thread cannot be stopped: it finishes in the background and its result is dropped.
            raise handler_timed_out(step.field, timeout) from None
        except FieldError:
            raise
        except Exception as exc:
            raise handler_failed(step.field, exc) from None

    async def prepare(self, parse: Callable[[], Any]) -> Any:
        """Parse and validate a new document on its own thread: a new small document never waits
        behind a heavy request's rendering."""
        return await asyncio.get_running_loop().run_in_executor(self._pool("prepare"), parse)

    def reader(self) -> ThreadPoolExecutor:
        """The one reader thread: a heavy request's statements (the store's heavy-read view runs them
        here) and its rendering, so the loop competes with a single busy thread for the GIL."""
        return self._pool("reader")

    async def render(self, work: Callable[[], Any]) -> Any:
        """``work()`` (a heavy request's pure rendering) on the reader thread; the loop awaits meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self._pool("reader"), work)

    def _pool(self, name: str) -> ThreadPoolExecutor:
        pool = self._pools.get(name)
        if pool is None:
            with self._lock:
                pool = self._pools.get(name)
                if pool is None:
                    size = self.handler_threads if name == "handler" else 1
                    pool = self._pools[name] = ThreadPoolExecutor(size, thread_name_prefix=f"cove-{name}")
        return pool

    def close(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
