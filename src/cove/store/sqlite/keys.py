"""AppSync-style API keys in the ``_cove_api_keys`` table."""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid
from typing import Any

from ..base import ApiKey
from ..sql import meta
from ..sql.dialect import SQLITE, Dialect
from .connection import WriterLock

_KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_api_key_value() -> str:
    return "da2-" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(26))


def _api_key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


class SQLiteKeys:
    """KeyStore over the backend's connection."""

    def __init__(self, conn: sqlite3.Connection, lock: WriterLock, dialect: Dialect = SQLITE) -> None:
        self._conn = conn
        self._lock = lock
        self._dialect = dialect

    def _changed(self, sql: str, params: list[Any]) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    async def api_keys(self) -> list[ApiKey]:
        sql, params = meta.api_keys()
        return [_api_key(r) for r in self._conn.execute(sql, params).fetchall()]

    async def find_api_key(self, key: str) -> ApiKey | None:
        row = self._conn.execute(*meta.find_api_key(self._dialect, key)).fetchone()
        return _api_key(row) if row else None

    async def create_api_key(self, *, expires_at: float, description: str | None = None) -> ApiKey:
        kid, key, now = str(uuid.uuid4()), new_api_key_value(), time.time()
        self._changed(*meta.insert_api_key(self._dialect, [kid, key, description, now, expires_at]))
        return ApiKey(kid, key, description, now, expires_at, False)

    async def revoke_api_key(self, key_or_id: str) -> bool:
        return self._changed(*meta.revoke_api_key(self._dialect, key_or_id)) > 0

    async def set_api_key_expiry(self, key_or_id: str, expires_at: float) -> bool:
        return self._changed(*meta.set_api_key_expiry(self._dialect, key_or_id, expires_at)) > 0
