"""The identity state (``cove.store.identity_state.IdentityStore``) in PostgreSQL.

Same tables and semantics as ``store/sqlite/identity.py``. Races between processes (hosts) are settled
by the database, never by reading and then writing: uniqueness by constraints, counters by one UPDATE,
"create once" values by ``INSERT ... ON CONFLICT DO NOTHING`` followed by a fresh read, the first
signing key under a table lock. Tables are created on first use (unqualified: the pool's
``search_path`` is Cove's schema), under an advisory lock, since concurrent ``CREATE TABLE IF NOT
EXISTS`` can fail in PostgreSQL.

Text cannot hold NUL characters in PostgreSQL: a lookup by a string containing one finds nothing
(nothing stored can contain it), and a write of one is refused with ValueError. Attributes are kept
as JSON text (NUL escaped), so they keep any value and their order.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from cove.store.base import DatabaseUnavailable
from cove.store.identity_state import (
    ConsoleAdmin,
    DuplicateUser,
    Group,
    IamKey,
    RefreshToken,
    StoredSigningKey,
    User,
    new_iam_key,
)
from cove.store.postgres.connection import NO_STATEMENT_TIMEOUT
from cove.store.postgres.pool import ConnectionPool

PoolSource = Callable[[], Awaitable[ConnectionPool]]

_TABLES = """
CREATE TABLE IF NOT EXISTS _cove_identity_meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _cove_users (
    username TEXT COLLATE "C" PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    phone_number TEXT UNIQUE,
    attributes TEXT NOT NULL,
    password_hash TEXT,
    srp_salt TEXT,
    srp_verifier TEXT,
    status TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    code TEXT,
    code_purpose TEXT,
    code_expires_at DOUBLE PRECISION,
    code_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS _cove_users_created ON _cove_users (created_at);
CREATE TABLE IF NOT EXISTS _cove_groups (
    name TEXT COLLATE "C" PRIMARY KEY,
    description TEXT,
    precedence INTEGER,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS _cove_user_groups (
    username TEXT COLLATE "C" NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (username, group_name)
);
CREATE TABLE IF NOT EXISTS _cove_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    client_id TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS _cove_refresh_tokens_user ON _cove_refresh_tokens (username);
CREATE TABLE IF NOT EXISTS _cove_identities (
    identity_id TEXT PRIMARY KEY,
    login_key TEXT UNIQUE,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS _cove_iam_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    description TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS _cove_signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY,
    pem TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    retired_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS _cove_login_failures (
    login_key TEXT COLLATE "C" PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until DOUBLE PRECISION NOT NULL,
    last_failed DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS _cove_login_failures_last ON _cove_login_failures (last_failed);
CREATE TABLE IF NOT EXISTS _cove_attempts (
    attempt_key TEXT COLLATE "C" PRIMARY KEY,
    window_start DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _cove_attempts_start ON _cove_attempts (window_start);
CREATE TABLE IF NOT EXISTS _cove_console_admins (
    username TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
"""

# The lock after the n-th wrong password ($2: free ones, $3: the longest lock, $4: now), as in UserPool.
_LOCK = "CASE WHEN {n} >= $2 THEN $4 + LEAST(power(2, LEAST({n} - $2, 30)), $3) ELSE 0 END"

_USER_COLUMNS = ("username, sub, email, phone_number, attributes, password_hash, srp_salt, srp_verifier, status, "
                 "enabled, created_at, updated_at, code, code_purpose, code_expires_at, code_attempts")
# The user and their groups (by precedence, then name) in one round trip.
_USER_SELECT = (f"SELECT {_USER_COLUMNS}, ARRAY(SELECT ug.group_name FROM _cove_user_groups ug "
                "LEFT JOIN _cove_groups g ON g.name = ug.group_name WHERE ug.username = u.username "
                "ORDER BY g.precedence NULLS LAST, ug.group_name) AS groups FROM _cove_users u")
# The User fields update_user may set (names are put into SQL: only these, never a caller's string).
_UPDATABLE = frozenset(_USER_COLUMNS.replace(" ", "").split(",")) - {"username", "created_at"}
_IAM_COLUMNS = "access_key_id, secret_access_key, description, created_at, revoked"
_KEY_COLUMNS = "kid, pem, created_at, retired_at"
_ADMIN_COLUMNS = "username, password_hash, created_at"

# Errors that mean the server or the connection is gone (not a bad statement).
# InternalClientError: the driver's protocol state is broken, as when the server ends a connection
# while the pool hands it out ("cannot switch to state ..."); that connection must not be reused.
_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresConnectionError,   # incl. ConnectionDoesNotExistError
                      asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
                      asyncpg.InternalClientError)


def _nul(*values: Any) -> bool:
    """Whether any string holds a NUL character (PostgreSQL text cannot; such a key is never stored)."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def _user(row: asyncpg.Record) -> User:
    return User(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5], row[6], row[7], row[8], row[9],
                row[10], row[11], row[12], row[13], row[14], row[15], list(row[16]))


def _iam(row: asyncpg.Record) -> IamKey:
    return IamKey(row[0], row[1], row[2], row[3], row[4])


class PostgresIdentityStore:
    """``pool()`` returns the running event loop's pool (the backend's); this store never closes it.
    ``where`` (host:port) is named when the database cannot be reached."""

    def __init__(self, pool: PoolSource, *, where: str | None = None) -> None:
        self._pool = pool
        self._where = f" at {where}" if where else ""   # host:port, for DatabaseUnavailable's message
        self._tables_made = False

    async def close(self) -> None:
        """Nothing of its own to close: the pool is the backend's."""

    @asynccontextmanager
    async def _connection(self) -> Any:
        """A pooled connection with Cove's tables in place; connection failures become DatabaseUnavailable,
        a NUL character in a value ValueError."""
        try:
            pool = await self._pool()
            async with pool.acquire() as conn:
                try:
                    if not self._tables_made:
                        await self._make_tables(conn)
                    yield conn
                except _CONNECTION_ERRORS:
                    # Never reuse it: the pool opens a new one in its place (a connection the server
                    # closed was already taken back by the pool, which then refuses the call).
                    with suppress(asyncpg.InterfaceError):
                        conn.terminate()
                    raise
        except asyncpg.CharacterNotInRepertoireError:
            raise ValueError("PostgreSQL text cannot hold NUL characters (\\x00)") from None
        except _CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(f"PostgreSQL{self._where} is unavailable ({type(exc).__name__})") from None

    async def _make_tables(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute(NO_STATEMENT_TIMEOUT)   # waiting for the lock while another process makes them
            # Per schema: concurrent CREATE TABLE IF NOT EXISTS can collide on the catalog's unique index.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '._cove_identity'))")
            await conn.execute(_TABLES)
        self._tables_made = True

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._connection() as conn:
            return list(await conn.fetch(sql, *args))

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def _changed(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it changed (from the command tag, e.g. ``UPDATE 2``)."""
        async with self._connection() as conn:
            tag = await conn.execute(sql, *args)
        return int(tag.rsplit(" ", 1)[-1]) if tag and tag.rsplit(" ", 1)[-1].isdigit() else 0

    # -- meta ----------------------------------------------------------------------------------
    async def meta(self, key: str, create: Callable[[], Any]) -> str:
        row = await self._fetchrow("SELECT value FROM _cove_identity_meta WHERE key = $1", key)
        if row is not None:
            return str(row[0])
        async with self._connection() as conn:
            # Two statements, each with its own snapshot: the read sees whichever process's insert won.
            await conn.execute("INSERT INTO _cove_identity_meta (key, value) VALUES ($1, $2) "
                               "ON CONFLICT (key) DO NOTHING", key, str(create()))
            return str(await conn.fetchval("SELECT value FROM _cove_identity_meta WHERE key = $1", key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._changed("INSERT INTO _cove_identity_meta (key, value) VALUES ($1, $2) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)

    # -- users ---------------------------------------------------------------------------------
    async def create_user(self, user: User) -> None:
        try:
            await self._changed(
                f"INSERT INTO _cove_users ({_USER_COLUMNS}) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                user.username, user.sub, user.email, user.phone_number, orjson.dumps(user.attributes).decode(),
                user.password_hash, user.srp_salt, user.srp_verifier, user.status, user.enabled, user.created_at,
                user.updated_at, user.code, user.code_purpose, user.code_expires_at, user.code_attempts)
        except asyncpg.UniqueViolationError:
            raise DuplicateUser(user.username) from None

    async def find_user(self, login: str) -> User | None:
        if _nul(login):
            return None
        # By username first; else by email (stored lower-case) or phone number.
        row = await self._fetchrow(f"{_USER_SELECT} WHERE username = $1 OR email = $2 OR phone_number = $1 "
                                   "ORDER BY username = $1 DESC LIMIT 1", login, login.lower())
        return _user(row) if row else None

    async def user_by_sub(self, sub: str) -> User | None:
        if _nul(sub):
            return None
        row = await self._fetchrow(f"{_USER_SELECT} WHERE sub = $1", sub)
        return _user(row) if row else None

    async def update_user(self, username: str, **changes: Any) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"update_user cannot set {', '.join(sorted(unknown))}")
        if "attributes" in changes:
            changes["attributes"] = orjson.dumps(changes["attributes"]).decode()
        if "enabled" in changes:
            changes["enabled"] = bool(changes["enabled"])
        changes["updated_at"] = time.time()
        assigns = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        if _nul(username):
            return  # no such user
        try:
            await self._changed(f"UPDATE _cove_users SET {assigns} WHERE username = $1", username, *changes.values())
        except asyncpg.UniqueViolationError:
            raise DuplicateUser(username) from None

    async def code_failed(self, username: str, code: str, limit: int) -> bool:
        if _nul(username, code):
            return False
        # One statement (the row is locked while it runs): SET reads the row as it was before.
        row = await self._fetchrow(
            "UPDATE _cove_users SET code_attempts = code_attempts + 1, "
            "code = CASE WHEN code_attempts + 1 >= $3 THEN NULL ELSE code END "
            "WHERE username = $1 AND code = $2 RETURNING code IS NULL", username, code, limit)
        return bool(row and row[0])

    async def delete_user(self, username: str) -> bool:
        if _nul(username):
            return False
        async with self._connection() as conn, conn.transaction():
            deleted = await conn.fetchval("WITH d AS (DELETE FROM _cove_users WHERE username = $1 RETURNING 1) "
                                          "SELECT count(*) FROM d", username)
            await conn.execute("DELETE FROM _cove_user_groups WHERE username = $1", username)
            await conn.execute("UPDATE _cove_refresh_tokens SET revoked = TRUE WHERE username = $1", username)
        return bool(deleted)

    async def take_code(self, username: str, code: str, purpose: str, now: float) -> bool:
        return await self._changed("UPDATE _cove_users SET code = NULL WHERE username = $1 AND code = $2 "
                                   "AND code_purpose = $3 AND code_expires_at >= $4", username, code, purpose, now) > 0

    # -- wrong passwords -------------------------------------------------------------------------
    async def login_lock(self, key: str) -> float | None:
        row = await self._fetchrow("SELECT locked_until FROM _cove_login_failures WHERE login_key = $1", key)
        return float(row[0]) if row else None

    async def login_failed(self, key: str, free: int, max_seconds: float, now: float) -> None:
        # One statement, so wrong passwords sent to several processes at once all count.
        await self._changed(
            f"INSERT INTO _cove_login_failures AS f (login_key, failures, locked_until, last_failed) "
            f"VALUES ($1, 1, {_LOCK.format(n='1')}, $4) ON CONFLICT (login_key) DO UPDATE SET "
            f"failures = f.failures + 1, locked_until = {_LOCK.format(n='f.failures + 1')}, last_failed = $4",
            key, free, float(max_seconds), now)

    async def forget_login_failures(self, key: str) -> int:
        return await self._changed("DELETE FROM _cove_login_failures WHERE login_key = $1", key)

    async def count_attempt(self, key: str, now: float, window: float) -> int:
        # One statement: the row's lock makes attempts sent to several processes at once count one by one.
        row = await self._fetchrow(
            "INSERT INTO _cove_attempts AS a (attempt_key, window_start, attempts) VALUES ($1, $2, 1) "
            "ON CONFLICT (attempt_key) DO UPDATE SET "
            "attempts = CASE WHEN a.window_start <= $2 - $3 THEN 1 ELSE a.attempts + 1 END, "
            "window_start = CASE WHEN a.window_start <= $2 - $3 THEN $2 ELSE a.window_start END "
            "RETURNING attempts", key, now, float(window))
        return int(row[0]) if row else 1

    async def prune_counts(self, failures_before: float, attempts_before: float) -> int:
        return (await self._changed("DELETE FROM _cove_login_failures WHERE last_failed < $1", failures_before)
                + await self._changed("DELETE FROM _cove_attempts WHERE window_start < $1", attempts_before))

    async def list_users(self) -> list[User]:
        return [_user(row) for row in await self._fetch(f"{_USER_SELECT} ORDER BY created_at, username")]

    # -- groups --------------------------------------------------------------------------------
    async def ensure_group(self, name: str, precedence: int | None = None, description: str | None = None) -> None:
        await self._changed("INSERT INTO _cove_groups (name, description, precedence, created_at) "
                            "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET precedence = excluded.precedence",
                            name, description, precedence, time.time())

    async def list_groups(self) -> list[Group]:
        rows = await self._fetch("SELECT name, precedence, description FROM _cove_groups "
                                 "ORDER BY precedence NULLS LAST, name")
        return [Group(*row) for row in rows]

    async def add_to_group(self, username: str, group: str) -> None:
        await self._changed("INSERT INTO _cove_user_groups (username, group_name) VALUES ($1, $2) "
                            "ON CONFLICT DO NOTHING", username, group)

    async def remove_from_group(self, username: str, group: str) -> bool:
        if _nul(username, group):
            return False
        return await self._changed("DELETE FROM _cove_user_groups WHERE username = $1 AND group_name = $2",
                                   username, group) > 0

    async def groups_of(self, username: str) -> list[str]:
        if _nul(username):
            return []
        rows = await self._fetch(
            "SELECT ug.group_name FROM _cove_user_groups ug LEFT JOIN _cove_groups g ON g.name = ug.group_name "
            "WHERE ug.username = $1 ORDER BY g.precedence NULLS LAST, ug.group_name", username)
        return [row[0] for row in rows]

    # -- refresh tokens ------------------------------------------------------------------------
    async def save_refresh_token(self, token_hash: str, token: RefreshToken) -> None:
        await self._changed("INSERT INTO _cove_refresh_tokens (token_hash, username, client_id, origin_jti, "
                            "auth_time, created_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE)",
                            token_hash, token.username, token.client_id, token.origin_jti, token.auth_time,
                            time.time(), token.expires_at)

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        if _nul(token_hash):
            return None
        row = await self._fetchrow("SELECT username, client_id, origin_jti, auth_time, expires_at, revoked "
                                   "FROM _cove_refresh_tokens WHERE token_hash = $1", token_hash)
        return RefreshToken(*row) if row else None

    async def revoke_refresh_token(self, token_hash: str) -> bool:
        if _nul(token_hash):
            return False
        return await self._changed("UPDATE _cove_refresh_tokens SET revoked = TRUE WHERE token_hash = $1",
                                   token_hash) > 0

    async def revoke_user_tokens(self, username: str) -> int:
        if _nul(username):
            return 0
        return await self._changed("UPDATE _cove_refresh_tokens SET revoked = TRUE WHERE username = $1 "
                                   "AND NOT revoked", username)

    async def revoked_origins(self, username: str) -> set[str]:
        if _nul(username):
            return set()
        rows = await self._fetch("SELECT origin_jti FROM _cove_refresh_tokens WHERE username = $1 AND revoked",
                                 username)
        return {row[0] for row in rows}

    # -- identity pool -------------------------------------------------------------------------
    async def identity_for_login(self, login_key: str | None, new_id: str) -> str:
        if login_key is None:
            await self._changed("INSERT INTO _cove_identities (identity_id, login_key, created_at) "
                                "VALUES ($1, NULL, $2)", new_id, time.time())
            return new_id
        async with self._connection() as conn:
            await conn.execute("INSERT INTO _cove_identities (identity_id, login_key, created_at) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", new_id, login_key, time.time())
            return str(await conn.fetchval("SELECT identity_id FROM _cove_identities WHERE login_key = $1",
                                           login_key))

    async def link_identity(self, identity_id: str, login_key: str) -> bool:
        if _nul(identity_id):
            return False
        try:
            return await self._changed("UPDATE _cove_identities SET login_key = $2 WHERE identity_id = $1 "
                                       "AND login_key IS NULL", identity_id, login_key) > 0
        except asyncpg.UniqueViolationError:  # the login has an identity of its own
            return False

    async def identity_exists(self, identity_id: str) -> bool:
        if _nul(identity_id):
            return False
        return await self._fetchrow("SELECT 1 FROM _cove_identities WHERE identity_id = $1", identity_id) is not None

    async def identity_login(self, identity_id: str) -> str | None:
        if _nul(identity_id):
            return None
        row = await self._fetchrow("SELECT login_key FROM _cove_identities WHERE identity_id = $1", identity_id)
        return row[0] if row else None

    # -- static IAM keys (trusted back-end code) -----------------------------------------------
    async def create_iam_key(self, description: str | None = None) -> IamKey:
        key = new_iam_key(description, time.time())
        await self._changed(f"INSERT INTO _cove_iam_keys ({_IAM_COLUMNS}) VALUES ($1, $2, $3, $4, FALSE)",
                            key.access_key_id, key.secret_access_key, key.description, key.created_at)
        return key

    async def find_iam_key(self, access_key_id: str) -> IamKey | None:
        if _nul(access_key_id):
            return None
        row = await self._fetchrow(f"SELECT {_IAM_COLUMNS} FROM _cove_iam_keys WHERE access_key_id = $1",
                                   access_key_id)
        return _iam(row) if row else None

    async def iam_keys(self) -> list[IamKey]:
        return [_iam(row) for row in await self._fetch(f"SELECT {_IAM_COLUMNS} FROM _cove_iam_keys "
                                                       "ORDER BY created_at, access_key_id")]

    async def revoke_iam_key(self, access_key_id: str) -> bool:
        if _nul(access_key_id):
            return False
        return await self._changed("UPDATE _cove_iam_keys SET revoked = TRUE WHERE access_key_id = $1",
                                   access_key_id) > 0

    # -- the user pool's signing keys ------------------------------------------------------------
    async def signing_keys(self) -> list[StoredSigningKey]:
        rows = await self._fetch(f"SELECT {_KEY_COLUMNS} FROM _cove_signing_keys ORDER BY created_at, kid")
        return [StoredSigningKey(*row) for row in rows]

    async def add_signing_key(self, key: StoredSigningKey, *, retire_others: bool = False) -> bool:
        async with self._connection() as conn, conn.transaction():
            added = await conn.fetchval(f"INSERT INTO _cove_signing_keys ({_KEY_COLUMNS}) VALUES ($1, $2, $3, $4) "
                                        "ON CONFLICT (kid) DO NOTHING RETURNING TRUE",
                                        key.kid, key.pem, key.created_at, key.retired_at)
            if added and retire_others:
                await conn.execute("UPDATE _cove_signing_keys SET retired_at = $2 WHERE kid <> $1 "
                                   "AND retired_at IS NULL", key.kid, key.created_at)
        return bool(added)

    async def add_first_signing_key(self, key: StoredSigningKey) -> bool:
        async with self._connection() as conn, conn.transaction():
            # Blocks other writers of the table (not readers) until commit: the check and the insert are one step.
            await conn.execute(NO_STATEMENT_TIMEOUT)   # the lock waits for the other processes' writes
            await conn.execute("LOCK TABLE _cove_signing_keys IN SHARE ROW EXCLUSIVE MODE")
            added = await conn.fetchval(
                f"INSERT INTO _cove_signing_keys ({_KEY_COLUMNS}) SELECT $1, $2, $3, NULL WHERE NOT EXISTS "
                "(SELECT 1 FROM _cove_signing_keys WHERE retired_at IS NULL) ON CONFLICT (kid) DO NOTHING "
                "RETURNING TRUE", key.kid, key.pem, key.created_at)
        return bool(added)

    # -- console administrators -------------------------------------------------------------------
    async def console_admin(self, username: str) -> ConsoleAdmin | None:
        if _nul(username):
            return None
        row = await self._fetchrow(f"SELECT {_ADMIN_COLUMNS} FROM _cove_console_admins WHERE username = $1",
                                   username)
        return ConsoleAdmin(*row) if row else None

    async def console_admins(self) -> list[ConsoleAdmin]:
        rows = await self._fetch(f"SELECT {_ADMIN_COLUMNS} FROM _cove_console_admins ORDER BY username")
        return [ConsoleAdmin(*row) for row in rows]

    async def set_console_admin(self, username: str, password_hash: str, created_at: float) -> None:
        await self._changed(f"INSERT INTO _cove_console_admins ({_ADMIN_COLUMNS}) VALUES ($1, $2, $3) "
                            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                            username, password_hash, created_at)

    async def delete_console_admin(self, username: str) -> bool:
        if _nul(username):
            return False
        return await self._changed("DELETE FROM _cove_console_admins WHERE username = $1", username) > 0
