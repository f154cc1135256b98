"""AppSync-style API keys in the ``_cove_api_keys`` table of the backend's schema."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ..base import ApiKey, KeyStore
from ..sql import meta
from ..sqlite.keys import new_api_key_value
from .dialect import PostgresDialect
from .pool import ConnectionPool

PoolGetter = Callable[[], Awaitable[ConnectionPool]]


def _api_key(row: Any) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


class PostgresKeys:
    """KeyStore over the backend's pool."""

    def __init__(self, pool: PoolGetter, dialect: PostgresDialect) -> None:
        self._pool = pool
        self._dialect = dialect

    async def _run(self, method: str, sql: str, params: list[Any]) -> Any:
        pool = await self._pool()
        try:
            return await getattr(pool, method)(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            mapped = self._dialect.map_error(exc)
            if mapped is None:
                raise
            raise mapped from None

    async def api_keys(self) -> list[ApiKey]:
        return [_api_key(r) for r in await self._run("fetch", *meta.api_keys())]

    async def find_api_key(self, key: str) -> ApiKey | None:
        if "\x00" in key:
            return None   # no stored key holds it (PostgreSQL text cannot)
        row = await self._run("fetchrow", *meta.find_api_key(self._dialect, key))
        return _api_key(row) if row else None

    async def create_api_key(self, *, expires_at: float, description: str | None = None) -> ApiKey:
        kid, key, now = str(uuid.uuid4()), new_api_key_value(), time.time()
        await self._run("execute", *meta.insert_api_key(self._dialect, [kid, key, description, now, expires_at]))
        return ApiKey(kid, key, description, now, expires_at, False)

    async def revoke_api_key(self, key_or_id: str) -> bool:
        if "\x00" in key_or_id:
            return False
        return _changed(await self._run("execute", *meta.revoke_api_key(self._dialect, key_or_id)))

    async def set_api_key_expiry(self, key_or_id: str, expires_at: float) -> bool:
        if "\x00" in key_or_id:
            return False
        return _changed(await self._run("execute", *meta.set_api_key_expiry(self._dialect, key_or_id, expires_at)))


def _changed(status: str) -> bool:
    """Whether an ``UPDATE n`` status names at least one row."""
    return int(status.rsplit(" ", 1)[-1]) > 0


def _check_protocol(keys: PostgresKeys) -> KeyStore:
    return keys   # mypy checks the store against the protocol
