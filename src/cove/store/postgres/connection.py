"""Reaching PostgreSQL: the URL (Cove's ``schema``, ``pool_size`` and ``statement_timeout`` parameters
taken out), and one asyncpg pool per event loop.

An asyncpg pool belongs to the loop it was made on. Cove runs ``asyncio.run(prepare())`` before the
server's own loop, so a backend keeps one pool for the running loop: called from another loop, it
makes a new pool and terminates the old one. A pool that could not be made is not kept: the next call
tries again, so the backend recovers by itself when the database comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from ..base import BackendError, DatabaseUnavailable
from .dialect import CONNECTION_ERRORS, PostgresDialect, is_connection_error
from .pool import ConnectionPool
from .parameters import COVE_PARAMETERS, DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_MS, number_problem

CONNECT_TIMEOUT = 5.0               # seconds, for each new connection
STATEMENT_CACHE_SIZE = 1024         # prepared statements kept per connection (asyncpg's LRU)
# Schema changes and data moves lift the statement limit for their own transaction.
NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"
MAX_SCHEMA_NAME = 63                # PostgreSQL's identifier limit, in bytes


@dataclass(frozen=True)
class PostgresLocation:
    """A ``postgresql://`` URL read: what asyncpg gets (``dsn``), and Cove's own parameters."""

    dsn: str
    schema: str
    pool_size: int
    user: str
    host: str
    port: int
    database: str
    password: str
    statement_timeout: int = DEFAULT_STATEMENT_TIMEOUT_MS   # milliseconds, 0 for none

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def description(self) -> str:
        return f"PostgreSQL {self.user}@{self.host}:{self.port}/{self.database} (schema {self.schema})"

    def __repr__(self) -> str:   # never the password
        return f"PostgresLocation({self.description!r}, pool_size={self.pool_size})"


def parse_url(url: str) -> PostgresLocation:
    """Read a ``postgresql://user:password@host:port/database?schema=s&pool_size=n&sslmode=...`` URL.
    Raises BackendError (which never quotes the password) for a URL Cove cannot use."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as exc:
        raise BackendError(f"not a valid PostgreSQL URL ({_without_password(url)}): {exc}") from None
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise BackendError(f"{parts.scheme}:// is not a PostgreSQL URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in COVE_PARAMETERS}
    libpq = [(k, v) for k, v in query if k not in COVE_PARAMETERS]
    schema = ours.get("schema", "public")
    if not schema or "\x00" in schema or len(schema.encode()) > MAX_SCHEMA_NAME:
        raise BackendError(f"schema={schema!r}: a PostgreSQL schema name is 1 to {MAX_SCHEMA_NAME} bytes")
    problem = number_problem(ours)
    if problem:
        raise BackendError(problem)
    text = ours.get("pool_size", str(DEFAULT_POOL_SIZE))
    timeout = ours.get("statement_timeout", str(DEFAULT_STATEMENT_TIMEOUT_MS))
    host = parts.hostname or dict(libpq).get("host") or "localhost"
    user = unquote(parts.username or "") or dict(libpq).get("user") or "postgres"
    database = unquote(parts.path.lstrip("/")) or dict(libpq).get("dbname") or user
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(libpq), parts.fragment))
    return PostgresLocation(dsn, schema, int(text), user, host, port, database, unquote(parts.password or ""),
                            int(timeout))


def _without_password(url: str) -> str:
    head, sep, tail = url.partition("://")
    if "@" not in tail.split("/", 1)[0]:
        return url
    credentials, _, rest = tail.partition("@")
    return f"{head}{sep}{credentials.split(':', 1)[0]}:***@{rest}" if ":" in credentials else url


async def _keep_session(connection: Any) -> None:
    """A connection goes back to the pool as it is. asyncpg's default reset (RESET ALL, UNLISTEN *,
    advisory unlock, CLOSE ALL) is one more round trip after every statement; Cove leaves no session
    state behind (its locks are transaction-scoped, LISTEN is on the broker's own connection), and an
    open transaction is still rolled back by asyncpg before this is called."""


class Pools:
    """The pool of the running event loop (see the module's doc), of ``size`` connections (default:
    the URL's pool_size): asyncpg's, lent out through ConnectionPool."""

    def __init__(self, location: PostgresLocation, dialect: PostgresDialect, size: int | None = None) -> None:
        self.location = location
        self.size = size or location.pool_size
        self._dialect = dialect
        self._pool: ConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._making: asyncio.Lock | None = None
        self._making_loop: asyncio.AbstractEventLoop | None = None

    def current(self) -> ConnectionPool | None:
        """The running loop's pool if it has one (the hot path: no await)."""
        return self._pool if self._loop is asyncio.get_running_loop() else None

    async def get(self) -> ConnectionPool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        if self._making_loop is not loop:
            self._making, self._making_loop = asyncio.Lock(), loop
        assert self._making is not None
        async with self._making:
            if self._pool is not None and self._loop is loop:
                return self._pool   # made while this call waited
            self._discard()
            pool = await self._create()
            self._pool, self._loop = pool, loop
            return pool

    async def _create(self) -> ConnectionPool:
        location = self.location
        try:
            settings = {"search_path": self._dialect.quote(location.schema),
                        "statement_timeout": str(location.statement_timeout)}
            pool = await asyncpg.create_pool(
                location.dsn, min_size=1, max_size=self.size, timeout=CONNECT_TIMEOUT,
                statement_cache_size=STATEMENT_CACHE_SIZE, reset=_keep_session, server_settings=settings)
        except Exception as exc:  # noqa: BLE001 - sorted below
            if is_connection_error(exc):
                raise self.unavailable(exc) from None
            self._refuse(exc)
        assert pool is not None
        return ConnectionPool(pool, self.size)

    def _refuse(self, exc: BaseException) -> NoReturn:
        """A server that answered but would not let us in: one line naming it, never the password."""
        where = self.location.where
        if isinstance(exc, asyncpg.InvalidPasswordError):
            raise DatabaseUnavailable(f"PostgreSQL at {where} refused the password of user {self.location.user}")
        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            raise DatabaseUnavailable(f"PostgreSQL at {where} has no database {self.location.database}")
        if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)):
            # e.g. an unknown libpq parameter or an sslmode the server refuses; the text may quote the URL
            password = self.location.password
            reason = str(exc).replace(password, "***") if password else str(exc)
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}")
        raise exc

    def unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        mapped = self._dialect.map_error(exc)
        assert isinstance(mapped, DatabaseUnavailable)
        return mapped

    def _discard(self) -> None:
        """Drop another loop's pool. Its loop may be closed (asyncio.run returned): then its sockets
        are closed directly, since the transports can no longer schedule their own close."""
        pool, self._pool, self._loop = self._pool, None, None
        if pool is None:
            return
        try:
            pool.terminate()
        except RuntimeError:   # "Event loop is closed"
            for holder in getattr(pool.pool, "_holders", []):
                _close_socket(getattr(holder, "_con", None))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._loop is asyncio.get_running_loop():
            with contextlib.suppress(*CONNECTION_ERRORS):
                await asyncio.wait_for(pool.close(), timeout=10)
                return
        self._pool = pool
        self._discard()


def _close_socket(connection: Any) -> None:
    transport = getattr(connection, "_transport", None)
    sock = getattr(transport, "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
