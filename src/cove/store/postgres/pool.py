"""The pool every PostgreSQL statement of Cove runs through: asyncpg's pool, with its connections lent
out without asyncpg's bookkeeping on each use.

asyncpg's ``Pool.fetchrow`` takes a connection and gives it back around every statement: a queue get,
a proxy, a reset, a timer, and a task (``asyncio.shield``) for the release. Measured here
(``SELECT $1``, one at a time, uvloop): 150 µs of CPU per statement through the pool against 65 µs on
a held connection; the pool's part costs more than the statement's own. So this pool takes
connections from asyncpg's once and keeps them, lending each to one statement (or one ``acquire()``)
at a time, newest-returned first, and waiters are served in order.

asyncpg's pool still does what is hard: making connections, and taking back one that failed or was
cancelled (it rolls back, waits for a cancel to finish, or closes a broken one). Any statement that
raises gives its connection back to asyncpg that way; only a clean one is kept. A connection the
server closed while it was kept is given back when next found, and replaced on demand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]


class ConnectionPool:
    """Lends at most ``size`` of ``pool``'s connections. Made and used on one event loop."""

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self.pool = pool
        self.size = size
        self._idle: list[Any] = []                  # connections kept, ready to lend
        self._lent = 0                              # taken from asyncpg's pool and not given back
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()   # give-backs of connections freed after close()

    # -- one statement on a lent connection

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Any]:
        return await self._one("fetch", sql, args, timeout)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._one("fetchrow", sql, args, timeout)

    async def fetchval(self, sql: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._one("fetchval", sql, args, timeout)

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        return await self._one("execute", sql, args, timeout)  # type: ignore[no-any-return]

    async def _one(self, method: str, sql: str, args: tuple[Any, ...], timeout: float | None) -> Any:
        conn = await self.take()
        try:
            result = await getattr(conn, method)(sql, *args, timeout=timeout)
        except BaseException:
            await self._give_back(conn)   # asyncpg's release: waits out a cancel, rolls back, or closes it
            raise
        self._keep(conn)
        return result

    # -- a connection for several statements (a transaction, a snapshot)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        conn = await self.take()
        try:
            yield conn
        except BaseException:
            await self._give_back(conn)
            raise
        await self.release(conn)

    async def release(self, conn: Any) -> None:
        """Take back a connection from ``take()``: kept if it is clean (open, no transaction left)."""
        if _usable(conn) and not conn.is_in_transaction():
            self._keep(conn)
        else:
            await self._give_back(conn)

    # -- lending

    async def take(self) -> Any:
        """A connection for the caller alone until ``release(conn)``."""
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("pool is closing")
            while self._idle:
                conn = self._idle.pop()
                if _usable(conn):
                    return conn
                await self._give_back(conn)   # closed while kept (the server went away)
            if self._lent < self.size:
                self._lent += 1
                try:
                    return await self.pool.acquire()
                except BaseException:
                    self._lent -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self._keep(waiter.result())   # lent to this caller just as it was cancelled
                raise
            if conn is not None:
                return conn
            # None: a connection was given back to asyncpg, so this caller may take a new one

    def _keep(self, conn: Any) -> None:
        if self._closed:   # freed by a statement that ran across close(): asyncpg's close waits for it
            task = asyncio.get_running_loop().create_task(self._give_back(conn))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _give_back(self, conn: Any) -> None:
        self._lent -= 1
        try:
            await self.pool.release(conn)
        finally:
            self._wake()

    # -- the end

    async def close(self) -> None:
        self._closed = True
        while self._waiters:   # each wakes to "pool is closing"
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._give_back(conn)
        await self.pool.close()

    def terminate(self) -> None:
        self._closed = True
        self._idle = []
        self.pool.terminate()


def _usable(conn: Any) -> bool:
    """Still ours and open (asyncpg detaches a proxy whose connection the server closed)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:   # released back to asyncpg's pool already
        return False
