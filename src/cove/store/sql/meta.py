"""Statements on Cove's own tables: ``_cove_meta`` (the stored schema description, the secret),
``_cove_api_keys`` and ``_cove_migrations`` (one row per applied schema change), built through a
Dialect like every record statement."""

from __future__ import annotations

from typing import Any

from .codecs import dumps
from .dialect import Dialect

Statement = tuple[str, list[Any]]

API_KEY_COLUMNS = "id, key, description, created_at, expires_at, revoked"


def create_tables(d: Dialect) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS _cove_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS _cove_api_keys (\n"
        "    id TEXT PRIMARY KEY,\n"
        "    key TEXT NOT NULL UNIQUE,\n"
        "    description TEXT,\n"
        f"    created_at {d.float_type} NOT NULL,\n"
        f"    expires_at {d.float_type} NOT NULL,\n"
        f"    revoked INTEGER NOT NULL DEFAULT 0\n"
        ")",
        "CREATE TABLE IF NOT EXISTS _cove_migrations (\n"
        f"    id {d.identity_column},\n"
        f"    applied_at {d.float_type} NOT NULL,\n"
        "    summary TEXT NOT NULL,\n"
        f"    statements {d.json_type} NOT NULL\n"
        ")",
    ]


def record_migration(d: Dialect, applied_at: float, summary: str, statements: list[str]) -> Statement:
    params: list[Any] = []
    values = d.params(params, [applied_at, summary, dumps(statements)])
    return f"INSERT INTO _cove_migrations (applied_at, summary, statements) VALUES ({values})", params


def migrations() -> Statement:
    return "SELECT id, applied_at, summary, statements FROM _cove_migrations ORDER BY id", []


def read_meta(d: Dialect, key: str) -> Statement:
    params: list[Any] = []
    return f"SELECT value FROM _cove_meta WHERE key = {d.param(params, key)}", params


def add_meta(d: Dialect, key: str, value: str) -> Statement:
    """Insert unless the key exists (the first process to create the secret wins)."""
    params: list[Any] = []
    return d.insert_or_ignore("_cove_meta", ["key", "value"], d.params(params, [key, value])), params


def api_keys() -> Statement:
    return f"SELECT {API_KEY_COLUMNS} FROM _cove_api_keys ORDER BY created_at", []


def find_api_key(d: Dialect, key: str) -> Statement:
    params: list[Any] = []
    return f"SELECT {API_KEY_COLUMNS} FROM _cove_api_keys WHERE key = {d.param(params, key)}", params


def insert_api_key(d: Dialect, values: list[Any]) -> Statement:
    params: list[Any] = []
    return (f"INSERT INTO _cove_api_keys (id, key, description, created_at, expires_at) "
            f"VALUES ({d.params(params, values)})"), params


def revoke_api_key(d: Dialect, key_or_id: str) -> Statement:
    params: list[Any] = []
    return (f"UPDATE _cove_api_keys SET revoked = 1 WHERE key = {d.param(params, key_or_id)} "
            f"OR id = {d.param(params, key_or_id)}"), params


def set_api_key_expiry(d: Dialect, key_or_id: str, expires_at: float) -> Statement:
    params: list[Any] = []
    return (f"UPDATE _cove_api_keys SET expires_at = {d.param(params, expires_at)} "
            f"WHERE key = {d.param(params, key_or_id)} OR id = {d.param(params, key_or_id)}"), params
