"""ConnectionPool (store/postgres/pool.py) against the machine's PostgreSQL: what it lends, what it keeps,
and what it gives back to asyncpg's pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pg_support import SERVER_URL

from cove.store.postgres.pool import ConnectionPool

pytestmark = pytest.mark.anyio


async def _keep_session(connection: asyncpg.Connection) -> None:
    """As Cove's pools: no reset round trip."""


@pytest.fixture
async def pool(anyio_backend: str) -> AsyncIterator[ConnectionPool]:
    inner = await asyncpg.create_pool(SERVER_URL, min_size=1, max_size=3, reset=_keep_session)
    lending = ConnectionPool(inner, 3)
    yield lending
    await lending.close()


async def test_statements_reuse_the_same_kept_connection(pool: ConnectionPool) -> None:
    pids = {await pool.fetchval("SELECT pg_backend_pid()") for _ in range(20)}
    assert len(pids) == 1
    assert dict(await pool.fetchrow("SELECT $1::int AS n", 7)) == {"n": 7}
    assert await pool.fetch("SELECT generate_series(1, 3)") == [(1,), (2,), (3,)]
    assert await pool.execute("SELECT 1") == "SELECT 1"


async def test_never_more_connections_than_its_size_and_waiters_are_all_served(pool: ConnectionPool) -> None:
    async def slow(i: int) -> tuple[int, int]:
        row = await pool.fetchrow("SELECT $1::int, pg_backend_pid() FROM pg_sleep(0.05)", i)
        return row[0], row[1]

    results = await asyncio.gather(*(slow(i) for i in range(12)))
    assert [n for n, _ in results] == list(range(12))
    assert len({pid for _, pid in results}) == 3   # all three lent at once, never a fourth
    assert pool.pool.get_size() == 3


async def test_a_failed_statement_gives_its_connection_back_and_the_next_one_works(pool: ConnectionPool) -> None:
    first = await pool.fetchval("SELECT pg_backend_pid()")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetchval("SELECT 1 / 0")
    assert pool._lent == 0   # given back to asyncpg's pool, not kept
    assert await pool.fetchval("SELECT 2") == 2
    assert isinstance(first, int)


async def test_a_timed_out_statement_is_cancelled_and_its_connection_is_not_reused_mid_query(pool: ConnectionPool) -> None:
    with pytest.raises(TimeoutError):
        await pool.fetchval("SELECT pg_sleep(5)", timeout=0.1)
    # the next statements run (on a connection that is not still busy with the cancelled one)
    assert [await pool.fetchval("SELECT $1::int", i) for i in range(5)] == list(range(5))


async def test_a_connection_killed_while_kept_is_replaced(pool: ConnectionPool) -> None:
    pid = await pool.fetchval("SELECT pg_backend_pid()")
    killer = await asyncpg.connect(SERVER_URL)
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    await asyncio.sleep(0.2)   # the client sees the socket close
    new_pid = await pool.fetchval("SELECT pg_backend_pid()")
    assert new_pid != pid
    assert pool._lent <= 3


async def test_an_open_transaction_is_never_kept(pool: ConnectionPool) -> None:
    conn = await pool.take()
    await conn.execute("BEGIN")
    await conn.execute("CREATE TEMP TABLE pool_probe (n int)")
    await pool.release(conn)   # given back to asyncpg, which rolls it back
    for _ in range(3):
        assert await pool.fetchval("SELECT to_regclass('pg_temp.pool_probe') IS NULL") is True


async def test_an_error_inside_acquire_gives_the_connection_back(pool: ConnectionPool) -> None:
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            raise RuntimeError("the caller failed")
    assert pool._lent == 0   # given back to asyncpg (which rolls the transaction back), not kept
    assert await pool.fetchval("SELECT 1") == 1


async def test_a_cancelled_waiter_leaks_nothing(pool: ConnectionPool) -> None:
    held = [await pool.take() for _ in range(3)]
    waiter = asyncio.create_task(pool.fetchval("SELECT 1"))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    for conn in held:
        await pool.release(conn)
    # every connection is lendable again: three callers at once each get one
    pids = await asyncio.gather(*(pool.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(3)))
    assert len(set(pids)) == 3


async def test_a_closed_pool_lends_nothing(pool: ConnectionPool) -> None:
    await pool.fetchval("SELECT 1")
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetchval("SELECT 1")


async def test_close_waits_for_a_running_statement_and_turns_waiters_away(pool: ConnectionPool) -> None:
    held = [await pool.take() for _ in range(2)]
    running = asyncio.create_task(pool.fetchval("SELECT 5 FROM pg_sleep(0.3)"))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(pool.fetchval("SELECT 1"))
    await asyncio.sleep(0.05)
    for conn in held:
        await pool.release(conn)   # freed before close: the waiter gets one and runs
    closing = asyncio.create_task(pool.close())
    late = asyncio.create_task(pool.fetchval("SELECT 1"))
    assert await running == 5      # a statement under way finishes, and its connection goes back
    assert await waiter == 1
    with pytest.raises(asyncpg.InterfaceError):
        await late
    await asyncio.wait_for(closing, 5)   # asyncpg's close is not left waiting for a kept connection
